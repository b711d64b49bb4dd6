"""Every key and button of the console, driven with Pilot against a real in-process scheduler.

Each test asserts on what the operator sees (cells, badge, notifications, log) and
on the scheduler's own state.
"""

from __future__ import annotations

import os
import signal
import time
from zoneinfo import ZoneInfo

import pytest

import factories
from pilot import badge, cell, drive, notifications, until
from synctui.scheduler.control import Refused
from synctui.scheduler.records import Result, Trigger
from synctui.scheduler.sync_scheduler import SyncScheduler
from synctui.tui.app import SyncTuiApp
from synctui.tui.questions import QuitScreen
from synctui.tui.screens.help import HelpScreen
from synctui.tui.widgets.jobs_table import JobsTable
from synctui.tui.widgets.log_tail import MAX_LINES, LogTail

QUICK = {"command": "echo hello from $SYNCTUI_JOB", "interval_s": 3600, "manual_cooldown_s": 0}
LONG = {"command": "echo started; sleep 30", "interval_s": 3600, "manual_cooldown_s": 0}


@pytest.fixture
def console(tmp_path):
    """A factory: {job: settings} -> (app, its started in-process scheduler)."""
    made: list[SyncScheduler] = []

    def make(jobs: dict, **settings) -> tuple[SyncTuiApp, SyncScheduler]:
        scheduler = SyncScheduler(factories.config(tmp_path, jobs, **settings), mode="console")
        app = SyncTuiApp(scheduler, config=scheduler.config, config_name="test",
                         zone=ZoneInfo("UTC"), demo=False)
        app.animation_level = "none"
        scheduler.start()
        made.append(scheduler)
        return app, scheduler

    yield make
    for scheduler in made:
        scheduler.shutdown(grace=0)


def shown(app: SyncTuiApp, selector: str) -> str:
    """The text a widget of the current screen draws."""
    widget = app.screen.query_one(selector)
    return "\n".join(strip.text for strip in widget.render_lines(widget.region.reset_offset))


def footer_keys(app: SyncTuiApp) -> list[str]:
    return [f"{key.key_display} {key.description}" for key in app.screen.query("FooterKey")]


def test_r_runs_the_selected_job_now(console):
    app, scheduler = console({"quick": QUICK})

    async def scenario(pilot):
        await pilot.press("r")
        await until(pilot, lambda: "quick: run 1 started" in notifications(app))
        await until(pilot, lambda: cell(app, "quick", "result") == "✓ success")
        await until(pilot, lambda: "hello from quick" in app.query_one(LogTail).lines)
        assert cell(app, "quick", "health") == "up"

    drive(app, scenario)
    record = scheduler.history("quick")[0]
    assert record.trigger is Trigger.MANUAL and record.result is Result.SUCCESS


def test_r_while_running_is_refused_with_the_reason(console):
    app, scheduler = console({"long": LONG})

    async def scenario(pilot):
        await pilot.press("r")
        await until(pilot, lambda: cell(app, "long", "state") == "running")
        await pilot.press("r")
        await until(pilot, lambda: "already running" in notifications(app))
        assert "Refused" in notifications(app)

    drive(app, scenario)
    assert len(scheduler.history("long")) == 1


def test_r_within_the_cooldown_is_refused_with_the_time_left(console):
    app, scheduler = console({"quick": {**QUICK, "manual_cooldown_s": 60}})

    async def scenario(pilot):
        await pilot.press("r")
        await until(pilot, lambda: cell(app, "quick", "result") == "✓ success")
        await pilot.press("r")
        await until(pilot, lambda: "manual runs wait 60s" in notifications(app))

    drive(app, scenario)
    assert len(scheduler.history("quick")) == 1


def test_c_cancels_the_running_run(console):
    app, scheduler = console({"long": LONG})

    async def scenario(pilot):
        await pilot.press("r")
        await until(pilot, lambda: "started" in app.query_one(LogTail).lines)
        await pilot.press("c")
        await until(pilot, lambda: "long: run 1 is being cancelled" in notifications(app))
        await until(pilot, lambda: cell(app, "long", "result") == "⊘ cancelled")
        assert cell(app, "long", "state") == "idle"

    drive(app, scenario)
    assert scheduler.history("long")[0].result is Result.CANCELLED


def test_c_with_nothing_running_is_refused(console):
    app, _ = console({"quick": QUICK})

    async def scenario(pilot):
        await pilot.press("c")
        await until(pilot, lambda: "quick is not running" in notifications(app))

    drive(app, scenario)


