"""Finding a synctui config and reading it, with secrets and environment, into a `Config`.

Every problem in a file is collected before anything is raised, each as one line
naming the file, the key and what was expected, so an operator fixes a config in
one pass. Values of `env` tables are never put into a message.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import os
import pwd
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from datetime import date, time
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from synctui.config.crontab import parse_crontab
from synctui.config.durations import (
    DURATION_EXPECTED,
    MAX_DURATION_S,
    MAX_SIZE_BYTES,
    SIZE_EXPECTED,
    parse_duration,
    parse_size,
)
from synctui.config.model import (
    AutorefreshSettings,
    Config,
    ControlSettings,
    CronSpec,
    JobConfig,
    SchedulerSettings,
)

T = TypeVar("T")

EXAMPLE_CONFIG_PATH = Path(__file__).parent / "example.toml"
"""The commented example config that `synctui init` writes."""

ENVIRONMENT = "environment"
"""What problems found in environment variables are reported under."""

# A config is a few kilobytes; the cap keeps `--config /dev/zero` from eating memory.
_MAX_FILE_BYTES = 16 * 1024 * 1024
_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_IDENTIFIERS = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_CALLABLE = re.compile(rf"{_IDENTIFIERS}:{_IDENTIFIERS}")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_TRUE_WORDS = ("true", "1", "yes")
_FALSE_WORDS = ("false", "0", "no")

_SCHEDULER_KEYS = (
    "timezone",
    "interval",
    "interval_minutes",
    "shutdown_grace_seconds",
    "catch_up",
    "state_dir",
    "keep_runs",
    "keep_log_bytes",
    "on_failure",
    "on_success",
    "hook_timeout_seconds",
)
_AUTOREFRESH_KEYS = ("enabled", "interval", "interval_minutes")
_CONTROL_KEYS = ("group",)
_JOB_KEYS = (
    "command",
    "callable",
    "interval",
    "interval_minutes",
    "cron",
    "timeout_seconds",
    "retries",
    "retry_backoff_seconds",
    "jitter_seconds",
    "manual_cooldown_seconds",
    "kill_grace_seconds",
    "cwd",
    "env",
    "overlap",
    "run_on_start",
    "grace_minutes",
    "log_max_bytes",
    "on_failure",
    "on_success",
    "hook_timeout_seconds",
)
# The seed's settings: (section, field of that section's dataclass, the section's
# keys that set the same thing).
_SEED_KEYS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "SYNC_INTERVAL_MINUTES": ("scheduler", "interval_s", ("interval", "interval_minutes")),
    "SCHEDULER_TIMEZONE": ("scheduler", "timezone", ("timezone",)),
    "AUTOREFRESH_INTERVAL_MINUTES": ("autorefresh", "interval_s", ("interval", "interval_minutes")),
    "ENABLE_AUTOREFRESH_FALLBACK": ("autorefresh", "enabled", ("enabled",)),
}
_TOP_KEYS = ("scheduler", "autorefresh", "control", "jobs", *_SEED_KEYS)
# Where a key belongs, for a key written in the wrong table.
_HOMES = {
    **{key: "[jobs.NAME]" for key in _JOB_KEYS},
    **{key: "[control]" for key in _CONTROL_KEYS},
    **{key: "[autorefresh]" for key in _AUTOREFRESH_KEYS},
    **{key: "[scheduler]" for key in _SCHEDULER_KEYS},
}


class ConfigError(Exception):
    """A config that cannot be used, with every problem found, one line each."""

    def __init__(self, problems: Iterable[str] | str, *, state_dir: Path | None = None) -> None:
        if isinstance(problems, str):
            problems = (problems,)
        self.problems: tuple[str, ...] = tuple(_one_line(problem) for problem in problems)
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
    home = _home(environ)
    for given, how in named:
        if given is not None:
            path = _resolve(os.fspath(given), cwd, home)
            if not _exists(path):
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
    return next((path for path in candidates if _exists(path)), None)


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
    report = _Report(str(path), problems)
    absolute = Path(os.path.abspath(path))
    home = _home(environ)
    document, mode = _read_toml(path, report)
    settings = _Settings()
    if document is not None:
        settings = _read_document(document, report, absolute.parent, home)
    if secrets is not None:
        _read_secrets(Path(secrets), _Report(str(secrets), problems), settings)
    _read_environment(environ, _Report(ENVIRONMENT, problems), settings)

    # Named in the file but not taken (a problem is reported): no default stands in for it.
    table = document.get("scheduler") if document is not None else None
    unread_state_dir = (isinstance(table, dict) and "state_dir" in table
                        and "state_dir" not in settings.scheduler)
    if "state_dir" not in settings.scheduler:
        state_dir = _default_state_dir(environ, home, absolute.stem)
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
        settings.scheduler["timezone"] = local_zone()  # reads files: only when needed
    scheduler = SchedulerSettings(**settings.scheduler)
    jobs = {}
    for name, job in settings.jobs.items():
        if "cron" not in job:
            job.setdefault("interval_s", scheduler.interval_s)
        for hook, command in settings.hooks.items():
            job.setdefault(hook, command)
        jobs[name] = JobConfig(**job)
    return Config(
        scheduler=scheduler,
        autorefresh=AutorefreshSettings(**settings.autorefresh),
        control=ControlSettings(**settings.control),
        jobs=jobs,
        path=absolute,
        warnings=_warnings(str(path), mode, jobs),
    )


class _Invalid(Exception):
    """A value a reader refused; its message is "expected ..., got ..."."""


def _expected(what: str, value: Any) -> _Invalid:
    return _Invalid(f"expected {what}, got {_shown(value)}")


class _Report:
    """Collects problems from one source (a file, or the environment) into a shared list."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems

    def add(self, key: str, text: str) -> None:
        """Record one problem at a key path ("" for the source as a whole)."""
        self.problems.append(f"{self.source}: {key}: {text}" if key else f"{self.source}: {text}")


