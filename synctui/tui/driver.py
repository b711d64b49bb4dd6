"""Textual's terminal driver, made to outlive its terminal: an SSH link that drops must not
freeze the console before it has stopped its scheduler."""

from __future__ import annotations

import errno
from typing import IO

from textual.drivers.linux_driver import LinuxDriver


class _Terminal:
    """The terminal's output: once it has hung up (writes fail with EIO), output is dropped."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self.hung_up = False

    def write(self, text: str) -> None:
        self._guard(self._file.write, text)

    def flush(self) -> None:
        self._guard(self._file.flush)

    def fileno(self) -> int:
        return self._file.fileno()

    def _guard(self, call, *args) -> None:
        if self.hung_up:
            return
        try:
            call(*args)
        except OSError as error:
            if error.errno != errno.EIO:
                raise
            self.hung_up = True


class ConsoleDriver(LinuxDriver):
    """The Linux driver, whose writer thread survives a hung-up terminal.

    Textual's writer thread dies on the first failed write; its bounded queue then
    fills and the app blocks on its next frame, so the SIGHUP that follows could
    never be handled. Writes that fail that way are dropped instead.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._file = _Terminal(self._file)
