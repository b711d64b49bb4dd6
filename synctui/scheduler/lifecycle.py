"""A run's life, from the decision to start it to its recorded end, written once.

Every way a run starts goes through `RunLifecycle`: the scheduler's fires, manual
runs, retries, `run` with no scheduler, `--once`, and the console's fallback. It
refuses what may not start (an unknown job, one already running, one within its
manual cooldown, anything while shutting down), records skipped what comes outside the
job's run window (`blackout.py`; a manual run there must be forced, a retry waits for
it to open) and the fire times of a job an upstream holds (`after.py`), applies the
overlap policy, starts the run through the runner, and when the run is recorded logs
it, schedules its retry (where the policy has retries), fires its hooks, applies
retention and starts the jobs that run after it. When to fire is the caller's
business; whether and how a run goes is this module's.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from synctui.config.model import Config, JobConfig
from synctui.scheduler import after
from synctui.scheduler.blackout import blocked, next_allowed
from synctui.scheduler.clock import seconds_text, timestamp, utc_now
from synctui.scheduler.control import Refused
from synctui.scheduler.events import Change, EventBus, RunFinished, StateChanged, Subscription
from synctui.scheduler.hooks import Hooks
from synctui.scheduler.records import (
    OVERLAP_REASON, RETRYABLE_RESULTS, Result, RunRecord, Scope, Trigger,
)
from synctui.scheduler.runner import RunHandle, Runner, RunRequest
from synctui.scheduler.seams import RunStore
from synctui.scheduler.store import Store

log = logging.getLogger("synctui.scheduler")

UNHELD = frozenset({Trigger.MANUAL, Trigger.RETRY, Trigger.AFTER})
"""Triggers an upstream's failure does not hold: the operator's, a retry of the job's own
run, and the run its upstreams' successes start."""


@dataclass
class JobSlot:
    """One job's place in the lifecycle; its lock decides what may start."""

    job: JobConfig
    paused: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    handle: RunHandle | None = None
    pending: RunRequest | None = None
    """A run waiting for the one it replaces to end."""
    retry: threading.Timer | None = None
    last_start: datetime | None = None
    """When this process last started the job, for the manual cooldown (a cooldown guards
    against a double press here, not against other processes' runs)."""
    idle: threading.Condition = field(default_factory=threading.Condition)

    @property
    def busy(self) -> bool:
        return self.handle is not None and not self.handle.done

    @property
    def settled(self) -> bool:
        """Nothing going and nothing to come: no run, no retry, no replacement waiting."""
        return not self.busy and self.retry is None and self.pending is None


