"""Fire times with Debian's cron's meaning, across daylight-saving changes, Sunday included."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from factories import config, finished
from synctui.config import parse_crontab
from synctui.config.model import JobConfig
from synctui.scheduler.records import Result, Trigger
from synctui.scheduler.store import Store
from synctui.scheduler.sync_scheduler import SyncScheduler
from synctui.scheduler.triggers import CrontabTrigger, job_trigger, latest_fire, next_fires

NEW_YORK = ZoneInfo("America/New_York")  # springs forward 2026-03-08, falls back 2026-11-01
BERLIN = ZoneInfo("Europe/Berlin")  # springs forward 2026-03-29, falls back 2026-10-25


def fires(expression: str, zone, start: datetime, count: int = 5) -> list[str]:
    trigger = CrontabTrigger(parse_crontab(expression), zone)
    return [f.isoformat() for f in next_fires(trigger, start, count)]


@pytest.mark.parametrize("expression", ["0 3 * * 0", "0 3 * * 7", "0 3 * * sun", "0 3 * * SUN"])
def test_sunday_is_sunday(expression):
    times = fires(expression, BERLIN, datetime(2026, 3, 25, tzinfo=BERLIN), 3)
    assert times == [
        "2026-03-29T03:00:00+02:00",  # the spring-forward Sunday itself
        "2026-04-05T03:00:00+02:00",
        "2026-04-12T03:00:00+02:00",
    ]


def test_weekday_ranges_and_names():
    monday_to_friday = fires("30 2 * * mon-fri", BERLIN, datetime(2026, 6, 5, 12, tzinfo=BERLIN), 3)
    assert monday_to_friday == [
        "2026-06-08T02:30:00+02:00", "2026-06-09T02:30:00+02:00", "2026-06-10T02:30:00+02:00"]
    weekend = fires("0 9 * * 6-7", BERLIN, datetime(2026, 6, 1, tzinfo=BERLIN), 3)
    assert weekend == [
        "2026-06-06T09:00:00+02:00", "2026-06-07T09:00:00+02:00", "2026-06-13T09:00:00+02:00"]


def test_daily_keeps_every_day_across_spring_forward():
    times = fires("@daily", NEW_YORK, datetime(2026, 3, 6, 12, tzinfo=NEW_YORK), 4)
    assert times == [
        "2026-03-07T00:00:00-05:00", "2026-03-08T00:00:00-05:00",
        "2026-03-09T00:00:00-04:00", "2026-03-10T00:00:00-04:00",
    ]


def test_a_time_skipped_by_spring_forward_runs_right_after_the_jump():
    times = fires("30 2 * * *", NEW_YORK, datetime(2026, 3, 7, 12, tzinfo=NEW_YORK), 3)
    assert times == [
        "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"]
    # A job every 30 minutes runs once for the skipped hour, then carries on.
    assert fires("*/30 * * * *", NEW_YORK, datetime(2026, 3, 8, 1, 10, tzinfo=NEW_YORK), 4) == [
        "2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00",
        "2026-03-08T03:30:00-04:00", "2026-03-08T04:00:00-04:00",
    ]


def test_a_repeated_hour_runs_fixed_jobs_once_and_wildcard_hours_twice():
    assert fires("30 1 * * *", NEW_YORK, datetime(2026, 10, 31, 12, tzinfo=NEW_YORK), 3) == [
        "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00", "2026-11-03T01:30:00-05:00"]
    assert fires("*/30 * * * *", NEW_YORK, datetime(2026, 11, 1, 0, 40, tzinfo=NEW_YORK), 5) == [
        "2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00", "2026-11-01T02:00:00-05:00",
    ]


def test_day_of_month_or_day_of_week_when_both_are_restricted():
    # crontab: the 13th, or any Friday.
    assert fires("0 0 13 * 5", BERLIN, datetime(2026, 4, 1, tzinfo=BERLIN), 4) == [
        "2026-04-03T00:00:00+02:00", "2026-04-10T00:00:00+02:00",
        "2026-04-13T00:00:00+02:00", "2026-04-17T00:00:00+02:00",
    ]


def test_macros():
    start = datetime(2026, 6, 10, 12, 34, tzinfo=BERLIN)
    assert fires("@hourly", BERLIN, start, 1) == ["2026-06-10T13:00:00+02:00"]
    assert fires("@weekly", BERLIN, start, 1) == ["2026-06-14T00:00:00+02:00"]
    assert fires("@monthly", BERLIN, start, 1) == ["2026-07-01T00:00:00+02:00"]
    assert fires("@yearly", BERLIN, start, 1) == ["2027-01-01T00:00:00+01:00"]


def test_jitter_stays_within_its_bound():
    trigger = CrontabTrigger(parse_crontab("0 * * * *"), BERLIN, jitter=30)
    start = datetime(2026, 6, 10, 12, 34, tzinfo=BERLIN)
    for _ in range(50):
        fire = trigger.get_next_fire_time(None, start)
        assert timedelta(0) <= fire - datetime(2026, 6, 10, 13, tzinfo=BERLIN) <= timedelta(seconds=30)


def test_interval_fires_keep_their_spacing_across_a_change_of_offset():
    job = JobConfig("i", command=["true"], interval_s=3600)
    anchor = datetime(2026, 3, 8, 0, 0, tzinfo=NEW_YORK)
    times = next_fires(job_trigger(job, NEW_YORK, anchor), anchor, 4)
    gaps = {b.timestamp() - a.timestamp() for a, b in zip(times, times[1:])}
    assert gaps == {3600.0}
    assert [t.isoformat() for t in times][1:3] == ["2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"]


def test_latest_fire_finds_the_most_recent_missed_time():
    trigger = CrontabTrigger(parse_crontab("*/15 * * * *"), BERLIN)
    after = datetime(2026, 6, 10, 10, 1, tzinfo=timezone.utc)
    now = datetime(2026, 6, 10, 11, 7, tzinfo=timezone.utc)
    assert latest_fire(trigger, after, now) == datetime(2026, 6, 10, 11, 0, tzinfo=timezone.utc)
    assert latest_fire(trigger, now - timedelta(minutes=5), now) is None


def test_a_cron_job_fires_through_the_scheduler_in_a_dst_zone(tmp_path):
    """The scheduler fires a crontab job, caught up here so as not to wait: its minute of the
    hour is half an hour from now, so no fire of its own races the catch-up."""
    now = datetime.now(timezone.utc)
    minute = (now.minute + 30) % 60
    latest = now.replace(minute=minute, second=0, microsecond=0)
    if latest > now:
        latest -= timedelta(hours=1)
    store = Store(tmp_path / "state")
    long_ago = now - timedelta(hours=2, minutes=30)  # two fire times ago, at least
    old = store.begin_run("nightly", Trigger.SCHEDULED, long_ago, long_ago)
    store.finish_run(old.id, Result.SUCCESS, long_ago, 0.1)
    store.close()
    settings = {"command": "echo $SYNCTUI_SCHEDULED_AT",
                "cron": parse_crontab(f"{minute} * * * *")}
    scheduler = SyncScheduler(config(tmp_path, {"nightly": settings}, timezone="America/New_York"),
                              tick_s=0.1)
    events = scheduler.subscribe()
    try:
        scheduler.start()
        run = finished(events, "nightly")
    finally:
        scheduler.shutdown(grace=0)
    assert run.trigger is Trigger.CATCH_UP and run.result is Result.SUCCESS
    told = datetime.fromisoformat(run.log_path.read_text().strip())
    assert told == run.scheduled_at == latest  # the latest missed fire time, not an older one
    assert told.utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))
