"""A run's log file: its output as it comes, capped at `log_max_bytes` on a line boundary,
with synctui's own remarks on lines of their own."""

from __future__ import annotations

import os


class RunLog:
    """The log of one run, written through one file descriptor (None: no log kept)."""

    def __init__(self, fd: int | None, max_bytes: int) -> None:
        self._fd = fd
        self._max_bytes = max_bytes
        self.size = 0
        """Bytes written so far."""
        self._line_start = 0
        """Log offset just after the last newline written."""
        self._cut = False
        self._dropped = 0
        self._error: str | None = None

    def write(self, chunk: bytes) -> None:
        """Keep `chunk`, as far as the cap allows."""
        room = self._max_bytes - self.size
        if self._cut:
            self._dropped += len(chunk)
            return
        if len(chunk) <= room:
            self._append(chunk)
            return
        # Cut at a line boundary: the log ends with whole lines, then the marker.
        newline = chunk.rfind(b"\n", 0, room)
        if newline >= 0:
            self._append(chunk[: newline + 1])
            self._dropped += len(chunk) - newline - 1
        else:
            self._dropped += len(chunk) + self._unsay_partial_line()
        self._cut = True
        self.note(f"output cut here: log_max_bytes ({self._max_bytes} bytes) reached")

    def note(self, text: str) -> None:
        """Write synctui's own remark into the log, on a line of its own."""
        prefix = b"" if self._line_start == self.size else b"\n"
        self._append(prefix + f"[synctui] {text}\n".encode())

    def close(self) -> str | None:
        """Close the file; what went wrong with it, for the run's record (None: nothing)."""
        if self._dropped:
            self.note(f"{self._dropped} more bytes of output were not kept")
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        return self._error

    def _unsay_partial_line(self) -> int:
        """Take the unfinished last line back out of the log; returns its length."""
        partial = self.size - self._line_start
        if partial and self._fd is not None:
            os.ftruncate(self._fd, self._line_start)
            os.lseek(self._fd, self._line_start, os.SEEK_SET)
            self.size = self._line_start
        return partial

    def _append(self, data: bytes) -> None:
        if self._fd is None or not data:
            return
        view = memoryview(data)
        newline = data.rfind(b"\n")
        if newline >= 0:
            self._line_start = self.size + newline + 1
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
                self.size += written
        except OSError as failure:
            # A full disk must not end the run: stop logging, say so on the record.
            self._error = f"log incomplete: {failure.strerror}"
            os.close(self._fd)
            self._fd = None