class RunLifecycle:
    """Decides, starts and ends the runs of one process's jobs."""

    def __init__(
        self, config: Config, store: RunStore, bus: EventBus, *, zone: tzinfo,
        retries: bool = True, runs_after: bool = True, clock: Callable[[], datetime] = utc_now,
        running_elsewhere: Callable[[str], str | None] = lambda name: None,
    ) -> None:
        """
        Args:
            retries: Retry failed runs as their jobs say (the fallback does not: its next
                check runs a failed job again).
            runs_after: Start the jobs that run `after` a job when it succeeds (a one-shot
                does not: it ends with its own runs, and the next host starts them).
            clock: The current time.
            running_elsewhere: Where another process runs the job now (`run 12, pid 345`),
                for a process that shares the store with live runners; None if nowhere.
        """
        self.config = config
        self._needed_by = after.needed_by(config.jobs)
        self.store = store
        self.bus = bus
        self.runner = Runner(store, bus, zone=zone, clock=clock)
        self.hooks = Hooks()
        self._retries = retries
        self._runs_after = runs_after
        self._clock = clock
        self._running_elsewhere = running_elsewhere
        self.slots: dict[str, JobSlot] = {
            name: JobSlot(job, paused=store.job_state(name).paused)
            for name, job in config.jobs.items()
        }
        self._active: set[RunHandle] = set()
        """Every run in progress, also those of jobs a reload removed."""
        # Its own lock: a fire hand-off must never wait for a caller's lock held while it
        # calls in here.
        self._active_lock = threading.Lock()
        self.closing = False

    @property
    def zone(self) -> tzinfo:
        return self.runner.zone

    # --- deciding -----------------------------------------------------------------

    def slot(self, name: str) -> JobSlot:
        """The job's slot; `Refused` naming the jobs there are if there is none."""
        slot = self.slots.get(name)
        if slot is None:
            known = ", ".join(sorted(self.slots)) or "none"
            raise Refused(f"no job named {name!r} (jobs: {known})")
        return slot

    def launch(
        self, slot: JobSlot, trigger: Trigger, scheduled_at: datetime, *, manual: bool = False,
        scope: Scope = Scope(),
    ) -> RunHandle | None:
        """Start a run of the slot's job, or say why not.

        Any run but a manual one is recorded skipped outside the job's run window (its
        active hours and days, its blackouts). A manual run is `Refused` while the job
        runs (here or elsewhere) or within its cooldown (the cooldown is for `manual`
        runs only: a backfill's windows follow one another). Any other run that meets a
        running one follows the job's overlap policy: `replace` ends the running one and
        starts after it, `skip` records the fire time skipped. Returns the handle of the
        run started, None if none did now.
        """
        job = slot.job
        request = RunRequest(job, trigger, scheduled_at, scope=scope)
        with slot.lock:
            if self.closing:
                raise Refused("synctui is shutting down")
            if not manual and self._outside_window(slot, scheduled_at):
                return None
            elsewhere = None if slot.busy else self._running_elsewhere(job.name)
            if manual and (slot.busy or elsewhere):
                if elsewhere:
                    raise Refused(f"{job.name} is already running ({elsewhere})")
                running = slot.handle.run
                started = (self._clock() - running.started_at).total_seconds()
                raise Refused(f"{job.name} is already running (run {running.id}, started"
                              f" {started:.0f}s ago)")
            if slot.busy and job.overlap == "replace":
                slot.pending = request
                slot.handle.replace()
                return None
            if slot.busy or elsewhere:
                running = slot.handle.run.id if slot.busy else elsewhere
                self._skip(job.name, scheduled_at, OVERLAP_REASON, f"run {running} still going")
                return None
            if manual and trigger is Trigger.MANUAL:
                self._check_cooldown(slot)
            elif trigger not in UNHELD and job.after:
                holding = after.holds(self.store, job)
                if holding:
                    reason = "held by " + ", ".join(map(str, holding))
                    self._skip(job.name, scheduled_at, reason, reason)
                    return None
            self._cancel_retry(slot)
            return self._start_locked(slot, request)

    def run_now(self, name: str, scope: Scope = Scope(), *, force: bool = False) -> RunRecord:
        """Start a manual run of the job now (a backfill run for a window); `Refused` as
        `launch` says, and outside the job's run window unless `force`."""
        slot = self.slot(name)
        now = self._clock()
        reason = None if force else blocked(slot.job.window, now, self.zone)
        if reason is not None:
            until = next_allowed(slot.job.window, now, self.zone)
            raise Refused(
                f"{name} may not start now: {reason}"
                + (f" (until {timestamp(until, self.zone)})" if until else "")
                + f"; a forced run starts anyway (synctui run {name} --force)"
            )
        trigger = Trigger.BACKFILL if scope.window else Trigger.MANUAL
        return self.launch(slot, trigger, now, manual=True, scope=scope).run

    def _outside_window(self, slot: JobSlot, scheduled_at: datetime) -> bool:
        """Whether the job may not start on its own now; if so, the fire time is recorded
        skipped with the reason."""
        reason = blocked(slot.job.window, self._clock(), self.zone)
        if reason is not None:
            self._skip(slot.job.name, scheduled_at, reason, reason)
        return reason is not None

    def _check_cooldown(self, slot: JobSlot) -> None:
        job, last = slot.job, slot.last_start
        if last is None:
            return
        since = (self._clock() - last).total_seconds()
        if since < job.manual_cooldown_s:
            raise Refused(
                f"{job.name} started {since:.1f}s ago; manual runs wait"
                f" {seconds_text(job.manual_cooldown_s)} after a start (try again in"
                f" {job.manual_cooldown_s - since:.1f}s)"
            )

    def last_start(self, name: str) -> datetime | None:
        """When the job last started, by any process (skipped fire times are not starts)."""
        started = [run.started_at for run in self.store.runs(name, limit=5)
                   if run.result is not Result.SKIPPED and run.started_at is not None]
        return started[0] if started else None

    def _skip(self, name: str, scheduled_at: datetime, reason: str, said: str) -> None:
        """Record the fire time skipped for `reason` (`said` is the log's fuller word)."""
        skip = self.store.record_skip(name, scheduled_at, self._clock(), reason)
        log.warning(
            "%s: fire time %s skipped: %s (%d in a row)",
            name, scheduled_at.isoformat(), said, skip.skip_count,
            extra={"event": "run_skipped", "job": name, "run_id": skip.id, "result": "skipped"},
        )
        self.bus.publish(RunFinished(skip))

    def ready_after(self, slot: JobSlot) -> bool:
        """Whether the slot's job is due a run `after` its upstreams (none for a job with no
        `after`, a paused or running one)."""
        job = slot.job
        return (bool(job.after) and not slot.paused and not slot.busy
                and not after.waits(self.store, job, self.last_start(job.name)))

    def start_due_after(self) -> None:
        """Start every job due a run after its upstreams (they may have succeeded while no
        host ran it)."""
        for slot in list(self.slots.values()):
            if self.ready_after(slot):
                self.launch(slot, Trigger.AFTER, self._clock())

    def run_after(self, name: str) -> None:
        """Start each job that runs after `name` (and `name` itself) if it is now due to."""
        candidates = [name, *self._needed_by.get(name, ())]
        for slot in [self.slots[job] for job in candidates if job in self.slots]:
            if self.ready_after(slot):
                try:
                    self.launch(slot, Trigger.AFTER, self._clock())
                except Refused:
                    return  # shutting down

    # --- starting and ending ------------------------------------------------------

    def _start_locked(self, slot: JobSlot, request: RunRequest) -> RunHandle:
        with self._active_lock:
            handle = self.runner.start(request, on_finish=lambda h: self._finished(slot, h))
            self._active.add(handle)
        slot.handle = handle
        slot.last_start = self._clock()
        scope = request.scope.describe(self.zone)
        log.info(
            "%s: run %s started (%s%s%s)", request.job.name, handle.run.id, request.trigger.value,
            f", {scope}" if scope else "",
            f", attempt {request.attempt}" if request.attempt > 1 else "",
            extra={"event": "run_started", "job": request.job.name, "run_id": handle.run.id,
                   "trigger": request.trigger.value},
        )
        return handle

    def _finished(self, slot: JobSlot, handle: RunHandle) -> None:
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
            if pending is not None and not self.closing:
                self._start_locked(slot, pending)
            elif (self._retries and record.result in RETRYABLE_RESULTS
                  and record.attempt <= job.retries and not self.closing):
                delay = job.retry_backoff_s * 2 ** (record.attempt - 1)
                slot.retry = threading.Timer(delay, self._retry,
                                             args=(slot, record.attempt + 1, handle.request.scope))
                slot.retry.daemon = True
                slot.retry.start()
                log.info("%s: retry %d of %d in %s", job.name, record.attempt, job.retries,
                         seconds_text(delay), extra={"event": "retry_scheduled", "job": job.name})
            retrying = slot.retry is not None
        self.hooks.after(job, record, self.zone, retrying=retrying)
        self.store.apply_retention(
            record.job, self.config.scheduler.keep_runs, self.config.scheduler.keep_log_bytes
        )
        if self._runs_after and not self.closing:
            self.run_after(record.job)
        with slot.idle:
            slot.idle.notify_all()

    def _retry(self, slot: JobSlot, attempt: int, scope: Scope) -> None:
        with slot.lock:
            if slot.retry is None or self.closing or slot.busy:
                return
            if self._retry_waits(slot, attempt, scope):
                return
            slot.retry = None
            self._start_locked(slot, RunRequest(slot.job, Trigger.RETRY, self._clock(), attempt,
                                                scope))

    def _retry_waits(self, slot: JobSlot, attempt: int, scope: Scope) -> bool:
        """A retry due outside the job's run window waits for it to open (a scheduled run
        that comes first replaces it); one that never opens is dropped."""
        job, now = slot.job, self._clock()
        reason = blocked(job.window, now, self.zone)
        if reason is None:
            return False
        until = next_allowed(job.window, now, self.zone)
        if until is None:
            self._cancel_retry(slot)
            log.warning("%s: retry %d dropped: %s, with no end in sight", job.name, attempt - 1,
                        reason, extra={"event": "retry_cancelled", "job": job.name})
            return True
        slot.retry = threading.Timer((until - now).total_seconds(), self._retry,
                                     args=(slot, attempt, scope))
        slot.retry.daemon = True
        slot.retry.start()
        log.info("%s: retry %d waits until %s: %s", job.name, attempt - 1,
                 timestamp(until, self.zone), reason,
                 extra={"event": "retry_scheduled", "job": job.name})
        return True

    def _cancel_retry(self, slot: JobSlot) -> None:
        if slot.retry is not None:
            slot.retry.cancel()
            slot.retry = None
            with slot.idle:
                slot.idle.notify_all()

    def cancel(self, name: str) -> None:
        """End the job's running run (result `cancelled`), or drop its pending retry.

        Returns once asked: the run ends within its kill grace, announced by `RunFinished`.
        A run of a job a reload removed can be cancelled too.
        """
        if name not in self.slots:
            orphaned = [handle for handle in self.active()
                        if handle.run.job == name and not handle.done]
            if orphaned:
                for handle in orphaned:
                    handle.cancel()
                return
        slot = self.slot(name)
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
                elsewhere = self._running_elsewhere(name)
                if elsewhere:
                    raise Refused(f"{name} runs in another process ({elsewhere}): cancel it there")
                raise Refused(f"{name} is not running")
        handle.cancel()

    def wait_settled(self, slot: JobSlot) -> None:
        """Block until the slot's job has no run, retry or replacement to come."""
        with slot.idle:
            slot.idle.wait_for(lambda: slot.settled)

    def active(self) -> list[RunHandle]:
        """The runs in progress (or ending: until their end is recorded)."""
        with self._active_lock:
            return list(self._active)

    def running_runs(self) -> dict[str, RunRecord]:
        """Each job's run in progress, by job name."""
        return {name: slot.handle.run for name, slot in self.slots.items() if slot.busy}

    # --- the operator's switches ---------------------------------------------------

    def set_paused(
        self, names: Iterable[str], paused: bool, *,
        follow: Callable[[JobSlot], None] = lambda slot: None,
    ) -> None:
        """Pause or resume jobs, remembered in the store; `follow(slot)` makes the caller's
        schedule agree before each job's event is announced."""
        slots = [self.slot(name) for name in names]
        for slot in slots:
            slot.paused = paused
            self.store.set_paused(slot.job.name, paused)
            follow(slot)
        self.announce_paused(slots)

    def announce_paused(self, slots: Iterable[JobSlot], *, note: str = "") -> None:
        for slot in slots:
            change = Change.PAUSED if slot.paused else Change.RESUMED
            log.info("%s: %s%s", slot.job.name, change.value, note,
                     extra={"event": change.value, "job": slot.job.name})
            self.bus.publish(StateChanged(slot.job.name, change))

    def take_config(self, config: Config) -> tuple[list[str], list[str]]:
        """Take a new config's jobs (runs in progress go on); the names added and removed."""
        old = self.slots
        slots: dict[str, JobSlot] = {}
        for name, job in config.jobs.items():
            slot = old.get(name) or JobSlot(job, paused=self.store.job_state(name).paused)
            slot.job = job
            slots[name] = slot
        for name, slot in old.items():
            if name not in slots:
                with slot.lock:
                    self._cancel_retry(slot)
        self.config, self.slots = config, slots
        self._needed_by = after.needed_by(config.jobs)
        return sorted(set(slots) - set(old)), sorted(set(old) - set(slots))

    def recover(self) -> list[RunRecord]:
        """Record the runs of a dead host `interrupted`, with their `on_failure` hooks."""
        recovered = self.runner.recover()
        for record in recovered:
            log.warning(
                "run %s of %s recorded interrupted: %s", record.id, record.job, record.error,
                extra={"event": "run_recovered", "job": record.job, "run_id": record.id,
                       "result": record.result.value},
            )
            slot = self.slots.get(record.job)
            if slot is not None:
                # The host that should have called `on_failure` died with the run; no
                # retry follows a run found this late.
                self.hooks.after(slot.job, record, self.zone, retrying=False)
        return recovered

    # --- ending -------------------------------------------------------------------

    def drop_retries(self) -> None:
        """Drop every retry waiting (scheduling stopped: nothing starts on its own)."""
        for slot in self.slots.values():
            with slot.lock:
                self._cancel_retry(slot)

    def close(self) -> None:
        """No new runs from now on; retries and replacements waiting are dropped."""
        self.closing = True
        for slot in self.slots.values():
            with slot.lock:
                self._cancel_retry(slot)
                slot.pending = None

    def settle_or_close(self) -> bool:
        """Close only if nothing is going or to come (no run can start between the check
        and the close); False, and nothing closed, otherwise."""
        slots = list(self.slots.values())
        for slot in slots:
            slot.lock.acquire()
        try:
            with self._active_lock:
                if self._active or any(slot.retry is not None for slot in slots):
                    return False
            self.closing = True
        finally:
            for slot in slots:
                slot.lock.release()
        return True

    def end_runs(self, grace: float) -> list[RunRecord]:
        """Give every run in progress `grace` seconds, then end it; their records."""
        handles = self.active()
        for handle in handles:
            handle.interrupt(after=grace)
        return [handle.wait() for handle in handles]

    def end_runs_now(self) -> None:
        """Interrupt every run in progress now, without waiting out the grace."""
        for handle in self.active():
            handle.interrupt(after=0)


