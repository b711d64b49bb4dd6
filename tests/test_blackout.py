"""Run windows: active hours and days, blackouts; read from the config, applied by the lifecycle,
shown by status, `check`, `run` and the console. Time-of-day rules run on an injected clock;
the runs themselves are real processes."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import factories
from commandline import history, synctui, write_config
from pilot import drive, notifications, until
from synctui.config import ConfigError, load_config
from synctui.config import windows
from synctui.config.crontab import parse_crontab
from synctui.config.model import RunWindow
from synctui.scheduler.blackout import blocked, next_allowed, next_allowed_fire
from synctui.scheduler.control import Refused
from synctui.scheduler.events import RunFinished
from synctui.scheduler.lifecycle import RunLifecycle
from synctui.scheduler.records import Result, Trigger
from synctui.scheduler.sync_scheduler import SyncScheduler
from synctui.scheduler.triggers import CrontabTrigger
from synctui.tui.app import SyncTuiApp
from synctui.tui.questions import ConfirmScreen

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def window(hours=None, days=None, blackout=()) -> RunWindow:
    return RunWindow(
        windows.active_hours(hours) if hours else None,
        windows.active_days(days) if days else None,
        windows.blackout(list(blackout)),
    )


def at(text: str, zone=BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


# --- the rules ------------------------------------------------------------------------


def test_hours_across_midnight_belong_to_the_day_they_start_on():
    nights = window("22:00-06:00", "mon-fri")
    # 2026-12-04 is a Friday.
    assert blocked(nights, at("2026-12-04T23:30"), BERLIN) is None
    assert blocked(nights, at("2026-12-05T05:59"), BERLIN) is None  # Friday's night, Saturday
    assert blocked(nights, at("2026-12-05T06:00"), BERLIN) == "outside active_hours 22:00-06:00"
    assert blocked(nights, at("2026-12-07T01:00"), BERLIN) == "outside active_days mon-fri"
    assert next_allowed(nights, at("2026-12-05T06:00"), BERLIN) == at("2026-12-07T22:00")


def test_day_lists_and_ranges_wrap_and_combine():
    assert windows.active_days("sat,sun").days == {5, 6}
    assert windows.active_days("fri-mon").days == {4, 5, 6, 0}
    assert windows.active_days("Mon, wed-fri").days == {0, 2, 3, 4}
    weekend = window(days="sat,sun")
    assert blocked(weekend, at("2026-12-04T12:00"), BERLIN) == "outside active_days sat,sun"
    assert next_allowed(weekend, at("2026-12-04T12:00"), BERLIN) == at("2026-12-05T00:00")


def test_blackouts_of_a_day_a_span_of_days_and_a_span_of_date_times():
    spans = window(blackout=["2026-12-24", "2026-12-31/2027-01-01",
                             "2026-12-27T20:00/2026-12-28T06:00"])
    assert blocked(spans, at("2026-12-24T00:00"), BERLIN) == "blackout 2026-12-24"
    assert blocked(spans, at("2026-12-25T00:00"), BERLIN) is None
    assert blocked(spans, at("2027-01-01T23:59"), BERLIN) == "blackout 2026-12-31/2027-01-01"
    assert next_allowed(spans, at("2026-12-31T08:00"), BERLIN) == at("2027-01-02T00:00")
    assert blocked(spans, at("2026-12-27T19:59"), BERLIN) is None
    assert next_allowed(spans, at("2026-12-27T21:00"), BERLIN) == at("2026-12-28T06:00")


def test_on_a_spring_forward_day_a_skipped_start_begins_at_the_jump():
    early = window("02:30-04:00")
    # 2026-03-08: New York's clocks go from 02:00 EST to 03:00 EDT.
    start = next_allowed(early, at("2026-03-08T01:00", NEW_YORK), NEW_YORK)
    assert start == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT
    assert start.astimezone(NEW_YORK).strftime("%H:%M %Z") == "03:00 EDT"


def test_a_repeated_hour_counts_in_both_passes():
    late = window("01:00-02:00")
    # 2026-11-01: New York's 01:00-02:00 comes twice (EDT, then EST).
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)   # 01:30 EDT
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    assert blocked(late, first, NEW_YORK) is None and blocked(late, second, NEW_YORK) is None
    assert blocked(late, datetime(2026, 11, 1, 7, 0, tzinfo=UTC), NEW_YORK) is not None


def test_the_next_allowed_fire_jumps_a_long_blackout_instead_of_walking_it():
    week = window(blackout=["2026-12-01/2026-12-07"])
    trigger = CrontabTrigger(parse_crontab("* * * * *"), BERLIN)
    asked = []

    def fire_from(moment):
        asked.append(moment)
        return trigger.get_next_fire_time(None, moment)

    fire = next_allowed_fire(week, BERLIN, at("2026-12-01T00:00"), fire_from)
    assert fire == at("2026-12-08T00:00")
    assert len(asked) == 1


def test_a_schedule_that_only_fires_inside_blackouts_never_runs_on_its_own():
    daytime = window("06:00-22:00")
    trigger = CrontabTrigger(parse_crontab("0 3 * * *"), BERLIN)
    first = trigger.get_next_fire_time(None, at("2026-12-01T00:00"))
    assert next_allowed_fire(daytime, BERLIN, first,
                             lambda moment: trigger.get_next_fire_time(None, moment)) is None


# --- the config -----------------------------------------------------------------------


def test_a_jobs_own_keys_replace_the_schedulers(tmp_path, environ):
    path = tmp_path / "synctui.toml"
    path.write_text(
        '[scheduler]\nstate_dir = "state"\ntimezone = "UTC"\n'
        'active_hours = "06:00-22:00"\nactive_days = "mon-fri"\nblackout = ["2026-12-24"]\n'
        '[jobs.plain]\ncommand = "true"\n'
        '[jobs.own]\ncommand = "true"\nactive_hours = "22:00-06:00"\nblackout = []\n'
        '[jobs.toml_date]\ncommand = "true"\nblackout = [2026-12-31]\n'
    )
    jobs = load_config(path, environ=environ).jobs
    assert jobs["plain"].window.active_hours.text == "06:00-22:00"
    assert [span.text for span in jobs["plain"].window.blackout] == ["2026-12-24"]
    assert jobs["own"].window.active_hours.text == "22:00-06:00"
    assert jobs["own"].window.active_days.text == "mon-fri"
    assert jobs["own"].window.blackout == ()
    assert jobs["toml_date"].window.blackout[0].start == datetime(2026, 12, 31)


@pytest.mark.parametrize("key, value, message", [
    ("active_hours", '"6-22"', 'expected a span of the day like "06:00-22:00"'),
    ("active_hours", '"06:00-25:00"', "with times from 00:00 to 24:00"),
    ("active_hours", '"06:00-06:00"', "expected a start and an end that differ"),
    ("active_days", '"mon-fry"', 'expected weekdays like "mon-fri" or "sat,sun"'),
    ("blackout", '"2026-12-24"', "expected a list of dates or spans"),
    ("blackout", '["2026-12-26/2026-12-24"]', "expected a span that ends after it starts"),
    ("blackout", '["2026-12-24T20:00+01:00/2026-12-26"]', "no UTC offset"),
])
def test_a_bad_value_is_one_line_naming_the_file_and_key(tmp_path, environ, key, value, message):
    path = tmp_path / "synctui.toml"
    path.write_text(
        f'[scheduler]\nstate_dir = "state"\n[jobs.a]\ncommand = "true"\n{key} = {value}\n')
    with pytest.raises(ConfigError) as error:
        load_config(path, environ=environ)
    (problem,) = error.value.problems
    assert problem.startswith(f"{path}: jobs.a.{key}: ") and message in problem


@pytest.fixture
def environ(tmp_path):
    return {"HOME": str(tmp_path)}


# --- the lifecycle, with real processes -----------------------------------------------


class Clock:
    """A clock that runs at real speed from a chosen moment."""

    def __init__(self, start: datetime) -> None:
        self.start, self.began = start, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.began)


def _runs_ended() -> None:
    """Wait for every run's thread to end: it records the result, then applies retention,
    which must find the store still open."""
    for thread in threading.enumerate():
        if thread.name.startswith("run-orders"):
            thread.join(timeout=10)


def lifecycle(tmp_path, store, bus, clock, **job):
    job = {"command": "echo ran", "interval_s": 60, "manual_cooldown_s": 0, **job}
    config = factories.config(tmp_path, {"orders": job}, timezone="Europe/Berlin")
    return RunLifecycle(config, store, bus, zone=BERLIN, clock=clock)


@pytest.mark.timeout(20)
def test_a_fire_time_outside_is_skipped_with_the_reason_and_skips_collapse(tmp_path, store, bus):
    clock = Clock(at("2026-12-04T23:00"))
    runs = lifecycle(tmp_path, store, bus, clock,
                     window=window("06:00-22:00", blackout=["2026-12-24"]))
    slot = runs.slot("orders")
    events = bus.subscribe()
    for minute in range(3):
        assert runs.launch(slot, Trigger.SCHEDULED, at(f"2026-12-04T23:0{minute}")) is None
    (skip,) = store.runs("orders")
    assert skip.result is Result.SKIPPED and skip.skip_count == 3
    assert skip.reason == "outside active_hours 06:00-22:00"
    assert factories.next_event(events, lambda e: isinstance(e, RunFinished)).run.reason \
        == skip.reason

    clock.start = at("2026-12-05T07:00")  # inside: a real run
    handle = runs.launch(slot, Trigger.SCHEDULED, clock())
    assert handle.wait().result is Result.SUCCESS
    _runs_ended()
    clock.start = at("2026-12-24T12:00")
    runs.launch(slot, Trigger.SCHEDULED, clock())
    newest = store.runs("orders", limit=1)[0]
    assert (newest.result, newest.reason, newest.skip_count) \
        == (Result.SKIPPED, "blackout 2026-12-24", 1)


@pytest.mark.timeout(20)
def test_a_manual_run_outside_is_refused_unless_forced(tmp_path, store, bus):
    clock = Clock(at("2026-12-05T03:00"))
    runs = lifecycle(tmp_path, store, bus, clock, window=window("06:00-22:00"))
    with pytest.raises(Refused, match=r"orders may not start now: outside active_hours"
                                      r" 06:00-22:00 \(until 2026-12-05 06:00:00\); a forced"
                                      r" run starts anyway \(synctui run orders --force\)"):
        runs.run_now("orders")
    assert store.runs("orders") == []
    record = runs.run_now("orders", force=True)
    _runs_ended()
    assert store.run(record.id).result is Result.SUCCESS


@pytest.mark.timeout(20)
def test_a_retry_due_outside_waits_until_the_window_opens(tmp_path, store, bus):
    # The run fails 0.5s before a one-second blackout; its retry, due 0.3s into it, waits
    # for its end.
    clock = Clock(at("2026-12-04T21:59:59.500"))
    runs = lifecycle(tmp_path, store, bus, clock, command="exit 3", retries=1,
                     retry_backoff_s=0.8,
                     window=window(blackout=["2026-12-04T22:00/2026-12-04T22:00:01"]))
    slot = runs.slot("orders")
    events = bus.subscribe()
    first = runs.launch(slot, Trigger.SCHEDULED, clock()).wait()
    assert first.result is Result.FAILURE
    retry = factories.next_event(
        events, lambda e: isinstance(e, RunFinished) and e.run.trigger is Trigger.RETRY).run
    assert retry.started_at >= at("2026-12-04T22:00:01")
    assert retry.started_at - first.finished_at > timedelta(seconds=1)  # past its 0.8s backoff
    _runs_ended()


@pytest.mark.timeout(30)
def test_once_skips_a_job_in_a_blackout_and_exits_0(tmp_path, env):
    today = datetime.now(UTC).date()
    span = f"{today - timedelta(days=1)}/{today + timedelta(days=1)}"
    config = write_config(tmp_path, f"""
        [jobs.held]
        command = "echo ran"
        blackout = ["{span}"]
    """)
    done = synctui("--headless", "--once", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (record,) = history(config, env)
    assert record["result"] == "skipped" and record["reason"] == f"blackout {span}"


# --- the faces --------------------------------------------------------------------------


def _held_today(tmp_path):
    today = datetime.now(UTC).date()
    span = f"{today - timedelta(days=1)}/{today + timedelta(days=1)}"
    config = write_config(tmp_path, f"""
        [jobs.held]
        command = "echo ran"
        cron = "* * * * *"
        manual_cooldown_seconds = 0
        blackout = ["{span}"]
    """)
    return config, span, today + timedelta(days=2)


@pytest.mark.timeout(40)
def test_run_refuses_outside_the_window_and_force_runs_it(tmp_path, env):
    config, span, after = _held_today(tmp_path)
    refused = synctui("run", "held", "--config", str(config), env=env, cwd=tmp_path)
    assert refused.returncode == 1
    assert f"held may not start now: blackout {span} (until {after} 00:00:00)" in refused.stderr
    assert "--force" in refused.stderr and history(config, env) == []
    forced = synctui("run", "held", "--force", "--wait", "--config", str(config), env=env,
                     cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout == "ran\n"


@pytest.mark.timeout(40)
def test_status_shows_the_next_allowed_time_and_why_it_is_held(tmp_path, env, hosts):
    config, span, after = _held_today(tmp_path)
    host = hosts(config)
    host.wait_ready()
    done = synctui("status", "--json", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)["jobs"]["held"]
    assert job["next_run"] == f"{after}T00:00:00+00:00"
    assert job["blackout"] == f"blackout {span}"
    # Through the host's control socket, the same refusal, and the same --force.
    refused = synctui("run", "held", "--config", str(config), env=env, cwd=tmp_path)
    assert refused.returncode == 1 and f"blackout {span}" in refused.stderr
    forced = synctui("run", "held", "--force", "--wait", "--config", str(config), env=env,
                     cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "through" in forced.stderr and forced.stdout == "ran\n"


@pytest.mark.timeout(30)
def test_check_shows_the_window_and_marks_the_fire_times_it_skips(tmp_path, env):
    config = write_config(tmp_path, """
        [jobs.night]
        command = "true"
        cron = "0 3 * * *"
        active_hours = "06:00-22:00"
        [jobs.day]
        command = "true"
        cron = "0 12 * * *"
        active_days = "sat,sun"
    """, zone="Europe/Berlin")
    done = synctui("check", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    at_night = lines.index("night: cron 0 3 * * *")
    assert all(line.endswith("(skipped: outside active_hours 06:00-22:00)")
               for line in lines[at_night + 2:at_night + 7])
    assert "  starts on its own only 06:00-22:00 (Europe/Berlin)" in lines
    assert "  next allowed: none within a year: it never runs on its own" in lines
    at_day = lines.index("day: cron 0 12 * * *")
    allowed = next(line for line in lines[at_day:] if line.startswith("  next allowed: "))
    assert allowed.startswith(("  next allowed: Sat", "  next allowed: Sun"))


@pytest.mark.timeout(40)
def test_the_console_asks_before_running_a_held_job_and_runs_it_when_confirmed(tmp_path):
    today = datetime.now(UTC).date()
    span = f"{today - timedelta(days=1)}/{today + timedelta(days=1)}"
    config = factories.config(tmp_path, {"held": {
        "command": "echo ran", "interval_s": 3600, "manual_cooldown_s": 0,
        "window": window(blackout=[span]),
    }})
    scheduler = SyncScheduler(config, mode="console")
    app = SyncTuiApp(scheduler, config=config, config_name="test", zone=ZoneInfo("UTC"),
                     demo=False)
    app.animation_level = "none"
    scheduler.start()

    async def scenario(pilot):
        await until(pilot, lambda: app.selected is not None and app.selected.blackout)
        panel = app.query_one("#status-panel")
        await until(pilot, lambda: f"blackout {span} (r asks first)" in str(
            panel.query_one("#details").render()))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.query_one("#question").render())
        assert f"held may not start now: blackout {span}." in question
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert scheduler.history("held") == []
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: "held: run 1 started (forced)" in notifications(app))

    try:
        drive(app, scenario)
    finally:
        scheduler.shutdown(grace=5)
    (record,) = scheduler.history("held")
    assert record.trigger is Trigger.MANUAL and record.result is Result.SUCCESS


@pytest.mark.timeout(20)
def test_the_fallbacks_next_run_is_its_first_check_the_window_allows(tmp_path):
    from synctui.scheduler.fallback import FallbackControl

    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    config = factories.config(tmp_path, {
        "free": {"command": "true", "interval_s": 60},
        "held": {"command": "true", "interval_s": 60,
                 "window": window(blackout=["2026-12-04T12:00/2026-12-04T13:10"])},
    })
    fallback = FallbackControl(config, reason="test", clock=lambda: now)
    jobs = fallback.status().jobs  # its checks: 12:00, then every 30 minutes
    assert jobs["free"].next_run == datetime(2026, 12, 4, 12, 30, tzinfo=UTC)
    assert jobs["held"].next_run == datetime(2026, 12, 4, 13, 30, tzinfo=UTC)
    assert jobs["held"].blackout == "blackout 2026-12-04T12:00/2026-12-04T13:10"
    fallback.store.close()
