"""The history store's SQLite schema, as the migrations that build it: a store at version N
runs entries N.. in order, each in the transaction that records its version."""

from __future__ import annotations

# Each entry moves the schema one version up; a store at version N runs entries N.. in order.
MIGRATIONS: tuple[str, ...] = (
    # 1: runs and per-job state.
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job TEXT NOT NULL,
        trigger TEXT NOT NULL,
        result TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        scheduled_at REAL,
        started_at REAL,
        finished_at REAL,
        duration_s REAL,
        exit_code INTEGER,
        signal TEXT,
        error TEXT,
        log_path TEXT
    );
    CREATE INDEX runs_by_job ON runs (job, id);
    CREATE TABLE job_state (
        job TEXT PRIMARY KEY,
        paused INTEGER NOT NULL DEFAULT 0,
        last_success_started_at REAL
    );
    """,
    # 2: skip counts, log sizes, what proves a leftover process session is a run's,
    # and the live host's heartbeat and fire times (read by `status` without a scheduler).
    """
    ALTER TABLE runs ADD COLUMN skip_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN log_bytes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN session INTEGER;
    ALTER TABLE runs ADD COLUMN leader_start INTEGER;
    ALTER TABLE runs ADD COLUMN boot_id TEXT;
    ALTER TABLE runs ADD COLUMN host_pid INTEGER;
    ALTER TABLE runs ADD COLUMN host_start INTEGER;
    CREATE INDEX runs_running ON runs (result) WHERE result = 'running';
    CREATE TABLE host (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pid INTEGER NOT NULL,
        start_ticks INTEGER,
        mode TEXT NOT NULL,
        config TEXT,
        started_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL,
        scheduling INTEGER NOT NULL
    );
    CREATE TABLE schedule (
        job TEXT PRIMARY KEY,
        next_fire REAL,
        last_fire REAL,
        before_last_fire REAL
    );
    """,
    # 3: where the host serves its control socket.
    """
    ALTER TABLE host ADD COLUMN socket TEXT;
    """,
    # 4: why a skipped record's fire times were skipped.
    """
    ALTER TABLE runs ADD COLUMN reason TEXT;
    """,
    # 5: the watermark (the start of the last success that covered everything since the
    # one before), whether each run may move it, and each backfill run's window.
    """
    ALTER TABLE job_state ADD COLUMN watermark REAL;
    UPDATE job_state SET watermark = last_success_started_at;
    ALTER TABLE runs ADD COLUMN covers INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE runs ADD COLUMN window_start REAL;
    ALTER TABLE runs ADD COLUMN window_end REAL;
    """,
    # 6: the last fire time a skipped or missed record stands for.
    """
    ALTER TABLE runs ADD COLUMN last_scheduled_at REAL;
    UPDATE runs SET last_scheduled_at = scheduled_at WHERE result = 'skipped';
    """,
    # 7: the random token a run's processes inherit, stored before its job starts.
    """
    ALTER TABLE runs ADD COLUMN token TEXT;
    """,
    # 8: what wedges the host, written with each heartbeat (read by `health --liveness`).
    """
    ALTER TABLE host ADD COLUMN wedged TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