class RunsHere:
    """The operator's actions on runs, for a backend whose runs go through a `RunLifecycle`
    in this process (the scheduler, the fallback). It makes `lifecycle` and provides
    `_set_paused`, which says what else a pause changes there."""

    lifecycle: RunLifecycle

    def __init__(self, config: Config, store: RunStore | None, bus: EventBus | None) -> None:
        self.config = config
        self.zone = ZoneInfo(config.scheduler.timezone)
        self.store = store or Store(config.scheduler.state_dir)
        self.bus = bus or EventBus()

    def _set_paused(self, name: str | None, paused: bool) -> None:
        raise NotImplementedError

    def run_now(self, name: str, scope: Scope = Scope(), *, force: bool = False) -> RunRecord:
        """Start the job now (trigger `manual`, `backfill` for a window); refused while it
        runs (anywhere), within its cooldown, or outside its run window unless `force`."""
        return self.lifecycle.run_now(name, scope, force=force)

    def cancel(self, name: str) -> None:
        """End the job's running run (result `cancelled`), or drop its pending retry."""
        self.lifecycle.cancel(name)

    def pause(self, name: str | None = None) -> None:
        """Pause one job, or all: nothing runs it on its own until resumed (remembered in
        the store, across restarts)."""
        self._set_paused(name, True)

    def resume(self, name: str | None = None) -> None:
        """Resume one job, or all."""
        self._set_paused(name, False)

    def end_runs_now(self) -> None:
        """Interrupt every run going here now, without waiting out the grace."""
        self.lifecycle.end_runs_now()

    def history(
        self, job: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[RunRecord]:
        """Recorded runs, newest first."""
        return self.store.runs(job, limit=limit, before_id=before_id)

    def subscribe(
        self, notify: Callable[[], None] | None = None, maxsize: int = 10_000
    ) -> Subscription:
        """Run and state events (see `synctui.scheduler.events`)."""
        return self.bus.subscribe(maxsize=maxsize, notify=notify)
