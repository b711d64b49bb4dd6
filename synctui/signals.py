"""A host's signals, as numbers read from a pipe on the main thread.

A handler only writes the signal's number to the pipe (Python's wake-up fd), so a
signal never interrupts a lock held by the scheduler's own threads. `catch()` is
called as soon as the command line knows it starts a host, before the heavy imports
and the config: a SIGTERM in the host's first moments waits in the pipe until the
host reads it, and stops the host cleanly instead of killing it half-started.
"""

from __future__ import annotations

import os
import select
import signal

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Signals:
    """SIGTERM, SIGINT and SIGHUP caught into a pipe until `close()`."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        os.set_blocking(self._read, True)
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._previous = {number: signal.signal(number, lambda *_: None) for number in SIGNALS}

    def next(self, timeout: float | None = None) -> int | None:
        """Wait for a signal (up to `timeout` seconds); returns its number, or None."""
        while select.select([self._read], [], [], timeout)[0]:
            data = os.read(self._read, 1)
            if data and data[0] in SIGNALS:
                return data[0]
        return None

    def close(self) -> None:
        """Give the signals back their previous handlers."""
        signal.set_wakeup_fd(self._previous_fd)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        os.close(self._read)
        os.close(self._write)

    def __enter__(self) -> Signals:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_caught: Signals | None = None


def catch() -> Signals:
    """Catch the signals from now on; the same catch for every caller until it is closed."""
    global _caught
    if _caught is None:
        _caught = Signals()
    return _caught


def caught() -> Signals:
    """The process's catch (made now if none was), to be used as a context manager:
    at its end the signals go back to their handlers, and a later `catch()` starts anew."""
    global _caught
    signals, _caught = catch(), None
    return signals


def release() -> None:
    """Stop catching: the command does not host after all. A signal caught meanwhile is
    raised again, to be handled as if it had never been caught."""
    global _caught
    if _caught is None:
        return
    signals, _caught = _caught, None
    pending = []
    while (number := signals.next(timeout=0)) is not None:
        pending.append(number)
    signals.close()
    for number in pending:
        signal.raise_signal(number)
