"""A run's life, from the decision to start it to its recorded end, written once.

Every way a run starts goes through `RunLifecycle`: the scheduler's fires, manual
runs, retries, `run` with no scheduler, `--once`, and the console's fallback. It
refuses what may not start (an unknown job, one already running, one within its
manual cooldown, anything while shutting down), records skipped what comes outside the
job's run window (`blackout.py`; a manual run there must be forced, a retry waits for
it to open), applies the overlap policy, and queues the rest (`queue.py`): a run
starts when its group and the scheduler have room and no upstream holds it
(`after.py`), or is recorded `missed` past its `start_deadline` or as `catch_up`
says. It starts each run through the runner, and when the run is recorded logs it,
schedules its retry (where the policy has retries), fires its hooks, applies
retention, starts the queued runs that now may and the jobs that run after it. When to fire is the caller's
business; whether and how a run goes is this module's.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, tzinfo
from typing import Callable

from synctui.config.model import Config
from synctui.scheduler import after, refusals
from synctui.scheduler.alerts import Alerts
from synctui.scheduler.blackout import blocked
from synctui.scheduler.clock import utc_now
from synctui.scheduler.control import Refused
from synctui.scheduler.events import Change, EventBus, StateChanged
from synctui.scheduler.missed import Backlog, Missed
from synctui.scheduler.liveness import FireWatch
from synctui.scheduler.not_run import NotRun
from synctui.scheduler.retries import Retries
from synctui.scheduler.queue import FIRES, NoRoom, RunQueue, Waiting
from synctui.scheduler.records import (
    NOT_RUN, OVERLAP_REASON, QueuedRun, Result, RunRecord, Scope, Trigger,
)
from synctui.scheduler.runner import RunHandle, Runner, RunRequest
from synctui.scheduler.seams import RunStore
from synctui.scheduler.slot import JobSlot
from synctui.scheduler.status import warn_limit_s
from synctui.scheduler.store import StoreFull

log = logging.getLogger("synctui.scheduler")

UNHELD = frozenset({Trigger.MANUAL, Trigger.BACKFILL, Trigger.RETRY, Trigger.AFTER})
"""Triggers an upstream's failure does not hold: the operator's, a retry of the job's own
run, and the run its upstreams' successes start."""


