"""The runs timeline on screen, and the jobs table at 80, 100 and 120 columns: snapshots over
a month of runs made by the store's own methods (`month_of_runs`), at its fixed clock, and
the keys that open a run's output from the timeline."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from month_of_runs import NOW, month_config, month_status
from pilot import drive, until
from synctui.scheduler import lanes
from synctui.scheduler.store import Store
from synctui.tui.app import SyncTuiApp
from synctui.tui.screens.output import OutputScreen
from synctui.tui.screens.timeline import Lanes, TimelineScreen
from test_tui_snapshots import CannedControl, failure_scenario, make_app, settled  # noqa: F401

WINDOW_PRESSES = {"1h": 3, "24h": 0, "7d": 1, "30d": 2}
"""`w` presses from the timeline's first window (24 h) to each."""


class MonthControl(CannedControl):
    """Canned answers drawn from the month's store: its status at `NOW`, its runs, its
    timeline (built by the core, as a host would)."""

    def __init__(self, store: Store, state_dir) -> None:
        self._store = store
        self._config = month_config(state_dir)
        super().__init__(month_status(store, self._config), [])

    def history(self, job=None, limit=100, before_id=None):
        return self._store.runs(job, limit, before_id)

    def timeline(self, window_s, cells, jobs=None):
        return lanes.build(self._store, self._config, self._status, NOW, window_s, cells, jobs)


@pytest.fixture
def month_app(month):
    store = Store(month)
    app = SyncTuiApp(MonthControl(store, month), config=None, config_name="payments",
                     zone=ZoneInfo("UTC"), demo=False, clock=lambda: NOW)
    app.animation_level = "none"
    yield app
    store.close()


async def in_timeline(pilot, *keys: str) -> None:
    """Open the timeline, press `keys`, and wait until the lanes are drawn."""
    await pilot.press("t", *keys)
    screen = pilot.app.screen
    assert isinstance(screen, TimelineScreen)
    for _ in range(50):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if screen.query_one(Lanes).timeline is not None:
            return
    raise AssertionError("the timeline was not drawn")


@pytest.mark.parametrize("window", list(WINDOW_PRESSES))
def test_snapshot_timeline(month_app, snap_compare, window):
    presses = ("w",) * WINDOW_PRESSES[window]
    assert snap_compare(month_app, terminal_size=(100, 30),
                        run_before=lambda pilot: in_timeline(pilot, *presses))


def test_snapshot_timeline_cell_under_the_cursor(month_app, snap_compare):
    # Up to the minutely job, back to 09:00 (a failure there): its cell said in words.
    keys = ("up",) * 2 + ("left",) * 12
    assert snap_compare(month_app, terminal_size=(100, 30),
                        run_before=lambda pilot: in_timeline(pilot, *keys))


@pytest.mark.parametrize("width", [80, 100, 120])
def test_snapshot_jobs_table_with_a_long_job_name(month_app, snap_compare, width):
    assert snap_compare(month_app, terminal_size=(width, 24),
                        run_before=lambda pilot: pilot.pause())


def test_snapshot_jobs_table_with_short_names_at_120(make_app, snap_compare):  # noqa: F811
    app = failure_scenario(make_app)
    assert snap_compare(app, terminal_size=(120, 30), run_before=lambda p: settled(p, "j"))


def test_enter_on_a_run_opens_its_output_and_escape_comes_back(month_app):
    async def scenario(pilot):
        await in_timeline(pilot, "w", "w", "w")  # the last hour: run by run
        lanes_shown = pilot.app.screen.query_one(Lanes)
        lane = lanes_shown.timeline.lanes[lanes_shown.lane]
        await pilot.press(*("left",) * 8)
        wanted = lane.cells[lanes_shown.cursor].run_id
        assert wanted is not None
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, OutputScreen))
        assert (pilot.app.screen.run.job, pilot.app.screen.run.id) == (lane.job, wanted)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, TimelineScreen))
        await pilot.press("escape")
        await until(pilot, lambda: len(pilot.app.screen_stack) == 1)

    drive(month_app, scenario)
