"""The runs timeline's lanes, built from a month of runs made by the store's own methods:
run by run where the runs are kept and few, from the hourly roll-up where not; the fire
times ahead, blackouts, and each lane's freshness."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta

import pytest

from commandline import history, synctui, write_config
from factories import config, wait_until
from month_of_runs import NOW, month_config, month_status
from synctui.config.model import BlackoutSpan, RunWindow
from synctui.scheduler import lanes
from synctui.scheduler.protocol import timeline_from_wire, timeline_to_wire
from synctui.scheduler.records import Fires, Result, Trigger
from synctui.scheduler.status import snapshot
from synctui.scheduler.store import Store
from synctui.scheduler.timeline import WINDOWS, Timeline, window_seconds

MONTH_START = NOW - timedelta(days=30)
OUTAGE = NOW - timedelta(days=2, hours=5)


def minutely_result(at: datetime) -> Result | None:
    """What `month_of_runs` recorded for the minutely job's fire time `at` (None: none)."""
    minute, rest = divmod((at - MONTH_START).total_seconds(), 60)
    if rest or not MONTH_START <= at < NOW - timedelta(minutes=1):
        return None
    if OUTAGE <= at < OUTAGE + timedelta(hours=2):
        return Result.MISSED
    minute = int(minute)
    if minute % 500 == 499:
        return Result.SKIPPED
    if minute % 1013 == 1012:
        return Result.TIMEOUT
    return Result.FAILURE if minute % 97 == 96 else Result.SUCCESS


@pytest.fixture
def drawn(month):
    """window, cells -> the month's timeline at `NOW`."""
    store = Store(month)
    settings = month_config(month)
    status = month_status(store, settings)

    def draw(window: str, cells: int) -> Timeline:
        return lanes.build(store, settings, status, NOW, WINDOWS[window], cells)

    yield draw
    store.close()


def lane_of(timeline: Timeline, job_name: str):
    return next(lane for lane in timeline.lanes if lane.job == job_name)


def test_an_hour_is_drawn_run_by_run_each_where_it_started(drawn):
    timeline = drawn("1h", 135)  # 4050 s: a cell every 30 s
    assert timeline.end - timeline.start == timedelta(seconds=4050)
    lane = lane_of(timeline, "payments-reconciliation")
    for index, cell in enumerate(lane.cells):
        begins, ends = timeline.cell_span(index)
        fired = begins + timedelta(seconds=(30 - begins.second) % 60)
        expected = minutely_result(fired) if fired < ends else None
        assert dict(cell.counts) == ({expected: 1} if expected else {}), begins
        assert not cell.rolled_up
    assert sum(cell.runs for cell in lane.cells) == 59  # 11:00:30 .. 11:58:30
    ran = [cell for cell in lane.cells if cell.worst is Result.SUCCESS]
    assert all(cell.run_id is not None for cell in ran)


def test_a_long_run_is_drawn_through_the_cells_it_lasted(drawn):
    timeline = drawn("24h", 108)  # a cell every 15 minutes, from :00:30
    lane = lane_of(timeline, "hourly-export")
    nine = timeline.cell_index(NOW.replace(hour=9, minute=0, second=30))
    # The 09:00 export ran 25 minutes: it started in one cell and went on through the next.
    assert dict(lane.cells[nine].counts) == {Result.SUCCESS: 1}
    assert lane.cells[nine + 1].through is Result.SUCCESS and lane.cells[nine + 1].runs == 0
    assert lane.cells[nine + 1].run_id == lane.cells[nine].run_id
    assert lane.cells[nine + 2].through is None
    ten = timeline.cell_index(NOW.replace(hour=10, minute=0, second=30))
    assert lane.cells[ten + 1].through is None  # a 40 s run ends in its own cell


