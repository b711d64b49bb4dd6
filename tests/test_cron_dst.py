"""Fire times around daylight-saving changes as Debian's cron has them, and cron's extensions.

The expected times are written out by hand from the rules of Debian's cron.c: a job is
*wildcard* when its minute or its hour field starts with `*`, else *fixed*. When the clock
jumps forward, wildcard jobs run at the wall times that exist and skip the others, while a
fixed job whose time was skipped runs once, at the first minute after the jump. When the
clock goes back, wildcard jobs run in both passes of the repeated times, fixed jobs in the
first pass only.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from synctui.config import parse_crontab
from synctui.scheduler.triggers import CrontabTrigger, latest_fire, next_fires

NEW_YORK = "America/New_York"  # 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST
DUBLIN = "Europe/Dublin"  # negative DST in tzdata: 2026-03-29 01:00 -> 02:00; 2026-10-25 02:00 -> 01:00
SAO_PAULO = "America/Sao_Paulo"  # at midnight: 2018-11-04 00:00 -> 01:00; 2019-02-17 00:00 -> 02-16 23:00
BERLIN = "Europe/Berlin"


def fires(expression: str, zone: str, start: str, count: int) -> list[str]:
    """The next `count` fire times after `start` (wall time in `zone`), as "MM-DD HH:MM+hhmm"."""
    where = ZoneInfo(zone)
    trigger = CrontabTrigger(parse_crontab(expression), where)
    begin = datetime.fromisoformat(start).replace(tzinfo=where)
    return [fire.astimezone(where).strftime("%m-%d %H:%M%z") for fire in next_fires(trigger, begin, count)]


DST_TABLE = [
    # --- spring forward, New York: 02:00-02:59 does not exist on 2026-03-08
    ("fixed, skipped time runs after the jump", "30 2 * * *", NEW_YORK, "2026-03-07 12:00",
     ["03-08 03:00-0400", "03-09 02:30-0400"]),
    ("fixed, two skipped times make one run after the jump", "0,30 2 * * *", NEW_YORK,
     "2026-03-07 12:00", ["03-08 03:00-0400", "03-09 02:00-0400", "03-09 02:30-0400"]),
    ("fixed, every hour but by a list: 02:00 runs after the jump", "0 0-23 * * *", NEW_YORK,
     "2026-03-08 00:30", ["03-08 01:00-0500", "03-08 03:00-0400", "03-08 04:00-0400"]),
    ("wildcard minute: a skipped hour is not caught up", "*/20 2 * * *", NEW_YORK,
     "2026-03-07 12:00", ["03-09 02:00-0400", "03-09 02:20-0400"]),
    ("wildcard hour: 02:30 is not caught up", "30 * * * *", NEW_YORK, "2026-03-08 01:10",
     ["03-08 01:30-0500", "03-08 03:30-0400"]),
    ("wildcard both: runs on at 03:00", "*/30 * * * *", NEW_YORK, "2026-03-08 01:10",
     ["03-08 01:30-0500", "03-08 03:00-0400", "03-08 03:30-0400"]),
    # --- fall back, New York: 01:00-01:59 happens twice on 2026-11-01
    ("fixed runs once, in the first pass", "30 1 * * *", NEW_YORK, "2026-10-31 12:00",
     ["11-01 01:30-0400", "11-02 01:30-0500"]),
    ("fixed hours 1 and 2: each once", "0 1,2 * * *", NEW_YORK, "2026-10-31 12:00",
     ["11-01 01:00-0400", "11-01 02:00-0500", "11-02 01:00-0500"]),
    ("wildcard runs in both passes", "*/30 * * * *", NEW_YORK, "2026-11-01 00:40",
     ["11-01 01:00-0400", "11-01 01:30-0400", "11-01 01:00-0500", "11-01 01:30-0500",
      "11-01 02:00-0500"]),
    ("wildcard minute, listed hours: both passes (the issue's case)", "*/14 23,1,16 * * *",
     NEW_YORK, "2026-11-01 00:00",
     ["11-01 01:00-0400", "11-01 01:14-0400", "11-01 01:28-0400", "11-01 01:42-0400",
      "11-01 01:56-0400", "11-01 01:00-0500", "11-01 01:14-0500", "11-01 01:28-0500",
      "11-01 01:42-0500", "11-01 01:56-0500", "11-01 16:00-0500"]),
    # --- Dublin, whose tzdata DST is negative (winter GMT is the "daylight" time)
    ("Dublin spring: fixed skipped time runs after the jump", "30 1 * * *", DUBLIN,
     "2026-03-28 12:00", ["03-29 02:00+0100", "03-30 01:30+0100"]),
    ("Dublin spring: wildcard skips 01:30", "30 * * * *", DUBLIN, "2026-03-29 00:10",
     ["03-29 00:30+0000", "03-29 02:30+0100"]),
    ("Dublin fall: fixed once, first pass", "30 1 * * *", DUBLIN, "2026-10-24 12:00",
     ["10-25 01:30+0100", "10-26 01:30+0000"]),
    ("Dublin fall: wildcard in both passes", "*/20 1 * * *", DUBLIN, "2026-10-25 00:00",
     ["10-25 01:00+0100", "10-25 01:20+0100", "10-25 01:40+0100", "10-25 01:00+0000",
      "10-25 01:20+0000", "10-25 01:40+0000", "10-26 01:00+0000"]),
    # --- Sao Paulo, whose changes are at midnight
    ("Sao Paulo: wildcard hour skips midnight's times (the issue's case)", "8,43 */11 * * *",
     SAO_PAULO, "2018-11-03 22:50", ["11-04 11:08-0200", "11-04 11:43-0200", "11-04 22:08-0200"]),
    ("Sao Paulo: fixed midnight runs at 01:00", "0 0 * * *", SAO_PAULO, "2018-11-03 12:00",
     ["11-04 01:00-0200", "11-05 00:00-0200"]),
    ("Sao Paulo: @daily keeps the day", "@daily", SAO_PAULO, "2018-11-02 12:00",
     ["11-03 00:00-0300", "11-04 01:00-0200", "11-05 00:00-0200"]),
    ("Sao Paulo: fixed 00:30 runs at 01:00", "30 0 * * *", SAO_PAULO, "2018-11-03 12:00",
     ["11-04 01:00-0200", "11-05 00:30-0200"]),
    ("Sao Paulo: 23:xx repeats; fixed once", "30 23 * * *", SAO_PAULO, "2019-02-16 12:00",
     ["02-16 23:30-0200", "02-17 23:30-0300"]),
    ("Sao Paulo: 23:xx repeats; wildcard twice", "*/30 23 * * *", SAO_PAULO, "2019-02-16 12:00",
     ["02-16 23:00-0200", "02-16 23:30-0200", "02-16 23:00-0300", "02-16 23:30-0300",
      "02-17 23:00-0300"]),
]


@pytest.mark.parametrize(("case", "expression", "zone", "start", "expected"), DST_TABLE,
                         ids=[row[0] for row in DST_TABLE])
def test_daylight_saving_as_debian_cron(case, expression, zone, start, expected):
    assert fires(expression, zone, start, len(expected)) == expected


def test_starting_in_the_second_pass_a_fixed_job_waits_for_the_next_day():
    """cronsim walks a fixed job in wall time: from 01:10 EST it names 01:30 EDT, which is
    past; the trigger passes over it (cron ran it in the first pass)."""
    where = ZoneInfo(NEW_YORK)
    second_pass = datetime(2026, 11, 1, 6, 10, tzinfo=timezone.utc)  # 01:10 EST
    trigger = CrontabTrigger(parse_crontab("30 1 * * *"), where)
    fire = trigger.get_next_fire_time(None, second_pass)
    assert fire.astimezone(where).isoformat() == "2026-11-02T01:30:00-05:00"


def test_a_one_value_range_with_a_step_fires_at_that_value_only():
    # cronsim alone would read "5-5/20" as 5, 25 and 45.
    assert fires("5-5/20 * * * *", BERLIN, "2026-06-10 12:00", 3) == [
        "06-10 12:05+0200", "06-10 13:05+0200", "06-10 14:05+0200"]


def test_latest_fire_sees_both_passes_of_a_repeated_hour():
    trigger = CrontabTrigger(parse_crontab("*/30 * * * *"), ZoneInfo(NEW_YORK))
    after = datetime(2026, 11, 1, 5, 10, tzinfo=timezone.utc)  # 01:10 EDT
    now = datetime(2026, 11, 1, 6, 20, tzinfo=timezone.utc)  # 01:20 EST
    # In UTC: an instant of a repeated hour with fold=1 never equals one of another zone.
    latest = latest_fire(trigger, after, now).astimezone(timezone.utc)
    assert latest == datetime(2026, 11, 1, 6, 0, tzinfo=timezone.utc)


def test_latest_fire_of_a_minutely_job_missed_for_a_year_is_cheap():
    trigger = CrontabTrigger(parse_crontab("* * * * *"), ZoneInfo(BERLIN))
    asked = 0
    ask = trigger.get_next_fire_time

    def counted(previous, now):
        nonlocal asked
        asked += 1
        return ask(previous, now)

    trigger.get_next_fire_time = counted
    now = datetime(2026, 6, 10, 12, 0, 30, tzinfo=timezone.utc)
    assert latest_fire(trigger, now - timedelta(days=365), now) == now.replace(second=0)
    assert asked < 200


def test_latest_fire_of_a_rare_job_looks_back_far_enough():
    trigger = CrontabTrigger(parse_crontab("0 0 1 1 *"), ZoneInfo(BERLIN))
    now = datetime(2026, 6, 10, tzinfo=timezone.utc)
    assert latest_fire(trigger, now - timedelta(days=800), now) == datetime(
        2025, 12, 31, 23, 0, tzinfo=timezone.utc)
    assert latest_fire(trigger, now - timedelta(days=100), now) is None


EXTENSIONS = [
    ("L: the last day of the month", "30 2 L * *", "2026-01-15 00:00",
     ["01-31 02:30+0100", "02-28 02:30+0100", "03-31 02:30+0200", "04-30 02:30+0200"]),
    ("LW: the last weekday (Mon-Fri) of the month", "0 9 LW * *", "2026-01-01 00:00",
     ["01-30 09:00+0100", "02-27 09:00+0100", "03-31 09:00+0200", "04-30 09:00+0200",
      "05-29 09:00+0200"]),
    ("5L: the last Friday", "0 9 * * 5L", "2026-01-01 00:00",
     ["01-30 09:00+0100", "02-27 09:00+0100", "03-27 09:00+0100"]),
    ("MON#2: the second Monday", "0 9 * * MON#2", "2026-01-01 00:00",
     ["01-12 09:00+0100", "02-09 09:00+0100", "03-09 09:00+0100"]),
    ("both day fields restricted: either matches", "0 9 L * 1#1", "2026-01-01 00:00",
     ["01-05 09:00+0100", "01-31 09:00+0100", "02-02 09:00+0100", "02-28 09:00+0100"]),
    ("a day field starting with *: both must match", "0 0 */2 * mon", "2026-06-01 12:00",
     ["06-15 00:00+0200", "06-29 00:00+0200", "07-13 00:00+0200"]),
]


@pytest.mark.parametrize(("case", "expression", "start", "expected"), EXTENSIONS,
                         ids=[row[0] for row in EXTENSIONS])
def test_extensions_fire_on_the_right_days(case, expression, start, expected):
    assert fires(expression, BERLIN, start, len(expected)) == expected
