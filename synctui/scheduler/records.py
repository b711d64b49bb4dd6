"""What a run is: its triggers, its results and the record kept of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path


class Trigger(str, Enum):
    """Why a run started."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"
    CATCH_UP = "catch-up"
    START = "start"
    RETRY = "retry"
    FALLBACK = "fallback"
    ONCE = "once"
    AFTER = "after"
    BACKFILL = "backfill"


class Result(str, Enum):
    """How a run ended; `RUNNING` only while it goes."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"
    MISSED = "missed"
    REPLACED = "replaced"


FAILED_RESULTS = frozenset({Result.FAILURE, Result.TIMEOUT, Result.INTERRUPTED})
"""The results that mean the job's data did not get synced: they make a job `down`, call
`on_failure` and show the run's error. Cancelled, skipped and replaced runs are the
operator's or the schedule's doing, not the job's."""
RETRYABLE_RESULTS = frozenset({Result.FAILURE, Result.TIMEOUT})
"""The failed results that a job's `retries` run again. Not `interrupted`: that run was cut
short by a stop, and whoever stopped the scheduler does not want its jobs started again
(or its host died, and the host that finds it did not start it)."""

NOT_RUN = frozenset({Result.SKIPPED, Result.MISSED})
"""Records of fire times that never started: a skipped one (overlap, a run window) and a
missed one (it could not start by its deadline, or `catch_up` let it go). One record stands
for consecutive ones (`skip_count`, from `scheduled_at` to `last_scheduled_at`)."""

OVERLAP_REASON = "the run before was still going"
"""The reason of a fire time skipped by the `skip` overlap policy (and of skips recorded before
skips had reasons)."""


@dataclass(frozen=True)
class Scope:
    """What a run is asked to sync: what changed since the watermark (the default),
    everything (`full`), what changed since a moment, or one backfill window."""

    full: bool = False
    since: datetime | None = None
    window: tuple[datetime, datetime] | None = None
    """A backfill window's start and end."""
    part: tuple[int, int] | None = None
    """Which window of how many in its backfill, for the operator's eyes."""

    def covers(self, watermark: datetime | None) -> bool:
        """Whether a success of this scope covers everything since the watermark, and so
        moves it: a window never does, a `since` only at or before it."""
        if self.window is not None:
            return False
        return self.since is None or (watermark is not None and self.since <= watermark)

    def describe(self, zone) -> str:
        """The scope in the operator's words (empty for the default)."""
        if self.window is not None:
            start, end = (moment.astimezone(zone).isoformat(timespec="minutes")
                          for moment in self.window)
            of = f" {self.part[0]}/{self.part[1]}" if self.part else ""
            return f"window{of} {start} → {end}"
        if self.full:
            return "full"
        if self.since is not None:
            return f"since {self.since.astimezone(zone).isoformat(timespec='seconds')}"
        return ""


@dataclass(frozen=True)
class RunRecord:
    """One run of a job as the store keeps it. Times are UTC-aware."""

    id: int
    job: str
    trigger: Trigger
    result: Result
    attempt: int = 1
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    exit_code: int | None = None
    signal: str | None = None
    """The signal's name (`SIGKILL`) when the process died by one; exit_code is then None."""
    error: str | None = None
    log_path: Path | None = None
    log_bytes: int = 0
    skip_count: int = 0
    """For a `skipped` or `missed` record: how many consecutive fire times it stands for."""
    reason: str | None = None
    """For a `skipped` or `missed` record: why (`run 12 still going`, `outside active_hours
    06:00-22:00`, `group warehouse full (1 of 1 running)`)."""
    last_scheduled_at: datetime | None = None
    """For a `skipped` or `missed` record: the last fire time it stands for (the first is
    `scheduled_at`)."""

    @property
    def finished(self) -> bool:
        """Whether the run has its result."""
        return self.result is not Result.RUNNING


@dataclass(frozen=True)
class QueuedRun:
    """A run waiting in the host's queue, and why it waits."""

    scheduled_at: datetime
    trigger: Trigger
    why: str
    """`group warehouse full (1 of 1 running)`, `held by orders (last run failure)`..."""


@dataclass(frozen=True)
class Fires:
    """A job's fire times around now: the next one and the two most recent ones."""

    next: datetime | None = None
    last: datetime | None = None
    """F: the most recent fire time at or before now."""
    before_last: datetime | None = None
    """The fire time before F."""


@dataclass(frozen=True)
class JobState:
    """What the store remembers about a job between runs."""

    paused: bool = False
    last_success_started_at: datetime | None = None
    """The start of the last success that counts for freshness (one that moved the watermark)."""
    watermark: datetime | None = None
    """What `SYNCTUI_LAST_SUCCESS_AT` tells an incremental run."""


@dataclass(frozen=True)
class HostRecord:
    """The process hosting the scheduler, as it last wrote itself down."""

    pid: int
    start_ticks: int | None
    mode: str
    """`headless`, `console` or `once`."""
    config: str | None
    started_at: datetime
    heartbeat_at: datetime
    scheduling: bool
    """False while the operator has stopped the scheduler."""
    socket: str | None = None
    """The path of its control socket."""
    wedged: str | None = None
    """At its last heartbeat, why its loop ticked but it was wedged (a fire time long due
    never dealt with); None when it was not."""


@dataclass(frozen=True)
class Orphan:
    """A run left `running` by a host that is gone, with what identifies its processes."""

    run: RunRecord
    session: int | None
    leader_start: int | None
    boot_id: str | None
    host_pid: int | None
    host_start: int | None
    token: str | None = None
    """The `SYNCTUI_RUN_TOKEN` every process of the run inherits."""
