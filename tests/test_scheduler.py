"""SyncScheduler with real runs at short intervals: firing, overlap, retries, catch-up, reload."""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timedelta, timezone

import pytest

from factories import config, discard, finished, next_event, wait_until
from synctui.scheduler.control import Refused
from synctui.scheduler.events import RunStarted, StateChanged
from synctui.scheduler.records import Result, Trigger
from synctui.scheduler.seams import HostSeat, RunStore
from synctui.scheduler.store import Store
from synctui.scheduler.sync_scheduler import SyncScheduler


@pytest.fixture
def make(tmp_path):
    made = []

    def build(jobs, **settings):
        scheduler = SyncScheduler(config(tmp_path, jobs, **settings), tick_s=0.1)
        made.append(scheduler)
        return scheduler

    yield build
    for scheduler in made:
        scheduler.shutdown(grace=0)
        scheduler.store.close()


def test_interval_job_fires_repeatedly_at_its_fire_times(make):
    scheduler = make({"tick": {"command": ["true"], "interval_s": 0.2}})
    events = scheduler.subscribe()
    scheduler.start()
    runs = [finished(events) for _ in range(3)]
    assert all(r.result is Result.SUCCESS and r.trigger is Trigger.SCHEDULED for r in runs)
    gaps = [(b.scheduled_at - a.scheduled_at).total_seconds() for a, b in zip(runs, runs[1:])]
    assert gaps == [pytest.approx(0.2, abs=1e-3)] * 2
    for run in runs:  # each run starts at its fire time (bound generous for a loaded machine)
        assert (run.started_at - run.scheduled_at).total_seconds() < 0.5


def test_overlap_skip_records_consecutive_skips_as_one_record(make):
    scheduler = make({"slow": {"command": "sleep 0.9", "interval_s": 0.2}})
    events = scheduler.subscribe()
    scheduler.start()
    first = finished(events, "slow")
    assert first.result is Result.SUCCESS
    skips = [r for r in scheduler.history("slow") if r.result is Result.SKIPPED]
    assert len(skips) == 1 and skips[0].skip_count >= 3
    assert skips[0].id > first.id


def test_overlap_replace_ends_the_running_run_and_starts_the_new_one(make):
    scheduler = make({"r": {"command": "sleep 30", "interval_s": 0.4, "overlap": "replace"}})
    events = scheduler.subscribe()
    scheduler.start()
    replaced = finished(events, "r")
    assert replaced.result is Result.REPLACED
    assert replaced.error == "replaced by a newer run (overlap = replace)"
    started = next_event(events, lambda e: isinstance(e, RunStarted) and e.run.id > replaced.id)
    assert started.run.trigger is Trigger.SCHEDULED


def test_manual_run_refused_while_running_and_within_the_cooldown(make):
    scheduler = make({
        "long": {"command": "sleep 30", "interval_s": 3600},
        "quick": {"command": ["true"], "interval_s": 3600, "manual_cooldown_s": 30},
    })
    scheduler.start()
    record = scheduler.run_now("long")
    assert record.trigger is Trigger.MANUAL and record.result is Result.RUNNING
    with pytest.raises(Refused, match=r"long is already running \(run \d+, started 0s ago\)"):
        scheduler.run_now("long")
    events = scheduler.subscribe()
    scheduler.run_now("quick")
    assert finished(events, "quick").result is Result.SUCCESS
    with pytest.raises(Refused, match=r"manual runs wait 30s after a start \(try again in (29|30)\.\ds\)"):
        scheduler.run_now("quick")
    with pytest.raises(Refused, match=r"no job named 'nope' \(jobs: long, quick\)"):
        scheduler.run_now("nope")


def test_failures_are_retried_with_doubling_backoff(make):
    scheduler = make({"flaky": {
        "command": "echo try $SYNCTUI_ATTEMPT; exit 1", "interval_s": 3600,
        "retries": 2, "retry_backoff_s": 0.2, "manual_cooldown_s": 0,
    }})
    events = scheduler.subscribe()
    scheduler.start()
    scheduler.run_now("flaky")
    runs = [finished(events, "flaky") for _ in range(3)]
    assert [(r.trigger, r.attempt) for r in runs] == [
        (Trigger.MANUAL, 1), (Trigger.RETRY, 2), (Trigger.RETRY, 3)]
    assert all(r.result is Result.FAILURE for r in runs)
    assert runs[2].error == "exit status 1: try 3"
    waits = [(b.started_at - a.finished_at).total_seconds() for a, b in zip(runs, runs[1:])]
    # Doubling: 0.2 s, then 0.4 s (upper bounds generous for a loaded machine).
    assert 0.2 <= waits[0] < 0.4 + 1.0 and 0.4 <= waits[1] < 0.8 + 1.0
    time.sleep(0.9)  # no fourth attempt comes
    assert len(scheduler.history("flaky")) == 3


