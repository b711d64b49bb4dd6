"""Whether the scheduler is wedged: its loop ticks, but a fire time long due never reached the lifecycle."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Mapping

WEDGED_AFTER = timedelta(minutes=1)
"""How long past its fire time a run may not have been dealt with before the scheduler
counts as wedged: far beyond APScheduler's hand-off delay, well within a restart's worth."""


class FireWatch:
    """The newest fire time the lifecycle was handed, per job.

    Every fire time goes to `RunLifecycle.launch`, which starts, queues, skips or
    records it: once there, it has been dealt with, whatever came of it.
    """

    def __init__(self, wedged_after: timedelta = WEDGED_AFTER) -> None:
        self.wedged_after = wedged_after
        self._lock = threading.Lock()
        self._seen: dict[str, datetime] = {}

    def saw(self, job: str, fire: datetime) -> None:
        """The lifecycle was handed the job's fire time `fire`."""
        with self._lock:
            if job not in self._seen or fire > self._seen[job]:
                self._seen[job] = fire

    def stuck(self, due: Mapping[str, datetime | None], now: datetime) -> dict[str, datetime]:
        """The jobs whose due fire time (APScheduler's next one) is more than
        `wedged_after` past and has not reached the lifecycle, with that fire time."""
        with self._lock:
            return {
                job: fire for job, fire in due.items()
                if fire is not None and now - fire > self.wedged_after
                and (job not in self._seen or self._seen[job] < fire)
            }


def wedged_words(stuck: Mapping[str, datetime]) -> str | None:
    """`orders: its fire time 2026-12-03T10:00:00+00:00 was never dealt with`, a line per
    job; None when nothing is stuck."""
    return "\n".join(f"{name}: its fire time {fire.isoformat()} was never dealt with"
                     for name, fire in stuck.items()) or None
