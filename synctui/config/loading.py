"""Finding a synctui config and reading it, with secrets and environment, into a `Config`.

Every problem in a file is collected before anything is raised, each as one line
naming the file, the key and what was expected, so an operator fixes a config in
one pass. Values of `env` tables are never put into a message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from synctui.config import alerting, sources, values, windows
from synctui.config.model import (
    AutorefreshSettings,
    Config,
    ControlSettings,
    GroupConfig,
    JobConfig,
    RunWindow,
    SchedulerSettings,
    ServeSettings,
)
from synctui.config.report import Report, Table, key_path, one_line, shown, toml_type
from synctui.config.schema import (
    AUTOREFRESH_KEYS,
    CONTROL_KEYS,
    GROUP_KEYS,
    JOB_KEYS,
    SCHEDULER_KEYS,
    SEED_KEYS,
    SERVE_KEYS,
    TOP_KEYS,
    Settings,
)

EXAMPLE_CONFIG_PATH = Path(__file__).parent / "example.toml"
"""The commented example config that `synctui init` writes."""

ENVIRONMENT = "environment"
"""What problems found in environment variables are reported under."""

_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ConfigError(Exception):
    """A config that cannot be used, with every problem found, one line each."""

    def __init__(self, problems: Iterable[str] | str, *, state_dir: Path | None = None) -> None:
        if isinstance(problems, str):
            problems = (problems,)
        self.problems: tuple[str, ...] = tuple(one_line(problem) for problem in problems)
        self.state_dir = state_dir
        """The state directory the config names all the same, when that much of it is sound
        (what a liveness probe needs of a config edited wrong under a running scheduler)."""
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


def discover_config(
    explicit: str | Path | None, environ: Mapping[str, str], cwd: Path
) -> Path | None:
    """Find the config file to use, the first of the places synctui looks.

    The order is `--config PATH`, `$SYNCTUI_CONFIG`, `./synctui.toml`,
    `$XDG_CONFIG_HOME/synctui/config.toml` (`~/.config/...` by default), then
    `/etc/synctui/config.toml`.

    Args:
        explicit: The `--config` argument, if given.
        environ: The environment to read (injected so tests need not touch os.environ).
        cwd: The directory that relative paths and `./synctui.toml` are taken from.

    Returns:
        The file's path, or None when there is none anywhere.

    Raises:
        ConfigError: When `--config` or `$SYNCTUI_CONFIG` names a file that does not exist.
    """
    named = [
        (explicit, "given with --config"),
        (environ.get("SYNCTUI_CONFIG") or None, "named by $SYNCTUI_CONFIG"),
    ]
    home = sources.home(environ)
    for given, how in named:
        if given is not None:
            path = values.resolve(os.fspath(given), cwd, home)
            if not sources.exists(path):
                raise ConfigError(f"{path}: no such config file ({how})")
            return path
    candidates = [cwd / "synctui.toml"]
    config_home = environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec says a relative $XDG_CONFIG_HOME is to be ignored.
    if os.path.isabs(config_home):
        candidates.append(Path(config_home) / "synctui" / "config.toml")
    elif home is not None:
        candidates.append(home / ".config" / "synctui" / "config.toml")
    candidates.append(Path("/etc/synctui/config.toml"))
    return next((path for path in candidates if sources.exists(path)), None)


def load_config(
    path: str | Path,
    *,
    secrets: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read and validate a config file, then apply `--secrets` and the environment.

    Precedence is environment > secrets file > config file > defaults. Of the
    secrets file (a Streamlit `secrets.toml`) only the seed's four keys are read.

    Args:
        path: The synctui config file.
        secrets: A Streamlit `secrets.toml` named with `--secrets`.
        environ: The environment; `os.environ` when None.

    Raises:
        ConfigError: With every problem found, in the config, the secrets file
            and the environment.
    """
    environ = os.environ if environ is None else environ
    path = Path(path)
    problems: list[str] = []
    report = Report(str(path), problems)
    absolute = Path(os.path.abspath(path))
    home = sources.home(environ)
    document, mode = sources.read_toml(path, report)
    settings = Settings()
    if document is not None:
        settings = _read_document(document, report, absolute.parent, home)
    if secrets is not None:
        sources.read_secrets(Path(secrets), Report(str(secrets), problems), settings)
    sources.read_environment(environ, Report(ENVIRONMENT, problems), settings)

    # Named in the file but not taken (a problem is reported): no default stands in for it.
    table = document.get("scheduler") if document is not None else None
    unread_state_dir = (isinstance(table, dict) and "state_dir" in table
                        and "state_dir" not in settings.scheduler)
    if "state_dir" not in settings.scheduler:
        state_dir = sources.default_state_dir(absolute.stem, environ)
        if state_dir is None:
            report.add(
                "scheduler.state_dir",
                "expected a directory: none of $STATE_DIRECTORY, $XDG_STATE_HOME or $HOME is set "
                "to put the default under",
            )
        else:
            settings.scheduler["state_dir"] = state_dir
    if problems:
        sound = document is not None and not unread_state_dir
        raise ConfigError(problems, state_dir=settings.scheduler.get("state_dir") if sound else None)

    if "timezone" not in settings.scheduler:
        settings.scheduler["timezone"] = sources.local_zone()  # reads files: only when needed
    scheduler = SchedulerSettings(**settings.scheduler)
    jobs = {}
    for name, job in settings.jobs.items():
        if "cron" not in job and not job.get("after"):
            job.setdefault("interval_s", scheduler.interval_s)
        for hook, command in settings.hooks.items():
            job.setdefault(hook, command)
        job.setdefault("catch_up", scheduler.catch_up)
        job.setdefault("start_deadline_s", scheduler.start_deadline_s)
        job["window"] = RunWindow(**{**settings.window, **job.get("window", {})})
        jobs[name] = JobConfig(**job)
    return Config(
        scheduler=scheduler,
        autorefresh=AutorefreshSettings(**settings.autorefresh),
        control=ControlSettings(**settings.control),
        serve=ServeSettings(**settings.serve),
        jobs=jobs,
        groups={name: GroupConfig(name, **group) for name, group in settings.groups.items()},
        path=absolute,
        warnings=_warnings(str(path), mode, jobs),
    )


