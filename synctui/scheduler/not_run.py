"""Recording the fire times that never started, each logged and announced as a run's end is:
`skipped` (the run before was still going, outside the run window) and `missed` (past its
`start_deadline`, or let go by `catch_up`). Consecutive ones of a job for the same reason
are one record (`Store.record_skip`)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from synctui.scheduler.events import EventBus, RunFinished
from synctui.scheduler.missed import Missed
from synctui.scheduler.records import Result, RunRecord
from synctui.scheduler.seams import RunStore

log = logging.getLogger("synctui.scheduler")


class NotRun:
    """Records skipped and missed fire times in the store and announces them on the bus."""

    def __init__(
        self, store: RunStore, bus: EventBus, clock: Callable[[], datetime],
        missed: Callable[[str, RunRecord, int], None] = lambda name, record, count: None,
    ) -> None:
        """`missed(job, record, count)` is told each record of missed fire times (`count`
        of them added to it)."""
        self._told_missed = missed
        self._store = store
        self._bus = bus
        self._clock = clock

    def skipped(self, name: str, scheduled_at: datetime, reason: str, said: str) -> None:
        """Record the fire time skipped for `reason` (`said` is the log's fuller word)."""
        skip = self._store.record_skip(name, scheduled_at, self._clock(), reason)
        log.warning(
            "%s: fire time %s skipped: %s (%d in a row)",
            name, scheduled_at.isoformat(), said, skip.skip_count,
            extra={"event": "run_skipped", "job": name, "run_id": skip.id, "result": "skipped"},
        )
        self._bus.publish(RunFinished(skip))

    def missed(self, name: str, missed: Missed, reason: str) -> None:
        """Record fire times that will never run, for `reason`."""
        if not missed.exact:
            reason = f"{reason}; at least {missed.count} fire times (counted no further)"
        record = self._store.record_skip(name, missed.first, self._clock(), reason,
                                         result=Result.MISSED, count=missed.count,
                                         last=missed.last)
        span = missed.first.isoformat() + (
            f" to {missed.last.isoformat()}" if missed.last != missed.first else "")
        log.warning(
            "%s: %d fire time%s missed (%s): %s", name, missed.count,
            "s" if missed.count > 1 else "", span, reason,
            extra={"event": "run_missed", "job": name, "run_id": record.id, "result": "missed"},
        )
        self._bus.publish(RunFinished(record))
        self._told_missed(name, record, missed.count)
