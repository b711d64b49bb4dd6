"""The history store: every run and each job's state, in SQLite under the state directory.

WAL mode with `synchronous=NORMAL` makes each committed transaction survive a
kill -9 of the process (not a power cut, which may lose the last few); every
change that finishes a run is one transaction, so a run is either still
`running` (and becomes `interrupted` at the next start) or completely recorded.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from synctui.scheduler.records import (
    Fires, HostRecord, JobState, Orphan, Result, RunRecord, Trigger,
)
from synctui.scheduler.rollup import JobRollup, Rollup
from synctui.scheduler.schema import MIGRATIONS, SCHEMA_VERSION

DB_NAME = "synctui.db"
LOGS_DIR = "logs"


_RUN_COLUMNS = (
    "id, job, trigger, result, attempt, scheduled_at, started_at, finished_at,"
    " duration_s, exit_code, signal, error, log_path, log_bytes, skip_count, reason,"
    " last_scheduled_at"
)


WAL_KEPT_BYTES = 1 << 20
"""The most of its write-ahead log a store leaves on disk once a checkpoint has caught up."""


class StoreError(Exception):
    """The store cannot be used (newer schema, unreadable file); the message says why."""


class StoreFull(StoreError):
    """A write found no room on the disk; nothing was written, and the store takes writes
    again once there is room."""


def _ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


def _record(row: tuple) -> RunRecord:
    return RunRecord(
        id=row[0],
        job=row[1],
        trigger=Trigger(row[2]),
        result=Result(row[3]),
        attempt=row[4],
        scheduled_at=_dt(row[5]),
        started_at=_dt(row[6]),
        finished_at=_dt(row[7]),
        duration_s=row[8],
        exit_code=row[9],
        signal=row[10],
        error=row[11],
        log_path=Path(row[12]) if row[12] else None,
        log_bytes=row[13],
        skip_count=row[14],
        reason=row[15],
        last_scheduled_at=_dt(row[16]),
    )


class Store:
    """One SQLite history file; safe to share between threads of one process.

    Writes go through one connection, reads through a second: in WAL mode a reader
    never waits for a writer, so a status asked during a burst of runs starting and
    ending is not queued behind their records.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.logs_dir = self.state_dir / LOGS_DIR
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = self.state_dir / DB_NAME
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._rollup: Rollup
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # A checkpoint that cannot keep up (readers, a host frozen, a burst) grows the
            # write-ahead log; without a limit the file keeps its largest size for good.
            self._db.execute(f"PRAGMA journal_size_limit = {WAL_KEPT_BYTES}")
            self._migrate()
            self._rollup = Rollup(self._db)
            self._reader = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._reader.execute("PRAGMA query_only = 1")
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot open the history store: {error}") from None

    @property
    def schema_version(self) -> int:
        """The schema version the file is at."""
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer synctui (schema {version}, this one"
                f" knows {SCHEMA_VERSION}); upgrade synctui"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            # executescript commits first, so the version bump rides in the same script.
            self._db.executescript(
                f"BEGIN IMMEDIATE; {script}; PRAGMA user_version = {number}; COMMIT;"
            )

    def close(self) -> None:
        """Close the file."""
        with self._lock, self._read_lock:
            self._db.close()
            self._reader.close()

    def _write(self, sql: str, params: Iterable = ()) -> None:
        with self._lock, self._failing():
            # Stepped to its end under the lock: a statement left active (a PRAGMA's result
            # row) would make another thread's COMMIT fail with "statements in progress".
            self._db.execute(sql, tuple(params)).fetchall()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, under the lock: committed whole, or rolled back."""
        with self._lock, self._failing():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a full disk rolls it back itself
                    self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def _failing(self) -> Iterator[None]:
        """A full disk as the `StoreFull` it is: the store is intact and takes writes again
        once there is room."""
        try:
            yield
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_FULL:
                raise
            raise StoreFull(f"{self.path}: cannot write the history store: the disk is"
                            " full") from None

    def _read(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._read_lock:
            return self._reader.execute(sql, tuple(params)).fetchall()

    def checkpoint_on_demand(self) -> None:
        """Stop SQLite checkpointing inside commits; the owner calls `checkpoint()` instead.

        An automatic checkpoint lands in whichever commit crosses the threshold, and a
        run's first commit is on the path from a fire to its job: a scheduler moves
        that work to its own idle tick.
        """
        self._write("PRAGMA wal_autocheckpoint = 0")

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database without waiting for readers."""
        self._write("PRAGMA wal_checkpoint(PASSIVE)")

    # --- runs -------------------------------------------------------------------

    def log_path(self, job: str, run_id: int) -> Path:
        """Where a run's output goes."""
        return self.logs_dir / job / f"{run_id}.log"

    def begin_run(
        self,
        job: str,
        trigger: Trigger,
        scheduled_at: datetime,
        started_at: datetime,
        attempt: int = 1,
        host: tuple[int, int | None] | None = None,
        token: str | None = None,
        covers: bool = True,
        window: tuple[datetime, datetime] | None = None,
    ) -> RunRecord:
        """Record a run as `running` and give it its id and log path.

        `host` is (pid, start ticks) of the process that holds the run, so that a
        later start can tell whether that process is gone; `token` is what its
        processes will carry in their environment, to be found if that process dies.
        `covers`: whether its success moves the watermark; `window`: a backfill run's window.
        """
        window_start, window_end = window if window else (None, None)
        host_pid, host_start = host if host else (None, None)
        with self._transaction():
            run_id = self._db.execute(
                "INSERT INTO runs (job, trigger, result, attempt, scheduled_at, started_at,"
                " host_pid, host_start, token, covers, window_start, window_end)"
                " VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job, trigger.value, attempt, _ts(scheduled_at), _ts(started_at),
                 host_pid, host_start, token, int(covers), _ts(window_start),
                 _ts(window_end)),
            ).lastrowid
            log_path = self.log_path(job, run_id)
            self._db.execute("UPDATE runs SET log_path = ? WHERE id = ?", (str(log_path), run_id))
        return RunRecord(
            id=run_id, job=job, trigger=trigger, result=Result.RUNNING, attempt=attempt,
            scheduled_at=scheduled_at, started_at=started_at, log_path=log_path,
        )

    def set_process(
        self, run_id: int, session: int, leader_start: int | None, boot: str,
        started_at: datetime,
    ) -> None:
        """Remember which process session a run's job lives in, and when it started (in a
        burst, a while after the run was recorded)."""
        self._write(
            "UPDATE runs SET session = ?, leader_start = ?, boot_id = ?, started_at = ?"
            " WHERE id = ?",
            (session, leader_start, boot, _ts(started_at), run_id),
        )

    def finish_run(
        self,
        run_id: int,
        result: Result,
        finished_at: datetime,
        duration_s: float | None,
        exit_code: int | None = None,
        signal: str | None = None,
        error: str | None = None,
        log_bytes: int = 0,
    ) -> RunRecord:
        """Give a running run its result; a success that covers everything since the
        watermark moves it, and becomes the job's last success."""
        with self._transaction():
            self._db.execute(
                "UPDATE runs SET result = ?, finished_at = ?, duration_s = ?, exit_code = ?,"
                " signal = ?, error = ?, log_bytes = ? WHERE id = ?",
                (result.value, _ts(finished_at), duration_s, exit_code, signal, error,
                 log_bytes, run_id),
            )
            row = self._db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            covers = self._db.execute(
                "SELECT covers FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
            if row[6] is not None:
                self._rollup.count_run(row[1], result, row[6], duration_s, run_id)
            if result is Result.SUCCESS and covers:
                previous = self._db.execute(
                    "SELECT last_success_started_at FROM job_state WHERE job = ?", (row[1],)
                ).fetchone()
                self._rollup.count_wait(row[1], previous and previous[0], row[6])
                self._db.execute(
                    "INSERT INTO job_state (job, last_success_started_at, watermark)"
                    " VALUES (?, ?, ?) ON CONFLICT (job) DO UPDATE SET"
                    " last_success_started_at = max(coalesce(last_success_started_at, 0),"
                    " excluded.last_success_started_at),"
                    " watermark = max(coalesce(watermark, 0), excluded.watermark)",
                    (row[1], row[6], row[6]),
                )
        return _record(row)

    def record_skip(
        self, job: str, scheduled_at: datetime, at: datetime, reason: str | None = None, *,
        result: Result = Result.SKIPPED, count: int = 1, last: datetime | None = None,
    ) -> RunRecord:
        """Record fire times that never started: skipped (a run was going, a blackout) or
        missed, `count` of them from `scheduled_at` to `last` (the same by default).

        Consecutive ones with the same result and reason (no other run of the job recorded
        in between) are one record whose `skip_count` grows and whose `finished_at` is the
        latest.
        """
        last = last or scheduled_at
        with self._transaction():
            newest = self._db.execute(
                "SELECT id, result, reason FROM runs WHERE job = ? ORDER BY id DESC LIMIT 1",
                (job,),
            ).fetchone()
            if newest is not None and newest[1] == result.value and newest[2] == reason:
                run_id = newest[0]
                self._db.execute(
                    "UPDATE runs SET skip_count = skip_count + ?, finished_at = ?,"
                    " last_scheduled_at = MAX(COALESCE(last_scheduled_at, 0), ?) WHERE id = ?",
                    (count, _ts(at), _ts(last), run_id),
                )
            else:
                run_id = self._db.execute(
                    "INSERT INTO runs (job, trigger, result, scheduled_at, started_at,"
                    " finished_at, duration_s, skip_count, reason, last_scheduled_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                    (job, Trigger.SCHEDULED.value, result.value, _ts(scheduled_at),
                     _ts(at), _ts(at), count, reason, _ts(last)),
                ).lastrowid
            row = self._db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            self._rollup.count_not_run(job, result, _ts(scheduled_at), _ts(last), count,
                                       run_id)
        return _record(row)

    def run(self, run_id: int) -> RunRecord | None:
        """One run by id."""
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        return _record(rows[0]) if rows else None

    def runs(
        self, job: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[RunRecord]:
        """The newest runs first, of one job or all, optionally older than `before_id`."""
        clauses, params = [], []
        if job is not None:
            clauses.append("job = ?")
            params.append(job)
        if before_id is not None:
            clauses.append("id < ?")
            params.append(before_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._read(
            f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [_record(row) for row in rows]

    def runs_between(
        self, job: str, since: datetime, until: datetime, limit: int
    ) -> list[RunRecord]:
        """The job's runs that started in [since, until), oldest first; at most `limit`,
        the newest ones when there are more."""
        rows = self._read(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE job = ? AND started_at >= ?"
            " AND started_at < ? ORDER BY started_at DESC LIMIT ?",
            (job, _ts(since), _ts(until), limit),
        )
        return [_record(row) for row in reversed(rows)]

    def rolled_up(self, job: str, since: datetime, until: datetime) -> JobRollup:
        """The job's roll-up over the hours that overlap [since, until)."""
        with self._read_lock:
            # One read transaction: its several queries see one moment of the history.
            self._reader.execute("BEGIN")
            try:
                return Rollup(self._reader).of(job, _ts(since), _ts(until))
            finally:
                self._reader.execute("COMMIT")

    def outcomes(self, job: str, results: Iterable[Result], limit: int) -> list[tuple[Result, float | None]]:
        """(result, duration) of the job's newest runs that ended in one of `results`.

        Lighter than `runs()`: status reads a hundred of these per job.
        """
        wanted = [r.value for r in results]
        rows = self._read(
            f"SELECT result, duration_s FROM runs WHERE job = ? AND result IN"
            f" ({', '.join('?' * len(wanted))}) ORDER BY id DESC LIMIT ?",
            (job, *wanted, limit),
        )
        return [(Result(result), duration) for result, duration in rows]

    def orphans(self) -> list[Orphan]:
        """Runs still marked `running`, with what identifies their host and processes."""
        rows = self._read(
            f"SELECT {_RUN_COLUMNS}, session, leader_start, boot_id, host_pid, host_start, token"
            " FROM runs WHERE result = 'running' ORDER BY id"
        )
        width = len(_RUN_COLUMNS.split(","))
        return [Orphan(_record(row[:width]), *row[width:]) for row in rows]

    # --- job state --------------------------------------------------------------

    def job_state(self, job: str) -> JobState:
        """The job's remembered state (defaults for a job never seen)."""
        rows = self._read(
            "SELECT paused, last_success_started_at, watermark FROM job_state WHERE job = ?",
            (job,),
        )
        if not rows:
            return JobState()
        paused, last_success, watermark = rows[0]
        return JobState(bool(paused), _dt(last_success), _dt(watermark))

    def paused_jobs(self) -> set[str]:
        """The names of the jobs paused, in one read (a host compares them every tick)."""
        return {job for (job,) in self._read("SELECT job FROM job_state WHERE paused")}

    def backfilled(self, job: str) -> set[tuple[datetime, datetime]]:
        """The windows of the job's backfill runs (retries included) that succeeded."""
        rows = self._read(
            "SELECT window_start, window_end FROM runs WHERE job = ? AND result = 'success'"
            " AND window_start IS NOT NULL", (job,),
        )
        return {(_dt(start), _dt(end)) for start, end in rows}

    def set_paused(self, job: str, paused: bool) -> None:
        """Remember whether a job is paused, across restarts."""
        self._write(
            "INSERT INTO job_state (job, paused) VALUES (?, ?)"
            " ON CONFLICT (job) DO UPDATE SET paused = excluded.paused",
            (job, int(paused)),
        )

    # --- the host ---------------------------------------------------------------

    def claim_host(self, host: HostRecord) -> None:
        """Say who hosts the scheduler for this state directory (one row, replaced)."""
        self._write(
            "INSERT OR REPLACE INTO host (id, pid, start_ticks, mode, config, started_at,"
            " heartbeat_at, scheduling, socket) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
            (host.pid, host.start_ticks, host.mode, host.config, _ts(host.started_at),
             _ts(host.heartbeat_at), int(host.scheduling), host.socket),
        )

    def heartbeat(
        self, pid: int, at: datetime, scheduling: bool, fires: Mapping[str, Fires],
        wedged: str | None = None,
    ) -> None:
        """The host is alive at `at`; `fires` holds each job's fire times around now."""
        with self._transaction():
            self._db.execute(
                "UPDATE host SET heartbeat_at = ?, scheduling = ?, wedged = ? WHERE pid = ?",
                (_ts(at), int(scheduling), wedged, pid),
            )
            self._db.execute("DELETE FROM schedule")
            self._db.executemany(
                "INSERT INTO schedule (job, next_fire, last_fire, before_last_fire)"
                " VALUES (?, ?, ?, ?)",
                [(job, _ts(f.next), _ts(f.last), _ts(f.before_last))
                 for job, f in fires.items()],
            )

    def release_host(self, pid: int) -> None:
        """The host `pid` has stopped (its last fire times stay, for health without a host)."""
        self._write("DELETE FROM host WHERE pid = ?", (pid,))

    def host(self) -> HostRecord | None:
        """The last host to claim this state directory (alive or not: check its pid)."""
        rows = self._read(
            "SELECT pid, start_ticks, mode, config, started_at, heartbeat_at, scheduling,"
            " socket, wedged FROM host"
        )
        if not rows:
            return None
        row = rows[0]
        return HostRecord(
            row[0], row[1], row[2], row[3], _dt(row[4]), _dt(row[5]), bool(row[6]), row[7],
            row[8],
        )

    def fires(self) -> dict[str, Fires]:
        """Each job's fire times as the host last wrote them."""
        rows = self._read("SELECT job, next_fire, last_fire, before_last_fire FROM schedule")
        return {job: Fires(_dt(n), _dt(last), _dt(before)) for job, n, last, before in rows}

    # --- retention --------------------------------------------------------------

    def apply_retention(
        self, job: str, keep_runs: int, keep_log_bytes: int,
        rollup_since: datetime | None = None,
    ) -> int:
        """Forget the job's runs beyond the newest `keep_runs` (and its roll-up's hours
        before `rollup_since`), then delete the oldest logs of any job until all logs
        together fit in `keep_log_bytes`.

        Returns how many log files were deleted.
        """
        with self._transaction():
            doomed = self._db.execute(
                "SELECT id, log_path FROM runs WHERE job = ? AND result != 'running'"
                " AND id < (SELECT min(id) FROM (SELECT id FROM runs WHERE job = ?"
                " ORDER BY id DESC LIMIT ?))",
                (job, job, keep_runs),
            ).fetchall()
            self._db.executemany("DELETE FROM runs WHERE id = ?", [(r[0],) for r in doomed])
            if rollup_since is not None:
                self._rollup.forget(job, _ts(rollup_since))
            paths = [r[1] for r in doomed if r[1]]
            total = self._db.execute("SELECT bytes FROM log_total").fetchone()[0]
            after = 0
            while total > keep_log_bytes:
                oldest = self._db.execute(
                    "SELECT id, log_path, log_bytes FROM runs WHERE log_path IS NOT NULL"
                    " AND result != 'running' AND id > ? ORDER BY id LIMIT 64", (after,)
                ).fetchall()
                for run_id, log_path, size in oldest:
                    if total <= keep_log_bytes:
                        break
                    self._db.execute(
                        "UPDATE runs SET log_path = NULL, log_bytes = 0 WHERE id = ?", (run_id,)
                    )
                    paths.append(log_path)
                    total -= size
                if len(oldest) < 64:
                    break  # what is left over the limit is the running runs' logs
                after = oldest[-1][0]
        # Files go after the commit: a crash in between leaves a stray file, never a
        # record pointing at a missing log.
        for path in paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        return len(paths)
