"""A run's log file read by byte offsets: a page of lines at any place, however big the file.

Nothing is indexed up front: a position is the byte offset where a line starts, and
moving reads only the bytes between the old place and the new one (one block for a
page, one block from the end for the last page), so a 1 GB log opens as fast as a
small one. A line longer than `BLOCK` is shown cut into pieces of that size.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

BLOCK = 64 * 1024
"""Bytes read at a time when paging, and the longest line shown whole."""
SEARCH_BLOCK = 4 * 1024 * 1024
"""Bytes read at a time when searching."""


class LogFile:
    """An open log file: lines from any offset forward, offsets of lines above, and search."""

    def __init__(self, path: Path) -> None:
        """Open `path` for reading; raises OSError."""
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.size = os.fstat(self._fd).st_size

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def grew(self) -> bool:
        """Whether the file grew since it was last looked at (a run still writing it)."""
        size = os.fstat(self._fd).st_size
        grown, self.size = size != self.size, size
        return grown

    def _read(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, max(0, length), offset)

    def lines_from(self, offset: int, count: int) -> list[tuple[int, bytes]]:
        """Up to `count` lines from the one starting at `offset`: (its offset, its bytes)."""
        lines: list[tuple[int, bytes]] = []
        start, buffer = offset, self._read(offset, BLOCK)
        at = 0
        while len(lines) < count and start + at < self.size and buffer:
            end = buffer.find(b"\n", at, at + BLOCK)
            if end < 0:
                if len(buffer) - at < BLOCK and start + len(buffer) < self.size:
                    # The line goes on past what was read: read on from its start.
                    start, buffer, at = start + at, buffer[at:] + self._read(
                        start + len(buffer), BLOCK), 0
                    continue
                end = min(len(buffer), at + BLOCK)
                lines.append((start + at, buffer[at:end]))
                at = end
            else:
                lines.append((start + at, buffer[at:end]))
                at = end + 1
            if at >= len(buffer) and start + at < self.size and len(lines) < count:
                start, buffer, at = start + at, self._read(start + at, BLOCK), 0
        return lines

    def back(self, offset: int, count: int) -> int:
        """The offset of the line `count` lines above the one starting at `offset` (0 at most)."""
        position = offset
        while count > 0 and position > 0:
            # The byte before `position` ends the line above: look for the newline before it.
            low = max(0, position - 1 - BLOCK)
            data = self._read(low, position - 1 - low)
            cut = len(data)
            while count > 0:
                newline = data.rfind(b"\n", 0, cut)
                if newline < 0:
                    break
                position, cut, count = low + newline + 1, newline, count - 1
            if count == 0:
                break
            if low == 0:
                return 0  # the first line of the file
            if cut == len(data):
                position, count = low, count - 1  # a line longer than a block: cut it here
        return position

    def last_page(self, count: int) -> int:
        """The offset of the first of the last `count` lines."""
        return self.back(self.size, count)

    def line_at(self, offset: int) -> int:
        """The offset where the line holding byte `offset` starts."""
        if offset <= 0:
            return 0
        return self.back(offset + 1, 1) if offset < self.size else self.last_page(1)

    def find(
        self, query: str, offset: int, *, backward: bool = False,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> int | None:
        """The byte offset of the next match of `query` from `offset` (the one before it,
        `backward`), or None. Ignores case unless `query` has capitals."""
        needle = query.encode("utf-8", "replace")
        fold = query == query.lower()
        if fold:
            needle = needle.lower()
        overlap = len(needle) - 1
        if backward:
            end = offset
            while end > 0 and not cancelled():
                low = max(0, end - SEARCH_BLOCK)
                data = self._read(low, end + overlap - low)
                found = (data.lower() if fold else data).rfind(needle)
                if found >= 0 and low + found < offset:
                    return low + found
                end = low
            return None
        start = offset
        while start < self.size and not cancelled():
            data = self._read(start, SEARCH_BLOCK + overlap)
            found = (data.lower() if fold else data).find(needle)
            if found >= 0:
                return start + found
            start += SEARCH_BLOCK
        return None
