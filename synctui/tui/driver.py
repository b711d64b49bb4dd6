"""Textual's terminal driver, made to outlive its terminal: an SSH link that drops must not
freeze the console before it has stopped its scheduler."""

from __future__ import annotations

import errno
from typing import IO, Callable

from textual.drivers.linux_driver import LinuxDriver


class _Terminal:
    """The terminal's output; once it has hung up (a write fails with EIO), output is dropped."""

    def __init__(self, file: IO[str], on_hang_up: Callable[[], None]) -> None:
        self._file = file
        self._on_hang_up = on_hang_up
        self.hung_up = False

    def write(self, text: str) -> None:
        self._guard(self._file.write, text)

    def flush(self) -> None:
        self._guard(self._file.flush)

    def fileno(self) -> int:
        return self._file.fileno()

    def _guard(self, call: Callable[..., object], *args: str) -> None:
        if self.hung_up:
            return
        try:
            call(*args)
        except OSError as error:
            if error.errno != errno.EIO:
                raise
            self.hung_up = True
            self._on_hang_up()


class ConsoleDriver(LinuxDriver):
    """The Linux driver, surviving a terminal that hangs up.

    Textual's writer thread dies on the first failed write; its bounded queue then
    fills and the app blocks at its next frame, so the SIGHUP that follows is never
    handled. Here such writes are dropped, and input stops being read (a hung-up
    terminal reads as an endless end of file, which would spin the input thread).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._file = _Terminal(self._file, on_hang_up=self.exit_event.set)
