"""Snapshots of the main screen at a fixed size and clock, over a scheduler with canned answers.

The canned control stands in for the scheduler only here, where nothing may depend
on wall time, pids, temporary paths or jitter; the keys are tested against a real
scheduler in test_tui_keys.py.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from synctui.scheduler.control import Mode, Refused
from synctui.scheduler.events import EventBus, Subscription
from synctui.scheduler.records import Result, RunRecord, Trigger
from synctui.scheduler.status import JobStatus, SchedulerStatus
from synctui.tui.app import SyncTuiApp
from synctui.tui.widgets.log_tail import LogTail

NOW = datetime(2026, 3, 4, 14, 5, 0, tzinfo=timezone.utc)
ZONE = "America/Sao_Paulo"
DEMO_OUTPUT = [
    "created the upstream shop with 300 orders",
    "upstream shop: 6 new orders, 7 amended",
    "fetched 306 orders (first sync: copying everything)",
    *(f"batch {n}/16: upserted 20 rows" for n in range(1, 6)),
]
SYNC_OUTPUT = [
    "upstream shop: 4 new orders, 2 amended",
    "fetched 6 changed orders since 2026-03-04T10:46:48.112233-03:00",
    "batch 1/1: upserted 6 rows",
    "local copy: 312 orders, newest 2026-03-04 11:01:40",
]
FAILED_OUTPUT = [
    "building the report for 2026-03-04",
    "GET https://shop.example/api/report -> 503 Service Unavailable",
    "upstream returned 503 Service Unavailable",
]
DURATIONS = tuple((1.8 + (n % 5) * 0.3, True) for n in range(24))


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def job_status(name: str, **fields) -> JobStatus:
    """A job's status: never ran, not scheduled, unless `fields` say otherwise."""
    defaults = dict(
        schedule="every 15m", paused=False, running=False, running_run_id=None, last_run=None,
        last_result=None, last_run_id=None, last_trigger=None, last_error=None,
        last_duration_s=None, next_run=None, success_rate=None, p50_duration_s=None,
        p95_duration_s=None, freshness_s=None, health="new", recent_durations=(),
    )
    return JobStatus(name=name, **{**defaults, **fields})


def succeeded(name: str, run_id: int, **fields) -> JobStatus:
    """A job whose last run, 3 minutes ago, succeeded."""
    return job_status(name, **{
        "last_run": ago(192), "last_result": Result.SUCCESS, "last_run_id": run_id,
        "last_trigger": "scheduled", "last_duration_s": 2.3,
        "next_run": NOW + timedelta(seconds=708),
        "success_rate": 1.0, "p50_duration_s": 2.1, "p95_duration_s": 3.4, "freshness_s": 192.0,
        "health": "up", "recent_durations": DURATIONS, **fields,
    })


class CannedControl:
    """A `ConsoleBackend` that answers with a fixed status and fixed runs, and hosts nothing
    (quitting the console just quits)."""

    mode = Mode.IN_PROCESS
    reason = None
    waits = False
    hosting = False
    attached_to = None
    attached_consoles = 0

    def __init__(self, status: SchedulerStatus, runs: list[RunRecord]) -> None:
        self._status = status
        self._runs = sorted(runs, key=lambda run: run.id, reverse=True)
        self._bus = EventBus()

    def status(self) -> SchedulerStatus:
        return self._status

    def history(self, job=None, limit=100, before_id=None) -> list[RunRecord]:
        runs = [r for r in self._runs if (job is None or r.job == job)
                and (before_id is None or r.id < before_id)]
        return runs[:limit]

    def subscribe(self, notify=None, maxsize: int = 10_000) -> Subscription:
        return self._bus.subscribe(maxsize=maxsize, notify=notify)

    def _refuse(self, *args) -> None:
        raise Refused("canned: a snapshot takes no action")

    run_now = cancel = pause = resume = skip_next = stop = start = restart = reload = _refuse

    def hand_over(self) -> None:
        pass

    def end_runs_now(self) -> None:
        pass

    def shutdown(self, grace: float | None = None) -> list[RunRecord]:
        return []


@pytest.fixture
def make_app(tmp_path):
    """A factory: (jobs, runs with their output, ...) -> the console over canned answers."""

    def make(jobs: list[JobStatus], runs: dict[int, tuple[RunRecord, list[str]]], *,
             running: bool = True, demo: bool = False) -> SyncTuiApp:
        records = []
        for record, output in runs.values():
            log_path = tmp_path / f"{record.id}.log"
            log_path.write_text("".join(f"{line}\n" for line in output))
            records.append(RunRecord(**{**record.__dict__, "log_path": log_path}))
        status = SchedulerStatus(
            running=running, paused=all(job.paused for job in jobs), timezone=ZONE,
            interval_minutes=15.0, last_run=None, last_result=None, next_run=None, host=None,
            jobs={job.name: job for job in jobs},
        )
        app = SyncTuiApp(CannedControl(status, records), config=None,
                         config_name="demo" if demo else "shop",
                         zone=ZoneInfo(ZONE), demo=demo, clock=lambda: NOW)
        app.animation_level = "none"
        return app

    return make


