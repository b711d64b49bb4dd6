"""The queue of runs that cannot start when due: concurrency groups and `max_running`,
`start_deadline`, `catch_up`, and the `missed` records of fire times that never run. Real
processes at sub-second scale."""

from __future__ import annotations

import json
import re
import textwrap
import threading
from datetime import datetime, timedelta, timezone

import pytest

import factories
from commandline import synctui
from factories import finished, wait_until
from synctui.config import ConfigError, load_config
from synctui.config.crontab import parse_crontab
from synctui.scheduler.control import Refused
from synctui.scheduler.events import EventBus
from synctui.scheduler.lifecycle import RunLifecycle
from synctui.scheduler.records import NOT_RUN, Result, Trigger
from synctui.scheduler.store import Store
from synctui.scheduler.sync_scheduler import SyncScheduler

FULL = "group warehouse full (1 of 1 running)"


@pytest.fixture
def hosts(tmp_path):
    made = []

    def build(jobs, **settings) -> SyncScheduler:
        jobs = {name: {"manual_cooldown_s": 0, **job} for name, job in jobs.items()}
        host = SyncScheduler(factories.config(tmp_path, jobs, **settings), serve=False,
                             tick_s=0.1)
        made.append(host)
        host.start()
        return host

    yield build
    for host in made:
        host.shutdown(grace=0)
        host.store.close()


@pytest.fixture
def lifecycle(tmp_path):
    made = []

    def build(jobs, **settings) -> RunLifecycle:
        config = factories.config(tmp_path, {name: {"manual_cooldown_s": 0, **job}
                                             for name, job in jobs.items()}, **settings)
        made.append(RunLifecycle(config, Store(tmp_path / "state"), EventBus(),
                                 zone=timezone.utc))
        return made[-1]

    yield build
    for built in made:
        built.close()
        built.end_runs(0)
    for thread in threading.enumerate():  # each run's thread ends with its retention
        if thread.name.startswith("run-"):
            thread.join(10)
    for built in made:
        built.store.close()


def _ran(host, name):
    return [run for run in host.history(name) if run.result not in NOT_RUN]


def _missed(host, name):
    return [run for run in host.history(name) if run.result is Result.MISSED]


@pytest.mark.parametrize("limit", [
    {"groups": {"warehouse": 1}, "group": "warehouse"},
    {"max_running": 1},
], ids=["group", "max_running"])
def test_a_limit_of_one_never_lets_two_runs_overlap(hosts, limit):
    group = {"group": limit["group"]} if "group" in limit else {}
    settings = {key: value for key, value in limit.items() if key != "group"}
    host = hosts({
        name: {"command": "sleep 0.25", "interval_s": 0.2, **group}
        for name in ("orders", "customers")
    }, **settings)
    assert wait_until(lambda: all(len(_ran(host, name)) >= 3 for name in ("orders", "customers")))
    why = FULL if group else "max_running reached (1 of 1 running)"
    assert wait_until(lambda: any(run.why == why for job in host.status().jobs.values()
                                  for run in job.queued))
    runs = sorted((run for name in ("orders", "customers") for run in _ran(host, name)
                   if run.finished), key=lambda run: run.started_at)
    for before, after in zip(runs, runs[1:]):
        assert after.started_at >= before.finished_at, (before, after)


def test_a_manual_run_is_refused_while_its_group_is_full(lifecycle):
    runs = lifecycle({
        "orders": {"command": "sleep 5", "group": "warehouse"},
        "customers": {"command": "true", "group": "warehouse"},
    }, groups={"warehouse": 1})
    runs.run_now("orders")
    with pytest.raises(Refused, match=re.escape(f"customers may not start now: {FULL}; try")):
        runs.run_now("customers")


def test_queued_runs_start_in_fire_time_order_then_config_order(lifecycle, tmp_path):
    gate = tmp_path / "gate"
    group = {"group": "warehouse"}
    runs = lifecycle({
        "zeta": {"command": "true", **group},
        "alpha": {"command": "true", **group},
        "mid": {"command": "true", **group},
        "hold": {"command": f"while [ ! -e {gate} ]; do sleep 0.02; done", **group},
    }, groups={"warehouse": 1})
    runs.run_now("hold")
    now = datetime.now(timezone.utc)
    for name, offset in (("mid", 2), ("alpha", 1), ("zeta", 1)):
        assert runs.launch(runs.slot(name), Trigger.SCHEDULED, now + timedelta(seconds=offset)) is None
    assert [(name, [run.why for run in queued]) for name, queued in runs.queued().items()] == [
        ("zeta", [FULL]), ("alpha", [FULL]), ("mid", [FULL])]
    gate.touch()
    for name in ("zeta", "alpha", "mid"):
        runs.wait_settled(runs.slot(name))
    started = sorted((runs.store.runs(name)[0] for name in ("zeta", "alpha", "mid")),
                     key=lambda run: run.id)
    assert [run.job for run in started] == ["zeta", "alpha", "mid"]
    assert all(run.result is Result.SUCCESS for run in started)


