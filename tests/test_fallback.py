"""The auto-refresh fallback: a console with no scheduler re-reads the store and runs due jobs.

Real stores, real processes (`synctui --headless --once` as the other process), and
the console driven with Pilot over `FallbackControl`.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import pytest

import factories
from pilot import cell, until
from commandline import synctui, write_config
from synctui.commands.console import console
from synctui.commands.reaching import read_config
from synctui.config.model import AutorefreshSettings
from synctui.scheduler.control import Refused
from synctui.scheduler.events import StateChanged
from synctui.scheduler.fallback import FallbackControl
from synctui.scheduler.records import Result, Trigger
from synctui.scheduler.sync_scheduler import SyncScheduler
from synctui.tui.app import SyncTuiApp
from synctui.tui.widgets.jobs_table import JobsTable

QUICK = {"command": "echo hello from $SYNCTUI_TRIGGER", "interval_s": 0.3,
         "manual_cooldown_s": 0}


def fallback_config(tmp_path, jobs: dict, *, enabled: bool, interval_s: float = 0.1):
    config = factories.config(tmp_path, jobs)
    return type(config)(config.scheduler, AutorefreshSettings(enabled, interval_s),
                        config.control, config.jobs)


@pytest.fixture
def fallbacks():
    made: list[FallbackControl] = []

    def make(config, **settings) -> FallbackControl:
        fallback = FallbackControl(config, reason="the store is locked", refresh_s=0.1,
                                   **settings)
        made.append(fallback)
        return fallback

    yield make
    for fallback in made:
        fallback.shutdown(grace=0)


def test_runs_made_by_another_process_appear_in_the_console(tmp_path, env, fallbacks):
    path = write_config(tmp_path, """
        [autorefresh]
        enabled = false

        [jobs.orders]
        command = "echo synced by cron"
        interval = "1h"
    """)
    config = read_config(argparse.Namespace(config=str(path), secrets=None))
    fallback = fallbacks(config)
    app = SyncTuiApp(fallback, config=config, config_name="cron", zone=ZoneInfo("UTC"),
                     demo=False)
    fallback.begin()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.selected is not None)
            assert cell(app, "orders", "result") == "-"
            done = await asyncio.to_thread(
                synctui, "--headless", "--once", "--config", str(path), env=env, cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            await until(pilot, lambda: cell(app, "orders", "result") == "✓ success")
            assert app.query_one("#status-panel").query_one("#details").render().plain.count(
                "once") == 1  # its trigger
            await until(pilot, lambda: "synced by cron" in app.query_one("#log-tail").lines)

    asyncio.run(scenario())
    assert [run.trigger for run in fallback.history("orders")] == [Trigger.ONCE]


def test_the_fallback_publishes_when_the_store_changes(tmp_path, env, fallbacks):
    path = write_config(tmp_path, '[jobs.orders]\ncommand = "true"\ninterval = "1h"\n')
    config = read_config(argparse.Namespace(config=str(path), secrets=None))
    fallback = fallbacks(config)
    events = fallback.subscribe()
    fallback.begin()
    done = synctui("--headless", "--once", "--config", str(path), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    factories.next_event(events, lambda e: e == StateChanged(None, "refreshed"))
    assert fallback.status().jobs["orders"].last_result is Result.SUCCESS


def test_when_no_scheduler_can_start_the_console_runs_due_jobs_with_trigger_fallback(
    tmp_path, env, monkeypatch
):
    path = write_config(tmp_path, """
        [autorefresh]
        enabled = true
        interval = "200ms"

        [jobs.orders]
        command = "echo hello from $SYNCTUI_TRIGGER"
        interval = "500ms"
    """)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))

    def cannot_start(self) -> None:
        raise RuntimeError("APScheduler would not start")

    seen: dict = {}

    def drive(app: SyncTuiApp) -> None:
        async def scenario() -> None:
            async with app.run_test(size=(100, 30)) as pilot:
                await until(pilot, lambda: cell(app, "orders", "result") == "✓ success")
                seen["badge"] = str(app.query_one("#badge").render())
                seen["note"] = str(app.query_one("#note").render())
                seen["trigger"] = app.selected.last_trigger
                await pilot.press("q")
                await until(pilot, lambda: app.return_code is not None)

        asyncio.run(scenario())

    monkeypatch.setattr(SyncScheduler, "start", cannot_start)
    monkeypatch.setattr(SyncTuiApp, "run", drive)
    args = argparse.Namespace(config=str(path), secrets=None, demo=False)
    assert console(args) == 0
    assert seen["badge"] == "↻ fallback"
    assert "no scheduler: RuntimeError: APScheduler would not start" in seen["note"]
    assert seen["trigger"] == "fallback"
    runs = synctui("history", "--json", "--config", str(path), env=env, cwd=tmp_path)
    assert '"trigger": "fallback"' in runs.stdout


def test_a_paused_job_and_a_stopped_fallback_run_nothing(tmp_path, fallbacks):
    config = fallback_config(tmp_path, {"paused": QUICK, "quick": QUICK}, enabled=True)
    fallback = fallbacks(config)
    events = fallback.subscribe()
    fallback.pause("paused")
    fallback.begin()
    assert factories.finished(events, "quick").trigger is Trigger.FALLBACK
    fallback.stop()
    with pytest.raises(Refused, match="already stopped"):
        fallback.stop()
    factories.discard(events)
    stopped_at = len(fallback.history("quick"))
    # Nothing announces that nothing runs: give it several of its checks (0.1 s each).
    time.sleep(1.0)
    assert len(fallback.history("quick")) == stopped_at
    assert fallback.history("paused") == []
    assert not fallback.status().running
    fallback.start()  # the operator's start: what is due runs at once
    assert factories.finished(events, "quick").trigger is Trigger.FALLBACK
    assert fallback.history("paused") == []


def test_with_autorefresh_off_it_only_watches(tmp_path, fallbacks):
    config = fallback_config(tmp_path, {"quick": QUICK}, enabled=False)
    fallback = fallbacks(config)
    fallback.begin()
    with pytest.raises(Refused, match=r"\[autorefresh\] enabled = false"):
        fallback.start()
    time.sleep(0.8)  # several checks' worth: still nothing
    assert fallback.history("quick") == []
    assert fallback.status().jobs["quick"].next_run is None


def test_actions_in_fallback(tmp_path, fallbacks):
    long = {"command": "sleep 30", "interval_s": 3600, "manual_cooldown_s": 60}
    config = fallback_config(tmp_path, {"long": long}, enabled=False)
    fallback = fallbacks(config)
    events = fallback.subscribe()
    fallback.begin()
    run = fallback.run_now("long")
    assert run.trigger is Trigger.MANUAL and fallback.status().jobs["long"].running
    with pytest.raises(Refused, match="already running"):
        fallback.run_now("long")
    with pytest.raises(Refused, match="no next fire time to skip"):
        fallback.skip_next("long")
    fallback.cancel("long")
    assert factories.finished(events, "long").result is Result.CANCELLED
    with pytest.raises(Refused, match="manual runs wait 60s"):
        fallback.run_now("long")
    with pytest.raises(Refused, match="not running"):
        fallback.cancel("long")
    with pytest.raises(Refused, match="no job named"):
        fallback.pause("nope")
    with pytest.raises(Refused, match="no config file"):
        fallback.reload()


def test_a_live_host_is_left_to_run_the_jobs(tmp_path, hosts, fallbacks):
    path = write_config(tmp_path, """
        [autorefresh]
        enabled = true
        interval = "100ms"

        [jobs.orders]
        command = "true"
        interval = "300ms"
    """)
    hosts(path).wait_ready()
    config = read_config(argparse.Namespace(config=str(path), secrets=None))
    fallback = fallbacks(config)
    assert factories.wait_until(lambda: fallback.status().host is not None)
    fallback.begin()
    time.sleep(1.0)  # ten checks, each finding a host alive
    runs = fallback.history("orders")
    assert runs and all(run.trigger is Trigger.SCHEDULED for run in runs)


def test_the_fallback_loads_neither_textual_nor_rich():
    probe = ("import sys, synctui.scheduler.fallback; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'rich'}))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert loaded.stdout.strip() == "[]"


def test_ctrl_r_reloads_the_config_and_refuses_an_invalid_one(tmp_path, fallbacks):
    path = write_config(tmp_path, '[jobs.orders]\ncommand = "true"\ninterval = "1h"\n')

    def read():
        return read_config(argparse.Namespace(config=str(path), secrets=None))

    fallback = fallbacks(read(), reload_config=read)
    app = SyncTuiApp(fallback, config=fallback.config, config_name="shop",
                     zone=ZoneInfo("UTC"), demo=False)
    fallback.begin()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await until(pilot, lambda: app.selected is not None)
            with path.open("a") as config:
                config.write('\n[jobs.report]\ncommand = "true"\ninterval = "2h"\n')
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "config reloaded: 2 jobs" in notifications(app))
            await until(pilot, lambda: app.query_one(JobsTable).row_count == 2)
            with path.open("a") as config:
                config.write('\n[jobs.broken]\ninterval = "2h"\n')
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "still using the previous one" in notifications(app))
            assert app.query_one(JobsTable).row_count == 2

    asyncio.run(scenario())


def notifications(app: SyncTuiApp) -> str:
    return "\n".join(toast.render().plain for toast in app.screen.query("Toast"))