def run(run_id: int, job: str, result: Result, trigger: Trigger, started: float,
        duration: float | None = None, error: str | None = None) -> RunRecord:
    return RunRecord(
        id=run_id, job=job, trigger=trigger, result=result, started_at=ago(started),
        finished_at=None if duration is None else ago(started - duration),
        duration_s=duration, error=error,
    )


async def settled(pilot, *keys: str) -> None:
    """Wait until the status is shown and the selected run's log is read."""
    await pilot.press(*keys)
    app = pilot.app
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        await app.workers.wait_for_complete()
        await pilot.pause()
        lines = app.query_one(LogTail).lines
        if app.selected is not None and lines and not lines[0].startswith("reading"):
            return
    raise AssertionError("the console did not settle")


def test_snapshot_demo_just_started(make_app, snap_compare):
    orders = job_status("orders", schedule="every 30s", running=True, running_run_id=1,
                        last_run=ago(3), last_result=Result.RUNNING, last_run_id=1,
                        last_trigger="start", next_run=NOW + timedelta(seconds=27))
    report = job_status("report", schedule="cron * * * * *", next_run=NOW + timedelta(seconds=55))
    app = make_app([orders, report], {1: (run(1, "orders", Result.RUNNING, Trigger.START, 3),
                                          DEMO_OUTPUT)}, demo=True)
    assert snap_compare(app, terminal_size=(100, 30), run_before=settled)


def test_snapshot_a_success(make_app, snap_compare):
    orders = succeeded("orders", 41)
    report = succeeded("report", 40, schedule="cron 0 * * * *", last_run=ago(300),
                       next_run=NOW + timedelta(seconds=3300), freshness_s=300.0,
                       last_duration_s=0.4, recent_durations=((0.4, True),) * 5)
    app = make_app([orders, report], {
        41: (run(41, "orders", Result.SUCCESS, Trigger.SCHEDULED, 192, 2.3), SYNC_OUTPUT),
    })
    assert snap_compare(app, terminal_size=(100, 30), run_before=settled)


def failure_scenario(make_app) -> SyncTuiApp:
    orders = succeeded("orders", 41)
    error = "exit status 1: upstream returned 503 Service Unavailable"
    report = job_status(
        "report", schedule="cron 0 * * * *", last_run=ago(65), last_result=Result.FAILURE,
        last_run_id=42, last_trigger="retry", last_error=error, last_duration_s=12.7,
        next_run=NOW + timedelta(seconds=3300), success_rate=0.9, p50_duration_s=11.2,
        p95_duration_s=14.9, freshness_s=3665.0, health="down",
        recent_durations=tuple((10 + n % 4, n % 6 != 5) for n in range(20)) + ((12.7, False),),
    )
    return make_app([orders, report], {
        41: (run(41, "orders", Result.SUCCESS, Trigger.SCHEDULED, 192, 2.3), SYNC_OUTPUT),
        42: (run(42, "report", Result.FAILURE, Trigger.RETRY, 65, 12.7, error), FAILED_OUTPUT),
    })


def test_snapshot_a_failure(make_app, snap_compare):
    app = failure_scenario(make_app)
    assert snap_compare(app, terminal_size=(100, 30), run_before=lambda p: settled(p, "j"))


def test_snapshot_running_with_output(make_app, snap_compare):
    orders = succeeded("orders", 41, running=True, running_run_id=43, last_run=ago(4),
                       last_result=Result.RUNNING, last_run_id=43, last_trigger="manual",
                       next_run=NOW + timedelta(seconds=45))
    report = succeeded("report", 40, schedule="cron 0 * * * *",
                       next_run=NOW + timedelta(seconds=3300))
    app = make_app([orders, report], {
        43: (run(43, "orders", Result.RUNNING, Trigger.MANUAL, 4), SYNC_OUTPUT[:3]),
    })
    assert snap_compare(app, terminal_size=(100, 30), run_before=settled)


def test_snapshot_paused(make_app, snap_compare):
    orders = succeeded("orders", 41, paused=True, next_run=None, health="paused")
    report = succeeded("report", 40, schedule="cron 0 * * * *", paused=True, next_run=None,
                       health="paused")
    app = make_app([orders, report], {
        41: (run(41, "orders", Result.SUCCESS, Trigger.SCHEDULED, 192, 2.3), SYNC_OUTPUT),
    })
    assert snap_compare(app, terminal_size=(100, 30), run_before=settled)


def test_snapshot_stopped(make_app, snap_compare):
    orders = succeeded("orders", 41, next_run=None)
    report = succeeded("report", 40, schedule="cron 0 * * * *", next_run=None)
    app = make_app([orders, report], {
        41: (run(41, "orders", Result.SUCCESS, Trigger.SCHEDULED, 192, 2.3), SYNC_OUTPUT),
    }, running=False)
    assert snap_compare(app, terminal_size=(100, 30), run_before=settled)


def test_snapshot_80x24(make_app, snap_compare):
    app = failure_scenario(make_app)
    assert snap_compare(app, terminal_size=(80, 24), run_before=lambda p: settled(p, "j"))