def test_fire_times_due_together_start_in_config_order_not_by_name(hosts):
    names = ["zeta", "alpha", "mid", "beta", "omega", "delta"]
    host = hosts({name: {"command": "true", "interval_s": 0.5} for name in names})
    events = host.subscribe()
    first = {}
    while len(first) < len(names):
        run = finished(events)
        first.setdefault(run.job, run)
    assert len({run.scheduled_at for run in first.values()}) == 1  # one burst, all due at once
    started = sorted(first.values(), key=lambda run: run.id)
    assert [run.job for run in started] == names


def test_a_queued_run_past_its_start_deadline_is_missed_and_never_runs(lifecycle):
    runs = lifecycle({
        "orders": {"command": "sleep 5", "group": "warehouse"},
        "report": {"command": "true", "group": "warehouse", "start_deadline_s": 0.3},
    }, groups={"warehouse": 1})
    runs.run_now("orders")
    runs.launch(runs.slot("report"), Trigger.SCHEDULED, datetime.now(timezone.utc))
    assert wait_until(lambda: runs.store.runs("report"), timeout=3)
    [missed] = runs.store.runs("report")
    assert (missed.result, missed.skip_count) == (Result.MISSED, 1)
    assert missed.reason == f"past its start_deadline ({FULL})"
    assert runs.queued() == {}


def test_catch_up_none_misses_a_fire_time_that_would_have_to_wait(lifecycle):
    runs = lifecycle({
        "orders": {"command": "sleep 5", "group": "warehouse"},
        "report": {"command": "true", "group": "warehouse", "catch_up": "none"},
    }, groups={"warehouse": 1})
    runs.run_now("orders")
    runs.launch(runs.slot("report"), Trigger.SCHEDULED, datetime.now(timezone.utc))
    [missed] = runs.store.runs("report")
    assert (missed.result, missed.reason) == (Result.MISSED, FULL)


def test_a_later_fire_time_stands_for_the_one_waiting_which_is_missed(lifecycle):
    runs = lifecycle({
        "orders": {"command": "sleep 5", "group": "warehouse"},
        "report": {"command": "true", "group": "warehouse"},
    }, groups={"warehouse": 1})
    runs.run_now("orders")
    now = datetime.now(timezone.utc)
    for offset in (0, 1, 2):
        runs.launch(runs.slot("report"), Trigger.SCHEDULED, now + timedelta(seconds=offset))
    [missed] = runs.store.runs("report")
    assert (missed.skip_count, missed.scheduled_at, missed.last_scheduled_at, missed.reason) == (
        2, now, now + timedelta(seconds=1), FULL)
    [(name, [queued])] = runs.queued().items()
    assert (name, queued.scheduled_at) == ("report", now + timedelta(seconds=2))


def _ran_long_ago(tmp_path, name: str, ago: timedelta) -> datetime:
    state = Store(tmp_path / "state")
    at = datetime.now(timezone.utc) - ago
    run = state.begin_run(name, Trigger.SCHEDULED, at, at)
    state.finish_run(run.id, Result.SUCCESS, at, 0.1)
    state.close()
    return at


def test_catch_up_all_runs_each_passed_fire_time_in_turn(hosts, tmp_path):
    marks = tmp_path / "marks"
    since = _ran_long_ago(tmp_path, "sync", timedelta(seconds=10))
    host = hosts({"sync": {
        "command": f'echo "$SYNCTUI_SCHEDULED_AT" >> {marks}; sleep 0.1', "interval_s": 3,
        "catch_up": "all", "start_deadline_s": 60, "overlap": "skip",
    }})
    events = host.subscribe()
    caught = [finished(events, "sync") for _ in range(3)]
    assert [run.trigger for run in caught] == [Trigger.CATCH_UP] * 3
    assert [run.scheduled_at for run in caught] == [since + timedelta(seconds=s) for s in (3, 6, 9)]
    assert all(b.started_at >= a.finished_at for a, b in zip(caught, caught[1:]))
    told = marks.read_text().split()
    assert [datetime.fromisoformat(text) for text in told[:3]] == [run.scheduled_at for run in caught]
    assert _missed(host, "sync") == []