def test_p_pauses_and_resumes_the_selected_job(console):
    app, scheduler = console({"quick": QUICK, "long": LONG})

    async def scenario(pilot):
        await pilot.press("p")
        await until(pilot, lambda: cell(app, "quick", "state") == "paused")
        assert scheduler.status().jobs["quick"].paused
        assert not scheduler.status().jobs["long"].paused
        assert cell(app, "quick", "health") == "paused" and cell(app, "quick", "next") == "-"
        assert str(app.query_one("#pause").label) == "Resume"
        assert "p Resume" in footer_keys(app)
        await pilot.press("p")
        await until(pilot, lambda: cell(app, "quick", "state") == "idle")
        assert not scheduler.status().jobs["quick"].paused
        assert "p Pause" in footer_keys(app)

    drive(app, scenario)


def test_P_pauses_and_resumes_every_job(console):
    app, scheduler = console({"quick": QUICK, "long": LONG})

    async def scenario(pilot):
        await pilot.press("P")
        await until(pilot, lambda: badge(app) == "‖ paused")
        assert scheduler.status().paused
        assert cell(app, "long", "state") == "paused" and "P Resume all" in footer_keys(app)
        await pilot.press("P")
        await until(pilot, lambda: badge(app) == "▶ running")
        assert not any(job.paused for job in scheduler.status().jobs.values())

    drive(app, scenario)


def test_n_skips_the_next_run(console):
    app, scheduler = console({"quick": {**QUICK, "interval_s": 120}})
    announced = scheduler.status().jobs["quick"].next_run

    async def scenario(pilot):
        await pilot.press("n")
        await until(pilot, lambda: "will be skipped" in notifications(app))
        assert announced.strftime("%H:%M:%S") in notifications(app)
        await until(pilot, lambda: cell(app, "quick", "next").endswith("in 3m"))

    drive(app, scenario)
    assert scheduler.status().jobs["quick"].next_run > announced


def test_s_stops_and_starts_the_scheduler(console):
    app, scheduler = console({"quick": QUICK})

    async def scenario(pilot):
        await pilot.press("s")
        await until(pilot, lambda: badge(app) == "■ stopped")
        assert not scheduler.status().running
        assert cell(app, "quick", "state") == "stopped" and cell(app, "quick", "next") == "-"
        assert "s Start" in footer_keys(app)
        await pilot.press("s")
        await until(pilot, lambda: badge(app) == "▶ running")
        assert scheduler.status().running

    drive(app, scenario)


def test_R_restarts_the_scheduler(console):
    app, scheduler = console({"quick": QUICK})

    async def scenario(pilot):
        await pilot.press("R")
        await until(pilot, lambda: "scheduler restarted" in notifications(app))
        assert scheduler.status().running and badge(app) == "▶ running"

    drive(app, scenario)


def test_l_focuses_the_log_and_back(console):
    app, _ = console({"quick": QUICK})

    async def scenario(pilot):
        assert isinstance(app.focused, JobsTable)
        await pilot.press("l")
        assert isinstance(app.focused, LogTail)
        await pilot.press("l")
        assert isinstance(app.focused, JobsTable)

    drive(app, scenario)


def test_question_mark_shows_help_with_every_key(console):
    app, _ = console({"quick": QUICK})

    async def scenario(pilot):
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        listed = "\n".join(str(block.render()) for block in app.screen.query("MarkdownBlock"))
        for word in ("Run the selected job now", "Cancel", "Pause", "Skip", "Stop", "Restart",
                     "Focus the selected job's log", "Quit", "fallback", "down", "state directory"):
            assert word in listed, word
        await pilot.press("question_mark")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))

    drive(app, scenario, size=(100, 80))


def test_j_k_and_the_arrows_move_between_jobs(console):
    app, _ = console({"quick": QUICK, "long": LONG})

    async def scenario(pilot):
        panel = app.query_one("#status-panel")
        assert panel.border_title == "quick"
        for key, job in (("j", "long"), ("k", "quick"), ("down", "long"), ("up", "quick")):
            await pilot.press(key)
            await until(pilot, lambda: panel.border_title == job)
            assert app.query_one(LogTail).border_title.startswith(job)

    drive(app, scenario)


def test_the_buttons_run_pause_and_stop(console):
    app, scheduler = console({"quick": QUICK})

    async def click_again(pilot, button: str) -> None:
        # A button ignores clicks for a moment after one (Textual's "active" effect).
        await until(pilot, lambda: not app.query_one(button).has_class("-active"))
        await pilot.click(button)

    async def scenario(pilot):
        await pilot.click("#run-now")
        await until(pilot, lambda: cell(app, "quick", "result") == "✓ success")
        await pilot.click("#pause")
        await until(pilot, lambda: "Resume" in shown(app, "#pause"))  # drawn whole
        assert scheduler.status().jobs["quick"].paused
        await click_again(pilot, "#pause")
        await until(pilot, lambda: str(app.query_one("#pause").label) == "Pause")
        assert not scheduler.status().jobs["quick"].paused
        await pilot.click("#stop")
        await until(pilot, lambda: "Start" in shown(app, "#stop"))
        assert not scheduler.status().running
        await click_again(pilot, "#stop")
        await until(pilot, lambda: badge(app) == "▶ running")

    drive(app, scenario)
    assert scheduler.history("quick")[0].trigger is Trigger.MANUAL


