"""Jobs that run `after` others: config checks, the trigger, holds, `--once`, status and console."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import factories
import pytest
from commandline import history, runs_of, synctui, write_config
from factories import wait_until
from pilot import drive, until

from synctui.config import ConfigError, load_config
from synctui.scheduler.records import NOT_RUN, Result, Trigger
from synctui.scheduler.sync_scheduler import SyncScheduler


def _problems(tmp_path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_config(write_config(tmp_path, text))
    return raised.value.problems


def test_an_unknown_upstream_and_a_cycle_are_config_errors_naming_them(tmp_path):
    problems = _problems(tmp_path, """
        [jobs.a]
        command = "true"
        after = ["b"]

        [jobs.b]
        command = "true"
        after = ["c"]

        [jobs.c]
        command = "true"
        after = ["a", "warehouse"]
    """)
    assert any(p.endswith('jobs.c.after: no job named "warehouse" (jobs: a, b, c)')
               for p in problems), problems
    cycles = [p for p in problems if "cycle" in p]
    assert len(cycles) == 1 and "a → b → c → a (each waits on the next)" in cycles[0], problems


def test_a_job_waiting_on_itself_or_given_a_string_is_refused(tmp_path):
    problems = _problems(tmp_path, """
        [jobs.a]
        command = "true"
        after = ["a"]

        [jobs.b]
        command = "true"
        after = "a"
    """)
    assert any("jobs.a.after: expected no cycle, got a → a" in p for p in problems), problems
    assert any('jobs.b.after: expected a list of job names' in p for p in problems), problems


def test_check_answers_a_cycle_with_one_line_and_exit_2(tmp_path, env):
    config = write_config(tmp_path, """
        [jobs.a]
        command = "true"
        after = ["b"]

        [jobs.b]
        command = "true"
        after = ["a"]
    """)
    done = synctui("check", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "expected no cycle" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_job_with_only_after_has_no_fire_times_of_its_own(tmp_path):
    config = load_config(write_config(tmp_path, """
        [jobs.orders]
        command = "true"
        interval = "15m"

        [jobs.report]
        command = "true"
        after = ["orders"]

        [jobs.audit]
        command = "true"
        interval = "1h"
        after = ["orders"]
    """))
    assert config.jobs["report"].interval_s is None and not config.jobs["report"].scheduled
    host = SyncScheduler(config, serve=False)
    host.start()
    try:
        jobs = host.status().jobs
        assert jobs["report"].schedule == "after orders" and jobs["report"].next_run is None
        assert jobs["audit"].schedule == "every 1h, after orders"
        assert jobs["orders"].needed_by == ("report", "audit")
    finally:
        host.shutdown(grace=0)


def _scheduler(tmp_path, jobs: dict) -> SyncScheduler:
    jobs = {name: {"manual_cooldown_s": 0, **settings} for name, settings in jobs.items()}
    host = SyncScheduler(factories.config(tmp_path, jobs), serve=False, tick_s=0.1)
    host.start()
    return host


def _runs(host, name):
    return [run for run in host.history(name) if run.result not in NOT_RUN]


def test_a_success_starts_the_job_after_it_once_every_upstream_has_succeeded(tmp_path):
    host = _scheduler(tmp_path, {
        "orders": {"command": "true", "interval_s": 3600},
        "customers": {"command": "true", "interval_s": 3600},
        "report": {"command": "true", "after": ("orders", "customers")},
    })
    try:
        host.run_now("orders")
        assert wait_until(lambda: host.history("orders")[0].finished)
        assert host.status().jobs["report"].waits_on == ("customers (never ran)",)
        assert not host.history("report")

        host.run_now("customers")
        assert wait_until(lambda: [r.result for r in host.history("report")] == [Result.SUCCESS])
        report = host.history("report")[0]
        assert report.trigger is Trigger.AFTER
        assert report.started_at >= host.history("customers")[0].finished_at
        assert host.status().jobs["report"].waits_on == (
            "orders (no success since report started)",
            "customers (no success since report started)",
        )

        # One upstream's next success alone starts nothing: the other has not run since.
        host.run_now("orders")
        assert wait_until(lambda: host.history("orders")[0].finished)
        host.lifecycle.wait_settled(host.lifecycle.slot("report"))
        assert len(host.history("report")) == 1
    finally:
        host.shutdown(grace=0)


def test_a_failed_upstream_holds_the_jobs_own_fire_times_until_it_succeeds(tmp_path):
    flag = tmp_path / "fixed"
    host = _scheduler(tmp_path, {
        "orders": {"command": f"test -e {flag}", "interval_s": 3600},
        "report": {"command": "true", "interval_s": 0.2, "after": ("orders",)},
    })
    try:
        host.run_now("orders")
        assert wait_until(lambda: host.history("orders")[0].result is Result.FAILURE)
        # A held fire time waits in the queue; the next one stands for it (catch_up "last"),
        # and it is recorded missed, with the reason.
        assert wait_until(lambda: any(run.result is Result.MISSED for run in host.history("report")))
        held = next(run for run in host.history("report") if run.result is Result.MISSED)
        assert held.reason == "held by orders (last run failure)"
        status = host.status().jobs["report"]
        assert status.waits_on == ("orders (last run failure)",)
        assert [(run.trigger, run.why) for run in status.queued] == [
            (Trigger.SCHEDULED, "held by orders (last run failure)")]
        before = host.history("report")[0].id

        flag.touch()
        host.run_now("orders")
        # The upstream's success lets the queued fire time start, and the job's own fires run
        # again (the queued run starts after the upstream's success: no `after` run is due).
        def since_fixed():
            return [run for run in _runs(host, "report") if run.id > before and run.finished]
        assert wait_until(lambda: len(since_fixed()) >= 2)
        assert all(run.result is Result.SUCCESS and run.trigger is Trigger.SCHEDULED
                   for run in since_fixed())
    finally:
        host.shutdown(grace=0)


def test_a_host_starting_runs_a_job_whose_upstream_succeeded_while_none_ran(tmp_path, env):
    config = write_config(tmp_path, """
        [jobs.orders]
        command = "true"
        interval = "1h"

        [jobs.report]
        command = "true"
        after = ["orders"]
    """)
    done = synctui("run", "orders", "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert runs_of(config, env, "report") == []  # a one-shot leaves it to the next host

    host = SyncScheduler(load_config(config), serve=False)
    host.start()
    try:
        assert wait_until(lambda: [r.trigger for r in host.history("report")] == [Trigger.AFTER])
    finally:
        host.shutdown(grace=0)


def test_once_runs_jobs_after_their_upstreams_and_holds_those_of_a_failed_one(tmp_path, env):
    marks = tmp_path / "marks"
    config = write_config(tmp_path, f"""
        [jobs.report]
        command = "echo report >> {marks}"
        after = ["orders"]

        [jobs.orders]
        command = "sleep 0.3; echo orders >> {marks}; exit $FAIL"
        interval = "1h"
    """)
    done = synctui("--headless", "--once", "--config", str(config), env={**env, "FAIL": "0"}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert marks.read_text().split() == ["orders", "report"]

    done = synctui("--headless", "--once", "--config", str(config), env={**env, "FAIL": "3"}, cwd=tmp_path)
    assert done.returncode == 1
    assert marks.read_text().split() == ["orders", "report", "orders"]
    held = history(config, env, "--job", "report")[0]
    assert (held["result"], held["reason"]) == ("skipped", "held by orders (last run failure)")
    status = json.loads(synctui("status", "--json", "--config", str(config), env=env,
                                cwd=tmp_path).stdout)
    report = status["jobs"]["report"]
    assert report["waits_on"] == ["orders (last run failure)"]
    assert report["after"] == ["orders"] and status["jobs"]["orders"]["needed_by"] == ["report"]


def test_the_console_shows_what_the_selected_job_waits_on_and_what_waits_on_it(tmp_path):
    from synctui.tui.app import SyncTuiApp

    host = _scheduler(tmp_path, {
        "orders": {"command": "exit 1", "interval_s": 3600},
        "report": {"command": "true", "after": ("orders",)},
    })
    host.run_now("orders")
    assert wait_until(lambda: host.history("orders")[0].finished)
    app = SyncTuiApp(host, config=host.config, config_name="test", zone=ZoneInfo("UTC"),
                     demo=False)

    def details() -> str:
        return str(app.screen.query_one("#details").render())

    async def scenario(pilot):
        await until(pilot, lambda: "Needed by  report" in details())
        await pilot.press("down")
        await until(pilot, lambda: "Waits on   orders (last run failure)" in details())
        assert "runs after orders" in details()

    try:
        drive(app, scenario)
    finally:
        host.shutdown(grace=0)