def test_catch_up_last_without_a_deadline_runs_the_latest_and_misses_the_rest(hosts, tmp_path):
    since = _ran_long_ago(tmp_path, "sync", timedelta(seconds=10))
    host = hosts({"sync": {"command": "true", "interval_s": 3}})
    events = host.subscribe()
    caught = finished(events, "sync")
    assert (caught.trigger, caught.scheduled_at) == (Trigger.CATCH_UP, since + timedelta(seconds=9))
    [missed] = _missed(host, "sync")
    assert (missed.skip_count, missed.scheduled_at, missed.last_scheduled_at) == (
        2, since + timedelta(seconds=3), since + timedelta(seconds=6))


def test_catch_up_none_records_every_passed_fire_time_missed_and_runs_none(hosts, tmp_path):
    since = _ran_long_ago(tmp_path, "sync", timedelta(seconds=10))
    host = hosts({"sync": {"command": "true", "interval_s": 3, "catch_up": "none"}})
    [missed] = _missed(host, "sync")
    assert (missed.skip_count, missed.scheduled_at, missed.last_scheduled_at) == (
        3, since + timedelta(seconds=3), since + timedelta(seconds=9))
    assert missed.reason == "no host ran it (synctui was not running)"
    assert [run.trigger for run in _ran(host, "sync")] == [Trigger.SCHEDULED]  # the old one


def test_a_start_deadline_shorter_than_the_downtime_runs_nothing(hosts, tmp_path):
    _ran_long_ago(tmp_path, "sync", timedelta(seconds=10))
    host = hosts({"sync": {"command": "true", "interval_s": 3, "start_deadline_s": 0.5}})
    [missed] = _missed(host, "sync")
    assert missed.skip_count == 3
    assert len(_ran(host, "sync")) == 1


def test_a_month_of_missed_fire_times_is_decided_without_walking_them(hosts, tmp_path):
    _ran_long_ago(tmp_path, "often", timedelta(days=30))
    _ran_long_ago(tmp_path, "minutely", timedelta(days=30))
    host = hosts({
        "often": {"command": "true", "interval_s": 1, "catch_up": "none"},
        "minutely": {"command": "true", "cron": parse_crontab("* * * * *"), "catch_up": "none"},
    })
    [often] = _missed(host, "often")
    span = (often.last_scheduled_at - often.scheduled_at).total_seconds()
    assert often.skip_count == round(span) + 1 > 30 * 86400 - 5  # exact: interval arithmetic
    [minutely] = _missed(host, "minutely")
    assert "at least 1000 fire times" in minutely.reason  # a cron is counted so far, no further
    assert minutely.last_scheduled_at - minutely.scheduled_at > timedelta(days=29)


def test_missed_and_queued_fire_times_leave_health_to_the_last_success(hosts):
    host = hosts({
        "sync": {"command": "true", "interval_s": 0.2, "grace_s": 0.3, "group": "warehouse"},
        "backup": {"command": "sleep 5", "group": "warehouse"},
    }, groups={"warehouse": 1})
    assert wait_until(lambda: any(run.result is Result.SUCCESS for run in _ran(host, "sync")))
    assert wait_until(lambda: _started(host, "backup"))
    assert wait_until(lambda: len(_missed(host, "sync")) and _missed(host, "sync")[0].skip_count >= 3)
    status = host.status().jobs["sync"]
    assert status.health == "up" and status.last_result is Result.SUCCESS
    assert [run.why for run in status.queued] == [FULL]


def test_groups_and_the_queue_in_the_config_and_in_status(tmp_path, env):
    config = tmp_path / "synctui.toml"
    config.write_text(textwrap.dedent(f"""
        [scheduler]
        state_dir = "{tmp_path / 'state'}"
        catch_up = "all"
        start_deadline = "10m"
        max_running = 4

        [groups.warehouse]
        max_running = 2

        [jobs.orders]
        command = "true"
        group = "warehouse"
        catch_up = false

        [jobs.report]
        command = "true"
    """))
    loaded = load_config(config, environ=env)
    assert loaded.groups["warehouse"].max_running == 2
    assert loaded.scheduler.max_running == 4
    orders, report = loaded.jobs["orders"], loaded.jobs["report"]
    assert (orders.group, orders.catch_up, orders.start_deadline_s) == ("warehouse", "none", 600)
    assert (report.group, report.catch_up) == (None, "all")
    done = synctui("status", "--json", "--config", str(config), env=env, cwd=tmp_path)
    assert json.loads(done.stdout)["jobs"]["orders"]["queued"] == []
    checked = synctui("check", "--config", str(config), env=env, cwd=tmp_path).stdout
    assert " · at most 4 running at once · " in checked.splitlines()[0]
    assert "  group warehouse (2 at once) · catch_up none · start_deadline 10m" in checked
    assert "  catch_up all · start_deadline 10m" in checked


