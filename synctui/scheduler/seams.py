"""The interfaces a second store and a second way of hosting plug into.

`RunStore` is where runs, each job's state, the host record and the run logs live;
`Store` (SQLite, one state directory) is its implementation today, and
`tests/store_contract.py` is the suite any other must pass unchanged. `HostSeat` is
who hosts a state directory's scheduler and how others reach it; `LocalSeat` (a
file lock and a Unix socket) is its implementation today. Neither interface assumes
a file, a lock or a socket: a shared database's row leases fit both.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Mapping, Protocol, runtime_checkable

from synctui.scheduler.control import SchedulerControl
from synctui.scheduler.records import (
    Fires, HostRecord, JobState, Orphan, Result, RunRecord, Trigger,
)
from synctui.scheduler.rollup import JobRollup


@runtime_checkable
class RunStore(Protocol):
    """Every run and each job's state, safe to share between the threads of one process."""

    def close(self) -> None:
        """Let go of the store; nothing may be asked of it afterwards."""

    # --- runs -----------------------------------------------------------------------

    def begin_run(
        self, job: str, trigger: Trigger, scheduled_at: datetime, started_at: datetime,
        attempt: int = 1, host: tuple[int, int | None] | None = None, token: str | None = None,
        covers: bool = True, window: tuple[datetime, datetime] | None = None,
    ) -> RunRecord:
        """Record a run `running` (held by `host`: pid, start ticks, its processes carrying
        `token`); its id and log path. `covers`: whether its success moves the watermark;
        `window`: a backfill run's."""

    def set_process(
        self, run_id: int, session: int, leader_start: int | None, boot: str,
        started_at: datetime,
    ) -> None:
        """Remember which process session a run's job lives in (to end it if its host dies)
        and when that process started."""

    def finish_run(
        self, run_id: int, result: Result, finished_at: datetime, duration_s: float | None,
        exit_code: int | None = None, signal: str | None = None, error: str | None = None,
        log_bytes: int = 0,
    ) -> RunRecord:
        """Record the run's end; its final record."""

    def record_skip(
        self, job: str, scheduled_at: datetime, at: datetime, reason: str | None = None, *,
        result: Result = Result.SKIPPED, count: int = 1, last: datetime | None = None,
    ) -> RunRecord:
        """Fire times that never started (`result` skipped or missed), `count` of them from
        `scheduled_at` to `last`: consecutive ones of a job with one result and reason are
        one record, counted."""

    def run(self, run_id: int) -> RunRecord | None:
        """One run, if it is (still) recorded."""

    def runs(
        self, job: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[RunRecord]:
        """Recorded runs, newest first (of one job, or all), older than `before_id`."""

    def runs_between(
        self, job: str, since: datetime, until: datetime, limit: int
    ) -> list[RunRecord]:
        """The job's runs that started in [since, until), oldest first (the newest `limit`)."""

    def rolled_up(self, job: str, since: datetime, until: datetime) -> JobRollup:
        """The job's counts per hour and result, and its longest waits for fresh data, over
        the hours that overlap [since, until): kept longer than its runs."""

    def outcomes(
        self, job: str, results: Iterable[Result], limit: int
    ) -> list[tuple[Result, float | None]]:
        """The job's newest results among `results`, with their durations."""

    def orphans(self) -> list[Orphan]:
        """Runs still `running`, with what identifies their host and processes."""

    def apply_retention(
        self, job: str, keep_runs: int, keep_log_bytes: int,
        rollup_since: datetime | None = None,
    ) -> int:
        """Forget the job's runs beyond `keep_runs` (its roll-up before `rollup_since`) and
        the oldest logs beyond `keep_log_bytes` in all; how many logs were removed."""

    # --- output ---------------------------------------------------------------------

    def log_path(self, job: str, run_id: int) -> Path:
        """Where a run's output goes."""

    # --- each job's state -----------------------------------------------------------

    def job_state(self, job: str) -> JobState:
        """A job's paused flag, last success and watermark (defaults for a job never seen)."""

    def paused_jobs(self) -> set[str]:
        """The names of the jobs paused."""

    def backfilled(self, job: str) -> set[tuple[datetime, datetime]]:
        """The windows of the job's backfill runs that succeeded."""

    def set_paused(self, job: str, paused: bool) -> None:
        """Pause or resume a job, for every process sharing the store."""

    def fires(self) -> dict[str, Fires]:
        """Each job's fire times around now, as the host last wrote them."""

    # --- the host -------------------------------------------------------------------

    def claim_host(self, host: HostRecord) -> None:
        """Say who hosts the scheduler (one record, replaced)."""

    def heartbeat(
        self, pid: int, at: datetime, scheduling: bool, fires: Mapping[str, Fires],
        wedged: str | None = None,
    ) -> None:
        """The host is alive at `at`; each job's fire times around now; `wedged`: why it
        is wedged, if it is."""

    def release_host(self, pid: int) -> None:
        """The host `pid` stopped (its last fire times stay, for health without a host)."""

    def host(self) -> HostRecord | None:
        """The last host to claim the store (alive or not: check it)."""


@runtime_checkable
class HostSeat(Protocol):
    """Who hosts a state directory's scheduler, and the control endpoint others reach."""

    record: HostRecord
    """This process, as it writes itself down while it hosts."""
    held: bool
    """Whether this process hosts now."""

    @property
    def attached_consoles(self) -> int:
        """How many consoles are attached through the endpoint now."""

    @property
    def log_group(self) -> int | None:
        """A group that may read the run logs while the endpoint serves it."""

    def take(self) -> None:
        """Hold the seat, or `HostBusy` naming who holds it."""

    def serve(
        self, control: SchedulerControl, *, reload: Callable[[], str] | None,
        handover: Callable[[], str] | None,
    ) -> None:
        """Open the control endpoint for `control` (`Refused` if it cannot)."""

    def claim(self) -> None:
        """Write this process down as the host."""

    def beat(self, scheduling: bool, fires: Mapping[str, Fires]) -> None:
        """Say the host is alive, and each job's fire times around now."""

    def release(self) -> None:
        """Let another process host: the endpoint closed, the record and the seat let go."""
