"""`RunsHere`: the operator's actions on runs, for a backend that runs them in this process."""

from __future__ import annotations

import logging
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from synctui.config.model import Config
from synctui.scheduler import lanes
from synctui.scheduler.clock import utc_now
from synctui.scheduler.events import Change, EventBus, StateChanged, Subscription
from synctui.scheduler.lifecycle import RunLifecycle
from synctui.scheduler.slot import JobSlot
from synctui.scheduler.records import RunRecord, Scope
from synctui.scheduler.seams import RunStore
from synctui.scheduler.store import Store
from synctui.scheduler.timeline import Timeline

log = logging.getLogger("synctui.scheduler")

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

    def _pause_jobs(
        self, names: Iterable[str], paused: bool, *,
        follow: Callable[[JobSlot], None] = lambda slot: None,
    ) -> None:
        """Pause or resume jobs, remembered in the store; `follow(slot)` makes the backend's
        schedule agree before each job's event is announced. A resumed job's queued runs
        may start."""
        slots = [self.lifecycle.slot(name) for name in names]
        for slot in slots:
            slot.paused = paused
            self.store.set_paused(slot.job.name, paused)
            follow(slot)
        self._announce_paused(slots)
        if not paused:
            self.lifecycle.drain()

    def _announce_paused(self, slots: Iterable[JobSlot], *, note: str = "") -> None:
        for slot in slots:
            change = Change.PAUSED if slot.paused else Change.RESUMED
            log.info("%s: %s%s", slot.job.name, change.value, note,
                     extra={"event": change.value, "job": slot.job.name})
            self.bus.publish(StateChanged(slot.job.name, change))

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

    def timeline(
        self, window_s: float, cells: int, jobs: Iterable[str] | None = None
    ) -> Timeline:
        """The runs of `jobs` (default all) over the `window_s` before now."""
        return lanes.build(self.store, self.config, self.status(), utc_now(), window_s,
                           cells, jobs)

    def subscribe(
        self, notify: Callable[[], None] | None = None, maxsize: int = 10_000
    ) -> Subscription:
        """Run and state events (see `synctui.scheduler.events`)."""
        return self.bus.subscribe(maxsize=maxsize, notify=notify)
