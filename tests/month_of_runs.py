"""A month of history made by the store's own methods: the timeline's tests and benchmark
draw from it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from factories import config
from synctui.config.crontab import parse_crontab
from synctui.config.model import Config
from synctui.scheduler.records import Fires, Result, Trigger
from synctui.scheduler.status import SchedulerStatus, snapshot
from synctui.scheduler.store import Store

NOW = datetime(2026, 12, 3, 12, 0, 30, tzinfo=timezone.utc)
"""The fixed clock the month ends at."""
KEEP_RUNS = 1000
JOBS = {
    "payments-reconciliation": {"interval_s": 60.0, "grace_s": 120.0},
    "hourly-export": {"interval_s": 3600.0, "grace_s": 600.0},
    "nightly": {"cron": "30 2 * * *", "grace_s": 1800.0},
}
"""The month's jobs and their settings (`factories.config` keywords but the cron)."""
NEXT = {
    "payments-reconciliation": NOW.replace(second=0) + timedelta(minutes=1),
    "hourly-export": NOW.replace(minute=0, second=0) + timedelta(hours=1),
    "nightly": (NOW + timedelta(days=1)).replace(hour=2, minute=30, second=0),
}
"""Each job's next fire time at `NOW`, as a host would have written it."""


def month_config(state_dir: Path) -> Config:
    """The month's jobs, in UTC, over `state_dir`."""
    jobs = {name: {**settings, "cron": parse_crontab(settings["cron"])} if "cron" in settings
            else settings for name, settings in JOBS.items()}
    return config(state_dir.parent, jobs, state_dir=state_dir)


def month_status(store: Store, month: Config) -> SchedulerStatus:
    """The status at `NOW` of a host scheduling the month's jobs."""
    fires = {name: Fires(next=next_run) for name, next_run in NEXT.items()}
    return snapshot(store, month, running=True, host=None, fires=fires, paused={}, now=NOW)


def _record(store: Store, job: str, at: datetime, seconds: float, result: Result) -> None:
    run = store.begin_run(job, Trigger.SCHEDULED, at, at)
    store.finish_run(run.id, result, at + timedelta(seconds=seconds), seconds,
                     exit_code=0 if result is Result.SUCCESS else 1)


def write_month(state_dir: Path, days: int = 30) -> Store:
    """`days` of the three jobs up to `NOW`: a minutely one with a failure every 97 minutes,
    a timeout every 1013, a skip every 500 and two hours missed; an hourly one with a long
    run; a nightly one. Retention keeps `KEEP_RUNS` runs a job, as a host would."""
    store = Store(state_dir)
    start = NOW - timedelta(days=days)
    outage = NOW - timedelta(days=2, hours=5)
    minute = 0
    at = start
    while at < NOW - timedelta(minutes=1):
        if outage <= at < outage + timedelta(hours=2):
            store.record_skip("payments-reconciliation", outage, at, "no host was running",
                              result=Result.MISSED, count=120,
                              last=outage + timedelta(minutes=119))
            at += timedelta(hours=2)
            minute += 120
            continue
        if minute % 500 == 499:
            store.record_skip("payments-reconciliation", at, at)
        elif minute % 1013 == 1012:
            _record(store, "payments-reconciliation", at, 50.0, Result.TIMEOUT)
        else:
            failed = minute % 97 == 96
            _record(store, "payments-reconciliation", at, 3.0 + minute % 7,
                    Result.FAILURE if failed else Result.SUCCESS)
        if at.minute == 0:
            long = at.hour == 9
            _record(store, "hourly-export", at, 1500.0 if long else 40.0, Result.SUCCESS)
        if at.hour == 2 and at.minute == 30:
            _record(store, "nightly", at, 600.0,
                    Result.FAILURE if at.day % 6 == 0 else Result.SUCCESS)
        if minute % KEEP_RUNS == 0:
            for job in JOBS:
                store.apply_retention(job, KEEP_RUNS, 10**12)
        minute += 1
        at += timedelta(minutes=1)
    for job in JOBS:
        store.apply_retention(job, KEEP_RUNS, 10**12)
    return store