def test_catch_up_runs_once_for_several_missed_fire_times(tmp_path, make):
    state = Store(tmp_path / "state")
    long_ago = datetime.now(timezone.utc) - timedelta(seconds=10)
    old = state.begin_run("sync", Trigger.SCHEDULED, long_ago, long_ago)
    state.finish_run(old.id, Result.SUCCESS, long_ago, 0.1)
    state.close()
    scheduler = make({"sync": {"command": ["true"], "interval_s": 3}})
    events = scheduler.subscribe()
    started = time.time()
    scheduler.start()
    caught_up = finished(events, "sync")
    assert caught_up.trigger is Trigger.CATCH_UP
    # The latest of the three missed fire times (at +3s, +6s, +9s), run once.
    assert caught_up.scheduled_at == long_ago + timedelta(seconds=9)
    assert caught_up.started_at.timestamp() - started < 1
    # The two before it: one `missed` record, with the first and last of them.
    missed = [run for run in scheduler.history("sync") if run.result is Result.MISSED]
    assert [(run.skip_count, run.scheduled_at, run.last_scheduled_at) for run in missed] == [
        (2, long_ago + timedelta(seconds=3), long_ago + timedelta(seconds=6))]
    assert "not running" in missed[0].reason
    with pytest.raises(AssertionError):
        finished(events, "sync", timeout=1.0)


def test_no_catch_up_when_disabled_and_run_on_start_instead(tmp_path, make):
    state = Store(tmp_path / "state")
    long_ago = datetime.now(timezone.utc) - timedelta(seconds=10)
    for job in ("sync", "boot"):
        old = state.begin_run(job, Trigger.SCHEDULED, long_ago, long_ago)
        state.finish_run(old.id, Result.SUCCESS, long_ago, 0.1)
    state.close()
    scheduler = make({
        "sync": {"command": ["true"], "interval_s": 3600},
        "boot": {"command": ["true"], "interval_s": 3600, "run_on_start": True},
    }, catch_up="none")
    events = scheduler.subscribe()
    scheduler.start()
    run = finished(events)
    assert (run.job, run.trigger) == ("boot", Trigger.START)
    with pytest.raises(AssertionError):
        finished(events, timeout=0.5)


def test_a_stalled_scheduler_coalesces_missed_fires_into_one_run(make):
    scheduler = make({"often": {"command": ["true"], "interval_s": 0.1}})
    events = scheduler.subscribe()
    scheduler.start()
    finished(events, "often")
    slot = scheduler.lifecycle.slot("often")
    with slot.lock:  # APScheduler's thread blocks in the hand-off, as in a suspend
        time.sleep(1.0)
    first = finished(events, "often")
    second = finished(events, "often")
    # After the stall: the blocked fire, then one run for the ~9 fire times missed.
    assert (second.scheduled_at - first.scheduled_at).total_seconds() > 0.5
    third = finished(events, "often")
    # Then the schedule goes on at its interval (a loaded machine may coalesce a few more).
    assert 0.09 < (third.scheduled_at - second.scheduled_at).total_seconds() < 0.5


def test_skip_next_drops_exactly_the_next_fire_time(make):
    scheduler = make({"s": {"command": ["true"], "interval_s": 0.5}})
    events = scheduler.subscribe()
    scheduler.start()
    skipped = scheduler.skip_next("s")
    next_event(events, lambda e: e == StateChanged("s", "skipped-next"))
    run = finished(events, "s")
    assert run.scheduled_at == skipped + timedelta(seconds=0.5)