def test_the_log_shows_the_last_run_when_idle_and_each_job_its_own(console):
    app, _ = console({"quick": QUICK, "long": LONG})

    async def scenario(pilot):
        await pilot.press("r")
        await until(pilot, lambda: cell(app, "quick", "result") == "✓ success")
        await pilot.press("j", "r")
        await until(pilot, lambda: "started" in app.query_one(LogTail).lines)
        assert "hello from quick" not in app.query_one(LogTail).lines
        await pilot.press("k")
        await until(pilot, lambda: "hello from quick" in app.query_one(LogTail).lines)
        assert app.query_one(LogTail).lines[-1].startswith("── ✓ success in ")

    drive(app, scenario)


def test_the_log_follows_the_end_of_the_output_until_scrolled_up(console):
    chatty = {"command": f"echo {'wide' * 40}; for i in $(seq 1 60); do echo line $i; done",
              "interval_s": 3600, "manual_cooldown_s": 0}
    app, _ = console({"chatty": chatty})

    async def scenario(pilot):
        log_tail = app.query_one(LogTail)
        await pilot.press("r")
        await until(pilot, lambda: log_tail.lines and log_tail.lines[-1].startswith("── ✓"))
        await pilot.pause()
        assert log_tail.max_scroll_y > 0 and log_tail.scroll_y == log_tail.max_scroll_y
        assert "── ✓" in shown(app, "#log-tail")
        await pilot.press("l", "pageup")
        assert log_tail.scroll_y < log_tail.max_scroll_y

    drive(app, scenario, size=(80, 24))


FLOOD = """
import time
end = time.monotonic() + 4
i = 0
while time.monotonic() < end:
    print("line", i)
    i += 1
print("the end")
"""


def test_a_flood_of_output_leaves_every_key_responsive(console):
    flood = {"command": ["python3", "-c", FLOOD], "interval_s": 3600, "manual_cooldown_s": 0}
    app, scheduler = console({"flood": flood, "quick": QUICK})

    async def scenario(pilot):
        log_tail = app.query_one(LogTail)
        panel = app.query_one("#status-panel")
        await pilot.press("r")  # Pilot waits for the process to idle: up to 2 s here
        await until(pilot, lambda: cell(app, "flood", "state") == "running")
        for key, job in (("j", "quick"), ("k", "flood"), ("j", "quick"), ("k", "flood")):
            pressed = time.monotonic()
            app.simulate_key(key)
            await until(pilot, lambda: panel.border_title == job, timeout=5)
            assert time.monotonic() - pressed < 1.0, f"{key} took {time.monotonic() - pressed:.2f}s"
            assert cell(app, "flood", "state") == "running"
        await until(pilot, lambda: cell(app, "flood", "result") == "✓ success", timeout=30)
        await until(pilot, lambda: log_tail.lines and log_tail.lines[-1].startswith("── ✓"))
        assert log_tail.lines[-2] == "the end"
        assert len(log_tail.lines) <= MAX_LINES

    drive(app, scenario)
    assert scheduler.history("flood")[0].result is Result.SUCCESS


def test_the_main_screen_fits_80x24(console):
    app, _ = console({"orders": QUICK, "report": LONG})

    async def scenario(pilot):
        await until(pilot, lambda: len(app.screen.query("FooterKey")) == 10)
        for selector in ("#header", "#jobs", "#status-panel", "#log-tail", "#footer",
                         "#run-now", "#pause", "#stop", "#clock", "#badge"):
            region = app.query_one(selector).region
            assert region.area and region.right <= 80 and region.bottom <= 24, selector
        keys = [key.region for key in app.screen.query("FooterKey")]
        assert len(keys) == 10 and all(region.right <= 80 for region in keys)
        table = app.query_one(JobsTable)
        assert table.virtual_size.width <= table.size.width  # every column shows

    drive(app, scenario, size=(80, 24))


# --- quitting -------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["q", "ctrl+q"])
def test_q_with_nothing_running_stops_the_scheduler_and_exits(console, key):
    app, scheduler = console({"quick": QUICK})

    async def scenario(pilot):
        await pilot.press(key)
        await until(pilot, lambda: app.return_code is not None)

    drive(app, scenario)
    assert app.return_code == 0
    assert scheduler.store.host() is None  # the host lock and record are released
    with pytest.raises(Refused, match="shutting down"):
        scheduler.start()