def test_a_day_of_the_minutely_job_falls_back_to_hours_where_its_runs_were_pruned(drawn):
    timeline = drawn("24h", 108)
    lane = lane_of(timeline, "payments-reconciliation")
    past = [(index, cell) for index, cell in enumerate(lane.cells)
            if timeline.cell_span(index)[1] <= NOW - timedelta(minutes=2)]
    rolled = [index for index, cell in past if cell.rolled_up]
    drawn_one_by_one = [index for index, cell in past if not cell.rolled_up]
    # 1000 runs are kept (16 h 40 m): the older part of the day comes from the roll-up.
    assert rolled and drawn_one_by_one and max(rolled) < min(drawn_one_by_one)
    for index in drawn_one_by_one:
        begins, _ = timeline.cell_span(index)
        fired = [begins + timedelta(minutes=n) for n in range(15)]
        assert dict(lane.cells[index].counts) == Counter(map(minutely_result, fired))
    for index in rolled[:-1]:
        begins, ends = timeline.cell_span(index)
        hour = begins.replace(minute=0, second=0)
        if ends <= hour + timedelta(hours=1):
            # A cell within one hour shows that hour's counts.
            fired = [hour + timedelta(minutes=n, seconds=30) for n in range(60)]
            assert dict(lane.cells[index].counts) == Counter(map(minutely_result, fired))


def test_thirty_days_are_buckets_of_counts_and_worst_results(drawn):
    timeline = drawn("30d", 135)  # a cell every 6 hours, from 12:00:30
    lane = lane_of(timeline, "payments-reconciliation")
    now = timeline.cell_index(NOW)
    assert all(cell.rolled_up for cell in lane.cells[:now])
    outage = lane.cells[timeline.cell_index(OUTAGE)]
    assert dict(outage.counts)[Result.MISSED] == 120 and outage.worst is Result.FAILURE
    first = lane.cells[0]
    assert first.runs >= 360 and first.run_id is not None


def test_the_fire_times_ahead_of_now_are_marked(drawn):
    timeline = drawn("24h", 108)
    ahead = range(timeline.cell_index(NOW) + 1, timeline.cells)
    fires = {lane.job: [index for index in ahead if lane.cells[index].fire]
             for lane in timeline.lanes}
    hours = [NOW.replace(minute=0, second=0) + timedelta(hours=n) for n in (1, 2, 3)]
    assert fires["hourly-export"] == [timeline.cell_index(at) for at in hours if at < timeline.end]
    assert fires["payments-reconciliation"] == list(ahead)
    assert fires["nightly"] == []  # its next fire time is tomorrow night


def test_a_blackout_is_drawn_and_no_fire_time_in_it(tmp_path):
    start = NOW.replace(minute=0, second=0) + timedelta(hours=1)
    span = BlackoutSpan("maintenance", start.replace(tzinfo=None),
                        (start + timedelta(hours=1)).replace(tzinfo=None))
    settings = config(tmp_path, {"orders": {"interval_s": 600.0,
                                            "window": RunWindow(blackout=(span,))}})
    store = Store(tmp_path / "state")
    status = snapshot(store, settings, running=True, host=None, paused={}, now=NOW,
                      fires={"orders": Fires(next=NOW + timedelta(minutes=10))})
    timeline = lanes.build(store, settings, status, NOW, WINDOWS["24h"], 108)
    [lane] = timeline.lanes
    blacked = [index for index, cell in enumerate(lane.cells) if cell.blackout]
    assert blacked == list(range(timeline.cell_index(start + timedelta(minutes=8)),
                                 timeline.cell_index(start + timedelta(minutes=52)) + 1))
    assert not any(lane.cells[index].fire for index in blacked)
    assert lane.cells[blacked[0] - 1].fire and lane.cells[blacked[-1] + 1].fire


def test_freshness_is_the_share_of_the_window_the_data_was_young_enough(tmp_path):
    settings = config(tmp_path, {"orders": {"interval_s": 60.0, "grace_s": 60.0}})
    store = Store(tmp_path / "state")
    start = NOW - timedelta(hours=1)
    # A success a minute, but none from 10 to 30 minutes in and none in the last 10.
    for minute in [*range(0, 11), *range(30, 51)]:
        at = start + timedelta(minutes=minute)
        run = store.begin_run("orders", Trigger.SCHEDULED, at, at)
        store.finish_run(run.id, Result.SUCCESS, at + timedelta(seconds=1), 1.0)
    status = snapshot(store, settings, running=True, host=None, fires={}, paused={}, now=NOW)
    [lane] = lanes.build(store, settings, status, NOW, 3600.0, 60).lanes
    # Stale from 2 minutes into each gap: 18 of its 20 minutes, then 8 of the last 10.
    assert lane.freshness == pytest.approx(1 - (18 + 8) / 60)


