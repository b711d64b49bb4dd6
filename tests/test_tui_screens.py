"""The console beyond its main screen, driven with Pilot: a job's history and a run's output,
help, the command palette, themes and the narrow layout.

The history comes from a real store, filled with runs of every result.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from textual.command import CommandPalette
from textual.widgets import DataTable

import factories
from pilot import drive, notifications, until
from synctui.scheduler.control import Refused
from synctui.scheduler.records import Result, Trigger
from synctui.scheduler.store import Store
from synctui.scheduler.sync_scheduler import SyncScheduler
from synctui.tui import themes
from synctui.tui.app import SyncTuiApp
from synctui.tui.actions import PALETTE
from synctui.tui.screens.help import HelpScreen
from synctui.tui.screens.history import HistoryScreen
from synctui.tui.screens.output import OutputScreen
from synctui.tui.widgets.jobs_table import JobsTable
from synctui.tui.widgets.log_view import LogView

QUICK = {"command": "echo hello from $SYNCTUI_JOB", "interval_s": 3600, "manual_cooldown_s": 0}
BEGAN = datetime(2026, 3, 4, 14, 0, tzinfo=timezone.utc)


def fill(store: Store, job: str) -> None:
    """Runs 1..5 of `job`: success, failure (exit 3), timeout (SIGKILL), three skips, success."""
    plan = [
        (Result.SUCCESS, 0, None, None, ["synced 12 rows"]),
        (Result.FAILURE, 3, None, "exit status 3: upstream 503", ["GET /orders -> 503"]),
        (Result.TIMEOUT, None, "SIGKILL", "timed out after 30s", ["fetching..."]),
    ]
    for n, (result, code, signal, error, lines) in enumerate(plan):
        started = BEGAN + timedelta(minutes=15 * n)
        run = store.begin_run(job, Trigger.SCHEDULED, started, started)
        run.log_path.parent.mkdir(parents=True, exist_ok=True)
        run.log_path.write_text("".join(f"{line}\n" for line in lines))
        store.finish_run(run.id, result, started + timedelta(seconds=2), 2.0, code, signal, error)
    for _ in range(3):
        store.record_skip(job, BEGAN + timedelta(minutes=50), BEGAN + timedelta(minutes=50))
    started = BEGAN + timedelta(hours=1)
    run = store.begin_run(job, Trigger.MANUAL, started, started)
    run.log_path.write_text("synced 4 rows\n")
    store.finish_run(run.id, Result.SUCCESS, started + timedelta(seconds=1), 1.0, 0)


@pytest.fixture
def console(tmp_path):
    """A factory: {job: settings} -> (app, its scheduler), the store holding `fill`'s runs
    (started, the scheduler records the fire times since then as one `missed` run 6)."""
    made: list[SyncScheduler] = []

    def make(jobs: dict, *, start: bool = False, **app_settings):
        config = factories.config(tmp_path, jobs, catch_up="none")
        store = Store(config.scheduler.state_dir)
        for name in jobs:
            fill(store, name)
        scheduler = SyncScheduler(config, mode="console", store=store)
        app = SyncTuiApp(scheduler, config=config, config_name="test", zone=ZoneInfo("UTC"),
                         demo=False, **app_settings)
        app.animation_level = "none"
        if start:
            scheduler.start()
        made.append(scheduler)
        return app, scheduler

    yield make
    for scheduler in made:
        scheduler.shutdown(grace=0)


def rows(app) -> list[list[str]]:
    table = app.screen.query_one("#runs", DataTable)
    return [[cell.plain for cell in table.get_row_at(n)] for n in range(table.row_count)]


async def history_of(pilot) -> None:
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen)
                and len(rows(pilot.app)) > 0)


# --- history --------------------------------------------------------------------------------


def test_enter_shows_the_jobs_runs_newest_first(console):
    app, _ = console({"orders": QUICK})

    async def scenario(pilot):
        await history_of(pilot)
        listed = rows(app)
        assert [row[0] for row in listed] == ["5", "4", "3", "2", "1"]
        newest, skips, timeout, failure, success = listed
        assert newest[1:3] == ["manual", "Mar 04 15:00:00"] and newest[6] == "✓ success"
        assert skips[6] == "↷ skipped" and skips[7] == "×3" and "3 fire times skipped" in skips[8]
        assert timeout[6] == "◷ timeout" and timeout[7] == "SIGKILL"
        assert failure[7] == "3" and failure[8] == "exit status 3: upstream 503"
        assert success[4] == "14:00:02" and success[5] == "2.0s" and success[7] == "0"

    drive(app, scenario, size=(140, 30))


def test_f_filters_the_history_by_result(console):
    app, _ = console({"orders": QUICK})

    async def scenario(pilot):
        await history_of(pilot)
        await pilot.press("f")
        assert [row[0] for row in rows(app)] == ["5", "1"]
        assert "success only" in str(app.screen.query_one("#title").render())
        await pilot.press("f")
        assert [row[0] for row in rows(app)] == ["2"]
        await pilot.press("F", "F")
        assert len(rows(app)) == 5

    drive(app, scenario)


def test_enter_on_a_run_shows_its_output_and_escape_goes_back(console):
    app, _ = console({"orders": QUICK})

    async def scenario(pilot):
        await history_of(pilot)
        await pilot.press("down", "down", "down", "enter")  # run 2, the failure
        await until(pilot, lambda: isinstance(app.screen, OutputScreen))
        assert app.screen.query_one(LogView).lines == ["GET /orders -> 503"]
        assert "run 2" in str(app.screen.query_one("#run").render())
        assert "exit 3" in str(app.screen.query_one("#run").render())
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("up", "up", "enter")  # the skips
        await until(pilot, lambda: "has no output" in notifications(app))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.screen_stack[0])

    drive(app, scenario)


def test_the_history_shows_a_run_that_ends_while_it_is_open(console):
    app, scheduler = console({"orders": QUICK}, start=True)

    async def scenario(pilot):
        await history_of(pilot)
        scheduler.run_now("orders")
        await until(pilot, lambda: rows(app)[0][0] == "7" and rows(app)[0][6] == "✓ success")

    drive(app, scenario)


def test_main_screen_keys_do_nothing_on_the_history_screen(console):
    app, scheduler = console({"orders": QUICK}, start=True)

    async def scenario(pilot):
        await history_of(pilot)
        await pilot.press("r", "s", "p")
        await pilot.pause(0.2)
        assert len(scheduler.history("orders")) == 6 and scheduler.status().running
        assert not scheduler.status().jobs["orders"].paused

    drive(app, scenario)


def test_a_history_the_scheduler_refuses_says_why(console, monkeypatch):
    app, scheduler = console({"orders": QUICK})

    def refuse(*args, **kwargs):
        raise Refused("looking for the scheduler's new host; try again in a moment")

    monkeypatch.setattr(scheduler, "history", refuse)

    async def scenario(pilot):
        await pilot.press("enter")
        await until(pilot, lambda: "try again in a moment" in notifications(app))
        assert isinstance(app.screen, HistoryScreen) and rows(app) == []

    drive(app, scenario)


# --- help -----------------------------------------------------------------------------------


def test_help_tells_where_the_files_are_and_how_to_write_a_config_on_the_demo(console, tmp_path):
    from synctui.tui.screens.help import Places

    app, _ = console({"orders": QUICK}, places=Places(None, tmp_path / "state"))

    async def scenario(pilot):
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = "\n".join(str(block.render()) for block in app.screen.query("MarkdownBlock"))
        assert str(tmp_path / "state" / "logs") in text
        assert "synctui init" in text and "none: this is the demo" in text
        for word in ("running", "paused", "stopped", "fallback", "attached", "new", "up",
                     "late", "down", "↷ skipped"):
            assert word in text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))

    drive(app, scenario, size=(100, 100))


def test_help_names_the_host_and_its_socket(console):
    app, scheduler = console({"orders": QUICK}, start=True)

    async def scenario(pilot):
        await until(pilot, lambda: app.selected is not None)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = "\n".join(str(block.render()) for block in app.screen.query("MarkdownBlock"))
        assert f"hosted by pid {os.getpid()} (console)" in text
        assert str(scheduler.server.path) in text

    drive(app, scenario, size=(100, 100))


# --- the command palette ----------------------------------------------------------------


async def palette(pilot, query: str) -> list[str]:
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    await pilot.press(*query)
    options = pilot.app.screen.query_one("CommandList")
    listed = -1
    while listed != (listed := options.option_count):  # providers answer one at a time
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.1)
    return [str(options.get_option_at_index(n).prompt) for n in range(options.option_count)]


def test_the_palette_lists_every_action_with_its_key(console):
    app, _ = console({"orders": QUICK}, start=True)

    async def scenario(pilot):
        listed = "\n".join(await palette(pilot, ""))
        for action in PALETTE:
            assert (action.title in listed) is (
                action.name not in ("resume", "resume_all", "start")
            ), action.title
        for title in ("Run now  (r)", "Cancel the run  (c)", "Pause the job  (p)",
                      "Pause every job  (P)", "Skip the next run  (n)",
                      "Stop the scheduler  (s)", "Restart the scheduler  (R)",
                      "Reload the config  (^r)", "Switch theme  (^t)", "Open the history  (⏎)",
                      "Help  (?)"):
            assert title in listed, title
        assert "Resume the job" not in listed and "Start the scheduler" not in listed

    drive(app, scenario, size=(100, 60))


@pytest.mark.parametrize(("query", "check"), [
    ("run now", lambda app, scheduler: "orders: run 7 started" in notifications(app)),
    ("pause the job", lambda app, scheduler: scheduler.status().jobs["orders"].paused),
    ("pause every", lambda app, scheduler: scheduler.status().paused),
    ("stop the sch", lambda app, scheduler: not scheduler.status().running),
    ("restart", lambda app, scheduler: "scheduler restarted" in notifications(app)),
    ("skip the next", lambda app, scheduler: "will be skipped" in notifications(app)),
    ("cancel the run", lambda app, scheduler: "orders is not running" in notifications(app)),
    ("reload the config", lambda app, scheduler: "no config file to reload" in notifications(app)),
    ("switch theme", lambda app, scheduler: isinstance(app.screen, CommandPalette)),
    ("open the history", lambda app, scheduler: isinstance(app.screen, HistoryScreen)),
    ("help", lambda app, scheduler: isinstance(app.screen, HelpScreen)),
    ("focus the log", lambda app, scheduler: app.focused is app.query_one("#log-tail")),
])
def test_each_palette_command_acts(console, query, check):
    app, scheduler = console({"orders": QUICK}, start=True)

    async def scenario(pilot):
        await palette(pilot, query)
        await pilot.press("enter")
        await until(pilot, lambda: check(app, scheduler))

    drive(app, scenario)


# --- themes ---------------------------------------------------------------------------------


def test_a_theme_switch_recolours_the_table_and_is_remembered(console, tmp_path):
    remembered = tmp_path / "config" / "theme"
    app, _ = console({"orders": QUICK}, theme_file=remembered)

    async def scenario(pilot):
        table = app.query_one(JobsTable)
        dark = table.get_cell("orders", "result").style
        app.theme = "nord"
        await until(pilot, lambda: table.get_cell("orders", "result").style != dark)
        assert table.get_cell("orders", "result").plain == "✓ success"

    drive(app, scenario)
    assert remembered.read_text().strip() == "nord"
    again, _ = console({"orders": QUICK}, theme_file=remembered)
    assert again.theme == "nord"


def test_no_color_takes_the_colourless_theme_and_forgets_nothing(console, tmp_path, monkeypatch):
    remembered = tmp_path / "theme"
    remembered.write_text("nord\n")
    monkeypatch.setenv("NO_COLOR", "1")
    app, _ = console({"orders": QUICK}, theme_file=remembered)
    assert app.theme == themes.NO_COLOR_THEME.name
    assert remembered.read_text() == "nord\n"


def test_an_unreadable_remembered_theme_is_ignored(console, tmp_path):
    remembered = tmp_path / "theme"
    remembered.write_text("no-such-theme\n")
    app, _ = console({"orders": QUICK}, theme_file=remembered)
    assert app.theme == "textual-dark"


# --- layout ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "folded"), [(99, True), (100, False), (80, True)])
def test_under_100_columns_the_status_panel_folds_under_the_table(console, width, folded):
    app, _ = console({"orders": QUICK, "report": QUICK})

    async def scenario(pilot):
        await pilot.pause()  # the layout of the width's breakpoint
        panel = app.query_one("#status-panel").region
        log = app.query_one("#log-tail").region
        table = app.query_one(JobsTable).region
        assert (panel.y >= table.bottom and log.y >= panel.bottom) is folded
        assert (panel.x == log.x) is folded
        for selector in ("#run-now", "#pause", "#stop", "#log-tail", "#footer"):
            region = app.query_one(selector).region
            assert region.area and region.right <= width and region.bottom <= 24, selector

    drive(app, scenario, size=(width, 24))