@pytest.mark.parametrize("text, problem", [
    ('[jobs.a]\ncommand = "true"\ngroup = "warehouse"\n',
     'jobs.a.group: no group named "warehouse" (groups: none); add a [groups.warehouse] table'
     ' with its max_running'),
    ('[groups.warehouse]\nmax_running = 0\n[jobs.a]\ncommand = "true"\n',
     "groups.warehouse.max_running: expected a whole number from 1 to 1000000, got 0"),
    ('[jobs.a]\ncommand = "true"\ncatch_up = "some"\n',
     'jobs.a.catch_up: expected "last", "all" or "none" (true and false mean "last" and "none"),'
     ' got "some"'),
    ('[scheduler]\nstart_deadline = 30\n[jobs.a]\ncommand = "true"\n',
     'scheduler.start_deadline: expected a duration like "15m" or "1h30m", got 30'),
])
def test_a_bad_group_or_queue_key_is_one_line_naming_it(tmp_path, env, text, problem):
    path = tmp_path / "synctui.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ=env)
    assert error.value.problems == (f"{path}: {problem}",)


def test_the_console_and_status_show_queued_runs_and_why_they_wait(hosts, tmp_path):
    from zoneinfo import ZoneInfo

    from pilot import drive, until
    from synctui.commands.status import table
    from synctui.tui.app import SyncTuiApp

    host = hosts({
        "backup": {"command": "sleep 5", "group": "warehouse"},
        "orders": {"command": "true", "interval_s": 0.2, "group": "warehouse"},
    }, groups={"warehouse": 1})
    assert wait_until(lambda: _ran(host, "orders"))
    assert wait_until(lambda: _started(host, "backup"))
    assert wait_until(lambda: host.status().jobs["orders"].queued)
    assert "orders queued: 1 run (first due " in table(host.status(), host.config)
    assert table(host.status(), host.config).endswith(FULL)
    app = SyncTuiApp(host, config=host.config, config_name="test", zone=ZoneInfo("UTC"),
                     demo=False)

    def details() -> str:
        return str(app.screen.query_one("#details").render())

    async def scenario(pilot):
        await pilot.press("down")
        await until(pilot, lambda: "Queued     1 run (first due" in details())
        assert FULL in details()
        assert "queued" in str(app.screen.query_one("#jobs").get_row("orders"))

    drive(app, scenario)


def _started(host, name) -> bool:
    try:
        host.run_now(name)
    except Refused:  # the group is full: try again
        return False
    return True


def test_apscheduler_hands_a_host_that_fell_behind_the_first_and_latest_fire_times_only():
    from apscheduler.triggers.interval import IntervalTrigger

    from synctui.scheduler.triggers import Leaping

    now = datetime.now(timezone.utc)
    day_ago = now - timedelta(days=1)
    leaping = Leaping(IntervalTrigger(seconds=1, start_date=day_ago, timezone=timezone.utc))
    latest = leaping.get_next_fire_time(day_ago, now)  # not day_ago + 1s, nor 86,399 more
    assert now - timedelta(seconds=1) < latest <= now
    assert leaping.get_next_fire_time(latest, now) > now


def test_the_fire_times_a_late_fire_passed_over_are_one_missed_record(hosts):
    from synctui.scheduler.sync_scheduler import BEHIND_REASON

    host = hosts({"sync": {"command": "true", "interval_s": 3600}})
    events = host.subscribe()
    now = datetime.now(timezone.utc)
    host._on_fire("sync", (now - timedelta(hours=5), now))  # what `Leaping` makes APScheduler pass
    ran = finished(events, "sync")
    assert (ran.trigger, ran.scheduled_at) == (Trigger.SCHEDULED, now)
    [missed] = _missed(host, "sync")
    assert (missed.skip_count, missed.scheduled_at, missed.last_scheduled_at, missed.reason) == (
        5, now - timedelta(hours=5), now - timedelta(hours=1), BEHIND_REASON)
