"""`SyncScheduler`: the seed's scheduler, on APScheduler 3: when jobs fire, and hosting them.

APScheduler only computes fire times. Its executor here hands each fire's
`run_times` to `SyncScheduler` and returns at once, so APScheduler never drops a
fire on its own (through `max_instances` or a misfire grace). Whether and how each
fire runs is the run lifecycle's (`lifecycle.py`); who hosts is the seat's
(`hosting.py`).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.base import BaseTrigger

from synctui.config import ConfigError
from synctui.config.model import Config
from synctui.scheduler.blackout import next_allowed_fire
from synctui.scheduler.clock import seconds_text, utc_now
from synctui.scheduler.control import Mode, Refused
from synctui.scheduler.events import Change, EventBus, StateChanged
from synctui.scheduler.firing import Firing, HandOff
from synctui.scheduler.hosting import LocalSeat
from synctui.scheduler.lifecycle import RunLifecycle
from synctui.scheduler.liveness import wedged_words
from synctui.scheduler.slot import JobSlot
from synctui.scheduler.runs_here import RunsHere
from synctui.scheduler.records import Fires, RunRecord, Trigger
from synctui.scheduler.seams import HostSeat, RunStore
from synctui.scheduler.status import HostInfo, SchedulerStatus, snapshot
from synctui.scheduler.store import StoreFull
from synctui.scheduler.missed import behind, decide
from synctui.scheduler.triggers import Leaping, job_trigger, latest_fire

log = logging.getLogger("synctui.scheduler")

TICK_S = 5.0
"""How often the watchdog wakes APScheduler, checks its thread and writes the heartbeat."""
CLOCK_STEP_S = 1.0
"""A wall clock that falls this far behind the monotonic one between two ticks was stepped
back (NTP slews far slower; a step is an operator, a VM restored, a bad RTC)."""
HANDOVER_POLL_S = 0.05
DOWN_REASON = "no host ran it (synctui was not running)"
BEHIND_REASON = "synctui fell behind (the machine suspended, or the process stalled)"
_MICROSECOND = timedelta(microseconds=1)


class SyncScheduler(RunsHere):
    """Schedules the configured jobs and hosts them, in this process (a `ConsoleBackend`)."""

    mode = Mode.IN_PROCESS
    reason = None
    waits = False
    attached_to = None

    def __init__(
        self, config: Config, *, mode: str = "console", store: RunStore | None = None,
        tick_s: float = TICK_S, bus: EventBus | None = None, serve: bool = True,
        reload_config: Callable[[], Config] | None = None,
        on_handover: Callable[[], str] | None = None,
    ) -> None:
        """
        Args:
            mode: `console` or `headless`: what hosts, as others see it.
            bus: Where events are published (a new one by default).
            serve: Serve the control endpoint while hosting.
            reload_config: Reads the config afresh, for `reload` (SIGHUP, the socket).
            on_handover: Answers a headless asking to host (None: keep hosting).
        """
        super().__init__(config, store, bus)
        self._serve = serve
        self._reload_config = reload_config
        self._on_handover = on_handover
        self.lifecycle = RunLifecycle(config, self.store, self.bus, zone=self.zone,
                                      fire_started=self._saw_fire)
        self.seat: HostSeat = LocalSeat(config, self.store, mode)
        self.tick_s = tick_s
        self._seen: dict[str, Fires] = {name: Fires() for name in config.jobs}
        """Each job's last two fire times that started (or met the run before going)."""
        self._seen_lock = threading.Lock()
        self._skipped: dict[str, datetime] = {}
        """The fire time `skip_next` dropped, while it is to come: a resume must not bring it
        back."""
        self._aps: BackgroundScheduler | None = None
        self._plain: dict[str, BaseTrigger] = {}
        """Each job's trigger without jitter, for the next fire time its run window allows."""
        self._planned: dict[str, Fires] = {}
        """Each job's fire times when scheduling last stopped."""
        self._lock = threading.RLock()
        self._recovered = False
        self._watchdog: threading.Thread | None = None
        self._watchdog_stop = threading.Event()
        self.last_tick: float | None = None
        """monotonic() of the watchdog's last tick (liveness)."""

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
        return self.seat.held

    @property
    def server(self):
        """The control endpoint served while hosting (None: not served)."""
        return self.seat.server

    @property
    def attached_consoles(self) -> int:
        """How many consoles are attached through the control endpoint now."""
        return self.seat.attached_consoles

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Start scheduling: recover dead runs (first time), catch up, run `run_on_start` jobs."""
        with self._lock:
            if self.lifecycle.closing:
                raise Refused("synctui is shutting down")
            if self._aps is not None:
                raise Refused("the scheduler is already running")
            began_hosting = not self.seat.held
            if began_hosting:
                self.seat.take()
            try:
                if began_hosting:
                    self._begin_hosting()
                aps = Firing(
                    self.lifecycle.drain,
                    timezone=self.zone,
                    executors={"default": HandOff()},
                    job_defaults={"misfire_grace_time": None, "coalesce": True,
                                  "max_instances": 1},
                )
                now = utc_now()
                slots = self.lifecycle.slots.values()
                starts = [action for slot in slots for action in self._plan_start(slot, now)]
                for slot in slots:
                    self._add_job(aps, slot, now)
                aps.start()
            except BaseException:
                if began_hosting:
                    self.seat.release()  # a host that could not start must not block the next
                raise
            self._aps = aps
            self._start_watchdog()
            self._beat()
        log.info("scheduler started (%d jobs)", len(self.lifecycle.slots),
                 extra={"event": "started"})
        self.bus.publish(StateChanged(None, Change.STARTED))
        for begin in starts:
            begin()
        self.lifecycle.start_due_after()

    def _begin_hosting(self) -> None:
        if not self._recovered:
            self.lifecycle.recover()  # once per process: later starts find nothing new
            self._recovered = True
        if self._serve and self.seat.server is None:
            self.seat.serve(self, reload=self.reload, handover=self._on_handover)
            self.lifecycle.runner.log_group = self.seat.log_group
        self.seat.claim()
        self.store.checkpoint_on_demand()

    def stop(self) -> None:
        """Stop scheduling; runs in progress go on to their end."""
        with self._lock:
            if self._aps is None:
                raise Refused("the scheduler is already stopped")
            self._planned = self._fires()
            aps, self._aps = self._aps, None
            aps.shutdown(wait=False)
            self.lifecycle.drop_waiting()
            self._beat()
        log.info("scheduler stopped", extra={"event": "stopped"})
        self.bus.publish(StateChanged(None, Change.STOPPED))

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
            self.lifecycle.closing = True
            if self._aps is not None:
                self.stop()
            self.lifecycle.close()
        records = self.lifecycle.end_runs(grace)
        self._watchdog_stop.set()
        if self._watchdog is not None:
            self._watchdog.join()
        self.seat.release()
        return records

    def hand_over(self) -> None:
        """Shut down at the first moment no run is going (blocking until then), so that
        another process hosts: a standby headless, or an attached console."""
        self.bus.publish(StateChanged(None, Change.HANDING_OVER))
        log.info("handing over between runs", extra={"event": "handover"})
        while True:
            with self._lock:
                if self.lifecycle.settle_or_close():
                    break
            time.sleep(HANDOVER_POLL_S)
        self.shutdown(grace=0)
        log.info("handed over", extra={"event": "handover"})

    # --- operations ---------------------------------------------------------------

    def skip_next(self, name: str) -> datetime:
        """Drop exactly the job's next fire time; returns the fire time dropped."""
        slot = self.lifecycle.slot(name)
        with self._lock:
            if not slot.job.scheduled:
                raise Refused(f"{name} runs only after {', '.join(slot.job.after)}: it has no"
                              " fire times of its own to skip")
            aps_job = self._aps.get_job(name) if self._aps else None
            if aps_job is None:
                raise Refused("the scheduler is stopped: there is no next run to skip")
            if slot.paused or aps_job.next_run_time is None:
                raise Refused(f"{name} is paused: there is no next run to skip")
            skipped = self._skipped[name] = aps_job.next_run_time
            aps_job.modify(next_run_time=aps_job.trigger.get_next_fire_time(skipped, skipped))
        log.info("%s: next run (%s) will be skipped", name, skipped.isoformat(),
                 extra={"event": "skip_next", "job": name})
        self.bus.publish(StateChanged(name, Change.SKIPPED_NEXT))
        return skipped

    def take_config(self, config: Config) -> None:
        """Take a new config: jobs added, removed and changed; runs in progress untouched."""
        with self._lock:
            if config.scheduler.state_dir != self.config.scheduler.state_dir:
                log.warning("state_dir changed in the config: it takes effect at the next start",
                            extra={"event": "reload"})
            zone_changed = config.scheduler.timezone != self.config.scheduler.timezone
            before = {name: slot.job for name, slot in self.lifecycle.slots.items()}
            self.config = config
            if zone_changed:
                self.zone = ZoneInfo(config.scheduler.timezone)
                self.lifecycle.runner.zone = self.zone
            added, removed = self.lifecycle.take_config(config)
            now = utc_now()
            for name, slot in self.lifecycle.slots.items():
                self._seen.setdefault(name, Fires())
                changed = name in added or before[name] != slot.job or zone_changed
                if self._aps is not None and changed:
                    if name not in added and before[name].scheduled:
                        self._aps.remove_job(name)
                    self._add_job(self._aps, slot, now)
            for name in removed:
                self._seen.pop(name, None)
                self._plain.pop(name, None)
                if self._aps is not None and self._aps.get_job(name) is not None:
                    self._aps.remove_job(name)
            self._beat()
        log.info("config reloaded: %d jobs (added: %s; removed: %s)", len(config.jobs),
                 ", ".join(added) or "none", ", ".join(removed) or "none",
                 extra={"event": "reload"})
        self.bus.publish(StateChanged(None, Change.RELOADED))

    def reload(self) -> str:
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
        self.take_config(config)
        return f"config reloaded: {len(config.jobs)} jobs"

    def status(self) -> SchedulerStatus:
        """Every job's state and fire times now (UTC-aware; `to_json` renders them in the zone)."""
        with self._lock:
            fires = self._fires()
            slots = dict(self.lifecycle.slots)
            running = self._aps is not None
        return snapshot(
            self.store, self.config, running=running, host=HostInfo.of(self.seat.record),
            fires=fires, paused={name: slot.paused for name, slot in slots.items()},
            now=utc_now(),
            running_runs={name: s.handle.run for name, s in slots.items() if s.busy},
            queued=self.lifecycle.queued(),
        )

    # --- inside -------------------------------------------------------------------

    def _add_job(self, aps: BackgroundScheduler, slot: JobSlot, now: datetime) -> None:
        self._skipped.pop(slot.job.name, None)  # a skip was of the schedule this one replaces
        last = self.store.runs(slot.job.name, limit=1)
        anchor = last[0].started_at if last and last[0].started_at else now
        # A last start ahead of now: the clock went back while no host ran.
        trigger = self._triggers(slot, min(anchor, now))
        if trigger is None:
            return  # it runs only after others: no fire times for APScheduler to keep
        aps.add_job(
            self._on_fire, Leaping(trigger), args=(slot.job.name,),
            id=slot.job.name, name=slot.job.name,
            **({"next_run_time": None} if slot.paused else {}),
        )

    def _plan_start(self, slot: JobSlot, now: datetime) -> list[Callable[[], None]]:
        """What to do at start: take the fire times that passed since the job's newest record
        (what `catch_up` keeps of them runs), else `run_on_start`."""
        if slot.paused:
            return []
        job, lifecycle, actions = slot.job, self.lifecycle, []
        newest = self.store.runs(job.name, limit=1)
        if job.scheduled and newest and newest[0].started_at:
            record = newest[0]
            since = max(record.started_at, record.last_scheduled_at or record.started_at)
            plain = job_trigger(job, self.zone, since, jitter=False)
            last = latest_fire(plain, since, now)
            if last is not None:
                first = plain.get_next_fire_time(None, since + _MICROSECOND)
                backlog = decide(job, plain, first, last, now)
                actions.append(lambda: lifecycle.catch_up(slot, backlog, _following(plain),
                                                          DOWN_REASON))
                if backlog.run_from is not None:
                    return actions
        if job.run_on_start:
            actions.append(lambda: lifecycle.launch(slot, Trigger.START, now))
        return actions

    def _saw_fire(self, name: str, fire: datetime) -> None:
        """A fire time of the job started, or met its run before still going: health judges
        the job by it (not by fire times missed, held or blacked out)."""
        with self._seen_lock:  # not `_lock`: it comes with a job's lock held
            seen = self._seen.get(name, Fires())
            if seen.last is None or fire > seen.last:
                self._seen[name] = Fires(last=fire, before_last=seen.last)

    def _on_fire(self, name: str, run_times: tuple[datetime, ...] = ()) -> None:
        """APScheduler's hand-off: runs on its thread, must return at once.

        `run_times` has a default only because APScheduler checks a job's
        function against its args; `HandOff` always passes them.
        """
        slot = self.lifecycle.slots.get(name)
        if slot is None or self.lifecycle.closing:
            return
        fire = run_times[-1]
        if len(run_times) > 1:  # late: `Leaping` gives the first passed fire time and this one
            plain = self._plain[name]
            backlog = behind(slot.job, plain, run_times[0], fire, utc_now())
            self.lifecycle.catch_up(slot, backlog, _following(plain), BEHIND_REASON)
        self.lifecycle.launch(slot, Trigger.SCHEDULED, fire, drain=False)  # `Firing` drains

    def _set_paused(self, name: str | None, paused: bool) -> None:
        names = [name] if name else list(self.lifecycle.slots)
        with self._lock:
            if self._aps is not None:
                self._pause_jobs(names, paused, follow=self._follow_pause)
            else:
                self._pause_jobs(names, paused)
            self._beat()

    def _triggers(self, slot: JobSlot, anchor: datetime) -> BaseTrigger | None:
        """The job's trigger from `anchor`, its plain (jitter-free) twin kept for status."""
        trigger = job_trigger(slot.job, self.zone, anchor)
        if trigger is not None:
            self._plain[slot.job.name] = job_trigger(slot.job, self.zone, anchor, jitter=False)
        return trigger

    def _clock_went_back(self, seconds: float) -> None:
        """The wall clock stepped back: interval jobs count their interval from now, or
        each would wait the whole step out (its next fire time is in wall time). Cron
        jobs keep theirs, as cron does: the wall times they ran at come round again."""
        log.warning("the clock went back %s: interval jobs count their interval from now",
                    seconds_text(round(seconds)), extra={"event": "clock_step"})
        now = utc_now()
        for slot in self.lifecycle.slots.values():
            if slot.job.interval_s is None:
                continue
            trigger = Leaping(self._triggers(slot, now))
            if slot.paused:
                self._aps.modify_job(slot.job.name, trigger=trigger)  # no fire time while paused
            else:
                self._aps.reschedule_job(slot.job.name, trigger=trigger)

    def _follow_pause(self, slot: JobSlot) -> None:
        """Give APScheduler the slot's pause: no fire times while paused; a resumed job gets
        its next fire time, still without the one `skip_next` dropped."""
        name = slot.job.name
        if not slot.job.scheduled:
            return  # no fire times: its pause is the lifecycle's alone
        if slot.paused:
            self._aps.pause_job(name)
            return
        skipped = self._skipped.get(name)
        if skipped is not None and skipped <= utc_now():
            del self._skipped[name]  # it passed while the job was paused: the skip is used up
            skipped = None
        if skipped is None:
            self._aps.resume_job(name)
            return
        # APScheduler's resume counts from now, which brings the skipped fire time back;
        # count from the skipped one, as `skip_next` did.
        aps_job = self._aps.get_job(name)
        aps_job.modify(next_run_time=aps_job.trigger.get_next_fire_time(skipped, skipped))

    def stuck_fires(self) -> dict[str, datetime]:
        """The jobs whose fire time is long due but never reached the lifecycle: a
        scheduler wedged while its loop still ticks. Empty while not scheduling."""
        with self._lock:
            if self._aps is None:
                return {}
            due = {name: aps_job.next_run_time for name in self.lifecycle.slots
                   if (aps_job := self._aps.get_job(name)) is not None}
        return self.lifecycle.fires.stuck(due, utc_now())

    def _fires(self) -> dict[str, Fires]:
        fires = {}
        for name in self.lifecycle.slots:
            aps_job = self._aps.get_job(name) if self._aps else None
            upcoming = aps_job.next_run_time if aps_job else None
            window = self.lifecycle.slots[name].job.window
            if upcoming is not None and not window.always:
                plain = self._plain[name]
                upcoming = next_allowed_fire(window, self.zone, upcoming,
                                             lambda moment: plain.get_next_fire_time(None, moment))
            seen = self._seen.get(name, Fires())
            fires[name] = Fires(upcoming, seen.last, seen.before_last)
        return fires

    def _beat(self) -> None:
        # Stopped, the fire times it would have had stay in the store: with nobody
        # scheduling, `health` sees them pass (late, then down), not `up` for ever.
        if self.seat.held:
            self.seat.beat(self._aps is not None,
                           self._fires() if self._aps is not None else self._planned,
                           wedged_words(self.stuck_fires()))

    def _start_watchdog(self) -> None:
        if self._watchdog is None or not self._watchdog.is_alive():
            self._watchdog_stop.clear()
            self._watchdog = threading.Thread(target=self._watch, name="synctui-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        """Wake APScheduler (its wait stops during a suspend), revive its thread, follow a
        clock stepped back, beat."""
        wall_ahead = time.time() - time.monotonic()
        while not self._watchdog_stop.wait(self.tick_s):
            self.last_tick = time.monotonic()
            before, wall_ahead = wall_ahead, time.time() - self.last_tick
            with self._lock:
                aps = self._aps
                if aps is not None and before - wall_ahead > CLOCK_STEP_S:
                    self._clock_went_back(before - wall_ahead)
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
                try:
                    self._beat()
                    self.store.checkpoint()
                except StoreFull as full:
                    log.warning("heartbeat not written: %s", full, extra={"event": "store_full"})

    def _sync_paused(self) -> None:
        """Take pauses made by `synctui pause` from another process."""
        changed = []
        paused = self.store.paused_jobs()
        for name, slot in self.lifecycle.slots.items():
            stored = name in paused
            if stored != slot.paused:
                slot.paused = stored
                if self._aps is not None:
                    self._follow_pause(slot)
                changed.append(slot)
        self._announce_paused(changed, note=" (from the command line)")
        if any(not slot.paused for slot in changed):
            self.lifecycle.drain()


def _following(trigger: BaseTrigger) -> Callable[[datetime], datetime | None]:
    """The fire time after another, for catching up one after another."""
    return lambda fire: trigger.get_next_fire_time(fire, fire + _MICROSECOND)
