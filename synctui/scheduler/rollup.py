"""The roll-up per job and hour: how many fire times ended in each result, how long they took,
and the longest wait for fresh data; the timeline draws long windows from it.

It is written in the transaction that records each result, so it never disagrees with the
runs it counts, and it outlives them: retention forgets runs after `keep_runs`, hours after
`keep_rollup_days`. Hours are UTC hours (epoch seconds divisible by 3600).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone

from synctui.scheduler.records import Result

HOUR_S = 3600.0


@dataclass(frozen=True)
class HourCount:
    """The fire times of one job's hour that ended in one result."""

    hour: datetime
    result: Result
    runs: int
    duration_sum_s: float
    duration_max_s: float | None
    last_id: int | None
    """The newest run counted (its output may still be kept)."""


@dataclass(frozen=True)
class Wait:
    """The longest wait for fresh data that ended in an hour: from one covering success's
    start to the next one's."""

    end: datetime
    """The start of the success that ended it."""
    seconds: float


@dataclass(frozen=True)
class JobRollup:
    """A job's roll-up over a span of time."""

    hours: tuple[HourCount, ...]
    waits: tuple[Wait, ...]
    first_success: datetime | None
    """The hour of the job's first success still rolled up."""
    runs_kept_from: datetime | None
    """The start of its oldest run still kept in full (older ones are only counted here)."""


def hour_of(moment: float) -> float:
    """The start of the UTC hour holding `moment` (epoch seconds)."""
    return moment // HOUR_S * HOUR_S


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


class Rollup:
    """The roll-up's reads and writes on the store's connection. Writes run inside the
    store's transaction, reads under its lock: it takes neither itself."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def count_run(
        self, job: str, result: Result, started_at: float, duration_s: float | None, run_id: int
    ) -> None:
        """A run that started at `started_at` ended in `result`."""
        self._add(job, hour_of(started_at), result, 1, duration_s, run_id)

    def count_not_run(
        self, job: str, result: Result, first: float, last: float, count: int, run_id: int
    ) -> None:
        """`count` fire times from `first` to `last` were skipped or missed: spread evenly
        over the hours between (a record of a day of missed fire times counts in each hour
        of that day)."""
        start, end = hour_of(first), hour_of(max(first, last))
        hours = int((end - start) // HOUR_S) + 1
        if hours <= count:
            share, extra = divmod(count, hours)
            for index in range(hours):
                self._add(job, start + index * HOUR_S, result, share + (index < extra), None,
                          run_id)
        else:
            for index in range(count):
                self._add(job, start + (index * hours // count) * HOUR_S, result, 1, None,
                          run_id)

    def count_wait(self, job: str, previous: float | None, started_at: float) -> None:
        """A covering success started at `started_at`, the one before it at `previous`."""
        if previous is None or started_at <= previous:
            return
        self._db.execute(
            "INSERT INTO rollup_gaps (job, hour, gap_s, gap_end) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (job, hour) DO UPDATE SET gap_s = excluded.gap_s,"
            " gap_end = excluded.gap_end WHERE excluded.gap_s > gap_s",
            (job, hour_of(started_at), started_at - previous, started_at),
        )

    def _add(
        self, job: str, hour: float, result: Result, runs: int, duration_s: float | None,
        run_id: int,
    ) -> None:
        self._db.execute(
            "INSERT INTO rollup (job, hour, result, runs, duration_sum, duration_max, last_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job, hour, result) DO UPDATE SET"
            " runs = runs + excluded.runs, duration_sum = duration_sum + excluded.duration_sum,"
            " duration_max = max(coalesce(duration_max, excluded.duration_max),"
            " coalesce(excluded.duration_max, duration_max)),"
            " last_id = max(coalesce(last_id, 0), excluded.last_id)",
            (job, hour, result.value, runs, duration_s or 0.0, duration_s, run_id),
        )

    def forget(self, job: str, before: float) -> None:
        """Forget the job's hours that start before `before`."""
        self._db.execute("DELETE FROM rollup WHERE job = ? AND hour < ?", (job, before))
        self._db.execute("DELETE FROM rollup_gaps WHERE job = ? AND hour < ?", (job, before))

    def of(self, job: str, since: float, until: float) -> JobRollup:
        """The job's hours that overlap [since, until)."""
        hours = tuple(
            HourCount(_dt(hour), Result(result), runs, total, longest, last_id)
            for hour, result, runs, total, longest, last_id in self._db.execute(
                "SELECT hour, result, runs, duration_sum, duration_max, last_id FROM rollup"
                " WHERE job = ? AND hour >= ? AND hour < ? ORDER BY hour, result",
                (job, hour_of(since), until),
            )
        )
        waits = tuple(
            Wait(_dt(end), seconds) for end, seconds in self._db.execute(
                "SELECT gap_end, gap_s FROM rollup_gaps WHERE job = ? AND hour >= ?"
                " AND hour < ? AND gap_end >= ? ORDER BY hour",
                (job, hour_of(since), until, since),
            )
        )
        first = self._db.execute(
            "SELECT min(hour) FROM rollup WHERE job = ? AND result = 'success'", (job,)
        ).fetchone()[0]
        kept = self._db.execute(
            "SELECT min(started_at) FROM runs WHERE job = ?", (job,)).fetchone()[0]
        return JobRollup(hours, waits, _dt(first), _dt(kept))
