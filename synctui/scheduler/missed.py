"""Fire times that came and went without a host to start them: which still run.

A host that was down, a machine that was suspended, a process that stalled: each
finds, when it looks again, the job's fire times from `first` to `last` passed. The
job's `catch_up` and `start_deadline` decide which of them still run; the rest are
one `missed` record. Deciding reads a few fire times, never every one that passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from synctui.config.model import JobConfig

COUNT_LIMIT = 1000
"""Fire times of a cron counted one by one at most; beyond, a missed record says "at least"."""


@dataclass(frozen=True)
class Missed:
    """Consecutive fire times that will never run."""

    first: datetime
    last: datetime
    count: int
    exact: bool = True
    """False when `count` is a lower bound (a cron's fire times beyond `COUNT_LIMIT`)."""


@dataclass(frozen=True)
class Backlog:
    """What becomes of the passed fire times: those from `run_from` to `run_until` still run,
    one after another (none when `run_from` is None); the others are `missed`."""

    run_from: datetime | None
    run_until: datetime | None
    missed: Missed | None


def decide(
    job: JobConfig, trigger: BaseTrigger, first: datetime, last: datetime, now: datetime,
) -> Backlog:
    """What becomes of the job's fire times from `first` to `last` (both passed, `trigger`
    without jitter) seen at `now`."""
    if job.catch_up == "none":
        return Backlog(None, None, _missed(trigger, first, last))
    oldest = now - timedelta(seconds=downtime_deadline(job, trigger, last))
    if last < oldest:
        return Backlog(None, None, _missed(trigger, first, last))
    run_from = last if job.catch_up == "last" else max(
        first, trigger.get_next_fire_time(None, oldest) or last)
    before = _before(trigger, first, run_from)
    return Backlog(run_from, last, None if before is None else _missed(trigger, first, before))


def behind(
    job: JobConfig, trigger: BaseTrigger, first: datetime, fire: datetime, now: datetime,
) -> Backlog:
    """What becomes of the fire times from `first` to just before `fire` when a host that
    fell behind (a suspend, a stall) gets to `fire`: `fire` runs as usual; of those before
    it, a job that catches up `all` runs those `decide` keeps, any other misses them."""
    before = _before(trigger, first, fire)
    if before is None:
        return Backlog(None, None, None)
    if job.catch_up == "all":
        return decide(job, trigger, first, before, now)
    return Backlog(None, None, _missed(trigger, first, before))


def downtime_deadline(job: JobConfig, trigger: BaseTrigger, fire: datetime) -> float:
    """How long after `fire` a run of it may still start when no host ran the job then: its
    `start_deadline`, else its interval (for a cron, the time to its next fire time)."""
    if job.start_deadline_s is not None:
        return job.start_deadline_s
    if job.interval_s is not None:
        return job.interval_s
    following = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return (following - fire).total_seconds() if following else float("inf")


def count_fires(trigger: BaseTrigger, first: datetime, last: datetime) -> tuple[int, bool]:
    """How many fire times there are from `first` to `last`, both fire times of `trigger`,
    and whether that count is exact: arithmetic for an interval, a walk of at most
    `COUNT_LIMIT` fire times for a cron."""
    if isinstance(trigger, IntervalTrigger):
        step = trigger.interval.total_seconds()
        return round((last - first).total_seconds() / step) + 1, True
    count, fire = 1, first
    while count < COUNT_LIMIT:
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        if fire is None or fire > last:
            return count, True
        count += 1
    return count, False


def _missed(trigger: BaseTrigger, first: datetime, last: datetime) -> Missed:
    count, exact = count_fires(trigger, first, last)
    return Missed(first, last, count, exact)


def _before(trigger: BaseTrigger, first: datetime, fire: datetime) -> datetime | None:
    """The fire time just before `fire`, not before `first` (None if `fire` is `first`)."""
    if fire <= first:
        return None
    if isinstance(trigger, IntervalTrigger):
        return fire - trigger.interval
    # A cron's fire time before another: look back a span, widening it until one is found.
    reach = timedelta(minutes=2)
    while True:
        start = max(first, fire - reach)
        found, probe = None, trigger.get_next_fire_time(None, start)
        while probe is not None and probe < fire:
            found = probe
            probe = trigger.get_next_fire_time(probe, probe + timedelta(microseconds=1))
        if found is not None or start == first:
            return found
        reach *= 8