def test_a_skip_holds_through_pause_and_resume_until_its_fire_time_passes(make):
    # The interval is far more than a pause and a resume take, even on a loaded machine.
    scheduler = make({"s": {"command": ["true"], "interval_s": 1.0}})
    events = scheduler.subscribe()
    scheduler.start()
    skipped = scheduler.skip_next("s")
    after_skip = scheduler.status().jobs["s"].next_run
    assert after_skip == skipped + timedelta(seconds=1)
    scheduler.pause("s")
    scheduler.resume("s")
    assert scheduler.status().jobs["s"].next_run == after_skip
    scheduler.pause()
    scheduler.resume()
    assert scheduler.status().jobs["s"].next_run == after_skip
    run = finished(events, "s")
    assert run.scheduled_at == after_skip

    # Paused past the skipped fire time, the skip is used up: the job fires as usual.
    skipped = scheduler.skip_next("s")
    scheduler.pause("s")
    assert wait_until(lambda: datetime.now(timezone.utc) > skipped + timedelta(seconds=0.2))
    discard(events)
    resumed_at = datetime.now(timezone.utc)
    scheduler.resume("s")
    upcoming = scheduler.status().jobs["s"].next_run
    assert resumed_at < upcoming <= resumed_at + timedelta(seconds=1)
    assert finished(events, "s").scheduled_at == upcoming
    assert skipped not in {run.scheduled_at for run in scheduler.history("s")}


def test_pause_and_resume_one_job_and_all(tmp_path, make):
    scheduler = make({
        "a": {"command": ["true"], "interval_s": 0.2},
        "b": {"command": ["true"], "interval_s": 0.2},
    })
    events = scheduler.subscribe()
    scheduler.start()
    scheduler.pause("a")
    status = scheduler.status()
    assert status.jobs["a"].paused and status.jobs["a"].health == "paused"
    assert status.jobs["a"].next_run is None and not status.paused
    with pytest.raises(Refused, match="a is paused"):
        scheduler.skip_next("a")
    since = len(scheduler.history("a"))
    time.sleep(0.3)
    discard(events)
    assert finished(events, "b").job == "b"
    assert len(scheduler.history("a")) == since
    scheduler.pause()
    assert scheduler.status().paused
    # Remembered across a restart of the process.
    assert Store(tmp_path / "state").job_state("b").paused
    scheduler.resume()
    assert finished(events, "a").result is Result.SUCCESS


def test_stop_and_start_and_restart(make):
    scheduler = make({"t": {"command": ["true"], "interval_s": 0.2}})
    events = scheduler.subscribe()
    scheduler.start()
    finished(events)
    scheduler.stop()
    assert not scheduler.status().running and scheduler.status().next_run is None
    with pytest.raises(Refused, match="already stopped"):
        scheduler.stop()
    # A run handed over just before the stop may still end; after that, nothing starts.
    assert wait_until(lambda: not scheduler.status().jobs["t"].running)
    count = len(scheduler.history("t"))
    discard(events)
    with pytest.raises(AssertionError):
        finished(events, timeout=0.5)
    assert len(scheduler.history("t")) == count
    scheduler.start()
    with pytest.raises(Refused, match="already running"):
        scheduler.start()
    finished(events)
    scheduler.restart()
    assert scheduler.status().running
    assert finished(events).result is Result.SUCCESS


def test_the_scheduler_hosts_through_a_seat_and_keeps_its_runs_in_a_store(make):
    scheduler = make({"quick": {"command": ["true"], "interval_s": 3600}})
    assert isinstance(scheduler.seat, HostSeat) and isinstance(scheduler.store, RunStore)
    assert not scheduler.hosting
    scheduler.start()
    assert scheduler.hosting and scheduler.seat.held
    assert scheduler.store.host().pid == scheduler.seat.record.pid == os.getpid()


def test_reload_adds_removes_and_changes_jobs_without_touching_runs(tmp_path, make):
    scheduler = make({
        "keep": {"command": "sleep 1; echo kept", "interval_s": 3600, "manual_cooldown_s": 0},
        "gone": {"command": "sleep 1", "interval_s": 3600, "manual_cooldown_s": 0},
    })
    events = scheduler.subscribe()
    scheduler.start()
    keep_run = scheduler.run_now("keep")
    gone_run = scheduler.run_now("gone")
    scheduler.take_config(config(tmp_path, {
        "keep": {"command": "echo changed", "interval_s": 0.3},
        "new": {"command": ["true"], "interval_s": 0.2},
    }))
    ended = {}
    while not {keep_run.id, gone_run.id} <= ended.keys():
        run = finished(events)
        ended[run.id] = run
    assert ended[keep_run.id].result is Result.SUCCESS
    assert keep_run.log_path.read_text() == "kept\n"  # the old command ran to its end
    assert ended[gone_run.id].result is Result.SUCCESS
    assert set(scheduler.status().jobs) == {"keep", "new"}
    run = finished(events, "keep")
    assert run.log_path.read_text() == "changed\n"
    assert finished(events, "new").trigger is Trigger.SCHEDULED


