"""`synctui --headless`: the scheduler with no screen, for systemd, containers and cron.

Signals arrive through a wake-up pipe (`synctui.signals`) and are handled on the main
thread, so a signal never interrupts a lock held by the scheduler's own threads.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from synctui import __version__
from synctui.config import Config
from synctui.log_format import output_line
from synctui.scheduler.control import HostBusy, Refused
from synctui.scheduler.control_client import RemoteControl
from synctui.scheduler.events import (
    Change, EventBus, EventsMissed, OutputLines, StateChanged, Subscription,
)
from synctui.scheduler.hosting import OneShot
from synctui.scheduler.records import NOT_RUN, Result
from synctui.scheduler.sync_scheduler import SyncScheduler
from synctui.signals import Signals, caught

if TYPE_CHECKING:
    from synctui.scheduler.metrics import MetricsServer
    from synctui.web.server import ConsoleServer

log = logging.getLogger("synctui.headless")

STANDBY_POLL_S = 0.1
"""How often a standby tries the hosting lock: it takes over within this of the host's end."""


def _pass_output(subscription: Subscription, log_format: str) -> None:
    """Print each job's output on stdout, prefixed by the job's name (or as JSON)."""
    while True:
        events = subscription.get()
        if not events and subscription.closed:
            return
        lines = []
        for event in events:
            if isinstance(event, OutputLines):
                lines.extend(
                    output_line(event.job, event.run_id, line, escaped=number in event.escaped,
                                log_format=log_format)
                    for number, line in enumerate(event.lines)
                )
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


def run_headless(
    config: Config, reload_config: Callable[[], Config], *, passthrough: bool = True,
    log_format: str = "text", metrics: MetricsServer | None = None,
    web: ConsoleServer | None = None,
) -> int:
    """Host the scheduler until SIGTERM or SIGINT; SIGHUP reloads. Returns the exit status.

    `metrics` serves Prometheus metrics meanwhile, `web` the console to browsers.

    While another process hosts, wait as its standby and take over when it ends;
    a hosting console is asked to hand over (it does between runs).
    """
    scheduler = SyncScheduler(config, mode="headless", reload_config=reload_config)
    serving = metrics.serving(scheduler) if metrics else nullcontext()
    browsers = web.running() if web else nullcontext()
    with _Passthrough(scheduler.bus, passthrough, log_format), serving, browsers, \
            caught() as signals:
        try:
            if not _become_host(scheduler, signals):
                log.info("stopped while waiting to host", extra={"event": "stopped"})
                return 0
        except Refused as refusal:
            log.error("cannot start: %s", refusal, extra={"event": "host"})
            return 1
        log.info("synctui %s running headless: config %s, state %s, control socket %s",
                 __version__, config.path or "demo", config.scheduler.state_dir,
                 scheduler.server.path if scheduler.server else "none", extra={"event": "host"})
        while True:
            number = signals.next()
            if number == signal.SIGHUP:
                try:
                    scheduler.reload()
                except Refused:
                    pass  # logged, a line a problem, by the scheduler
                continue
            log.info("%s received: stopping (running jobs get up to %gs)",
                     signal.Signals(number).name, scheduler.config.scheduler.shutdown_grace_s,
                     extra={"event": "stopping"})
            # Stopped on purpose, not dead: attached consoles must not take over its jobs.
            scheduler.bus.publish(StateChanged(None, Change.HOST_STOPPING))
            break
        shutdown = threading.Thread(target=scheduler.shutdown, name="shutdown")
        _wait_for(shutdown, scheduler, signals, stopping=True)
    log.info("stopped", extra={"event": "stopped"})
    return 0


def _become_host(scheduler: SyncScheduler, signals: Signals) -> bool:
    """Start hosting, as standby first while another process hosts; False if told to stop."""
    asked: int | None = None
    while True:
        try:
            scheduler.start()
            if asked is not None:
                log.info("took over hosting from pid %d", asked, extra={"event": "host"})
            return True
        except HostBusy as busy:
            host = scheduler.store.host()
            if host is not None and host.pid != asked:
                asked = host.pid
                log.info("%s; waiting as its standby", busy, extra={"event": "standby"})
                ours = scheduler.config.source
                if host.config != ours:
                    # Two configs on one state directory: this one's jobs do not run meanwhile.
                    log.warning("the host runs another config, %s, not %s: these jobs wait",
                                host.config or "the demo", ours or "the demo",
                                extra={"event": "standby"})
                if host.mode == "console" and host.socket:
                    _ask_for_handover(host.socket)
        number = signals.next(timeout=STANDBY_POLL_S)
        if number in (signal.SIGTERM, signal.SIGINT):
            return False


def _ask_for_handover(socket: str) -> None:
    """A hosting console hands over to a headless between runs: ask it to."""
    try:
        remote = RemoteControl(Path(socket), client="headless")
        try:
            answer = remote.handover()
        finally:
            remote.close()
    except Refused as refusal:
        log.warning("could not ask the console to hand over: %s", refusal,
                    extra={"event": "standby"})
        return
    log.info("the hosting console says: %s", answer, extra={"event": "standby"})


class _Passthrough:
    """Copies job output to stdout, prefixed by job, while the block runs (if enabled)."""

    def __init__(self, bus: EventBus, enabled: bool, log_format: str) -> None:
        self._subscription = bus.subscribe() if enabled else None
        self._thread = threading.Thread(
            target=_pass_output, args=(self._subscription, log_format), name="passthrough",
            daemon=True,
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
    work: threading.Thread, scheduler: SyncScheduler | OneShot, signals: Signals, *,
    stopping: bool = False,
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


def left_out(name: str) -> None:
    """Say that `--once` leaves out job `name`: it is paused."""
    log.info("%s: paused, not run (synctui resume %s)", name, name,
             extra={"event": "not_run", "job": name})


def run_once(
    config: Config, job: str | None, *, passthrough: bool = True, log_format: str = "text"
) -> int:
    """Run every job (or one) once with trigger `once`, except paused ones.

    Returns 0 if every job that ran succeeded (also when none ran, or one was skipped outside
    its run window), 1 if one did not,
    2 if another synctui holds the state directory (then nothing ran).
    """
    shot = OneShot(config)
    asked = [job] if job else list(config.jobs)
    # Pausing is how a cron user switches a job off, so it holds here too.
    paused = [name for name in asked if shot.store.job_state(name).paused]
    for name in paused:
        left_out(name)
    names = [name for name in asked if name not in paused]
    results: dict = {}
    refusals: list[Refused] = []

    def work() -> None:
        try:
            with shot:
                results.update(shot.run_once(names))
        except Refused as refusal:
            refusals.append(refusal)

    with _Passthrough(shot.bus, passthrough, log_format), caught() as signals:
        if names:
            _wait_for(threading.Thread(target=work, name="once"), shot, signals)
    for refusal in refusals:
        if isinstance(refusal, HostBusy):
            # Nothing ran, so nothing failed: cron must not report it as a job's failure.
            log.error("cannot run --once: %s (a `run` or another `--once`, or a scheduler"
                      " starting): try again when it ends", refusal, extra={"event": "host"})
            return 2
        log.error("cannot run --once: %s", refusal, extra={"event": "host"})
    # Outside its run window a job is skipped, as a paused one is left out: not a failure.
    failed = [name for name, record in results.items()
              if record.result is not Result.SUCCESS and record.result not in NOT_RUN]
    return 1 if failed or len(results) < len(names) else 0