class RunLifecycle:
    """Decides, starts and ends the runs of one process's jobs."""

    def __init__(
        self, config: Config, store: RunStore, bus: EventBus, *, zone: tzinfo,
        retries: bool = True, runs_after: bool = True, clock: Callable[[], datetime] = utc_now,
        running_elsewhere: Callable[[str], str | None] = lambda name: None,
        fire_started: Callable[[str, datetime], None] = lambda name, fire: None,
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
            fire_started: Told each fire time of a job's schedule that starts, or that meets
                the job's run before still going (not those missed, held or blacked out).
        """
        self.config = config
        self._needed_by = after.needed_by(config.jobs)
        self.store = store
        self.bus = bus
        self.runner = Runner(store, bus, zone=zone, clock=clock)
        self.alerts = Alerts(store, config.scheduler.state_dir, lambda: self.zone)
        self._retries = Retries(zone=lambda: self.zone, clock=clock, due=self._retry,
                                enabled=retries)
        self._runs_after = runs_after
        self._clock = clock
        self._running_elsewhere = running_elsewhere
        self._fire_started = fire_started
        self._not_run = NotRun(store, bus, clock, missed=self._told_missed)
        self.slots: dict[str, JobSlot] = {
            name: JobSlot(job, paused=store.job_state(name).paused)
            for name, job in config.jobs.items()
        }
        self._active: dict[RunHandle, str | None] = {}
        """Every run in progress, also those of jobs a reload removed, and the group it
        counts against."""
        # Its own lock: a fire hand-off must never wait for a caller's lock held while it
        # calls in here.
        self._active_lock = threading.Lock()
        self.closing = False
        self._order = {name: index for index, name in enumerate(config.jobs)}
        self._queue = RunQueue(config, on_deadline=self.drain)
        self._draining = threading.Lock()
        self.fires = FireWatch()
        """The fire times handed to `launch`: what the liveness check asks about."""

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
        scope: Scope = Scope(), drain: bool = True,
    ) -> RunHandle | None:
        """Start a run of the slot's job, queue it, or say why not.

        A manual run is `Refused` while the job runs (here or elsewhere), within its
        cooldown (the cooldown is for `manual` runs only: a backfill's windows follow one
        another), or while its group or the scheduler is full. Any other run is recorded
        skipped outside the job's run window (its active hours and days, its blackouts);
        one that meets a running one follows the job's overlap policy (`replace` ends the
        running one and starts after it, `skip` records the fire time skipped), except a
        fire time of a job that catches up `all`, which waits for it; the rest go through
        the queue (`drain`; with `drain` false, the caller drains once it has launched every
        fire time due together). Returns the handle of the run started, None if none did now.
        """
        job = slot.job
        if not manual:
            self.fires.saw(job.name, scheduled_at)
        request = RunRequest(job, trigger, scheduled_at, scope=scope)
        with slot.lock:
            if self.closing:
                raise Refused("synctui is shutting down")
            if manual:
                return self._start_manual(slot, request)
            if self._outside_window(slot, scheduled_at):
                return None
            elsewhere = None if slot.busy else self._running_elsewhere(job.name)
            waits_its_turn = trigger in FIRES and job.catch_up == "all"
            if slot.busy and not waits_its_turn and job.overlap == "replace":
                slot.pending = request
                slot.handle.replace()
                return None
            if (slot.busy and not waits_its_turn) or elsewhere:
                running = slot.handle.run.id if slot.busy else elsewhere
                self._not_run.skipped(job.name, scheduled_at, OVERLAP_REASON, f"run {running} still going")
                if trigger in FIRES:
                    self._fire_started(job.name, scheduled_at)
                return None
            if trigger is Trigger.ONCE and job.after:
                holding = after.holds(self.store, job)
                if holding:  # a one-shot cannot wait for its upstreams: the fire time is skipped
                    reason = "held by " + ", ".join(map(str, holding))
                    self._not_run.skipped(job.name, scheduled_at, reason, reason)
                    return None
            if trigger in FIRES or trigger is Trigger.ONCE:
                self._retries.cancel(slot)  # a run of the schedule stands for the retry
            self._enqueue(slot, Waiting.due(request, self._order[job.name]))
        if drain:
            self.drain()
        handle = slot.handle
        return handle if handle is not None and handle.request is request else None

    def _start_manual(self, slot: JobSlot, request: RunRequest) -> RunHandle:
        job, now = slot.job, self._clock()
        refusal = refusals.already_running(
            job, slot.handle.run if slot.busy else None,
            None if slot.busy else self._running_elsewhere(job.name), now)
        if refusal is None and request.trigger is Trigger.MANUAL:
            refusal = refusals.in_cooldown(job, slot.last_start, now)
        if refusal is not None:
            raise Refused(refusal)
        try:
            group = self._queue.take_room(job)
        except NoRoom as full:
            raise Refused(f"{job.name} may not start now: {full}; try again when one ends") from None
        self._retries.cancel(slot)
        return self._start_locked(slot, request, group)

    def run_now(self, name: str, scope: Scope = Scope(), *, force: bool = False) -> RunRecord:
        """Start a manual run of the job now (a backfill run for a window); `Refused` as
        `launch` says, and outside the job's run window unless `force`."""
        slot = self.slot(name)
        now = self._clock()
        refusal = None if force else refusals.outside_window(slot.job, now, self.zone)
        if refusal is not None:
            raise Refused(refusal)
        trigger = Trigger.BACKFILL if scope.window else Trigger.MANUAL
        return self.launch(slot, trigger, now, manual=True, scope=scope).run

    def _outside_window(self, slot: JobSlot, scheduled_at: datetime) -> bool:
        """Whether the job may not start on its own now; if so, the fire time is recorded
        skipped with the reason."""
        reason = blocked(slot.job.window, self._clock(), self.zone)
        if reason is not None:
            self._not_run.skipped(slot.job.name, scheduled_at, reason, reason)
        return reason is not None

    def last_start(self, name: str) -> datetime | None:
        """When the job last started, by any process (skipped fire times are not starts)."""
        started = [run.started_at for run in self.store.runs(name, limit=5)
                   if run.result not in NOT_RUN and run.started_at is not None]
        return started[0] if started else None

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

    # --- the queue ----------------------------------------------------------------

    def _enqueue(self, slot: JobSlot, entry: Waiting) -> None:
        """Queue `entry` (the slot's lock held). A fire time of a job that catches up `last`
        or `none` stands for the ones of its schedule still waiting (they are missed); one
        `after` run waiting is enough."""
        trigger = entry.request.trigger
        if trigger is Trigger.AFTER and any(
                waiting.request.trigger is trigger for waiting in self._queue.by_job().get(entry.name, ())):
            return
        replacing = trigger in FIRES and slot.job.catch_up != "all"
        for waiting in self._queue.add(entry, replacing=replacing):
            self._miss(waiting, waiting.why or "a later fire time came")

    def drain(self) -> None:
        """Start the waiting runs that may start now, in queue order; record `missed` those
        that never will (`RunQueue.next_ready`).

        One thread drains at a time, so runs are recorded (and get their ids) in queue
        order; never called with a job's lock held.
        """
        with self._draining:
            while not self.closing:
                chosen, group, missed = self._queue.next_ready(self._why_waiting, self._clock())
                for entry in missed:
                    self._miss(entry, entry.why)
                if chosen is None:
                    break
                self._start_waiting(self.slots[chosen.name], chosen, group)
            self._queue.arm(self._clock())

    def _why_waiting(self, entry: Waiting) -> str | None:
        """Why the entry may not start now, its group's and the scheduler's room aside."""
        slot, trigger = self.slots.get(entry.name), entry.request.trigger
        if slot is None:
            return "its job was removed"
        if slot.paused and trigger in FIRES:
            return "paused"
        if slot.busy:
            return f"run {slot.handle.run.id} still going"
        if slot.job.after and trigger not in UNHELD:
            holding = after.holds(self.store, slot.job)
            if holding:
                return "held by " + ", ".join(map(str, holding))
        return None

    def _start_waiting(self, slot: JobSlot, entry: Waiting, group: str | None) -> None:
        request = entry.request
        with slot.lock:
            if self.closing or slot.busy or self._outside_window(slot, request.scheduled_at):
                self._queue.free_room(group)
                return
            try:
                self._start_locked(slot, request, group)
            except StoreFull as full:  # nothing can be recorded, so nothing starts
                self._queue.free_room(group)
                log.error("%s: run of %s not started: %s", request.job.name,
                          request.scheduled_at.isoformat(), full,
                          extra={"event": "store_full", "job": request.job.name})
                return
            following = entry.following and entry.following(request.scheduled_at)
            if following is not None:
                self._enqueue(slot, Waiting.due(RunRequest(slot.job, request.trigger, following),
                                                entry.order, entry.following))
        self._notify(slot)

    def _miss(self, entry: Waiting, reason: str) -> None:
        fire = entry.request.scheduled_at
        self._not_run.missed(entry.name, Missed(fire, fire, 1), reason)
        slot = self.slots.get(entry.name)
        if slot is not None:
            self._notify(slot)

    def catch_up(
        self, slot: JobSlot, backlog: Backlog,
        following: Callable[[datetime], datetime | None], reason: str,
    ) -> None:
        """Take the passed fire times `backlog` decided on: record the missed ones (for
        `reason`), queue the first to run (trigger `catch-up`; `following` gives the one
        after a fire time, for `all`)."""
        if backlog.missed is not None:
            self._not_run.missed(slot.job.name, backlog.missed, reason)
        start, until = backlog.run_from, backlog.run_until
        if start is None:
            return

        def then(fire: datetime) -> datetime | None:
            later = following(fire)
            return later if later is not None and later <= until else None

        with slot.lock:
            if self.closing:
                return
            self._enqueue(slot, Waiting.due(RunRequest(slot.job, Trigger.CATCH_UP, start),
                                            self._order[slot.job.name],
                                            then if start < until else None))
        self.drain()

    def queued(self) -> dict[str, tuple[QueuedRun, ...]]:
        """Every job's runs waiting in the queue, as a status tells them."""
        return {name: tuple(QueuedRun(entry.request.scheduled_at, entry.request.trigger,
                                      entry.why or "queued") for entry in entries)
                for name, entries in self._queue.by_job().items()}

    def _notify(self, slot: JobSlot) -> None:
        with slot.idle:
            slot.idle.notify_all()

    # --- starting and ending ------------------------------------------------------

    def _start_locked(self, slot: JobSlot, request: RunRequest, group: str | None) -> RunHandle:
        """Start the run (the slot's lock held, its room taken: `group` is what it counts
        against)."""
        def going(handle: RunHandle) -> None:
            with self._active_lock:
                self._active[handle] = group

        handle = self.runner.start(
            request, on_finish=lambda h: self._finished(slot, h), on_record=going,
            warn_after_s=warn_limit_s(self.store, request.job), on_overdue=self._overdue,
        )
        slot.handle = handle
        slot.last_start = self._clock()
        self.alerts.started(request.job, handle.run)
        if request.trigger in FIRES:
            self._fire_started(request.job.name, request.scheduled_at)
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
            group = self._active.pop(handle)
        with slot.lock:
            if slot.handle is handle:
                slot.handle = None
            pending, slot.pending = slot.pending, None
            job = slot.job
            if pending is not None and not self.closing:
                self._start_locked(slot, pending, group)  # it takes the replaced run's room
            else:
                self._queue.free_room(group)
            if pending is None and not self.closing:
                self._retries.plan(slot, record, handle.request.scope)
            retrying = slot.retry is not None
        self.alerts.ended(job, record, retrying=retrying)
        settings = self.config.scheduler
        try:
            self.store.apply_retention(
                record.job, settings.keep_runs, settings.keep_log_bytes,
                utc_now() - timedelta(days=settings.keep_rollup_days),
            )
        except StoreFull as full:  # the next run's end applies it
            log.warning("retention not applied: %s", full, extra={"event": "store_full"})
        self.drain()
        if self._runs_after and not self.closing:
            self.run_after(record.job)
        with slot.idle:
            slot.idle.notify_all()

    def _retry(self, slot: JobSlot, attempt: int, scope: Scope) -> None:
        with slot.lock:
            if slot.retry is None or self.closing or slot.busy:
                return
            if self._retries.wait_for_window(slot, attempt, scope):
                return
            slot.retry = None
            request = RunRequest(slot.job, Trigger.RETRY, self._clock(), attempt, scope)
            self._enqueue(slot, Waiting.due(request, self._order[slot.job.name]))
        self.drain()

    def _take_waiting(self, slot: JobSlot) -> list[Waiting]:
        """Take the slot's runs out of the queue."""
        taken = self._queue.take(slot.job.name)
        self._notify(slot)
        return taken

    def cancel(self, name: str) -> None:
        """End the job's running run (result `cancelled`), or drop its pending retry, or its
        queued runs (recorded `missed`).

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
                self._retries.cancel(slot)
                log.info("%s: pending retry cancelled", name,
                         extra={"event": "retry_cancelled", "job": name})
                return
            elif self._queue.count(name):
                for entry in self._take_waiting(slot):
                    self._miss(entry, f"cancelled while it waited ({entry.why or 'queued'})")
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
            slot.idle.wait_for(lambda: slot.settled and not self._queue.count(slot.job.name))

    def active(self) -> list[RunHandle]:
        """The runs in progress (or ending: until their end is recorded)."""
        with self._active_lock:
            return list(self._active)

    def running_runs(self) -> dict[str, RunRecord]:
        """Each job's run in progress, by job name."""
        return {name: slot.handle.run for name, slot in self.slots.items() if slot.busy}

    # --- the operator's switches ---------------------------------------------------

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
                    self._retries.cancel(slot)
        self.config, self.slots = config, slots
        self._order = {name: index for index, name in enumerate(config.jobs)}
        self._queue.set_config(config)
        self._needed_by = after.needed_by(config.jobs)
        self.drain()  # a job removed, a limit raised
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
                self.alerts.ended(slot.job, record, retrying=False)
        return recovered

    def _overdue(self, handle: RunHandle) -> None:
        """Called on the run's thread when it goes past its `warn_after`."""
        self.alerts.overdue(handle.request.job, handle.run, handle.warn_after_s)
        self.bus.publish(StateChanged(handle.run.job, Change.OVERDUE))

    def _told_missed(self, name: str, record: RunRecord, count: int) -> None:
        slot = self.slots.get(name)
        if slot is not None:
            self.alerts.missed(slot.job, record, count)

    # --- ending -------------------------------------------------------------------

    def drop_waiting(self) -> None:
        """Drop every retry and queued run waiting (scheduling stopped: nothing starts on its
        own). The queued fire times are not recorded: the next start catches them up."""
        for slot in self.slots.values():
            with slot.lock:
                self._retries.cancel(slot)
                dropped = self._take_waiting(slot)
            if dropped:
                log.info("%s: %d queued run%s dropped (the next start catches up)", slot.job.name,
                         len(dropped), "s" if len(dropped) > 1 else "",
                         extra={"event": "queue_dropped", "job": slot.job.name})

    def close(self) -> None:
        """No new runs from now on; retries, replacements and queued runs waiting are
        dropped."""
        self.closing = True
        self.drop_waiting()
        for slot in self.slots.values():
            with slot.lock:
                slot.pending = None
        self._queue.close()

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
        records = [handle.wait() for handle in handles]
        self.alerts.close()  # the notices and pings of those ends go out first
        return records

    def end_runs_now(self) -> None:
        """Interrupt every run in progress now, without waiting out the grace."""
        for handle in self.active():
            handle.interrupt(after=0)
