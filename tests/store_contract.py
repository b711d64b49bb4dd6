"""The contract every `RunStore` keeps, written against the interface alone.

A test module subclasses `StoreContract` and provides an `open_store` fixture: a
function returning the store of one place, opened afresh on each call (the same
history each time), so that what must outlive a reopen can be checked.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from factories import job, request
from synctui.scheduler.events import EventBus
from synctui.scheduler.records import Fires, Result, Trigger
from synctui.scheduler.runner import Runner
from synctui.scheduler.seams import RunStore
from synctui.scheduler.records import HostRecord

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


class StoreContract:
    """What the lifecycle, the runner, status and health rely on of a store."""

    def test_implements_the_interface(self, open_store):
        assert isinstance(open_store(), RunStore)

    def test_a_run_is_recorded_running_then_finished(self, open_store):
        store = open_store()
        run = store.begin_run("orders", Trigger.SCHEDULED, T0, T0 + timedelta(seconds=1),
                              host=(4242, 7))
        assert (run.result, run.trigger, run.attempt) == (Result.RUNNING, Trigger.SCHEDULED, 1)
        assert run.log_path == store.log_path("orders", run.id)
        [orphan] = store.orphans()
        assert (orphan.run.id, orphan.host_pid, orphan.host_start) == (run.id, 4242, 7)
        done = store.finish_run(run.id, Result.FAILURE, T0 + timedelta(seconds=3), 2.0,
                                exit_code=3, error="exit status 3: nope", log_bytes=5)
        assert (done.result, done.exit_code, done.error, done.duration_s) == (
            Result.FAILURE, 3, "exit status 3: nope", 2.0)
        assert store.run(run.id) == done and store.orphans() == []
        assert store.outcomes("orders", [Result.FAILURE], 10) == [(Result.FAILURE, 2.0)]

    def test_runs_come_newest_first_by_job_and_page_by_id(self, open_store):
        store = open_store()
        ids = [store.begin_run(name, Trigger.MANUAL, T0, T0).id for name in "abab"]
        assert [run.id for run in store.runs()] == ids[::-1]
        assert [run.id for run in store.runs("a")] == [ids[2], ids[0]]
        assert [run.id for run in store.runs(limit=2)] == ids[:1:-1]
        assert [run.id for run in store.runs(before_id=ids[2])] == [ids[1], ids[0]]

    def test_consecutive_skips_are_one_record_with_a_count(self, open_store):
        store = open_store()
        store.record_skip("orders", T0, T0)
        second = store.record_skip("orders", T0 + timedelta(minutes=1), T0 + timedelta(minutes=1))
        assert second.skip_count == 2 and second.finished_at == T0 + timedelta(minutes=1)
        store.record_skip("other", T0, T0)  # another job's skip does not break the streak
        assert store.record_skip("orders", T0, T0).skip_count == 3
        run = store.begin_run("orders", Trigger.SCHEDULED, T0, T0)
        store.finish_run(run.id, Result.SUCCESS, T0, 1.0)
        fresh = store.record_skip("orders", T0, T0)
        assert fresh.skip_count == 1 and fresh.id != second.id
        assert [r.result for r in store.runs("orders")] == [
            Result.SKIPPED, Result.SUCCESS, Result.SKIPPED]

    def test_a_skip_for_another_reason_starts_a_record_of_its_own(self, open_store):
        store = open_store()
        first = store.record_skip("orders", T0, T0, "outside active_hours 06:00-22:00")
        assert store.record_skip("orders", T0, T0, first.reason).id == first.id
        other = store.record_skip("orders", T0, T0, "blackout 2026-12-24")
        assert other.id != first.id and other.skip_count == 1
        assert [(r.reason, r.skip_count) for r in store.runs("orders")] == [
            ("blackout 2026-12-24", 1), ("outside active_hours 06:00-22:00", 2)]

    def test_missed_fire_times_are_counted_apart_from_skips_with_their_first_and_last(
        self, open_store,
    ):
        store = open_store()
        store.record_skip("orders", T0, T0, "group full")
        first = store.record_skip("orders", T0, T0, "group full", result=Result.MISSED,
                                  count=5, last=T0 + timedelta(minutes=4))
        later = store.record_skip("orders", T0 + timedelta(minutes=5), T0, "group full",
                                  result=Result.MISSED, last=T0 + timedelta(minutes=5))
        assert later.id == first.id
        assert (later.skip_count, later.scheduled_at, later.last_scheduled_at) == (
            6, T0, T0 + timedelta(minutes=5))
        assert [(r.result, r.skip_count) for r in store.runs("orders")] == [
            (Result.MISSED, 6), (Result.SKIPPED, 1)]

    def test_the_last_success_and_a_pause_outlive_a_reopen(self, open_store):
        store = open_store()
        run = store.begin_run("orders", Trigger.MANUAL, T0, T0)
        store.finish_run(run.id, Result.SUCCESS, T0 + timedelta(seconds=3), 3.0)
        failed = store.begin_run("orders", Trigger.MANUAL, T0, T0 + timedelta(hours=1))
        store.finish_run(failed.id, Result.FAILURE, T0 + timedelta(hours=1), 1.0, exit_code=1)
        store.set_paused("orders", True)
        store.close()
        reopened = open_store()
        assert reopened.job_state("orders").last_success_started_at == T0
        assert reopened.job_state("orders").paused is True
        assert reopened.job_state("never-ran").last_success_started_at is None
        assert reopened.job_state("never-ran").paused is False
        assert reopened.paused_jobs() == {"orders"}
        reopened.set_paused("orders", False)
        assert reopened.paused_jobs() == set()

    def test_the_host_record_beats_and_is_released(self, open_store):
        store = open_store()
        assert store.host() is None
        host = HostRecord(pid=4242, start_ticks=7, mode="headless", config="/etc/s.toml",
                          started_at=T0, heartbeat_at=T0, scheduling=True, socket="/run/s.sock")
        store.claim_host(host)
        assert store.host() == host
        later = T0 + timedelta(seconds=5)
        fires = {"orders": Fires(T0 + timedelta(hours=1), T0, None)}
        store.heartbeat(4242, later, False, fires)
        beaten = store.host()
        assert (beaten.heartbeat_at, beaten.scheduling) == (later, False)
        assert store.fires()["orders"].next == fires["orders"].next
        store.release_host(4242)
        assert store.host() is None
        assert store.fires()["orders"].last == T0  # kept, for health with no host

    def test_retention_by_count_per_job_and_by_total_log_bytes(self, open_store):
        store = open_store()
        runner = Runner(store, EventBus())
        records = [runner.run(request(job("a", command="printf '%0100d\\n' 0"))) for _ in range(5)]
        other = runner.run(request(job("b", command="printf '%0100d\\n' 0")))
        assert store.apply_retention("a", keep_runs=3, keep_log_bytes=10**9) == 2
        assert [r.id for r in store.runs("a")] == [r.id for r in reversed(records[2:])]
        assert not records[0].log_path.exists() and records[2].log_path.exists()
        # 4 logs of 101 bytes remain; 250 bytes allowed: the two oldest go, their runs stay.
        assert store.apply_retention("b", keep_runs=3, keep_log_bytes=250) == 2
        assert not records[2].log_path.exists() and not records[3].log_path.exists()
        assert records[4].log_path.exists() and other.log_path.exists()
        assert store.run(records[2].id).log_path is None
        assert len(store.runs()) == 4

    def test_the_rollup_counts_each_hour_s_results_and_outlives_retention(self, open_store):
        store = open_store()
        ids = []
        for minutes, result, seconds in ((5, Result.SUCCESS, 2.0), (20, Result.FAILURE, 4.0),
                                         (30, Result.SUCCESS, 6.0), (70, Result.SUCCESS, 1.0)):
            at = T0 + timedelta(minutes=minutes)
            run = store.begin_run("orders", Trigger.SCHEDULED, at, at)
            store.finish_run(run.id, result, at + timedelta(seconds=seconds), seconds,
                             exit_code=0 if result is Result.SUCCESS else 1)
            ids.append(run.id)
        store.record_skip("orders", T0 + timedelta(minutes=40), T0 + timedelta(minutes=40))
        store.record_skip("orders", T0 + timedelta(hours=2), T0, "group full",
                          result=Result.MISSED, count=6, last=T0 + timedelta(hours=4))
        store.begin_run("orders", Trigger.MANUAL, T0, T0)  # running: not counted yet
        store.apply_retention("orders", keep_runs=1, keep_log_bytes=10**9)
        assert [run.result for run in store.runs("orders")] == [Result.RUNNING]
        store.close()
        rollup = open_store().rolled_up("orders", T0, T0 + timedelta(hours=5))
        hours = {(h.hour - T0, h.result): (h.runs, h.duration_sum_s, h.duration_max_s)
                 for h in rollup.hours}
        hour = timedelta(hours=1)
        assert hours == {
            (0 * hour, Result.SUCCESS): (2, 8.0, 6.0), (0 * hour, Result.FAILURE): (1, 4.0, 4.0),
            (0 * hour, Result.SKIPPED): (1, 0.0, None), (1 * hour, Result.SUCCESS): (1, 1.0, 1.0),
            # six missed fire times over three hours: two an hour
            (2 * hour, Result.MISSED): (2, 0.0, None), (3 * hour, Result.MISSED): (2, 0.0, None),
            (4 * hour, Result.MISSED): (2, 0.0, None),
        }
        first = next(h for h in rollup.hours if h.result is Result.SUCCESS)
        assert first.last_id == ids[2] and rollup.first_success == T0

    def test_the_rollup_keeps_each_hour_s_longest_wait_between_successes(self, open_store):
        store = open_store()
        for minutes, result in ((0, Result.SUCCESS), (10, Result.SUCCESS), (20, Result.FAILURE),
                                (40, Result.SUCCESS), (45, Result.SUCCESS),
                                (130, Result.SUCCESS)):
            at = T0 + timedelta(minutes=minutes)
            run = store.begin_run("orders", Trigger.SCHEDULED, at, at)
            store.finish_run(run.id, result, at + timedelta(seconds=1), 1.0)
        rollup = store.rolled_up("orders", T0, T0 + timedelta(hours=3))
        # In the first hour the waits were 10, 30 (the failure did not end it) and 5 minutes.
        assert [(w.end - T0, w.seconds) for w in rollup.waits] == [
            (timedelta(minutes=40), 1800.0), (timedelta(minutes=130), 85 * 60.0)]

    def test_rollup_hours_before_the_cut_are_forgotten(self, open_store):
        store = open_store()
        for days in (0, 10, 20):
            at = T0 + timedelta(days=days)
            run = store.begin_run("orders", Trigger.SCHEDULED, at, at)
            store.finish_run(run.id, Result.SUCCESS, at, 1.0)
        store.apply_retention("orders", 100, 10**9, rollup_since=T0 + timedelta(days=5))
        rollup = store.rolled_up("orders", T0, T0 + timedelta(days=30))
        assert [h.hour - T0 for h in rollup.hours] == [timedelta(days=10), timedelta(days=20)]
        assert rollup.first_success == T0 + timedelta(days=10)
        assert rollup.runs_kept_from == T0  # the runs themselves go by keep_runs

    def test_runs_between_come_oldest_first_and_the_newest_when_capped(self, open_store):
        store = open_store()
        ids = []
        for minutes in range(6):
            at = T0 + timedelta(minutes=minutes)
            ids.append(store.begin_run("orders", Trigger.SCHEDULED, at, at).id)
        store.begin_run("other", Trigger.SCHEDULED, T0, T0)
        between = store.runs_between("orders", T0 + timedelta(minutes=1),
                                     T0 + timedelta(minutes=5), 10)
        assert [run.id for run in between] == ids[1:5]
        capped = store.runs_between("orders", T0, T0 + timedelta(hours=1), 2)
        assert [run.id for run in capped] == ids[4:]
