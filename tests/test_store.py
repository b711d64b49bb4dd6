"""The SQLite history store: the store contract on real files, its schema, and what survives
a kill -9 of the host."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from factories import job, pid_alive, request, wait_until
from store_contract import T0, StoreContract
from synctui.scheduler.events import EventBus
from synctui.scheduler.processes import boot_id
from synctui.scheduler.records import Result, Trigger
from synctui.scheduler.runner import Runner
from synctui.scheduler.schema import MIGRATIONS, SCHEMA_VERSION
from synctui.scheduler.store import WAL_KEPT_BYTES, Store, StoreError

def test_wal_mode_and_schema_version(store):
    assert store.schema_version == SCHEMA_VERSION
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert oct(store.state_dir.stat().st_mode & 0o777) == "0o700"


def test_a_store_from_the_first_schema_migrates(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    old = sqlite3.connect(state / "synctui.db")
    old.executescript(MIGRATIONS[0])
    old.execute(
        "INSERT INTO runs (job, trigger, result, started_at, finished_at, duration_s, exit_code,"
        " log_path) VALUES ('orders', 'scheduled', 'success', ?, ?, 2.5, 0, '/x/1.log')",
        (T0.timestamp(), T0.timestamp() + 2.5),
    )
    old.execute("INSERT INTO job_state (job, paused) VALUES ('orders', 1)")
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()

    store = Store(state)
    assert store.schema_version == SCHEMA_VERSION
    (run,) = store.runs()
    assert (run.job, run.result, run.duration_s, run.exit_code) == ("orders", Result.SUCCESS, 2.5, 0)
    assert run.started_at == T0 and run.skip_count == 0 and run.log_bytes == 0
    assert store.job_state("orders").paused is True
    # The migrated store takes new records with the new columns.
    skipped = store.record_skip("orders", T0, T0)
    assert skipped.skip_count == 1


def test_a_newer_store_is_refused_with_a_clear_message(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    newer = sqlite3.connect(state / "synctui.db")
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.close()
    with pytest.raises(StoreError, match="newer synctui"):
        Store(state)


class TestSQLiteStore(StoreContract):
    """`Store`, on a real SQLite file, keeps the store contract."""

    @pytest.fixture
    def open_store(self, tmp_path):
        opened = []

        def open_store() -> Store:
            opened.append(Store(tmp_path / "state"))
            return opened[-1]

        yield open_store
        for store in opened:
            store.close()


HOST = textwrap.dedent("""
    import sys
    from datetime import datetime, timezone
    from synctui.config.model import JobConfig
    from synctui.scheduler.events import EventBus, OutputLines
    from synctui.scheduler.records import Trigger
    from synctui.scheduler.runner import Runner, RunRequest
    from synctui.scheduler.store import Store

    state, pidfile = sys.argv[1], sys.argv[2]
    bus = EventBus()
    runner = Runner(Store(state), bus)
    now = datetime.now(timezone.utc)
    done = runner.run(RunRequest(JobConfig("quick", command="echo done"), Trigger.MANUAL, now))
    print("finished", done.id, flush=True)
    events = bus.subscribe()
    # Both sleeps are forked before `started` is said: the kill finds two, always.
    command = f"sleep 300 & echo $! > {pidfile}; sleep 300 & echo started; wait"
    runner.start(RunRequest(JobConfig("stuck", command=command), Trigger.SCHEDULED, now))
    while not any(isinstance(e, OutputLines) and "started" in e.lines for e in events.get(5)):
        pass
    print("running", flush=True)
    sys.stdin.read()
