"""Snapshots of the console's other screens and looks, at a fixed size and clock: a job's
history, a run's output (start, end, a search hit), help, the palette, the fallback badge,
a light theme and `NO_COLOR`.

The canned scheduler of test_tui_snapshots.py answers, except for the fallback, where a
`FallbackControl` over a store filled at fixed times does (it is never begun, so it
runs nothing).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from textual.widgets import Input

import factories
from synctui.config.model import AutorefreshSettings
from synctui.scheduler.fallback import FallbackControl
from synctui.scheduler.records import Result, RunRecord, Trigger
from synctui.scheduler.status import SchedulerStatus
from synctui.scheduler.store import Store
from synctui.tui.app import SyncTuiApp
from synctui.tui.screens.help import Places
from test_tui_snapshots import (  # noqa: F401 - make_app is a fixture
    NOW, SYNC_OUTPUT, ZONE, CannedControl, ago, failure_scenario, make_app, settled, succeeded,
)

SIZE = (100, 30)
PLACES = Places(Path("/etc/synctui/config.toml"), Path("/var/lib/synctui"),
                Path("/var/lib/synctui/console.log"))
OUTPUT = [f"batch {n}/400: upserted {20 + n % 7} rows" for n in range(1, 401)]
OUTPUT[249] = "batch 250/400: upstream answered 429 Too Many Requests, retrying in 2s"


def history_runs() -> dict[int, tuple[RunRecord, list[str]]]:
    """Eight runs of `orders`, one of each kind, every 15 minutes back from now."""
    kinds = [
        (Result.SUCCESS, Trigger.SCHEDULED, 0, None, None, 0),
        (Result.SKIPPED, Trigger.SCHEDULED, None, None, None, 3),
        (Result.FAILURE, Trigger.RETRY, 1, None, "exit status 1: upstream 503", 0),
        (Result.TIMEOUT, Trigger.SCHEDULED, None, "SIGKILL", "timed out after 30s", 0),
        (Result.CANCELLED, Trigger.MANUAL, None, "SIGTERM", "cancelled by the operator", 0),
        (Result.INTERRUPTED, Trigger.CATCH_UP, None, None, "the scheduler stopped under it", 0),
        (Result.SUCCESS, Trigger.FALLBACK, 0, None, None, 0),
        (Result.REPLACED, Trigger.SCHEDULED, None, "SIGTERM", "replaced by run 50", 0),
    ]
    runs = {}
    for n, (result, trigger, code, signal, error, skips) in enumerate(kinds):
        run_id = 50 - n
        started = ago(200 + 900 * n)
        record = RunRecord(
            id=run_id, job="orders", trigger=trigger, result=result,
            scheduled_at=started - timedelta(seconds=0.2), started_at=started,
            finished_at=started + timedelta(seconds=2.3), duration_s=2.3, exit_code=code,
            signal=signal, error=error, skip_count=skips,
        )
        runs[run_id] = (record, SYNC_OUTPUT if run_id != 50 else OUTPUT)
    return runs


@pytest.fixture
def canned(tmp_path):
    """A factory: the console over canned answers, with places for help."""

    def make(runs: dict[int, tuple[RunRecord, list[str]]], *, demo: bool = False) -> SyncTuiApp:
        records = []
        for record, output in runs.values():
            log_path = tmp_path / f"{record.id}.log"
            log_path.write_text("".join(f"{line}\n" for line in output))
            records.append(RunRecord(**{**record.__dict__, "log_path": log_path}))
        orders = succeeded("orders", 50)
        report = succeeded("report", 40, schedule="cron 0 * * * *", last_run=ago(300),
                           next_run=NOW + timedelta(seconds=3300), freshness_s=300.0)
        status = SchedulerStatus(
            running=True, paused=False, timezone=ZONE, interval_minutes=15.0, last_run=None,
            last_result=None, next_run=None, host=None, jobs={"orders": orders, "report": report},
        )
        places = Places(None, PLACES.state_dir, PLACES.console_log) if demo else PLACES
        app = SyncTuiApp(CannedControl(status, records), config=None,
                         config_name="demo" if demo else "shop",
                         zone=ZoneInfo(ZONE), demo=demo, clock=lambda: NOW, places=places)
        app.animation_level = "none"
        return app

    return make


async def into_history(pilot) -> None:
    await settled(pilot)
    await pilot.press("enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def into_output(pilot, *keys: str) -> None:
    await into_history(pilot)
    await pilot.press("enter")
    await pilot.pause()
    await pilot.press(*keys)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_snapshot_history(canned, snap_compare):
    assert snap_compare(canned(history_runs()), terminal_size=(120, 30), run_before=into_history)


def test_snapshot_history_filtered(canned, snap_compare):
    assert snap_compare(canned(history_runs()), terminal_size=SIZE,
                        run_before=lambda pilot: _then(into_history(pilot), pilot, "f"))


async def _then(first, pilot, *keys: str) -> None:
    await first
    await pilot.press(*keys)
    await pilot.pause()


def test_snapshot_output_start(canned, snap_compare):
    assert snap_compare(canned(history_runs()), terminal_size=SIZE, run_before=into_output)


def test_snapshot_output_end(canned, snap_compare):
    assert snap_compare(canned(history_runs()), terminal_size=SIZE,
                        run_before=lambda pilot: into_output(pilot, "G"))


def test_snapshot_output_search_hit(canned, snap_compare):
    assert snap_compare(canned(history_runs()), terminal_size=SIZE,
                        run_before=lambda pilot: into_output(pilot, "slash", *"429", "enter"))


def test_snapshot_help(canned, snap_compare):
    async def help_screen(pilot) -> None:
        await settled(pilot, "question_mark")
        await pilot.pause()

    assert snap_compare(canned(history_runs()), terminal_size=(100, 50), run_before=help_screen)


def test_snapshot_help_on_the_demo_end(canned, snap_compare):
    async def help_end(pilot) -> None:
        await settled(pilot, "question_mark")
        await pilot.press("end")
        await pilot.pause()

    assert snap_compare(canned(history_runs(), demo=True), terminal_size=(100, 50),
                        run_before=help_end)


def test_snapshot_palette(canned, snap_compare):
    async def palette(pilot) -> None:
        await settled(pilot, "ctrl+p")
        # A blinking cursor is drawn or not by the time the picture is taken: hold it.
        pilot.app.screen.query_one(Input).cursor_blink = False
        # The palette gathers its commands in a worker, a provider at a time.
        listed = -1
        while listed != (listed := pilot.app.screen.query_one("CommandList").option_count):
            await pilot.app.workers.wait_for_complete()
            await pilot.pause(0.1)

    assert snap_compare(canned(history_runs()), terminal_size=(100, 40), run_before=palette)


def test_snapshot_fallback_badge(tmp_path, snap_compare):
    config = factories.config(tmp_path, {"orders": {"command": "true", "interval_s": 900}},
                              timezone=ZONE)
    config = type(config)(config.scheduler, AutorefreshSettings(True, 1800.0), config.control,
                          config.jobs)
    store = Store(config.scheduler.state_dir)
    started = ago(600)
    record = store.begin_run("orders", Trigger.ONCE, started, started)
    record.log_path.parent.mkdir(parents=True, exist_ok=True)
    record.log_path.write_text("".join(f"{line}\n" for line in SYNC_OUTPUT))
    store.finish_run(record.id, Result.SUCCESS, started + timedelta(seconds=2.3), 2.3, 0)
    fallback = FallbackControl(
        config, store=store, clock=lambda: NOW,
        reason="OperationalError: database is locked (the state directory's disk is full?)",
    )
    app = SyncTuiApp(fallback, config=config, config_name="shop", zone=ZoneInfo(ZONE),
                     demo=False, clock=lambda: NOW)
    app.animation_level = "none"
    assert snap_compare(app, terminal_size=SIZE, run_before=settled)


def test_snapshot_light_theme(make_app, snap_compare):  # noqa: F811
    app = failure_scenario(make_app)
    app.theme = "textual-light"
    assert snap_compare(app, terminal_size=SIZE, run_before=lambda pilot: settled(pilot, "j"))


def test_snapshot_no_color(make_app, snap_compare, monkeypatch):  # noqa: F811
    monkeypatch.setenv("NO_COLOR", "1")
    app = failure_scenario(make_app)
    assert snap_compare(app, terminal_size=SIZE, run_before=lambda pilot: settled(pilot, "j"))