def test_q_just_after_a_run_ended_does_not_ask(console):
    app, scheduler = console({"quick": QUICK})

    async def scenario(pilot):
        await pilot.press("r")
        await until(pilot, lambda: app.query_one(LogTail).lines[-1].startswith("── ✓"))
        await pilot.press("q")  # the status on screen may still say it runs
        await until(pilot, lambda: app.return_code is not None
                    or isinstance(app.screen, QuitScreen))
        assert app.return_code == 0

    drive(app, scenario)
    assert scheduler.history("quick")[0].result is Result.SUCCESS


def test_q_while_a_job_runs_asks_and_cancel_ends_it(console):
    app, scheduler = console({"long": LONG})

    async def scenario(pilot):
        await pilot.press("r")
        await until(pilot, lambda: cell(app, "long", "state") == "running")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen))
        assert "long is running" in shown(app, "#question")
        await pilot.press("c")
        await until(pilot, lambda: app.return_code is not None)

    drive(app, scenario)
    assert scheduler.history("long")[0].result is Result.CANCELLED


def test_q_while_a_job_runs_then_wait_gives_it_the_grace(console):
    app, scheduler = console({"long": LONG}, shutdown_grace_s=0.5)

    async def scenario(pilot):
        await pilot.press("r")
        await until(pilot, lambda: cell(app, "long", "state") == "running")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("w")
        await until(pilot, lambda: badge(app) == "◌ stopping")
        assert "gets up to 0.5s to finish" in notifications(app)
        await until(pilot, lambda: app.return_code is not None)

    drive(app, scenario)
    record = scheduler.history("long")[0]
    assert record.result is Result.INTERRUPTED and record.duration_s >= 0.5


def test_q_while_a_job_runs_then_stay_changes_nothing(console):
    app, scheduler = console({"long": LONG})

    async def scenario(pilot):
        await pilot.press("r")
        await until(pilot, lambda: cell(app, "long", "state") == "running")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, QuitScreen))
        assert badge(app) == "▶ running" and scheduler.status().jobs["long"].running

    drive(app, scenario)


def test_q_again_while_stopping_ends_the_run_now(console):
    app, scheduler = console({"long": LONG}, shutdown_grace_s=30)

    async def scenario(pilot):
        await pilot.press("r")
        await until(pilot, lambda: cell(app, "long", "state") == "running")
        await pilot.press("q", "w")
        await until(pilot, lambda: badge(app) == "◌ stopping")
        await pilot.press("q")
        await until(pilot, lambda: app.return_code is not None, timeout=5)

    drive(app, scenario)
    assert scheduler.history("long")[0].result is Result.INTERRUPTED


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_quits_without_asking(console, number):
    app, scheduler = console({"long": LONG}, shutdown_grace_s=0.3)

    async def scenario(pilot):
        await pilot.press("r")
        await until(pilot, lambda: cell(app, "long", "state") == "running")
        os.kill(os.getpid(), number)
        await until(pilot, lambda: badge(app) == "◌ stopping")
        assert not isinstance(app.screen, QuitScreen)
        await until(pilot, lambda: app.return_code is not None)

    drive(app, scenario)
    assert app.return_code == 0
    assert scheduler.history("long")[0].result is Result.INTERRUPTED


def test_a_row_out_of_view_is_current_once_scrolled_into_view(console):
    """Only the rows on screen are redrawn each second; one out of view is brought up to
    date as it scrolls into view."""
    jobs = {f"job{n:02d}": {"command": "true", "interval_s": 3600} for n in range(60)}
    app, scheduler = console(jobs)

    async def scenario(pilot):
        await until(pilot, lambda: cell(app, "job59", "name") == "job59")  # drawn, out of view
        scheduler.run_now("job59")
        await until(pilot, lambda: scheduler.history("job59")[0].finished)
        # job00's result in view says the console has a status newer than job59's run.
        scheduler.run_now("job00")
        await until(pilot, lambda: "success" in cell(app, "job00", "result"))
        assert "success" not in cell(app, "job59", "result")  # out of view: not redrawn
        # As the mouse wheel scrolls: the cursor stays where it is.
        app.query_one(JobsTable).scroll_end(animate=False, immediate=True)
        await pilot.pause()
        # In the frame that scrolled it in, not at the next second's redraw.
        assert "success" in cell(app, "job59", "result") and app.selected.name == "job00"
        row = shown(app, "#jobs").splitlines()[-1]
        assert row.split()[0] == "job59" and "success" in row

    drive(app, scenario)