""")


def test_kill_9_of_the_host_loses_nothing_and_leaves_nothing_running(tmp_path):
    state, pidfile = tmp_path / "state", tmp_path / "grandchild"
    host = subprocess.Popen(
        [sys.executable, "-c", HOST, str(state), str(pidfile)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert host.stdout.readline().split()[0] == "finished"
    assert host.stdout.readline() == "running\n"
    grandchild = int(pidfile.read_text())
    stuck = Store(state).runs("stuck")[0]
    host.kill()
    host.wait()
    store = Store(state)
    (orphan,) = store.orphans()
    # The job's shell dies with its host (parent-death signal); the rest of its
    # session is left for the next start to end.
    assert wait_until(lambda: not pid_alive(orphan.session), timeout=3)
    assert pid_alive(grandchild)
    assert store.run(stuck.id).result is Result.RUNNING
    (recovered,) = Runner(store, EventBus()).recover()
    assert recovered.id == stuck.id and recovered.result is Result.INTERRUPTED
    assert f"(pid {host.pid}) died while it ran" in recovered.error
    # Both sleeps: the one in the background and the one the shell was waiting for.
    assert "ended 2 processes it left behind" in recovered.error
    assert wait_until(lambda: not pid_alive(grandchild), timeout=3)
    assert store.runs("quick")[0].result is Result.SUCCESS
    assert "started" in recovered.log_path.read_text()
    assert Runner(store, EventBus()).recover() == []


def test_recovery_leaves_a_live_hosts_run_alone(runner, store, tmp_path):
    handle = runner.start(request(job(command="sleep 300")))
    try:
        assert runner.recover() == []
        assert store.run(handle.run.id).result is Result.RUNNING
    finally:
        handle.cancel()
        handle.wait(10)


def test_recovery_never_kills_a_stranger_in_a_reused_session(store):
    # A session whose members carry another run's id is not this run's.
    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True,
                                env={**os.environ, "SYNCTUI_RUN_ID": "999"})
    try:
        run = store.begin_run("x", Trigger.MANUAL, T0, T0, host=(2**22 + 1, 0))
        store.set_process(run.id, stranger.pid, 12345, boot_id(), T0)
        (recovered,) = Runner(store, EventBus()).recover()
        assert recovered.result is Result.INTERRUPTED
        assert "left behind" not in recovered.error
        assert stranger.poll() is None
    finally:
        stranger.send_signal(signal.SIGKILL)
        stranger.wait()


def test_recovery_ends_a_run_whose_host_died_before_storing_its_session(store, tmp_path):
    # The host stored the run (with its token) and started the job, then died before
    # `set_process`: only the token names the job's processes, two of them ignoring
    # SIGTERM. A process of another state dir with the same run id is not the run's.
    run = store.begin_run("x", Trigger.MANUAL, T0, T0, host=(2**22 + 1, 0), token="f00d" * 8)
    pidfile = tmp_path / "children"
    job_env = {**os.environ, "SYNCTUI_RUN_ID": str(run.id), "SYNCTUI_RUN_TOKEN": "f00d" * 8}
    shell = subprocess.Popen(
        ["sh", "-c", f"trap '' TERM; sleep 300 & echo $! > {pidfile}; "
                     f"sleep 300 & echo $! >> {pidfile}; wait"],
        start_new_session=True, env=job_env,
    )
    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True,
                                env={**os.environ, "SYNCTUI_RUN_ID": str(run.id)})
    try:
        assert wait_until(lambda: len(pidfile.read_text().split()) == 2 if pidfile.exists()
                          else False)
        children = [int(pid) for pid in pidfile.read_text().split()]
        (recovered,) = Runner(store, EventBus()).recover()
        assert recovered.result is Result.INTERRUPTED
        assert "ended 3 processes it left behind" in recovered.error
        assert wait_until(lambda: not any(pid_alive(pid) for pid in children), timeout=3)
        assert shell.wait(timeout=3) == -signal.SIGKILL
        assert stranger.poll() is None
    finally:
        for process in (shell, stranger):
            process.kill()
            process.wait()


def test_a_store_from_before_the_rollup_is_rolled_up_from_its_runs(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    old = sqlite3.connect(state / "synctui.db")
    for migration in MIGRATIONS[:8]:
        old.executescript(migration)
    for minutes, result in ((0, "success"), (10, "failure"), (30, "success"), (95, "success")):
        at = T0.timestamp() + minutes * 60
        old.execute(
            "INSERT INTO runs (job, trigger, result, started_at, finished_at, duration_s,"
            " scheduled_at) VALUES ('orders', 'scheduled', ?, ?, ?, 2.0, ?)",
            (result, at, at + 2, at),
        )
    old.execute(
        "INSERT INTO runs (job, trigger, result, scheduled_at, started_at, finished_at,"
        " skip_count) VALUES ('orders', 'scheduled', 'skipped', ?, ?, ?, 3)",
        (T0.timestamp() + 120 * 60,) * 3,
    )
    old.execute("PRAGMA user_version = 8")
    old.commit()
    old.close()

    store = Store(state)
    rollup = store.rolled_up("orders", T0, T0 + timedelta(hours=3))
    assert [(h.hour - T0, h.result, h.runs) for h in rollup.hours] == [
        (timedelta(0), Result.FAILURE, 1), (timedelta(0), Result.SUCCESS, 2),
        (timedelta(hours=1), Result.SUCCESS, 1), (timedelta(hours=2), Result.SKIPPED, 3),
    ]
    assert [(w.end - T0, w.seconds) for w in rollup.waits] == [
        (timedelta(minutes=30), 1800.0), (timedelta(minutes=95), 65 * 60.0)]


def test_the_write_ahead_log_shrinks_back_once_a_checkpoint_catches_up(tmp_path):
    """The soak found a state directory 4.6 MB over its logs' limit: a write-ahead log that
    grew while checkpoints lagged, and kept that size."""
    store = Store(tmp_path / "state")
    store.checkpoint_on_demand()  # as a scheduler has it: checkpoints only when asked
    wal = store.path.with_name(store.path.name + "-wal")
    for _ in range(2000):
        record = store.begin_run("orders", Trigger.MANUAL, T0, T0)
        store.finish_run(record.id, Result.SUCCESS, T0, 1.0, log_bytes=5)
    grown = wal.stat().st_size
    assert grown > 4 * WAL_KEPT_BYTES
    store.checkpoint()
    store.begin_run("orders", Trigger.MANUAL, T0, T0)  # the next write starts the log anew
    assert wal.stat().st_size <= WAL_KEPT_BYTES
    store.close()


def test_a_store_from_before_the_log_total_trims_its_old_logs_to_the_limit(tmp_path):
    """The logs' total is counted once at the migration, then kept by the store itself:
    retention after a run reads it instead of adding up every run's log."""
    state = tmp_path / "state"
    state.mkdir()
    old = sqlite3.connect(state / "synctui.db")
    for migration in MIGRATIONS[:9]:
        old.executescript(migration)
    logs = []
    for n in range(150):  # more than one batch of the oldest logs
        path = state / f"{n}.log"
        path.write_bytes(b"x" * 10)
        logs.append(path)
        old.execute(
            "INSERT INTO runs (job, trigger, result, started_at, finished_at, log_path,"
            " log_bytes) VALUES ('orders', 'scheduled', 'success', ?, ?, ?, 10)",
            (T0.timestamp() + n, T0.timestamp() + n, str(path)),
        )
    old.execute("PRAGMA user_version = 9")
    old.commit()
    old.close()

    store = Store(state)
    assert store.apply_retention("orders", keep_runs=1000, keep_log_bytes=200) == 130
    assert [path.exists() for path in logs] == [False] * 130 + [True] * 20
    record = store.begin_run("orders", Trigger.MANUAL, T0, T0)
    store.finish_run(record.id, Result.SUCCESS, T0, 1.0, log_bytes=5)
    # 20 kept logs and the new one of 5 bytes: 205 > 200, so the oldest kept log goes.
    assert store.apply_retention("orders", keep_runs=1000, keep_log_bytes=200) == 1
    assert not logs[130].exists() and logs[131].exists()
    assert store.run(record.id).log_path is not None
