"""One scheduler per state directory: an exclusive lock on a file in it says who hosts.

The kernel drops the lock when its holder dies, however it dies, so a killed host
never blocks the next one.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "host.lock"


class HostLock:
    """The hosting lock of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another process holds it."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Let another process host."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