def _read_document(
    document: dict[str, Any], report: Report, base: Path, home: Path | None
) -> Settings:
    settings = Settings()
    top = Table(report, (), document)
    top.refuse_unknown(TOP_KEYS)

    scheduler = top.table("scheduler")
    scheduler.refuse_unknown(SCHEDULER_KEYS)
    into = settings.scheduler
    scheduler.take("timezone", values.timezone, into, "timezone")
    _read_interval(scheduler, into)
    scheduler.take("shutdown_grace_seconds", values.seconds(allow_zero=True), into,
                   "shutdown_grace_s")
    scheduler.take("catch_up", values.catch_up, into, "catch_up")
    scheduler.take("start_deadline", values.duration, into, "start_deadline_s")
    scheduler.take("max_running", values.count(1, 1_000_000), into, "max_running")
    scheduler.take("state_dir", values.path(base, home), into, "state_dir")
    scheduler.take("keep_runs", values.count(1, 2**63 - 1), into, "keep_runs")
    scheduler.take("keep_log_bytes", values.size, into, "keep_log_bytes")
    scheduler.take("keep_rollup_days", values.count(1, 100_000), into, "keep_rollup_days")
    scheduler.take("on_failure", values.command, settings.hooks, "on_failure")
    scheduler.take("on_success", values.command, settings.hooks, "on_success")
    scheduler.take("on_recovery", values.command, settings.hooks, "on_recovery")
    scheduler.take("notify_after_failures", values.count(1, 2**31), settings.hooks,
                   "notify_after_failures")
    scheduler.take("hook_timeout_seconds", values.seconds(allow_zero=False), settings.hooks,
                   "hook_timeout_s")
    scheduler.take("on_overdue", values.command, settings.hooks, "on_overdue")
    scheduler.take("warn_after", alerting.warn_after, settings.hooks, "warn_after")
    scheduler.take("notify", alerting.notifiers, settings.hooks, "notify")
    _read_window(scheduler, settings.window)

    autorefresh = top.table("autorefresh")
    autorefresh.refuse_unknown(AUTOREFRESH_KEYS)
    autorefresh.take("enabled", values.flag, settings.autorefresh, "enabled")
    _read_interval(autorefresh, settings.autorefresh)

    control = top.table("control")
    control.refuse_unknown(CONTROL_KEYS)
    control.take("group", values.group, settings.control, "group")

    serve = top.table("serve")
    serve.refuse_unknown(SERVE_KEYS)
    serve.take("max_sessions", values.count(1, 10_000), settings.serve, "max_sessions")
    serve.take("idle_timeout", values.duration, settings.serve, "idle_timeout_s")

    _read_groups(top.table("groups"), settings.groups)

    sections = {"scheduler": scheduler, "autorefresh": autorefresh}
    for key in [key for key in document if key in SEED_KEYS]:
        section, field, equivalents = SEED_KEYS[key]
        clashing = [name for name in equivalents if name in sections[section].data]
        if clashing:
            report.add(key, f"expected either {key} or [{section}] {clashing[0]}, got both")
        top.take(key, sources.seed_reader(key, lenient=False), settings.section(section), field)

    jobs = document.get("jobs", {})
    if not isinstance(jobs, dict):
        report.add("jobs", f"expected [jobs.NAME] tables, got {shown(jobs)}")
    elif not jobs:
        report.add("jobs", "expected at least one [jobs.NAME] table")
    else:
        for name, value in jobs.items():
            job = _read_job(name, value, report, base, home)
            if job is not None:
                settings.jobs[name] = job
        _check_after(settings.jobs, list(jobs), report)
        _check_groups(settings.jobs, settings.groups, report)
    return settings


