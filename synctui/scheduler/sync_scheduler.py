"""`SyncScheduler`: the seed's scheduler, on APScheduler 3, with synctui deciding every run.

APScheduler only computes fire times. Its executor here hands each fire's
`run_times` to `SyncScheduler` and returns at once, so APScheduler never drops a
fire on its own (through `max_instances` or a misfire grace). Overlap, manual
runs, cooldown and retries are decided under one lock per job.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED

from synctui.config import ConfigError
from synctui.config.model import Config, JobConfig
from synctui.scheduler.clock import seconds_text, utc_now
from synctui.scheduler.control import HostBusy, Refused
from synctui.scheduler.control_server import ControlServer, SocketError
from synctui.scheduler.protocol import socket_path
from synctui.scheduler.events import EventBus, RunFinished, StateChanged, Subscription
from synctui.scheduler.hooks import Hooks
from synctui.scheduler.host_lock import HostLock
from synctui.scheduler.processes import read_stat
from synctui.scheduler.records import RETRYABLE_RESULTS, Fires, Result, RunRecord, Trigger
from synctui.scheduler.runner import RunHandle, Runner, RunRequest
from synctui.scheduler.status import HostInfo, SchedulerStatus, snapshot
from synctui.scheduler.store import HostRecord, Store
from synctui.scheduler.triggers import job_trigger, latest_fire

log = logging.getLogger("synctui.scheduler")

TICK_S = 5.0
"""How often the watchdog wakes APScheduler, checks its thread and writes the heartbeat."""
HANDOVER_POLL_S = 0.05


class _HandOff(BaseExecutor):
    """An executor that calls the job's function inline with the fire's run times.

    The function only hands the fire to synctui and returns; instance counting
    (and so APScheduler's silent `max_instances` drops) is bypassed on purpose.
    """

    def submit_job(self, job, run_times):
        job.func(*job.args, run_times)

    def _do_submit_job(self, job, run_times):  # pragma: no cover - submit_job replaces it
        job.func(*job.args, run_times)


@dataclass
class _Slot:
    """One job's place in the scheduler; its lock decides what may start."""

    job: JobConfig
    lock: threading.Lock = field(default_factory=threading.Lock)
    handle: RunHandle | None = None
    pending: RunRequest | None = None
    """A run waiting for the one it replaces to end."""
    retry: threading.Timer | None = None
    last_start: float | None = None
    """monotonic() of the job's last start, for the manual cooldown."""
    fires: Fires = field(default_factory=Fires)
    paused: bool = False
    skipped: datetime | None = None
    """The fire time `skip_next` dropped, while it is to come: a resume must not bring it back."""
    idle: threading.Condition = field(default_factory=threading.Condition)

    @property
    def busy(self) -> bool:
        return self.handle is not None and not self.handle.done


class SyncScheduler:
    """Schedules the configured jobs and runs them through the runner, in this process."""

    label = "in-process"

    def __init__(
        self, config: Config, *, mode: str = "console", store: Store | None = None,
        tick_s: float = TICK_S, bus: EventBus | None = None, serve: bool = True,
        reload_config: Callable[[], Config] | None = None,
        on_handover: Callable[[], str] | None = None,
    ) -> None:
        """
        Args:
            mode: `console`, `headless` or `once`: what hosts, as others see it.
            bus: Where events are published (a new one by default).
            serve: Serve the control socket while hosting.
            reload_config: Reads the config afresh, for `reload` (SIGHUP, the socket).
            on_handover: Answers a headless asking to host (None: keep hosting).
        """
        self.config = config
        self.mode = mode
        self.zone = ZoneInfo(config.scheduler.timezone)
        self.store = store or Store(config.scheduler.state_dir)
        self.bus = bus or EventBus()
        self._serve = serve
        self._reload_config = reload_config
        self._on_handover = on_handover
        self.server: ControlServer | None = None
        self.runner = Runner(self.store, self.bus, zone=self.zone)
        self.hooks = Hooks()
        self.tick_s = tick_s
        self._slots: dict[str, _Slot] = {}
        self._active: set[RunHandle] = set()
        """Every run in progress, also those of jobs a reload removed."""
        # Its own lock: the fire hand-off runs under APScheduler's job-store lock and
        # must never wait for `_lock`, which is held while calling into APScheduler.
        self._active_lock = threading.Lock()
        for name, job in config.jobs.items():
            self._slots[name] = _Slot(job, paused=self.store.job_state(name).paused)
        self._aps: BackgroundScheduler | None = None
        self._planned: dict[str, Fires] = {}
        """Each job's fire times when scheduling last stopped."""
        self._lock = threading.RLock()
        self._closing = False
        self._recovered = False
        self._hosting = False
        self._watchdog: threading.Thread | None = None
        self._watchdog_stop = threading.Event()
        self._host_lock = HostLock(config.scheduler.state_dir)
        self.last_tick: float | None = None
        """monotonic() of the watchdog's last tick (liveness)."""
        stat = read_stat(os.getpid())
        self._host = HostRecord(
            pid=os.getpid(), start_ticks=stat.start_ticks if stat else None, mode=mode,
            config=config.source, started_at=utc_now(),
            heartbeat_at=utc_now(), scheduling=False,
        )

    # --- the seed's surface -------------------------------------------------------

    @property
    def interval_minutes(self) -> float:
        """The default interval, in minutes (the seed's setting)."""
        return self.config.scheduler.interval_s / 60

    @property
    def is_running(self) -> bool:
        """Whether fires are being scheduled."""
        return self._aps is not None

    @property
    def hosting(self) -> bool:
        """Whether this process hosts the state directory's scheduler now."""
        return self._hosting

    @property
    def attached_consoles(self) -> int:
        """How many consoles are attached through the control socket now."""
        return self.server.consoles if self.server is not None else 0

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Start scheduling: recover dead runs (first time), catch up, run `run_on_start` jobs."""
        with self._lock:
            if self._closing:
                raise Refused("synctui is shutting down")
            if self._aps is not None:
                raise Refused("the scheduler is already running")
            began_hosting = not self._hosting
            if began_hosting:
                self._take_host_lock()
            try:
                if began_hosting:
                    self._recover()
                    self._open_socket()
                    self.store.claim_host(self._host)
                    self.store.checkpoint_on_demand()
                    self._hosting = True
                aps = BackgroundScheduler(
                    timezone=self.zone,
                    executors={"default": _HandOff()},
                    job_defaults={"misfire_grace_time": None, "coalesce": True,
                                  "max_instances": 1},
                )
                now = utc_now()
                starts = [self._plan_start(slot, now) for slot in self._slots.values()]
                for slot in self._slots.values():
                    self._add_job(aps, slot, now)
                aps.start()
            except BaseException:
                if began_hosting:
                    self._stop_hosting()  # a host that could not start must not block the next
                raise
            self._aps = aps
            self._start_watchdog()
            self._beat()
        log.info("scheduler started (%d jobs)", len(self._slots), extra={"event": "started"})
        self.bus.publish(StateChanged(None, "started"))
        for slot, trigger, scheduled_at in filter(None, starts):
            self._launch(slot, trigger, scheduled_at)

    def stop(self) -> None:
        """Stop scheduling; runs in progress go on to their end."""
        with self._lock:
            if self._aps is None:
                raise Refused("the scheduler is already stopped")
            self._planned = self._fires()
            aps, self._aps = self._aps, None
            aps.shutdown(wait=False)
            for slot in self._slots.values():
                self._cancel_retry(slot)
            self._beat()
        log.info("scheduler stopped", extra={"event": "stopped"})
        self.bus.publish(StateChanged(None, "stopped"))

    def restart(self) -> None:
        """Stop and start again (catching up what is due)."""
        with self._lock:
            if self._aps is not None:
                self.stop()
            self.start()

    def shutdown(self, grace: float | None = None) -> list[RunRecord]:
        """Stop for good: no new runs; each running run gets `grace` seconds, then is ended.

        Returns the records of the runs that were going when it was called.
        """
        grace = self.config.scheduler.shutdown_grace_s if grace is None else grace
        with self._lock:
            self._closing = True
            if self._aps is not None:
                self.stop()
            for slot in self._slots.values():
                with slot.lock:
                    self._cancel_retry(slot)
                    slot.pending = None
        with self._active_lock:
            handles = list(self._active)
        for handle in handles:
            handle.interrupt(after=grace)
        records = [handle.wait() for handle in handles]
        self._watchdog_stop.set()
        if self._watchdog is not None:
            self._watchdog.join()
        self._stop_hosting()
        return records

    def _stop_hosting(self) -> None:
        """Let another process host: the socket closed, the host record and lock released."""
        if self.server is not None:
            self.server.close()
            self.server = None
        if self._hosting:
            self.store.release_host(self._host.pid)
            self._hosting = False
        self._host_lock.release()

    def hand_over(self) -> None:
        """Shut down at the first moment no run is going (blocking until then), so that
        another process hosts: a standby headless, or an attached console."""
        self.bus.publish(StateChanged(None, "handing-over"))
        log.info("handing over between runs", extra={"event": "handover"})
        while not self._shutdown_if_idle():
            time.sleep(HANDOVER_POLL_S)
        log.info("handed over", extra={"event": "handover"})

    def _shutdown_if_idle(self) -> bool:
        """Shut down only if no run is going (no run can start between the check and the end)."""
        with self._lock:
            slots = list(self._slots.values())
            for slot in slots:
                slot.lock.acquire()
            try:
                with self._active_lock:
                    if self._active or any(slot.retry is not None for slot in slots):
                        return False
                self._closing = True
            finally:
                for slot in slots:
                    slot.lock.release()
        self.shutdown(grace=0)
        return True

    def end_runs_now(self) -> None:
        """Interrupt every running run now, without waiting out the grace."""
        with self._active_lock:
            handles = list(self._active)
        for handle in handles:
            handle.interrupt(after=0)

    # --- operations ---------------------------------------------------------------

    def run_now(self, name: str) -> RunRecord:
        """Start the job now (trigger `manual`); refused while it runs or within its cooldown."""
        slot = self._slot(name)
        handle = self._launch(slot, Trigger.MANUAL, utc_now(), manual=True)
        return handle.run

    def cancel(self, name: str) -> None:
        """End the job's running run (result `cancelled`), or drop its pending retry.

        Returns once asked: the run ends within its kill grace, announced by `RunFinished`.
        A run of a job a reload removed can be cancelled too.
        """
        if name not in self._slots:
            with self._active_lock:
                orphaned = [handle for handle in self._active
                            if handle.run.job == name and not handle.done]
            if orphaned:
                for handle in orphaned:
                    handle.cancel()
                return
        slot = self._slot(name)
        with slot.lock:
            if slot.busy:
                handle = slot.handle
                slot.pending = None
            elif slot.retry is not None:
                self._cancel_retry(slot)
                log.info("%s: pending retry cancelled", name,
                         extra={"event": "retry_cancelled", "job": name})
                return
            else:
                raise Refused(f"{name} is not running")
        handle.cancel()

    def pause(self, name: str | None = None) -> None:
        """Pause one job, or all: no scheduled runs until resumed (remembered across restarts)."""
        self._set_paused(name, True)

    def resume(self, name: str | None = None) -> None:
        """Resume one job, or all."""
        self._set_paused(name, False)

    def skip_next(self, name: str) -> datetime:
        """Drop exactly the job's next fire time; returns the fire time dropped."""
        slot = self._slot(name)
        with self._lock:
            aps_job = self._aps.get_job(name) if self._aps else None
            if aps_job is None:
                raise Refused("the scheduler is stopped: there is no next run to skip")
            if slot.paused or aps_job.next_run_time is None:
                raise Refused(f"{name} is paused: there is no next run to skip")
            skipped = slot.skipped = aps_job.next_run_time
            aps_job.modify(next_run_time=aps_job.trigger.get_next_fire_time(skipped, skipped))
        log.info("%s: next run (%s) will be skipped", name, skipped.isoformat(),
                 extra={"event": "skip_next", "job": name})
        self.bus.publish(StateChanged(name, "skipped-next"))
        return skipped

    def reload(self, config: Config) -> None:
        """Take a new config: jobs added, removed and changed; runs in progress untouched."""
        with self._lock:
            if config.scheduler.state_dir != self.config.scheduler.state_dir:
                log.warning("state_dir changed in the config: it takes effect at the next start",
                            extra={"event": "reload"})
            zone_changed = config.scheduler.timezone != self.config.scheduler.timezone
            old = self._slots
            self.config = config
            if zone_changed:
                self.zone = ZoneInfo(config.scheduler.timezone)
                self.runner.zone = self.zone
            now = utc_now()
            slots: dict[str, _Slot] = {}
            for name, job in config.jobs.items():
                slot = old.get(name)
                if slot is None:
                    slot = _Slot(job, paused=self.store.job_state(name).paused)
                    if self._aps is not None:
                        self._add_job(self._aps, slot, now)
                else:
                    changed = slot.job != job
                    slot.job = job
                    if self._aps is not None and (changed or zone_changed):
                        self._aps.remove_job(name)
                        self._add_job(self._aps, slot, now)
                slots[name] = slot
            for name, slot in old.items():
                if name not in slots:
                    self._cancel_retry(slot)
                    if self._aps is not None:
                        self._aps.remove_job(name)
            self._slots = slots
            self._beat()
        added = sorted(set(slots) - set(old))
        removed = sorted(set(old) - set(slots))
        log.info("config reloaded: %d jobs (added: %s; removed: %s)", len(slots),
                 ", ".join(added) or "none", ", ".join(removed) or "none",
                 extra={"event": "reload"})
        self.bus.publish(StateChanged(None, "reloaded"))

    def reload_from_source(self) -> str:
        """Read the config afresh and take it; an invalid one is refused (the old one stays)."""
        if self._reload_config is None:
            raise Refused("this scheduler has no config file to reload (the demo?)")
        try:
            config = self._reload_config()
        except ConfigError as error:
            for problem in error.problems:
                log.error("reload refused (still running the previous config): %s", problem,
                          extra={"event": "reload_refused"})
            raise Refused(
                f"the new config is invalid; still running the previous one: {error.problems[0]}"
                + (f" (and {len(error.problems) - 1} more problems)" if len(error.problems) > 1
                   else "")
            ) from None
        for warning in config.warnings:
            log.warning("%s", warning, extra={"event": "config_warning"})
        self.reload(config)
        return f"config reloaded: {len(config.jobs)} jobs"

    def run_once(self, names: list[str] | None = None) -> dict[str, RunRecord]:
        """Run each job (or those named) once with trigger `once`, retries included, and wait.

        Refused while another synctui hosts the state directory: it would run the same
        jobs alongside its own. The hosting lock is held meanwhile (released by
        `shutdown`), so no host starts under it.
        """
        slots = [self._slot(name) for name in (names or list(self._slots))]
        self._take_host_lock()
        self._recover()
        first = {slot.job.name: self._launch(slot, Trigger.ONCE, utc_now()).run.id for slot in slots}
        results = {}
        for slot in slots:
            with slot.idle:
                slot.idle.wait_for(lambda: not slot.busy and slot.retry is None and slot.pending is None)
            name = slot.job.name
            # The last attempt of this series: its first run, or a retry after it.
            results[name] = next(
                run for run in self.store.runs(name, limit=slot.job.retries + 100)
                if run.id == first[name] or (run.id > first[name] and run.trigger is Trigger.RETRY)
            )
        return results

    def status(self) -> SchedulerStatus:
        """The snapshot of SPEC §8 (times UTC-aware; `to_json` renders them in the zone)."""
        with self._lock:
            fires = self._fires()
            slots = dict(self._slots)
            running = self._aps is not None
        return snapshot(
            self.store, self.config, running=running,
            host=HostInfo(self._host.pid, self.mode, self._host.config, self._host.socket),
            fires=fires, paused={name: slot.paused for name, slot in slots.items()},
            now=utc_now(),
            running_runs={name: s.handle.run for name, s in slots.items() if s.busy},
        )

    def history(self, job: str | None = None, limit: int = 100, before_id: int | None = None) -> list[RunRecord]:
        """Recorded runs, newest first."""
        return self.store.runs(job, limit=limit, before_id=before_id)

    def subscribe(self, notify=None, maxsize: int = 10_000) -> Subscription:
        """A stream of run and state events (see `synctui.scheduler.events`)."""
        return self.bus.subscribe(maxsize=maxsize, notify=notify)

    # --- inside -------------------------------------------------------------------

    def _slot(self, name: str) -> _Slot:
        slot = self._slots.get(name)
        if slot is None:
            known = ", ".join(sorted(self._slots)) or "none"
            raise Refused(f"no job named {name!r} (jobs: {known})")
        return slot

    def _add_job(self, aps: BackgroundScheduler, slot: _Slot, now: datetime) -> None:
        slot.skipped = None  # a skip was of the schedule this one replaces
        last = self.store.runs(slot.job.name, limit=1)
        anchor = last[0].started_at if last and last[0].started_at else now
        aps.add_job(
            self._on_fire, job_trigger(slot.job, self.zone, anchor), args=(slot.job.name,),
            id=slot.job.name, name=slot.job.name,
            **({"next_run_time": None} if slot.paused else {}),
        )

    def _plan_start(self, slot: _Slot, now: datetime) -> tuple[_Slot, Trigger, datetime] | None:
        """What runs at start: catch-up for a missed fire, else `run_on_start`."""
        if slot.paused:
            return None
        last = self.store.runs(slot.job.name, limit=1)
        if self.config.scheduler.catch_up and last and last[0].started_at:
            since = last[0].started_at
            missed = latest_fire(
                job_trigger(slot.job, self.zone, since, jitter=False), since, now
            )
            if missed is not None:
                slot.fires = Fires(last=missed, before_last=slot.fires.last)
                return slot, Trigger.CATCH_UP, missed
        if slot.job.run_on_start:
            return slot, Trigger.START, now
        return None

    def _on_fire(self, name: str, run_times: tuple[datetime, ...] = ()) -> None:
        """APScheduler's hand-off: runs on its thread, must return at once.

        `run_times` has a default only because APScheduler checks a job's
        function against its args; `_HandOff` always passes them.
        """
        slot = self._slots.get(name)
        if slot is None or self._closing:
            return
        fire = run_times[-1]
        slot.fires = Fires(last=fire, before_last=slot.fires.last)
        self._launch(slot, Trigger.SCHEDULED, fire)

    def _launch(
        self, slot: _Slot, trigger: Trigger, scheduled_at: datetime, *,
        attempt: int = 1, manual: bool = False,
    ) -> RunHandle | None:
        job = slot.job
        request = RunRequest(job, trigger, scheduled_at, attempt)
        with slot.lock:
            if self._closing:
                raise Refused("synctui is shutting down")
            if slot.busy:
                running = slot.handle.run
                if manual:
                    started = (utc_now() - running.started_at).total_seconds()
                    raise Refused(
                        f"{job.name} is already running (run {running.id}, started"
                        f" {started:.0f}s ago)"
                    )
                if job.overlap == "replace":
                    slot.pending = request
                    slot.handle.replace()
                    return None
                skip = self.store.record_skip(job.name, scheduled_at, utc_now())
                log.warning(
                    "%s: fire time %s skipped: run %s still going (%d in a row)",
                    job.name, scheduled_at.isoformat(), running.id, skip.skip_count,
                    extra={"event": "run_skipped", "job": job.name, "run_id": skip.id,
                           "result": "skipped"},
                )
                self.bus.publish(RunFinished(skip))
                return None
            if manual and slot.last_start is not None:
                since = time.monotonic() - slot.last_start
                if since < job.manual_cooldown_s:
                    raise Refused(
                        f"{job.name} started {since:.1f}s ago; manual runs wait"
                        f" {seconds_text(job.manual_cooldown_s)} after a start (try again in"
                        f" {job.manual_cooldown_s - since:.1f}s)"
                    )
            self._cancel_retry(slot)
            return self._start_locked(slot, request)

    def _start_locked(self, slot: _Slot, request: RunRequest) -> RunHandle:
        with self._active_lock:
            handle = self.runner.start(request, on_finish=lambda h: self._finished(slot, h))
            self._active.add(handle)
        slot.handle = handle
        slot.last_start = time.monotonic()
        log.info(
            "%s: run %s started (%s%s)", request.job.name, handle.run.id, request.trigger.value,
            f", attempt {request.attempt}" if request.attempt > 1 else "",
            extra={"event": "run_started", "job": request.job.name, "run_id": handle.run.id,
                   "trigger": request.trigger.value},
        )
        return handle

    def _finished(self, slot: _Slot, handle: RunHandle) -> None:
        """Called on the run's thread once its result is recorded."""
        record = handle.run
        level = logging.INFO if record.result is Result.SUCCESS else logging.WARNING
        log.log(
            level, "%s: run %s %s in %.1fs%s", record.job, record.id, record.result.value,
            record.duration_s or 0.0, f": {record.error}" if record.error else "",
            extra={"event": "run_finished", "job": record.job, "run_id": record.id,
                   "trigger": record.trigger.value, "result": record.result.value,
                   "duration": record.duration_s},
        )
        with self._active_lock:
            self._active.discard(handle)
        with slot.lock:
            if slot.handle is handle:
                slot.handle = None
            pending, slot.pending = slot.pending, None
            job = slot.job
            if pending is not None and not self._closing:
                self._start_locked(slot, pending)
            elif (
                record.result in RETRYABLE_RESULTS
                and record.attempt <= job.retries and not self._closing
            ):
                delay = job.retry_backoff_s * 2 ** (record.attempt - 1)
                slot.retry = threading.Timer(delay, self._retry, args=(slot, record.attempt + 1))
                slot.retry.daemon = True
                slot.retry.start()
                log.info("%s: retry %d of %d in %s", job.name, record.attempt, job.retries,
                         seconds_text(delay), extra={"event": "retry_scheduled", "job": job.name})
            retrying = slot.retry is not None
        self.hooks.after(job, record, self.zone, retrying=retrying)
        self.store.apply_retention(
            record.job, self.config.scheduler.keep_runs, self.config.scheduler.keep_log_bytes
        )
        with slot.idle:
            slot.idle.notify_all()

    def _retry(self, slot: _Slot, attempt: int) -> None:
        with slot.lock:
            if slot.retry is None or self._closing or slot.busy:
                return
            slot.retry = None
            self._start_locked(slot, RunRequest(slot.job, Trigger.RETRY, utc_now(), attempt))

    def _cancel_retry(self, slot: _Slot) -> None:
        if slot.retry is not None:
            slot.retry.cancel()
            slot.retry = None
            with slot.idle:
                slot.idle.notify_all()

    def _set_paused(self, name: str | None, paused: bool) -> None:
        slots = [self._slot(name)] if name else list(self._slots.values())
        with self._lock:
            for slot in slots:
                slot.paused = paused
                self.store.set_paused(slot.job.name, paused)
                if self._aps is not None:
                    if paused:
                        self._aps.pause_job(slot.job.name)
                    else:
                        self._resume_job(slot)
            self._beat()
        word = "paused" if paused else "resumed"
        for slot in slots:
            log.info("%s: %s", slot.job.name, word, extra={"event": word, "job": slot.job.name})
            self.bus.publish(StateChanged(slot.job.name, word))

    def _resume_job(self, slot: _Slot) -> None:
        """Give a resumed job its next fire time, still without the one `skip_next` dropped."""
        name = slot.job.name
        if slot.skipped is not None and slot.skipped <= utc_now():
            slot.skipped = None  # it passed while the job was paused: the skip is used up
        if slot.skipped is None:
            self._aps.resume_job(name)
            return
        # APScheduler's resume counts from now, which brings the skipped fire time back;
        # count from the skipped one, as `skip_next` did.
        aps_job = self._aps.get_job(name)
        aps_job.modify(
            next_run_time=aps_job.trigger.get_next_fire_time(slot.skipped, slot.skipped)
        )

    def _fires(self) -> dict[str, Fires]:
        fires = {}
        for name, slot in self._slots.items():
            aps_job = self._aps.get_job(name) if self._aps else None
            upcoming = aps_job.next_run_time if aps_job else None
            fires[name] = Fires(upcoming, slot.fires.last, slot.fires.before_last)
        return fires

    def _take_host_lock(self) -> None:
        if not self._host_lock.acquire():
            other = self.store.host()
            raise HostBusy(
                f"another synctui{f' (pid {other.pid}, {other.mode})' if other else ''}"
                f" already hosts {self.config.scheduler.state_dir}"
            )

    def _open_socket(self) -> None:
        if not self._serve or self.server is not None:
            return
        server = ControlServer(
            self, socket_path(self.config.scheduler.state_dir), group=self.config.control.group,
            reload=self.reload_from_source, handover=self._on_handover,
        )
        try:
            server.start()
        except SocketError as error:
            raise Refused(str(error)) from None
        self.server = server
        self.runner.log_group = server.gid
        self._host = replace(self._host, socket=str(server.path))

    def _recover(self) -> None:
        """Record the runs of a dead host `interrupted` (once per process), with their hooks."""
        if self._recovered:
            return
        for record in self.runner.recover():
            log.warning(
                "run %s of %s recorded interrupted: %s", record.id, record.job, record.error,
                extra={"event": "run_recovered", "job": record.job, "run_id": record.id,
                       "result": record.result.value},
            )
            slot = self._slots.get(record.job)
            if slot is not None:
                # The host that should have called `on_failure` died with the run; no
                # retry follows a run found this late.
                self.hooks.after(slot.job, record, self.zone, retrying=False)
        self._recovered = True

    def _beat(self) -> None:
        if self._hosting:
            # Stopped, the fire times it would have had stay in the store: with nobody
            # scheduling, `health` sees them pass (late, then down), not `up` for ever.
            fires = self._fires() if self._aps is not None else self._planned
            self.store.heartbeat(self._host.pid, utc_now(), self._aps is not None, fires)

    def _start_watchdog(self) -> None:
        if self._watchdog is None or not self._watchdog.is_alive():
            self._watchdog_stop.clear()
            self._watchdog = threading.Thread(target=self._watch, name="synctui-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        """Wake APScheduler (its wait stops during a suspend), revive its thread, beat."""
        while not self._watchdog_stop.wait(self.tick_s):
            self.last_tick = time.monotonic()
            with self._lock:
                aps = self._aps
                if aps is not None:
                    thread = getattr(aps, "_thread", None)
                    if aps.state != STATE_STOPPED and (thread is None or not thread.is_alive()):
                        log.error("the APScheduler thread died; restarting it",
                                  extra={"event": "watchdog"})
                        # APScheduler has no public way to restart its loop thread.
                        aps._thread = threading.Thread(
                            target=aps._main_loop, name="APScheduler", daemon=True
                        )
                        aps._thread.start()
                    aps.wakeup()
                self._sync_paused()
                self._beat()
            self.store.checkpoint()

    def _sync_paused(self) -> None:
        """Take pauses made by `synctui pause` from another process."""
        for name, slot in self._slots.items():
            stored = self.store.job_state(name).paused
            if stored != slot.paused:
                slot.paused = stored
                if self._aps is not None:
                    if stored:
                        self._aps.pause_job(name)
                    else:
                        self._resume_job(slot)
                word = "paused" if stored else "resumed"
                log.info("%s: %s (from the command line)", name, word, extra={"event": word, "job": name})
                self.bus.publish(StateChanged(name, word))
