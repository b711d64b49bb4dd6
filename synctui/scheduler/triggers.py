"""APScheduler triggers built from a job's settings, with crontab's meaning kept.

APScheduler 3 numbers weekdays from Monday and ANDs day-of-month with day-of-week;
crontab numbers them from Sunday and fires when *either* matches once both are
restricted. The parsed `CronSpec` is translated here value by value.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from synctui.config.model import CronSpec, JobConfig

_FULL = {
    "minute": range(0, 60), "hour": range(0, 24), "day": range(1, 32),
    "month": range(1, 13), "day_of_week": range(0, 7),
}
LOOKBACK_FIRES = 100_000
"""How many fire times `latest_fire` walks at most (a minutely cron over ~2 months)."""


def _field(values: tuple[int, ...], name: str) -> str:
    return "*" if set(values) == set(_FULL[name]) else ",".join(map(str, values))


def _cron(spec: CronSpec, zone: tzinfo, jitter: float | None, *, day: bool, weekday: bool):
    # crontab 0 = Sunday; APScheduler 0 = Monday.
    weekdays = tuple(sorted((d - 1) % 7 for d in spec.weekdays))
    return CronTrigger(
        minute=_field(spec.minutes, "minute"),
        hour=_field(spec.hours, "hour"),
        day=_field(spec.days, "day") if day else "*",
        month=_field(spec.months, "month"),
        day_of_week=_field(weekdays, "day_of_week") if weekday else "*",
        timezone=zone,
        jitter=jitter,
    )


def cron_trigger(spec: CronSpec, zone: tzinfo, jitter: float | None = None) -> BaseTrigger:
    """The trigger that fires exactly when crontab would."""
    if spec.dom_restricted and spec.dow_restricted:
        return OrTrigger(
            [
                _cron(spec, zone, None, day=True, weekday=False),
                _cron(spec, zone, None, day=False, weekday=True),
            ],
            jitter=jitter,
        )
    return _cron(spec, zone, jitter, day=True, weekday=True)


def job_trigger(
    job: JobConfig, zone: tzinfo, anchor: datetime, *, jitter: bool = True
) -> BaseTrigger:
    """The job's trigger. Interval fires count from `anchor` (its last start, or now)."""
    spread = job.jitter_s or None if jitter else None
    if job.cron is not None:
        return cron_trigger(job.cron, zone, spread)
    interval = timedelta(seconds=job.interval_s)
    return IntervalTrigger(
        seconds=job.interval_s, start_date=anchor + interval, timezone=zone, jitter=spread
    )


def latest_fire(trigger: BaseTrigger, after: datetime, now: datetime) -> datetime | None:
    """The most recent fire time in (`after`, `now`], or None if there was none."""
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
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
