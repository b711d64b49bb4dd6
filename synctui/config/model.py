"""The validated settings: small frozen dataclasses that the rest of synctui reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping

Overlap = Literal["skip", "replace"]


@dataclass(frozen=True)
class CronSpec:
    """A crontab expression with Debian's cron's meaning.

    `cron` is the same schedule as cronsim reads it: five fields, numbers for names,
    and the terms where cronsim and cron differ rewritten to cron's meaning.
    """

    expression: str
    """As the operator wrote it ("@daily", "30 2 * * mon-fri")."""
    cron: str
    """The same schedule as cronsim is given it ("0 0 * * *", "30 2 * * 1-5")."""


@dataclass(frozen=True)
class JobConfig:
    """One named job: what it runs, when, and how it is kept in check."""

    name: str
    command: tuple[str, ...] | str | None = None
    """An argv, or a string for `/bin/sh -c`; exactly one of command/callable is set."""
    callable: str | None = None
    """`"pkg.mod:func"`, run in a child interpreter."""
    interval_s: float | None = None
    """Seconds between fires; None when `cron` is set."""
    cron: CronSpec | None = None
    timeout_s: float | None = None
    retries: int = 0
    retry_backoff_s: float = 30.0
    jitter_s: float = 0.0
    manual_cooldown_s: float = 5.0
    kill_grace_s: float = 10.0
    """Between SIGTERM and SIGKILL when a run is timed out or cancelled."""
    keep_daemons: bool = False
    """Let processes that left the job's session outlive its run."""
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Never printed, logged or shown (hence repr=False)."""
    overlap: Overlap = "skip"
    run_on_start: bool = False
    grace_s: float = 300.0
    """How late a success may be before the job counts as down (`grace_minutes`)."""
    log_max_bytes: int = 50_000_000
    on_failure: tuple[str, ...] | str | None = None
    on_success: tuple[str, ...] | str | None = None
    hook_timeout_s: float = 60.0
    """How long a hook may run before its process group is ended."""


@dataclass(frozen=True)
class SchedulerSettings:
    """The `[scheduler]` table."""

    timezone: str
    """An IANA zone name; the machine's local zone by default."""
    interval_s: float = 900.0
    """The default for jobs with no trigger of their own."""
    shutdown_grace_s: float = 30.0
    catch_up: bool = True
    state_dir: Path = Path(".")
    keep_runs: int = 1000
    keep_log_bytes: int = 2_000_000_000


@dataclass(frozen=True)
class AutorefreshSettings:
    """The `[autorefresh]` table: the console's fallback when no scheduler can run."""

    enabled: bool = True
    interval_s: float = 1800.0


@dataclass(frozen=True)
class ControlSettings:
    """The `[control]` table."""

    group: str = ""


@dataclass(frozen=True)
class Config:
    """A whole, valid configuration."""

    scheduler: SchedulerSettings
    autorefresh: AutorefreshSettings
    control: ControlSettings
    jobs: Mapping[str, JobConfig]
    path: Path | None = None
    """The file it came from; None for the built-in demo."""
    warnings: tuple[str, ...] = ()
    """One-line notices that do not stop synctui (a readable `env`, for instance)."""

    @property
    def name(self) -> str:
        """The config's name as shown to the operator: the file's stem, or "demo"."""
        return self.path.stem if self.path else "demo"

    @property
    def source(self) -> str | None:
        """The file as a host names it (greeting, host record), to tell whether two processes
        run the same config; None for the demo."""
        return str(self.path) if self.path else None