class _Settings:
    """What was read so far, as keyword arguments for the model's dataclasses."""

    def __init__(self) -> None:
        self.scheduler: dict[str, Any] = {}
        self.autorefresh: dict[str, Any] = {}
        self.control: dict[str, Any] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.hooks: dict[str, Any] = {}
        """`on_failure`/`on_success`/`hook_timeout_s` of `[scheduler]`, for jobs that set none."""

    def section(self, name: str) -> dict[str, Any]:
        return getattr(self, name)


class _Table:
    """One TOML table being read: bad values are reported under their key path."""

    def __init__(self, report: _Report, path: tuple[str, ...], data: Mapping[str, Any]) -> None:
        self.report = report
        self.path = path
        self.data = data

    def key(self, *keys: str) -> str:
        return _key_path(*self.path, *keys)

    def get(self, key: str, read: Callable[[Any], T]) -> T | None:
        """The key's value as `read` makes it, or None when absent or refused (and reported)."""
        if key not in self.data:
            return None
        try:
            return read(self.data[key])
        except _Invalid as invalid:
            self.report.add(self.key(key), str(invalid))
            return None

    def take(self, key: str, read: Callable[[Any], Any], into: dict[str, Any], field: str) -> None:
        """Store the key's value in `into[field]` if it is present and valid."""
        value = self.get(key, read)
        if value is not None:
            into[field] = value

    def table(self, key: str) -> _Table:
        """A sub-table; an empty one when absent or not a table (reported)."""
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            self.report.add(self.key(key), f"expected a table, got {_shown(value)}")
            value = {}
        return _Table(self.report, (*self.path, key), value)

    def at_most_one(self, *keys: str) -> None:
        present = [key for key in keys if key in self.data]
        if len(present) > 1:
            self.report.add(
                self.key(), f"expected at most one of {_listed(keys)}, got {_listed(present)}"
            )

    def refuse_unknown(self, known: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in known:
                self.report.add(self.key(key), f"unknown key{_hint(key, known)}")


def _read_toml(path: Path, report: _Report) -> tuple[dict[str, Any] | None, int | None]:
    """The parsed file and its mode bits, or (None, None) with the reason reported."""
    try:
        with open(path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            data = file.read(_MAX_FILE_BYTES + 1)
    except OSError as error:
        report.add("", f"cannot read the file: {error.strerror or error}")
        return None, None
    if len(data) > _MAX_FILE_BYTES:
        report.add("", "expected a config file of at most 16 MiB, got a larger one")
        return None, None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        # Say where, not which bytes: the file may be a secrets file.
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        report.add("", f"expected UTF-8 text, got an invalid byte at line {line}, column {column}")
        return None, None
    try:
        # Editors on Windows may start a UTF-8 file with a byte order mark; TOML does not.
        return tomllib.loads(text.removeprefix("\ufeff")), mode
    except tomllib.TOMLDecodeError as error:
        report.add("", f"invalid TOML: {error}")
    except RecursionError:
        report.add("", "invalid TOML: arrays or tables nested too deeply")
    return None, None


def _read_document(
    document: dict[str, Any], report: _Report, base: Path, home: Path | None
) -> _Settings:
    settings = _Settings()
    top = _Table(report, (), document)
    top.refuse_unknown(_TOP_KEYS)

    scheduler = top.table("scheduler")
    scheduler.refuse_unknown(_SCHEDULER_KEYS)
    into = settings.scheduler
    scheduler.take("timezone", _timezone, into, "timezone")
    _read_interval(scheduler, into)
    scheduler.take("shutdown_grace_seconds", _seconds(allow_zero=True), into, "shutdown_grace_s")
    scheduler.take("catch_up", _flag, into, "catch_up")
    scheduler.take("state_dir", _path(base, home), into, "state_dir")
    scheduler.take("keep_runs", _count(1, 2**63 - 1), into, "keep_runs")
    scheduler.take("keep_log_bytes", _size, into, "keep_log_bytes")
    scheduler.take("on_failure", _command, settings.hooks, "on_failure")
    scheduler.take("on_success", _command, settings.hooks, "on_success")
    scheduler.take("hook_timeout_seconds", _seconds(allow_zero=False), settings.hooks,
                   "hook_timeout_s")

    autorefresh = top.table("autorefresh")
    autorefresh.refuse_unknown(_AUTOREFRESH_KEYS)
    autorefresh.take("enabled", _flag, settings.autorefresh, "enabled")
    _read_interval(autorefresh, settings.autorefresh)

    control = top.table("control")
    control.refuse_unknown(_CONTROL_KEYS)
    control.take("group", _group, settings.control, "group")

    sections = {"scheduler": scheduler, "autorefresh": autorefresh}
    for key in [key for key in document if key in _SEED_KEYS]:
        section, field, equivalents = _SEED_KEYS[key]
        clashing = [name for name in equivalents if name in sections[section].data]
        if clashing:
            report.add(key, f"expected either {key} or [{section}] {clashing[0]}, got both")
        top.take(key, _seed_reader(key, lenient=False), settings.section(section), field)

    jobs = document.get("jobs", {})
    if not isinstance(jobs, dict):
        report.add("jobs", f"expected [jobs.NAME] tables, got {_shown(jobs)}")
    elif not jobs:
        report.add("jobs", "expected at least one [jobs.NAME] table")
    else:
        for name, value in jobs.items():
            job = _read_job(name, value, report, base, home)
            if job is not None:
                settings.jobs[name] = job
    return settings


def _read_interval(table: _Table, into: dict[str, Any]) -> None:
    table.at_most_one("interval", "interval_minutes")
    table.take("interval", _interval, into, "interval_s")
    table.take("interval_minutes", _minutes(allow_zero=False), into, "interval_s")


def _read_job(
    name: str, value: Any, report: _Report, base: Path, home: Path | None
) -> dict[str, Any] | None:
    """The JobConfig arguments of one `[jobs.NAME]` table, or None if it is unusable."""
    key = _key_path("jobs", name)
    if not _JOB_NAME.fullmatch(name):
        report.add(
            key,
            "expected a job name of at most 64 letters, digits, '_', '.' or '-', "
            f"starting with a letter or digit, got {_shown(name)}",
        )
    if not isinstance(value, dict):
        report.add(key, f"expected a table, got {_shown(value)}")
        return None
    table = _Table(report, ("jobs", name), value)
    table.refuse_unknown(_JOB_KEYS)
    job: dict[str, Any] = {"name": name}
    if "command" in value and "callable" in value:
        report.add(key, "expected one of command or callable, got both")
    elif "command" not in value and "callable" not in value:
        report.add(key, "expected a command or a callable, got neither")
    table.take("command", _command, job, "command")
    table.take("callable", _callable, job, "callable")
    table.at_most_one("interval", "interval_minutes", "cron")
    table.take("interval", _interval, job, "interval_s")
    table.take("interval_minutes", _minutes(allow_zero=False), job, "interval_s")
    table.take("cron", _cron, job, "cron")
    table.take("timeout_seconds", _seconds(allow_zero=False), job, "timeout_s")
    table.take("retries", _count(0, 100), job, "retries")
    table.take("retry_backoff_seconds", _seconds(allow_zero=True), job, "retry_backoff_s")
    table.take("jitter_seconds", _seconds(allow_zero=True), job, "jitter_s")
    table.take("manual_cooldown_seconds", _seconds(allow_zero=True), job, "manual_cooldown_s")
    table.take("kill_grace_seconds", _seconds(allow_zero=True), job, "kill_grace_s")
    table.take("cwd", _path(base, home), job, "cwd")
    env = _read_env(table)
    if env is not None:
        job["env"] = env
    table.take("overlap", _overlap, job, "overlap")
    table.take("run_on_start", _flag, job, "run_on_start")
    table.take("grace_minutes", _minutes(allow_zero=True), job, "grace_s")
    table.take("log_max_bytes", _size, job, "log_max_bytes")
    table.take("on_failure", _command, job, "on_failure")
    table.take("on_success", _command, job, "on_success")
    table.take("hook_timeout_seconds", _seconds(allow_zero=False), job, "hook_timeout_s")
    return job


def _read_env(job: _Table) -> dict[str, str] | None:
    """A job's `env` table. Its values are never shown, only their types."""
    if "env" not in job.data:
        return None
    value = job.data["env"]
    if not isinstance(value, dict):
        job.report.add(
            job.key("env"),
            f'expected a table of NAME = "value" strings, got a value of type {_toml_type(value)}',
        )
        return None
    env = {}
    for name, item in value.items():
        key = job.key("env", name)
        if not name or "=" in name or "\0" in name:
            job.report.add(key, "expected a variable name without '=' or NUL characters")
        elif not isinstance(item, str):
            job.report.add(key, f"expected a string, got a value of type {_toml_type(item)}")
        elif "\0" in item:
            job.report.add(key, "expected a string without NUL characters, got a string with one")
        else:
            env[name] = item
    return env


def _read_secrets(path: Path, report: _Report, settings: _Settings) -> None:
    """Apply the seed's four keys from a Streamlit secrets file; the rest is not looked at."""
    document, _ = _read_toml(path, report)
    if document is None:
        return
    table = _Table(report, (), document)
    for key, (section, field, _) in _SEED_KEYS.items():
        table.take(key, _seed_reader(key, lenient=True), settings.section(section), field)


def _read_environment(
    environ: Mapping[str, str], report: _Report, settings: _Settings
) -> None:
    # An empty variable counts as unset, as `KEY=` in a compose file or unit means.
    present = {key: environ[key].strip() for key in _SEED_KEYS if environ.get(key, "").strip()}
    table = _Table(report, (), present)
    for key, (section, field, _) in _SEED_KEYS.items():
        table.take(key, _seed_reader(key, lenient=True), settings.section(section), field)


def _seed_reader(key: str, *, lenient: bool) -> Callable[[Any], Any]:
    """How one of the seed's keys is read; `lenient` also takes the environment's strings."""
    if key == "SCHEDULER_TIMEZONE":
        return _timezone
    if key == "ENABLE_AUTOREFRESH_FALLBACK":
        return _switch if lenient else _flag
    minutes = _minutes(allow_zero=False)
    if not lenient:
        return minutes

    def read(value: Any) -> float:
        # The seed read these with int(): "15" in a secrets file or the environment.
        if isinstance(value, str) and _DECIMAL.fullmatch(value):
            return minutes(float(value))
        return minutes(value)

    return read


def _warnings(source: str, mode: int | None, jobs: Mapping[str, JobConfig]) -> tuple[str, ...]:
    holding = [name for name, job in jobs.items() if job.env]
    if mode is None or not holding or not mode & 0o044:
        return ()
    return (
        _one_line(
            f"{source}: {_key_path('jobs', holding[0], 'env')}: holds environment values but the "
            f"file is readable by other users (mode {mode & 0o7777:04o}); chmod 600 it"
        ),
    )


# Readers: each takes a TOML value and returns what the model holds, or raises _Invalid.


def _interval(value: Any) -> float:
    if _is_number(value):
        raise _expected(
            'a duration like "15m" or "1h30m" (a bare number has no unit; use interval_minutes)',
            value,
        )
    return _duration(value, allow_zero=False)


def _duration(value: Any, *, allow_zero: bool) -> float:
    if not isinstance(value, str):
        raise _expected('a duration like "15m" or "1h30m"', value)
    try:
        return parse_duration(value, allow_zero=allow_zero)
    except ValueError as error:
        raise _Invalid(str(error)) from None


def _in_unit(unit: str, unit_s: float, example: str, *, allow_zero: bool) -> Callable[[Any], float]:
    """A reader for a key that names its unit: a number of that unit, or a duration string."""
    bound = ">= 0" if allow_zero else "> 0"

    def read(value: Any) -> float:
        if isinstance(value, str):
            try:
                return parse_duration(value, allow_zero=allow_zero)
            except ValueError as error:
                # A malformed string gets the message below, which names both forms.
                if not str(error).startswith(DURATION_EXPECTED):
                    raise _Invalid(str(error)) from None
        if not _is_number(value):
            raise _expected(f'a number of {unit} or a duration like "{example}"', value)
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise _expected(f"a number of {unit} {bound}", value)
        if value * unit_s > MAX_DURATION_S:
            raise _expected("a duration of at most 100 years", value)
        return float(value * unit_s)

    return read


def _seconds(*, allow_zero: bool) -> Callable[[Any], float]:
    return _in_unit("seconds", 1, "30s", allow_zero=allow_zero)


def _minutes(*, allow_zero: bool) -> Callable[[Any], float]:
    return _in_unit("minutes", 60, "15m", allow_zero=allow_zero)


def _size(value: Any) -> int:
    if isinstance(value, str):
        try:
            return parse_size(value)
        except ValueError as error:
            if not str(error).startswith(SIZE_EXPECTED):
                raise _Invalid(str(error)) from None
    whole = _is_number(value) and math.isfinite(value) and value == int(value)
    if whole and 1 <= value <= MAX_SIZE_BYTES:
        return int(value)
    raise _expected('a number of bytes > 0 or a size like "50MB"', value)


def _count(low: int, high: int) -> Callable[[Any], int]:
    def read(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            limit = f"from {low} to {high}" if high < 2**63 - 1 else f">= {low}"
            raise _expected(f"a whole number {limit}", value)
        return value

    return read


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _expected("true or false (unquoted)", value)
    return value


def _switch(value: Any) -> bool:
    """A boolean as the environment spells it: true/false, 1/0 or yes/no."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE_WORDS:
        return False
    raise _expected("true/false, 1/0 or yes/no", value)


def _timezone(value: Any) -> str:
    what = 'an IANA time zone name like "America/Sao_Paulo"'
    if not isinstance(value, str) or not value:
        raise _expected(what, value)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # Long values are not names anyone meant; difflib on them would only be slow.
        names = _zone_names() if len(value) < 64 else {}
        close = difflib.get_close_matches(value.lower(), names, n=1)
        hint = f' (did you mean "{names[close[0]]}"?)' if close else ""
        raise _Invalid(f"expected {what}, got {_shown(value)}{hint}") from None
    return value


@functools.lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    """Every known zone by its lower-cased name, for "did you mean"."""
    return {name.lower(): name for name in available_timezones()}


def _command(value: Any) -> tuple[str, ...] | str:
    what = 'an argv list like ["python", "-m", "shop.sync"] or a shell command string'
    if isinstance(value, str):
        if not value.strip():
            raise _expected(what, value)
        if "\0" in value:
            raise _Invalid("expected a command without NUL characters, got one with a NUL")
        return value
    if not isinstance(value, list) or not value:
        raise _expected(what, value)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _Invalid(
                f"expected every item to be a string, got {_shown(item)} at index {index}"
            )
        if "\0" in item:
            raise _Invalid(f"expected items without NUL characters, got one at index {index}")
    if not value[0]:
        raise _Invalid('expected a program name as the first item, got ""')
    return tuple(value)


def _callable(value: Any) -> str:
    if not isinstance(value, str) or not _CALLABLE.fullmatch(value):
        raise _expected('"package.module:function"', value)
    return value


def _cron(value: Any) -> CronSpec:
    try:
        return parse_crontab(value)
    except ValueError as error:
        raise _Invalid(str(error)) from None


def _overlap(value: Any) -> str:
    if not isinstance(value, str) or value not in ("skip", "replace"):
        raise _expected('"skip" or "replace"', value)
    return value


def _group(value: Any) -> str:
    if not isinstance(value, str) or "\0" in value:
        raise _expected('a group name, or "" for none', value)
    return value


def _path(base: Path, home: Path | None) -> Callable[[Any], Path]:
    """A reader for a path; relative ones are taken from the config file's directory."""

    def read(value: Any) -> Path:
        if not isinstance(value, str) or not value or "\0" in value:
            raise _expected("a path", value)
        return _resolve(value, base, home)

    return read


def _resolve(text: str, base: Path, home: Path | None) -> Path:
    """A path as written by an operator: "~/" is the injected $HOME, relative is from `base`."""
    if (text == "~" or text.startswith("~/")) and home is not None:
        return home / text[2:]
    return base / os.path.expanduser(text)


# Plumbing shared by the readers and the loader.


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shown(value: Any, depth: int = 0) -> str:
    """A value as a message shows it: TOML-like, on one line, never long."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value if len(value) <= 60 else value[:57] + "...", ensure_ascii=False)
    elif isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, (date, time)):
        text = value.isoformat()
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list) and depth < 2:
        items = [_shown(item, depth + 1) for item in value[:5]]
        text = "[" + ", ".join(items + ["..."] * (len(value) > 5)) + "]"
    elif isinstance(value, list):
        text = "[...]"
    else:
        text = type(value).__name__
    return text if len(text) <= 80 else text[:77] + "..."


def _toml_type(value: Any) -> str:
    """The TOML name of a value's type, which is all a message may say about an env value."""
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"),
                       (list, "array"), (dict, "table")):
        if isinstance(value, kind):
            return name
    return "date-time" if isinstance(value, (date, time)) else type(value).__name__


def _key_path(*keys: str) -> str:
    """A dotted key as TOML writes it: `jobs."nightly report".cron`."""
    return ".".join(key if _BARE_KEY.fullmatch(key) else _shown(key) for key in keys)


def _listed(items: Iterable[str]) -> str:
    """ "a, b and c"."""
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _hint(key: str, known: tuple[str, ...]) -> str:
    """Why a key may be unknown: it belongs elsewhere, or is a near miss of a known one."""
    if key in _HOMES or key in _SEED_KEYS:
        return f" (it belongs in {_HOMES.get(key, 'the top level')})"
    by_lower = {name.lower(): name for name in known}
    close = difflib.get_close_matches(key.lower(), by_lower, n=1, cutoff=0.6)
    return f' (did you mean "{by_lower[close[0]]}"?)' if close else ""


def _one_line(text: str) -> str:
    """The text with anything that could break or hide a line escaped."""
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def _exists(path: Path) -> bool:
    """Whether something is at `path`; a permission error counts as yes, so it gets reported."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True  # permission denied, say: reading it will report why
    return True


def _home(environ: Mapping[str, str]) -> Path | None:
    home = environ.get("HOME", "")
    if os.path.isabs(home):
        return Path(home)
    try:
        # Services started without $HOME (systemd without User=) still have one.
        return Path(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:
        return None


def default_state_dir(name: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Where a config called `name` keeps its state when `state_dir` is not set."""
    environ = os.environ if environ is None else environ
    return _default_state_dir(environ, _home(environ), name)


def _default_state_dir(environ: Mapping[str, str], home: Path | None, name: str) -> Path | None:
    # systemd's StateDirectory= may list several, separated by ":"; synctui uses the first.
    state_directory = environ.get("STATE_DIRECTORY", "").split(":")[0]
    if os.path.isabs(state_directory):
        return Path(state_directory)
    state_home = environ.get("XDG_STATE_HOME", "")
    if os.path.isabs(state_home):
        return Path(state_home) / "synctui" / name
    if home is not None:
        return home / ".local" / "state" / "synctui" / name
    return None


def local_zone() -> str:
    """The machine's zone name, or "UTC" when it cannot be told."""
    # Imported here: only needed when no zone is configured, and it reads files.
    import tzlocal

    try:
        return _timezone(tzlocal.get_localzone_name())
    except (LookupError, ValueError, OSError, _Invalid):
        # A machine whose zone cannot be told runs in UTC rather than not at all.
        return "UTC"
