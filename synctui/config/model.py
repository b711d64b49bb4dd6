"""The validated settings: small frozen dataclasses that the rest of synctui reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Mapping

Overlap = Literal["skip", "replace"]
CatchUp = Literal["last", "all", "none"]
"""Which of a job's fire times that could not start when due still run: the most recent,
each in turn, or none."""


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
class ActiveHours:
    """`active_hours`: a daily span of wall-clock time; an end before the start crosses midnight."""

    text: str
    """As the operator wrote it ("06:00-22:00")."""
    start_s: int
    """Seconds after midnight."""
    end_s: int
    """Seconds after midnight, up to 86400 (`24:00`)."""


@dataclass(frozen=True)
class ActiveDays:
    """`active_days`: the weekdays runs may start on."""

    text: str
    """As the operator wrote it ("mon-fri")."""
    days: frozenset[int]
    """Monday is 0."""


@dataclass(frozen=True)
class BlackoutSpan:
    """One entry of `blackout`: wall-clock times in the zone, the end excluded."""

    text: str
    """As the operator wrote it ("2026-12-24", "2026-12-24T20:00/2026-12-26T06:00")."""
    start: datetime
    """Naive: a wall-clock time in the `[scheduler]` zone."""
    end: datetime


@dataclass(frozen=True)
class RunWindow:
    """When a job may start on its own: inside its active hours, on its active days, and
    outside every blackout (`synctui.scheduler.blackout` applies it)."""

    active_hours: ActiveHours | None = None
    active_days: ActiveDays | None = None
    blackout: tuple[BlackoutSpan, ...] = ()

    @property
    def always(self) -> bool:
        """Nothing restricts the job."""
        return self.active_hours is None and self.active_days is None and not self.blackout


def url_shown(url: str) -> str:
    """A notifier's or ping's URL as it may be printed or logged: its scheme and host only
    (the path and query of such URLs are their secret)."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    return f"{scheme}://{host}/…"


@dataclass(frozen=True)
class WarnAfter:
    """`warn_after`: how long a run may go before its job counts as `overdue`."""

    text: str
    """As the operator wrote it ("10m", "2x p95")."""
    seconds: float | None = None
    p95_times: float | None = None
    """The limit as a multiple of the job's recent p95 duration (none before it has one)."""

    def limit_s(self, p95_s: float | None) -> float | None:
        """The limit in seconds, given the job's recent p95 duration; None while unknown."""
        if self.seconds is not None:
            return self.seconds
        return None if p95_s is None else self.p95_times * p95_s


NotifyFormat = Literal["json", "slack", "ntfy"]


@dataclass(frozen=True)
class Notifier:
    """One entry of `notify`: where a job's changes of state are sent, and in which body."""

    url: str = field(repr=False)
    """Never printed or logged whole (`url_shown`)."""
    format: NotifyFormat = "json"

    def __repr__(self) -> str:
        return f"Notifier({url_shown(self.url)!r}, format={self.format!r})"


@dataclass(frozen=True)
class Ping:
    """A dead-man's switch's URLs: what is fetched when a run starts, succeeds or fails.

    `ping_url` makes the healthchecks.io ones (POSTed, the run's last output as the body,
    `rid` pairing start and end); a `ping` table gives templates (GET) with `{exit_code}`,
    `{run_id}`, `{duration}`, `{result}` and `{message}` filled in.
    """

    start: str | None = field(default=None, repr=False)
    success: str | None = field(default=None, repr=False)
    failure: str | None = field(default=None, repr=False)
    healthchecks: bool = False
    """The `ping_url` protocol: POST with the output, `?rid=`, `/fail` or `/<exit code>`."""

    def __repr__(self) -> str:
        shown = (url_shown(url) for url in (self.start, self.success, self.failure) if url)
        return f"Ping({', '.join(dict.fromkeys(shown))})"


@dataclass(frozen=True)
class JobConfig:
    """One named job: what it runs, when, and how it is kept in check."""

    name: str
    command: tuple[str, ...] | str | None = None
    """An argv, or a string for `/bin/sh -c`; exactly one of command/callable is set."""
    callable: str | None = None
    """`"pkg.mod:func"`, run in a child interpreter."""
    interval_s: float | None = None
    """Seconds between fires; None when `cron` is set, or when the job only runs `after`."""
    cron: CronSpec | None = None
    after: tuple[str, ...] = ()
    """Jobs whose successes start this one (trigger `after`) and whose failures hold it."""
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
    on_recovery: tuple[str, ...] | str | None = None
    """Run at the first success after a run that called `on_failure`."""
    notify_after_failures: int | None = None
    """How many runs in a row must fail before `on_failure` is called, once per series;
    None: after every failed run."""
    on_overdue: tuple[str, ...] | str | None = None
    """Run when a run goes past `warn_after` (it goes on)."""
    warn_after: WarnAfter | None = None
    notify: tuple[Notifier, ...] = ()
    """Told each change of the job's state: failing, recovered, overdue, missed."""
    ping: Ping | None = None
    hook_timeout_s: float = 60.0
    """How long a hook may run before its process group is ended."""
    window: RunWindow = RunWindow()
    """When it may start on its own (its own keys, else the `[scheduler]` ones)."""
    group: str | None = None
    """The `[groups.NAME]` whose `max_running` it counts against."""
    catch_up: CatchUp = "last"
    start_deadline_s: float | None = None
    """How long after its fire time a run may still start. None: a fire time waiting in the
    queue waits as long as it takes, and one that passed while no host ran, one interval."""

    @property
    def scheduled(self) -> bool:
        """Whether the job has fire times of its own (an interval or a cron)."""
        return self.interval_s is not None or self.cron is not None


@dataclass(frozen=True)
class SchedulerSettings:
    """The `[scheduler]` table."""

    timezone: str
    """An IANA zone name; the machine's local zone by default."""
    interval_s: float = 900.0
    """The default for jobs with no trigger of their own."""
    shutdown_grace_s: float = 30.0
    catch_up: CatchUp = "last"
    """The default of jobs that set none."""
    start_deadline_s: float | None = None
    """The default of jobs that set none."""
    max_running: int | None = None
    """How many runs may go at once in all (None: no limit)."""
    state_dir: Path = Path(".")
    keep_runs: int = 1000
    keep_log_bytes: int = 2_000_000_000
    keep_rollup_days: int = 400
    """How long the timeline's counts per hour are kept (longer than the runs)."""


@dataclass(frozen=True)
class GroupConfig:
    """A `[groups.NAME]` table: jobs that never run more than `max_running` at once."""

    name: str
    max_running: int = 1


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
class ServeSettings:
    """The `[serve]` table: the console served to browsers (`synctui serve`)."""

    max_sessions: int = 20
    """Console processes at most, one per open tab; beyond, a page says the server is full."""
    idle_timeout_s: float = 1800.0
    """A tab with no key, click or resize for this long is ended (its process with it)."""


@dataclass(frozen=True)
class Config:
    """A whole, valid configuration."""

    scheduler: SchedulerSettings
    autorefresh: AutorefreshSettings
    control: ControlSettings
    jobs: Mapping[str, JobConfig]
    groups: Mapping[str, GroupConfig] = field(default_factory=dict)
    serve: ServeSettings = ServeSettings()
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