def test_a_run_of_a_job_a_reload_removed_can_still_be_cancelled(tmp_path, make):
    scheduler = make({"gone": {"command": "echo started; sleep 30", "interval_s": 3600}})
    events = scheduler.subscribe()
    scheduler.start()
    run = scheduler.run_now("gone")
    scheduler.take_config(config(tmp_path, {"other": {"command": ["true"], "interval_s": 3600}}))
    scheduler.cancel("gone")
    assert finished(events, "gone").result is Result.CANCELLED
    with pytest.raises(Refused, match="no job named 'gone'"):
        scheduler.cancel("gone")  # nothing of it runs any more
    assert scheduler.history("gone")[0].id == run.id


def test_shutdown_gives_the_grace_then_records_interrupted(make):
    scheduler = make({"long": {"command": "sleep 30", "interval_s": 3600}})
    scheduler.start()
    scheduler.run_now("long")
    began = time.monotonic()
    (record,) = scheduler.shutdown(grace=0.3)
    assert 0.3 <= time.monotonic() - began < 3
    assert record.result is Result.INTERRUPTED


def test_a_second_host_on_the_same_state_dir_is_refused(tmp_path, make):
    first = make({"t": {"command": ["true"], "interval_s": 3600}})
    first.start()
    second = make({"t": {"command": ["true"], "interval_s": 3600}})
    with pytest.raises(Refused, match=r"another synctui \(pid \d+, console\) already hosts"):
        second.start()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_watchdog_restarts_a_dead_scheduler_thread(make, caplog):
    scheduler = make({"t": {"command": ["true"], "interval_s": 0.2}})
    events = scheduler.subscribe()
    scheduler.start()
    finished(events)
    aps = scheduler._aps
    real = aps._process_jobs

    def explode():
        aps._process_jobs = real
        raise RuntimeError("simulated crash of the scheduler loop")

    aps._process_jobs = explode
    with caplog.at_level(logging.ERROR, logger="synctui.scheduler"):
        aps.wakeup()
        assert wait_until(lambda: "thread died; restarting" in caplog.text, timeout=5)
    discard(events)
    assert finished(events).result is Result.SUCCESS


def test_status_has_the_seed_keys_in_the_configured_zone(make):
    scheduler = make({"z": {"command": "echo $SYNCTUI_SCHEDULED_AT; sleep 0.1", "interval_s": 0.3}},
                     timezone="America/Sao_Paulo")
    events = scheduler.subscribe()
    scheduler.start()
    run = finished(events)
    data = scheduler.status().to_json()
    for key in ("running", "interval_minutes", "last_run", "last_result", "next_run",
                "paused", "timezone", "host", "jobs"):
        assert key in data
    assert data["running"] is True and data["timezone"] == "America/Sao_Paulo"
    assert data["last_run"].endswith("-03:00") and data["next_run"].endswith("-03:00")
    job = data["jobs"]["z"]
    for key in ("last_run", "last_result", "next_run", "last_duration_s", "success_rate",
                "p50_duration_s", "p95_duration_s", "freshness_s", "health"):
        assert key in job
    assert job["success_rate"] == 1.0 and job["health"] in ("up", "late")
    assert job["p50_duration_s"] >= 0.1 and job["freshness_s"] >= 0
    assert data["host"]["pid"] > 0 and data["host"]["mode"] == "console"
    # The job is told its fire time in the zone too.
    assert run.log_path.read_text().strip().endswith("-03:00")



def test_a_scheduler_that_fails_to_start_lets_the_next_one_host(tmp_path, monkeypatch):
    jobs = {"quick": {"command": "true", "interval_s": 3600}}
    broken = SyncScheduler(config(tmp_path, jobs))
    monkeypatch.setattr(broken, "_add_job", lambda *args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        broken.start()
    monkeypatch.undo()
    assert broken.server is None and broken.store.host() is None
    after = SyncScheduler(config(tmp_path, jobs))
    after.start()  # not "another synctui already hosts"
    after.shutdown(grace=0)