def _read_groups(groups: Table, into: dict[str, dict[str, Any]]) -> None:
    """`[groups.NAME]` tables: how many of their jobs may run at once."""
    for name, value in groups.data.items():
        if not isinstance(value, dict):
            groups.report.add(groups.key(name), f"expected a table, got {shown(value)}")
            continue
        group = Table(groups.report, ("groups", name), value)
        group.refuse_unknown(GROUP_KEYS)
        into[name] = {}
        group.take("max_running", values.count(1, 1_000_000), into[name], "max_running")


def _check_groups(
    jobs: dict[str, dict[str, Any]], groups: dict[str, dict[str, Any]], report: Report,
) -> None:
    """Every job's `group` is a `[groups.NAME]` table of the file."""
    for name, job in jobs.items():
        group = job.get("group")
        if group is not None and group not in groups:
            known = ", ".join(groups) or "none"
            report.add(key_path("jobs", name, "group"),
                       f"no group named {shown(group)} (groups: {known}); add a"
                       f" [groups.{group}] table with its max_running")


def _check_after(jobs: dict[str, dict[str, Any]], names: list[str], report: Report) -> None:
    """Every `after` names a job of the file, and no job waits on itself through others."""
    known = ", ".join(names)
    for name, job in jobs.items():
        for upstream in job.get("after", ()):
            if upstream not in names:
                report.add(key_path("jobs", name, "after"),
                           f"no job named {shown(upstream)} (jobs: {known})")
    graph = {name: [up for up in job.get("after", ()) if up in jobs] for name, job in jobs.items()}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        # Each node of the cycle is an upstream of the next: read backwards, each waits on
        # the next.
        cycle = error.args[1][::-1]
        report.add(key_path("jobs", cycle[0], "after"),
                   f"expected no cycle, got {' → '.join(cycle)} (each waits on the next)")


def _read_interval(table: Table, into: dict[str, Any]) -> None:
    table.at_most_one("interval", "interval_minutes")
    table.take("interval", values.interval, into, "interval_s")
    table.take("interval_minutes", values.minutes(allow_zero=False), into, "interval_s")


