"""APScheduler triggers built from a job's settings, with crontab's meaning kept.

APScheduler 3's `CronTrigger` numbers weekdays from Monday, ANDs day-of-month
with day-of-week, and around daylight-saving changes skips days (`@daily` misses
the day after a spring-forward) or fires twice. `CrontabTrigger` follows crontab
instead: weekdays from Sunday, either day field once both are restricted, a fire
time inside a skipped hour runs at the first minute after the jump, and a
fixed-hour job runs once in a repeated hour (jobs with `*` hours run in both).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from synctui.config.model import CronSpec, JobConfig

LOOKBACK_FIRES = 100_000
"""How many fire times `latest_fire` walks at most (a minutely cron over ~2 months)."""
_MINUTE = timedelta(minutes=1)
_DST_REACH = timedelta(hours=3)
"""More than any daylight-saving shift: how far wall time and instants can disagree."""
_SEARCH_DAYS = 366 * 8
"""Every valid crontab matches within this many days (29 February included)."""


class CrontabTrigger(BaseTrigger):
    """Fires when crontab(5) would, in `zone`, with up to `jitter` seconds added."""

    def __init__(self, spec: CronSpec, zone: tzinfo, jitter: float | None = None) -> None:
        self.spec = spec
        self.timezone = zone
        self.jitter = jitter
        self._months = frozenset(spec.months)
        self._days = frozenset(spec.days)
        self._weekdays = frozenset(spec.weekdays)
        self._hours = sorted(spec.hours)
        self._minutes = sorted(spec.minutes)
        self._fixed_hours = len(spec.hours) < 24

    def __str__(self) -> str:
        return f"crontab[{self.spec.expression}]"

    def get_next_fire_time(self, previous_fire_time, now):
        # Arithmetic in UTC: adding to a zone's datetime drops `fold` and can step back an hour.
        start = (previous_fire_time or now).astimezone(timezone.utc)
        if previous_fire_time is not None:
            start += timedelta(microseconds=1)
        # Walk wall-clock matches from a little before `start`: in a repeated hour an
        # earlier wall time can be a later instant. Instants are compared in UTC
        # (aware datetimes of one zone compare by wall time, ignoring `fold`).
        wall = _ceil_minute(start.astimezone(self.timezone).replace(tzinfo=None) - _DST_REACH)
        best: datetime | None = None
        best_wall: datetime | None = None
        while True:
            wall = self._next_wall(wall)
            if wall is None or (best_wall is not None and wall > best_wall + _DST_REACH):
                break
            for instant in self._instants(wall):
                if instant >= start and (best is None or instant < best):
                    best, best_wall = instant, wall
            wall += _MINUTE
        if best is None:
            return None
        return self._apply_jitter(best.astimezone(self.timezone), self.jitter, now)

    def _day_matches(self, day: datetime) -> bool:
        in_month = day.day in self._days
        in_week = (day.weekday() + 1) % 7 in self._weekdays  # crontab: 0 = Sunday
        if self.spec.dom_restricted and self.spec.dow_restricted:
            return in_month or in_week
        return in_month and in_week

    def _next_wall(self, wall: datetime) -> datetime | None:
        """The first matching wall-clock minute at or after `wall` (naive)."""
        day = wall.replace(hour=0, minute=0)
        for _ in range(_SEARCH_DAYS):
            if day.month in self._months and self._day_matches(day):
                for hour in self._hours:
                    for minute in self._minutes:
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= wall:
                            return candidate
            day += timedelta(days=1)
        return None

    def _instants(self, wall: datetime) -> list[datetime]:
        """The moments (UTC) a wall-clock minute stands for in the zone: one or two."""
        first = wall.replace(tzinfo=self.timezone, fold=0)
        if not _exists(first):
            # Skipped by a spring-forward: run at the first minute after the jump.
            after = wall
            while not _exists(after.replace(tzinfo=self.timezone)):
                after += _MINUTE
            return [after.replace(tzinfo=self.timezone).astimezone(timezone.utc)]
        second = wall.replace(tzinfo=self.timezone, fold=1)
        if first.utcoffset() == second.utcoffset() or self._fixed_hours:
            return [first.astimezone(timezone.utc)]
        return [first.astimezone(timezone.utc), second.astimezone(timezone.utc)]


def _exists(moment: datetime) -> bool:
    return moment.astimezone(timezone.utc).astimezone(moment.tzinfo).replace(
        tzinfo=None, fold=0) == moment.replace(tzinfo=None, fold=0)


def _ceil_minute(wall: datetime) -> datetime:
    floor = wall.replace(second=0, microsecond=0)
    return floor if floor == wall else floor + _MINUTE


def job_trigger(
    job: JobConfig, zone: tzinfo, anchor: datetime, *, jitter: bool = True
) -> BaseTrigger:
    """The job's trigger. Interval fires count from `anchor` (its last start, or now)."""
    spread = job.jitter_s or None if jitter else None
    if job.cron is not None:
        return CrontabTrigger(job.cron, zone, spread)
    interval = timedelta(seconds=job.interval_s)
    return IntervalTrigger(
        seconds=job.interval_s, start_date=anchor + interval, timezone=zone, jitter=spread
    )


def latest_fire(trigger: BaseTrigger, after: datetime, now: datetime) -> datetime | None:
    """The most recent fire time in (`after`, `now`], or None if there was none."""
    fire = trigger.get_next_fire_time(None, after.astimezone(timezone.utc) + timedelta(microseconds=1))
    latest = None
    for _ in range(LOOKBACK_FIRES):
        if fire is None or fire > now:
            break
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire)
    return latest


def next_fires(trigger: BaseTrigger, now: datetime, count: int) -> list[datetime]:
    """The next `count` fire times after `now`."""
    fires: list[datetime] = []
    fire = trigger.get_next_fire_time(None, now)
    while fire is not None and len(fires) < count:
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire)
    return fires
