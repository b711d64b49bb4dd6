"""APScheduler triggers built from a job's settings, with Debian's cron's meaning kept.

APScheduler 3's `CronTrigger` numbers weekdays from Monday, ANDs day-of-month
with day-of-week, and around daylight-saving changes skips days or fires twice.
`CrontabTrigger` asks cronsim instead, which follows Debian's cron: a job whose
minute or hour field starts with `*` is a wildcard job, which skips the minutes a
spring-forward jumps over and runs in both passes of a repeated hour; any other job
is a fixed-time job, which runs a skipped time at the first minute after the jump and
runs once (the first pass) in a repeated hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from cronsim import CronSim

from synctui.config.model import CronSpec, JobConfig

LOOKBACK_FIRES = 100_000
"""How many fire times `latest_fire` walks at most (a minutely cron over ~2 months)."""
_FIRST_LOOKBACK = timedelta(hours=2)
"""The span `latest_fire` looks back over first; it grows eightfold until it finds a fire."""
_MICROSECOND = timedelta(microseconds=1)


class CrontabTrigger(BaseTrigger):
    """Fires when Debian's cron would, in `zone`, with up to `jitter` seconds added."""

    def __init__(self, spec: CronSpec, zone: tzinfo, jitter: float | None = None) -> None:
        self.spec = spec
        self.timezone = zone
        self.jitter = jitter

    def __str__(self) -> str:
        return f"crontab[{self.spec.expression}]"

    def get_next_fire_time(self, previous_fire_time, now):
        # Instants are compared in UTC: aware datetimes of one zone compare by wall
        # time, ignoring `fold`, and arithmetic on them drops it.
        if previous_fire_time is None:
            start = now.astimezone(timezone.utc)
        else:
            start = previous_fire_time.astimezone(timezone.utc) + _MICROSECOND
        # cronsim yields times after the whole second it is given: give it the one before.
        for fire in CronSim(self.spec.cron, (start - _MICROSECOND).astimezone(self.timezone)):
            # A fixed-time job is walked in wall time, so from the second pass of a
            # repeated hour cronsim names the first: that one has run, or was missed.
            if fire.astimezone(timezone.utc) >= start:
                return self._apply_jitter(fire, self.jitter, now)
        return None


class Leaping(BaseTrigger):
    """`inner`, except that asked for the fire time after one long passed it answers the
    most recent passed one: a host that fell behind gets a late fire's first and last fire
    times from APScheduler, which would otherwise list every one in between."""

    def __init__(self, inner: BaseTrigger) -> None:
        self.inner = inner

    def __str__(self) -> str:
        return str(self.inner)

    def get_next_fire_time(self, previous_fire_time, now):
        fire = self.inner.get_next_fire_time(previous_fire_time, now)
        if previous_fire_time is None or fire is None or fire >= now:
            return fire
        return latest_fire(self.inner, fire, now) or fire


def job_trigger(
    job: JobConfig, zone: tzinfo, anchor: datetime, *, jitter: bool = True
) -> BaseTrigger | None:
    """The job's trigger (None for a job that only runs `after` others). Interval fires
    count from `anchor` (its last start, or now)."""
    if not job.scheduled:
        return None
    spread = job.jitter_s or None if jitter else None
    if job.cron is not None:
        return CrontabTrigger(job.cron, zone, spread)
    interval = timedelta(seconds=job.interval_s)
    return IntervalTrigger(
        seconds=job.interval_s, start_date=anchor + interval, timezone=zone, jitter=spread
    )


def latest_fire(trigger: BaseTrigger, after: datetime, now: datetime) -> datetime | None:
    """The most recent fire time in (`after`, `now`], or None if there was none.

    It walks forward from a little before `now`, going further back only while it finds
    none, so that a frequent schedule missed for long costs a few fires, not all of them.
    """
    after = after.astimezone(timezone.utc)
    reach = _FIRST_LOOKBACK
    while True:
        since = max(after, now - reach)
        fire = trigger.get_next_fire_time(None, since + _MICROSECOND)
        latest = None
        for _ in range(LOOKBACK_FIRES):
            if fire is None or fire > now:
                break
            latest = fire
            fire = trigger.get_next_fire_time(fire, fire)
        if latest is not None or since == after:
            return latest
        reach *= 8


def next_fires(trigger: BaseTrigger, now: datetime, count: int) -> list[datetime]:
    """The next `count` fire times after `now`."""
    fires: list[datetime] = []
    fire = trigger.get_next_fire_time(None, now)
    while fire is not None and len(fires) < count:
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire)
    return fires
