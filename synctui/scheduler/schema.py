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
    # 9: the roll-up per job and hour the timeline draws from, kept longer than the runs,
    # made from the runs recorded so far; runs found by start time.
    """
    CREATE INDEX runs_by_start ON runs (job, started_at);
    CREATE TABLE rollup (
        job TEXT NOT NULL,
        hour REAL NOT NULL,
        result TEXT NOT NULL,
        runs INTEGER NOT NULL,
        duration_sum REAL NOT NULL DEFAULT 0,
        duration_max REAL,
        last_id INTEGER,
        PRIMARY KEY (job, hour, result)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_gaps (
        job TEXT NOT NULL,
        hour REAL NOT NULL,
        gap_s REAL NOT NULL,
        gap_end REAL NOT NULL,
        PRIMARY KEY (job, hour)
    ) WITHOUT ROWID;
    INSERT INTO rollup (job, hour, result, runs, duration_sum, duration_max, last_id)
        SELECT job, CAST(at / 3600 AS INTEGER) * 3600.0, result,
               sum(CASE WHEN skip_count > 0 THEN skip_count ELSE 1 END),
               coalesce(sum(duration_s), 0), max(duration_s), max(id)
        FROM (SELECT *, CASE WHEN result IN ('skipped', 'missed') THEN scheduled_at
                             ELSE started_at END AS at FROM runs)
        WHERE result != 'running' AND at IS NOT NULL
        GROUP BY job, CAST(at / 3600 AS INTEGER), result;
    INSERT INTO rollup_gaps (job, hour, gap_s, gap_end)
        SELECT job, hour, max(gap_s), gap_end FROM (
            SELECT job, CAST(started_at / 3600 AS INTEGER) * 3600.0 AS hour,
                   started_at - lag(started_at) OVER (PARTITION BY job ORDER BY started_at)
                       AS gap_s,
                   started_at AS gap_end
            FROM runs WHERE result = 'success' AND covers = 1 AND started_at IS NOT NULL
        ) WHERE gap_s > 0 GROUP BY job, hour;
    """,
    # 10: the bytes of all kept logs, kept up to date by triggers, and the runs that have
    # a log by age: retention after each run reads one row, not every run's.
    """
    CREATE TABLE log_total (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        bytes INTEGER NOT NULL
    );
    INSERT INTO log_total (id, bytes)
        SELECT 1, coalesce(sum(log_bytes), 0) FROM runs WHERE log_path IS NOT NULL;
    CREATE TRIGGER log_total_insert AFTER INSERT ON runs WHEN new.log_path IS NOT NULL
    BEGIN
        UPDATE log_total SET bytes = bytes + new.log_bytes;
    END;
    CREATE TRIGGER log_total_update AFTER UPDATE OF log_path, log_bytes ON runs
    BEGIN
        UPDATE log_total SET bytes = bytes
            - CASE WHEN old.log_path IS NOT NULL THEN old.log_bytes ELSE 0 END
            + CASE WHEN new.log_path IS NOT NULL THEN new.log_bytes ELSE 0 END;
    END;
    CREATE TRIGGER log_total_delete AFTER DELETE ON runs WHEN old.log_path IS NOT NULL
    BEGIN
        UPDATE log_total SET bytes = bytes - old.log_bytes;
    END;
    CREATE INDEX runs_with_log ON runs (id) WHERE log_path IS NOT NULL;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
