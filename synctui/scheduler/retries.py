"""When a failed run is tried again: the job's `retries`, each after a backoff that doubles,
and a retry due outside the job's run window waiting for it to open.

A retry waits on its job's slot as a timer (`JobSlot.retry`); when it is due, the run
lifecycle queues it like any other run.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, tzinfo
from typing import Callable

from synctui.scheduler.blackout import blocked, next_allowed
from synctui.scheduler.clock import seconds_text, timestamp
from synctui.scheduler.records import RETRYABLE_RESULTS, RunRecord, Scope
from synctui.scheduler.slot import JobSlot

log = logging.getLogger("synctui.scheduler")


class Retries:
    """Arms, moves and drops the retry timers of a lifecycle's slots (each call with the
    slot's lock held)."""

    def __init__(
        self, *, zone: Callable[[], tzinfo], clock: Callable[[], datetime],
        due: Callable[[JobSlot, int, Scope], None], enabled: bool = True,
    ) -> None:
        """`due(slot, attempt, scope)` is called on the timer's thread when a retry is due;
        with `enabled` false no retry is ever planned (the fallback's next check runs a
        failed job again)."""
        self._enabled = enabled
        self._zone = zone
        self._clock = clock
        self._due = due

    def plan(self, slot: JobSlot, record: RunRecord, scope: Scope) -> None:
        """Arm the retry of a run that ended `record`, if its result and its job's retries
        call for one."""
        job = slot.job
        if (not self._enabled or record.result not in RETRYABLE_RESULTS
                or record.attempt > job.retries):
            return
        delay = job.retry_backoff_s * 2 ** (record.attempt - 1)
        self._arm(slot, delay, record.attempt + 1, scope)
        log.info("%s: retry %d of %d in %s", job.name, record.attempt, job.retries,
                 seconds_text(delay), extra={"event": "retry_scheduled", "job": job.name})

    def wait_for_window(self, slot: JobSlot, attempt: int, scope: Scope) -> bool:
        """Whether a retry due now must wait: outside the job's run window it waits for it
        to open (a scheduled run that comes first stands for it); one that never opens is
        dropped."""
        job, now, zone = slot.job, self._clock(), self._zone()
        reason = blocked(job.window, now, zone)
        if reason is None:
            return False
        until = next_allowed(job.window, now, zone)
        if until is None:
            self.cancel(slot)
            log.warning("%s: retry %d dropped: %s, with no end in sight", job.name, attempt - 1,
                        reason, extra={"event": "retry_cancelled", "job": job.name})
            return True
        self._arm(slot, (until - now).total_seconds(), attempt, scope)
        log.info("%s: retry %d waits until %s: %s", job.name, attempt - 1,
                 timestamp(until, zone), reason,
                 extra={"event": "retry_scheduled", "job": job.name})
        return True

    def cancel(self, slot: JobSlot) -> None:
        """Drop the slot's retry, if one waits."""
        if slot.retry is not None:
            slot.retry.cancel()
            slot.retry = None
            with slot.idle:
                slot.idle.notify_all()

    def _arm(self, slot: JobSlot, delay: float, attempt: int, scope: Scope) -> None:
        slot.retry = threading.Timer(delay, self._due, args=(slot, attempt, scope))
        slot.retry.daemon = True
        slot.retry.start()