def _read_job(
    name: str, value: Any, report: Report, base: Path, home: Path | None
) -> dict[str, Any] | None:
    """The JobConfig arguments of one `[jobs.NAME]` table, or None if it is unusable."""
    key = key_path("jobs", name)
    if not _JOB_NAME.fullmatch(name):
        report.add(
            key,
            "expected a job name of at most 64 letters, digits, '_', '.' or '-', "
            f"starting with a letter or digit, got {shown(name)}",
        )
    if not isinstance(value, dict):
        report.add(key, f"expected a table, got {shown(value)}")
        return None
    table = Table(report, ("jobs", name), value)
    table.refuse_unknown(JOB_KEYS)
    job: dict[str, Any] = {"name": name}
    if "command" in value and "callable" in value:
        report.add(key, "expected one of command or callable, got both")
    elif "command" not in value and "callable" not in value:
        report.add(key, "expected a command or a callable, got neither")
    table.take("command", values.command, job, "command")
    table.take("callable", values.callable_ref, job, "callable")
    table.at_most_one("interval", "interval_minutes", "cron")
    table.take("interval", values.interval, job, "interval_s")
    table.take("interval_minutes", values.minutes(allow_zero=False), job, "interval_s")
    table.take("cron", values.cron, job, "cron")
    table.take("after", values.job_names, job, "after")
    table.take("timeout_seconds", values.seconds(allow_zero=False), job, "timeout_s")
    table.take("retries", values.count(0, 100), job, "retries")
    table.take("retry_backoff_seconds", values.seconds(allow_zero=True), job, "retry_backoff_s")
    table.take("jitter_seconds", values.seconds(allow_zero=True), job, "jitter_s")
    table.take("manual_cooldown_seconds", values.seconds(allow_zero=True), job,
               "manual_cooldown_s")
    table.take("kill_grace_seconds", values.seconds(allow_zero=True), job, "kill_grace_s")
    table.take("keep_daemons", values.flag, job, "keep_daemons")
    table.take("cwd", values.path(base, home), job, "cwd")
    env = _read_env(table)
    if env is not None:
        job["env"] = env
    table.take("overlap", values.overlap, job, "overlap")
    table.take("run_on_start", values.flag, job, "run_on_start")
    table.take("grace_minutes", values.minutes(allow_zero=True), job, "grace_s")
    table.take("log_max_bytes", values.size, job, "log_max_bytes")
    table.take("on_failure", values.command, job, "on_failure")
    table.take("on_success", values.command, job, "on_success")
    table.take("on_recovery", values.command, job, "on_recovery")
    table.take("notify_after_failures", values.count(1, 2**31), job, "notify_after_failures")
    table.take("hook_timeout_seconds", values.seconds(allow_zero=False), job, "hook_timeout_s")
    table.take("on_overdue", values.command, job, "on_overdue")
    table.take("warn_after", alerting.warn_after, job, "warn_after")
    table.take("notify", alerting.notifiers, job, "notify")
    table.at_most_one("ping_url", "ping")
    table.take("ping_url", alerting.ping_url, job, "ping")
    table.take("ping", alerting.ping_templates, job, "ping")
    table.take("group", values.group_name, job, "group")
    table.take("catch_up", values.catch_up, job, "catch_up")
    table.take("start_deadline", values.duration, job, "start_deadline_s")
    _read_window(table, job.setdefault("window", {}))
    return job


def _read_window(table: Table, into: dict[str, Any]) -> None:
    """`active_hours`, `active_days` and `blackout`: the `RunWindow` parts the table sets."""
    table.take("active_hours", windows.active_hours, into, "active_hours")
    table.take("active_days", windows.active_days, into, "active_days")
    table.take("blackout", windows.blackout, into, "blackout")


def _read_env(job: Table) -> dict[str, str] | None:
    """A job's `env` table. Its values are never shown, only their types."""
    if "env" not in job.data:
        return None
    value = job.data["env"]
    if not isinstance(value, dict):
        job.report.add(
            job.key("env"),
            f'expected a table of NAME = "value" strings, got a value of type {toml_type(value)}',
        )
        return None
    env = {}
    for name, item in value.items():
        key = job.key("env", name)
        if not name or "=" in name or "\0" in name:
            job.report.add(key, "expected a variable name without '=' or NUL characters")
        elif not isinstance(item, str):
            job.report.add(key, f"expected a string, got a value of type {toml_type(item)}")
        elif "\0" in item:
            job.report.add(key, "expected a string without NUL characters, got a string with one")
        else:
            env[name] = item
    return env


def _warnings(source: str, mode: int | None, jobs: Mapping[str, JobConfig]) -> tuple[str, ...]:
    holding = [name for name, job in jobs.items() if job.env]
    if mode is None or not holding or not mode & 0o044:
        return ()
    return (
        one_line(
            f"{source}: {key_path('jobs', holding[0], 'env')}: holds environment values but the "
            f"file is readable by other users (mode {mode & 0o7777:04o}); chmod 600 it"
        ),
    )