def test_the_month_s_freshness_counts_the_outage(drawn):
    week = lane_of(drawn("7d", 100), "payments-reconciliation")
    # The two-hour outage made the data stale for 1 h 58 m of the week (the limit is 3 m).
    assert 0.98 < week.freshness <= 1 - 118 / (7 * 1440)
    hour = lane_of(drawn("1h", 100), "payments-reconciliation")
    assert hour.freshness == 1.0


def test_windows_are_named_or_any_duration():
    assert window_seconds("7d") == 7 * 86400 and window_seconds("90m") == 5400
    with pytest.raises(ValueError):
        window_seconds("soon")


def test_a_timeline_crosses_the_control_socket_unchanged(drawn):
    timeline = drawn("24h", 108)
    wire = json.loads(json.dumps(timeline_to_wire(timeline)))
    assert timeline_from_wire(wire) == timeline
    cells = [cell for lane in timeline.lanes for cell in lane.cells]
    assert any(c.rolled_up for c in cells) and any(c.fire for c in cells)
    assert any(c.through for c in cells) and any(not c.counts for c in cells)


# --- synctui timeline: the installed command ------------------------------------------

MONTH_TOML = """
    [jobs.payments-reconciliation]
    command = "true"
    interval = "1m"
    grace_minutes = 2

    [jobs.hourly-export]
    command = "true"
    interval = "1h"
    grace_minutes = 10

    [jobs.nightly]
    command = "true"
    cron = "30 2 * * *"
    grace_minutes = 30
"""


def test_synctui_timeline_prints_the_month_for_a_shell(month, env):
    config = write_config(month.parent, MONTH_TOML)
    done = synctui("timeline", "--window", "30d", "--width", "90", "--config", str(config),
                   env=env, cwd=month.parent)
    assert done.returncode == 0, done.stderr
    axis, payments, export, nightly, *legend = done.stdout.splitlines()
    assert all(len(line) <= 90 for line in done.stdout.splitlines())
    assert "▼" in axis and axis.rstrip().endswith("fresh")
    assert payments.startswith("payments-reconciliation ") and "✗" in payments
    assert export.startswith("hourly-export ") and set(export.split()[1]) <= {"✓", "·"}
    # The nightly job's failures (every sixth night) and successes, in a month's cells.
    assert {"✓", "✗"} <= set(nightly.split()[1])
    assert re.search(r" \d+%$", nightly) and "✓ success" in legend[0]
    only = synctui("timeline", "--job", "nightly", "--width", "60", "--config", str(config),
                   env=env, cwd=month.parent)
    assert only.returncode == 0 and len(only.stdout.splitlines()) == 2 + len(legend)


@pytest.mark.parametrize("args, says", [
    (("--window", "soon"), "expected 1h, 24h, 7d, 30d or a duration such as 90m, got 'soon'"),
    (("--width", "20"), "expected a width of 40 columns or more, got '20'"),
    (("--job", "ghost"), "no job named 'ghost'"),
])
def test_synctui_timeline_refuses_bad_arguments_in_one_line(tmp_path, env, args, says):
    config = write_config(tmp_path, '[jobs.tick]\ncommand = "true"\ninterval = "1h"\n')
    done = synctui("timeline", *args, "--config", str(config), env=env, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    # Argument errors follow argparse's usage line; all end in one line saying what is wrong.
    assert says in done.stderr.splitlines()[-1] and "Traceback" not in done.stderr


def test_synctui_timeline_asks_a_running_host(tmp_path, env, hosts):
    config = write_config(tmp_path, """
        [jobs.tick]
        command = "echo tick"
        interval = "200ms"
    """)
    host = hosts(config)
    host.wait_ready()
    assert wait_until(lambda: len(history(config, env)) >= 2)
    done = synctui("timeline", "--window", "1h", "--width", "80", "--config", str(config),
                   env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    axis, tick, *_ = done.stdout.splitlines()
    # Runs five a second, now: the last cell before now holds them, in its worst symbol
    # (`✓`; on a loaded machine `⟳` where one is going, `↷` where a fire time met it),
    # and fire times ahead.
    assert tick.startswith("tick ") and any(mark in tick for mark in "✓⟳↷") and "◇" in tick
