"""`synctui --headless`: the scheduler with no screen, for systemd, containers and cron.

Signals arrive through a wake-up pipe and are handled on the main thread, so a
signal never interrupts a lock held by the scheduler's own threads.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
from contextlib import nullcontext
from typing import TYPE_CHECKING, Callable

from synctui import __version__
from synctui.config import Config, ConfigError
from synctui.scheduler.control import Refused
from synctui.scheduler.events import EventsMissed, OutputLines, Subscription
from synctui.scheduler.records import Result
from synctui.scheduler.sync_scheduler import SyncScheduler

if TYPE_CHECKING:
    from synctui.scheduler.metrics import MetricsServer

log = logging.getLogger("synctui.headless")

_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _pass_output(subscription: Subscription) -> None:
    """Print each job's output on stdout, prefixed by the job's name."""
    while True:
        events = subscription.get()
        if not events and subscription.closed:
            return
        lines = []
        for event in events:
            if isinstance(event, OutputLines):
                lines.extend(f"{event.job}| {line}\n" for line in event.lines)
            elif isinstance(event, EventsMissed):
                log.warning("output passthrough fell behind: %d batches of lines not shown"
                            " (run logs are complete)", event.count)
        if lines:
            try:
                sys.stdout.writelines(lines)
                sys.stdout.flush()
            except BrokenPipeError:
                # `synctui --headless | head`: the reader left. Keep scheduling, quietly.
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
                subscription.close()
                log.warning("stdout was closed: job output is no longer passed through"
                            " (run logs are complete)", extra={"event": "passthrough"})
                return


class _Signals:
    """Turn SIGTERM/SIGINT/SIGHUP into numbers read from a pipe on the main thread."""

    def __enter__(self) -> _Signals:
        self._read, write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        os.set_blocking(self._read, True)
        self._write = write
        self._previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        self._previous = {number: signal.signal(number, lambda *_: None) for number in _SIGNALS}
        return self

    def next(self, timeout: float | None = None) -> int | None:
        """Wait for a signal (up to `timeout` seconds); returns its number, or None."""
        while select.select([self._read], [], [], timeout)[0]:
            data = os.read(self._read, 1)
            if data and data[0] in _SIGNALS:
                return data[0]
        return None

    def __exit__(self, *exc) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        os.close(self._read)
        os.close(self._write)


def run_headless(
    config: Config, reload_config: Callable[[], Config], *, passthrough: bool = True,
    metrics: MetricsServer | None = None,
) -> int:
    """Host the scheduler until SIGTERM or SIGINT; SIGHUP reloads. Returns the exit status."""
    scheduler = SyncScheduler(config, mode="headless")
    serving = metrics.serving(scheduler) if metrics else nullcontext()
    with _Passthrough(scheduler, passthrough), serving, _Signals() as signals:
        try:
            scheduler.start()
        except Refused as refusal:
            log.error("cannot start: %s", refusal, extra={"event": "host"})
            return 1
        log.info("synctui %s running headless: config %s, state %s", __version__,
                 config.path or "demo", config.scheduler.state_dir, extra={"event": "host"})
        while True:
            number = signals.next()
            if number == signal.SIGHUP:
                _reload(scheduler, reload_config)
                continue
            log.info("%s received: stopping (running jobs get up to %gs)",
                     signal.Signals(number).name, scheduler.config.scheduler.shutdown_grace_s,
                     extra={"event": "stopping"})
            break
        shutdown = threading.Thread(target=scheduler.shutdown, name="shutdown")
        _wait_for(shutdown, scheduler, signals, stopping=True)
    log.info("stopped", extra={"event": "stopped"})
    return 0


class _Passthrough:
    """Copies job output to stdout, prefixed by job, while the block runs (if enabled)."""

    def __init__(self, scheduler: SyncScheduler, enabled: bool) -> None:
        self._subscription = scheduler.subscribe() if enabled else None
        self._thread = threading.Thread(
            target=_pass_output, args=(self._subscription,), name="passthrough", daemon=True
        )

    def __enter__(self) -> _Passthrough:
        if self._subscription is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._thread.join(5)


def _wait_for(
    work: threading.Thread, scheduler: SyncScheduler, signals: _Signals, *, stopping: bool = False
) -> None:
    """Run `work` to its end. SIGTERM/SIGINT meanwhile stop the scheduler (its running
    jobs get their grace); one more, or the first when already `stopping`, ends them now."""
    work.start()
    while work.is_alive():
        number = signals.next(timeout=0.2)
        if number in (signal.SIGTERM, signal.SIGINT):
            if stopping:
                log.warning("%s again: ending running jobs now", signal.Signals(number).name,
                            extra={"event": "stopping"})
                scheduler.end_runs_now()
            else:
                stopping = True
                threading.Thread(target=scheduler.shutdown, name="shutdown", daemon=True).start()
    work.join()


def _reload(scheduler: SyncScheduler, reload_config: Callable[[], Config]) -> None:
    try:
        config = reload_config()
    except ConfigError as error:
        for problem in error.problems:
            log.error("reload refused: %s", problem, extra={"event": "reload_refused"})
        log.error("SIGHUP: the new config is invalid; still running the previous one",
                  extra={"event": "reload_refused"})
        return
    for warning in config.warnings:
        log.warning("%s", warning, extra={"event": "config_warning"})
    scheduler.reload(config)


def run_once(config: Config, job: str | None, *, passthrough: bool = True) -> int:
    """Run every job (or one) once with trigger `once`; 0 if all succeeded, else 1."""
    scheduler = SyncScheduler(config, mode="once")
    results: dict = {}
    refusals: list[Refused] = []

    def work() -> None:
        try:
            results.update(scheduler.run_once([job] if job else None))
        except Refused as refusal:
            refusals.append(refusal)

    with _Passthrough(scheduler, passthrough), _Signals() as signals:
        _wait_for(threading.Thread(target=work, name="once"), scheduler, signals)
    scheduler.shutdown()
    for refusal in refusals:
        log.error("cannot run --once: %s", refusal, extra={"event": "host"})
    failed = [name for name, record in results.items() if record.result is not Result.SUCCESS]
    return 1 if failed or not results else 0
