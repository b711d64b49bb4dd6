"""`FallbackControl`: the console's stand-in when no scheduler could be started, re-reading the
store and, with `[autorefresh] enabled`, running due jobs every `autorefresh.interval`.

It is the seed's auto-refresh fallback. Runs made by other processes (`synctui
--headless --once` from cron, `synctui run`) appear within `refresh_s`. A job is due
when one of its own fire times has passed since it last started; due jobs are run
with trigger `fallback`, never while a live host schedules them, never for a paused
job, and never after the operator stopped the fallback. Its runs go through the run
lifecycle as a scheduler's do (refusals, hooks, retention, events), with no retries:
the next check runs a failed job again.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable

from synctui.config.loading import ConfigError
from synctui.config.model import Config, JobConfig
from synctui.scheduler.blackout import next_allowed
from synctui.scheduler.clock import seconds_text, utc_now
from synctui.scheduler.control import Mode, Refused
from synctui.scheduler.events import Change, EventBus, StateChanged
from synctui.scheduler.lifecycle import RunLifecycle
from synctui.scheduler.runs_here import RunsHere
from synctui.scheduler.processes import is_alive
from synctui.scheduler.records import Fires, RunRecord, Trigger
from synctui.scheduler.seams import RunStore
from synctui.scheduler.status import HostInfo, SchedulerStatus, live_host, snapshot
from synctui.scheduler.triggers import job_trigger, latest_fire

log = logging.getLogger("synctui.fallback")

REFRESH_S = 3.0
"""How often the store is re-read for runs made by other processes."""


class FallbackControl(RunsHere):
    """A `ConsoleBackend` over the store alone, for a console that hosts no scheduler."""

    mode = Mode.FALLBACK
    hosting = True
    """Its runs are this process's: quitting asks about them, as a host's would."""
    attached_to = None
    attached_consoles = 0
    """No console attaches to a fallback (it serves no control socket)."""
    waits = False

    def __init__(
        self, config: Config, *, reason: str, store: RunStore | None = None,
        bus: EventBus | None = None, reload_config: Callable[[], Config] | None = None,
        refresh_s: float = REFRESH_S, clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """The fallback for `config`; nothing happens until `begin()`.

        Args:
            config: The jobs, and `[autorefresh]`.
            reason: Why no scheduler runs, for the operator (`the host is gone`).
            store: The history store (opened from the config's state directory if not given).
            bus: Where its events go (a new bus if not given).
            reload_config: Reads the config afresh, for `reload`; None: nothing to reload.
            refresh_s: How often the store is re-read.
            clock: The current time.
        """
        super().__init__(config, store, bus)
        self.reason = reason
        self._reload_config = reload_config
        self.lifecycle = RunLifecycle(config, self.store, self.bus, zone=self.zone,
                                      retries=False, clock=clock,
                                      running_elsewhere=self._running_elsewhere)
        self.refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.RLock()
        self._scheduling = config.autorefresh.enabled
        """Running due jobs: `[autorefresh] enabled`, until the operator stops it."""
        self._closing = False
        self._began = clock()
        self._next_check = self._began
        self._seen: tuple = ()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="synctui-fallback", daemon=True)

    @property
    def interval_s(self) -> float:
        """How often due jobs are looked for."""
        return self.config.autorefresh.interval_s

    @property
    def _step(self) -> timedelta:
        """The time between checks, in whole microseconds so that steps add up exactly."""
        return timedelta(seconds=self.interval_s)

    # --- lifecycle ----------------------------------------------------------------

    def begin(self) -> None:
        """Start watching the store (and running due jobs, if enabled): at once, then on."""
        self.lifecycle.recover()
        self._seen = self._signature()
        log.info("fallback: %s; %s", self.reason,
                 f"due jobs run every {seconds_text(self.interval_s)}" if self._scheduling
                 else "autorefresh is off: only watching the store", extra={"event": "fallback"})
        self._thread.start()

    def shutdown(self, grace: float | None = None) -> list[RunRecord]:
        """Stop for good: running runs get `grace` seconds, then are ended; returns their records."""
        grace = self.config.scheduler.shutdown_grace_s if grace is None else grace
        with self._lock:
            self._closing = True
            self.lifecycle.close()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.lifecycle.end_runs(grace)

    def hand_over(self) -> None:
        """Nothing to hand over: no console attaches to a fallback, and a host that starts
        takes the jobs (the fallback leaves them to a live host)."""

    def reload(self) -> str:
        """Read the config afresh and take it (runs in progress go on); an invalid one is
        refused and the old one stays."""
        if self._reload_config is None:
            raise Refused("there is no config file to reload (the demo?)")
        try:
            config = self._reload_config()
        except ConfigError as error:
            raise Refused(f"the new config is invalid; still using the previous one:"
                          f" {'; '.join(error.problems)}") from None
        with self._lock:
            self.config = config
            self.lifecycle.take_config(config)
        self.bus.publish(StateChanged(None, Change.RELOADED))
        return f"config reloaded: {len(config.jobs)} jobs"

    # --- the operator's actions ---------------------------------------------------

    def status(self) -> SchedulerStatus:
        """Every job's state and fire times; `next_run` is when the fallback will run the job."""
        now = self._clock()
        with self._lock:
            config, scheduling = self.config, self._scheduling and not self._closing
            running = self.lifecycle.running_runs()
        host = live_host(self.store, now)
        paused = {name: self.store.job_state(name).paused for name in config.jobs}
        fires = {
            name: self._fires(job, now, scheduling and not paused[name] and host is None)
            for name, job in config.jobs.items()
        }
        return snapshot(
            self.store, config, running=scheduling,
            host=HostInfo.of(host) if host else None,
            fires=fires, paused=paused, now=now, running_runs=running,
            queued=self.lifecycle.queued(),
        )

    def skip_next(self, name: str) -> datetime:
        """Refused: the fallback runs what is due at its checks, it keeps no fire times to skip."""
        self.lifecycle.slot(name)
        raise Refused(
            f"no scheduler is running, so {name} has no next fire time to skip; p pauses it"
        )

    def stop(self) -> None:
        """Stop running due jobs (the store is still watched); runs in progress go on."""
        with self._lock:
            if not self._scheduling:
                raise Refused("the fallback is already stopped: it runs nothing")
            self._scheduling = False
        log.info("fallback stopped by the operator", extra={"event": "stopped"})
        self.bus.publish(StateChanged(None, Change.STOPPED))

    def start(self) -> None:
        """Run due jobs again, starting with those due now."""
        with self._lock:
            if self._closing:
                raise Refused("synctui is shutting down")
            if not self.config.autorefresh.enabled:
                raise Refused("[autorefresh] enabled = false in the config: the console only"
                              " watches the store")
            if self._scheduling:
                raise Refused("the fallback is already running")
            self._scheduling = True
            self._next_check = self._clock()
        self._wake.set()
        log.info("fallback started by the operator", extra={"event": "started"})
        self.bus.publish(StateChanged(None, Change.STARTED))

    def restart(self) -> None:
        """Stop, then start."""
        with self._lock:
            if self._scheduling:
                self.stop()
            self.start()

    # --- inside -------------------------------------------------------------------

    def _watch(self) -> None:
        while True:
            with self._lock:
                wait = min(self.refresh_s, max(0.0, (self._next_check - self._clock()).total_seconds()))
            self._wake.wait(wait)
            self._wake.clear()
            with self._lock:
                if self._closing:
                    return
            seen = self._signature()
            if seen != self._seen:
                self._seen = seen
                self.bus.publish(StateChanged(None, Change.REFRESHED))
            now = self._clock()
            with self._lock:
                if now < self._next_check:
                    continue
                # On a grid from the start: a late check does not move the later ones.
                step = self._step
                self._next_check += step * ((now - self._next_check) // step + 1)
            self._run_due(now)

    def _signature(self) -> tuple:
        """What the screen shows of the store: the newest runs, pauses and the host."""
        host = self.store.host()
        return (
            tuple((run.id, run.result) for run in self.store.runs(limit=20)),
            tuple(self.store.job_state(name).paused for name in self.config.jobs),
            host.pid if host else None,
        )

    def _run_due(self, now: datetime) -> None:
        with self._lock:
            if not self._scheduling or self._closing:
                return
            host = live_host(self.store, now)
            if host is not None:
                return  # a scheduler (pid host.pid) runs them
            for name, slot in self.lifecycle.slots.items():
                if (self.store.job_state(name).paused or slot.busy
                        or self._running_elsewhere(name)):
                    continue
                if self._due(slot.job, now) is not None:
                    self.lifecycle.launch(slot, Trigger.FALLBACK, self._clock())

    def _due(self, job: JobConfig, now: datetime) -> datetime | None:
        """The job's most recent fire time since it last started (or since the fallback began)."""
        anchor = self.lifecycle.last_start(job.name) or self._began
        trigger = job_trigger(job, self.zone, anchor, jitter=False)
        return None if trigger is None else latest_fire(trigger, anchor, now)

    def _fires(self, job: JobConfig, now: datetime, scheduling: bool) -> Fires:
        anchor = self.lifecycle.last_start(job.name) or self._began
        trigger = job_trigger(job, self.zone, anchor, jitter=False)
        if trigger is None:
            return Fires()
        last = latest_fire(trigger, anchor, now)
        if not scheduling:
            return Fires(None, last)
        due = trigger.get_next_fire_time(None, anchor + timedelta(microseconds=1))
        return Fires(None if due is None else self._check_at(job, due), last)

    def _check_at(self, job: JobConfig, due: datetime) -> datetime | None:
        """The first of the fallback's checks at or after `due` that the job's run window
        allows (a check outside it records a skip, and the job stays due)."""
        check = self._next_check
        for _ in range(100):
            if due > check:
                check += self._step * -((check - due) // self._step)
            allowed = next_allowed(job.window, check, self.zone)
            if allowed is None or allowed == check:
                return allowed
            due = allowed
        return None

    def _running_elsewhere(self, name: str) -> str | None:
        """Where another process runs the job now (`run 12, pid 345`), or None."""
        for orphan in self.store.orphans():
            if orphan.run.job == name and orphan.host_pid is not None and is_alive(
                orphan.host_pid, orphan.host_start
            ):
                return f"run {orphan.run.id}, pid {orphan.host_pid}"
        return None

    def _set_paused(self, name: str | None, paused: bool) -> None:
        self._pause_jobs([name] if name else list(self.lifecycle.slots), paused)
