"""A command in a pseudo-terminal of its own, as a terminal emulator runs it: the bench's
way to drive the real console and read what it drew."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path

ROWS, COLS = 40, 120

# What a terminal would interpret rather than show: CSI, OSC, DCS/APC/PM/SOS strings,
# two-byte escapes (a charset's, a cursor save's too). Applied to the whole byte stream,
# so a sequence split over two reads is still removed.
_ESCAPES = re.compile(
    rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*\x1b\\"
    rb"|[@-Z\\-_]|[()*+][ -~]|[0-?])"
)


def screen_text(data: bytes) -> str:
    return _ESCAPES.sub(b"", data).decode("utf-8", "replace")


def _controlling_tty() -> None:
    # In the child, after setsid (start_new_session): the slave becomes its terminal, as
    # a terminal emulator does it.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A command running in a new pseudo-terminal; everything it writes is kept, stamped."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.master = master
        self.chunks: list[tuple[float, bytes]] = []
        self._arrived = threading.Condition()
        self._eof = False
        self.spawned_at = time.monotonic()
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
            start_new_session=True, preexec_fn=_controlling_tty, close_fds=True,
        )
        os.close(slave)
        self.pid = self.process.pid
        self._reader = threading.Thread(target=self._read, name=f"pty-{self.pid}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        # Only stamp and keep here: this thread's promptness is the measurement's error.
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: no process has the slave open any more
                data = b""
            now = time.monotonic()
            with self._arrived:
                if data:
                    self.chunks.append((now, data))
                else:
                    self._eof = True
                self._arrived.notify_all()
            if not data:
                return

    def press(self, key: bytes) -> tuple[float, int]:
        """Write a key; returns when it was written and how many reads came before it."""
        mark = len(self.chunks)
        at = time.monotonic()
        os.write(self.master, key)
        return at, mark

    def wait_for(self, *patterns: re.Pattern[str], start: int = 0,
                 timeout: float = 10.0) -> float | None:
        """When the output from read `start` on first held every pattern (the stamp of the
        read that completed the last one), or None after `timeout`."""
        deadline = time.monotonic() + timeout
        checked = start
        while True:
            with self._arrived:
                while len(self.chunks) <= checked and not self._eof:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self._arrived.wait(left)
                count = len(self.chunks)
            if count > checked:
                text = screen_text(b"".join(c for _, c in self.chunks[start:count]))
                if all(p.search(text) for p in patterns):
                    # The earliest read that completes the match.
                    for end in range(checked + 1, count + 1):
                        text = screen_text(b"".join(c for _, c in self.chunks[start:end]))
                        if all(p.search(text) for p in patterns):
                            return self.chunks[end - 1][0]
                checked = count
            elif self._eof or time.monotonic() >= deadline:
                return None

    def first_read_after(self, mark: int, timeout: float = 2.0) -> float | None:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.chunks) <= mark and not self._eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._arrived.wait(left)
            return self.chunks[mark][0] if len(self.chunks) > mark else None

    def bytes_between(self, begin: float, end: float) -> list[tuple[float, bytes]]:
        return [(t, c) for t, c in list(self.chunks) if begin <= t < end]

    def frame_bytes(self, mark: int, shown: float | None, settle: float = 0.02) -> int:
        """Bytes of the burst that showed a key press: reads from read `mark` on until
        `settle` after the matching read at `shown` (redraws of anything else too)."""
        if shown is None:
            return 0
        time.sleep(max(shown + settle - time.monotonic(), 0))
        return sum(len(c) for t, c in self.chunks[mark:] if t <= shown + settle)

    def finish(self, timeout: float = 20.0) -> dict:
        """After the command was asked to quit: its exit status, or killed if it does not."""
        try:
            status = self.process.wait(timeout=timeout)
            killed = False
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            status = self.process.wait()
            killed = True
        self._reader.join(timeout=5)
        os.close(self.master)
        return {"exit_status": status, "killed": killed}


def bursts(chunks: list[tuple[float, bytes]], gap: float = 0.02) -> list[tuple[float, bytes]]:
    """Reads less than `gap` apart, joined: one burst is about one frame."""
    out: list[tuple[float, list[bytes]]] = []
    for t, c in chunks:
        if out and t - out[-1][0] < gap:
            out[-1][1].append(c)
        else:
            out.append((t, [c]))
    return [(t, b"".join(cs)) for t, cs in out]
