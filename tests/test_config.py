"""Tests for synctui.config: durations, crontab, discovery, loading, precedence and messages."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from synctui.config import (
    EXAMPLE_CONFIG_PATH,
    Config,
    ConfigError,
    discover_config,
    load_config,
    parse_crontab,
    parse_duration,
    parse_size,
)

MINIMAL = '[jobs.orders]\ncommand = ["true"]\n'
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def environ(home: Path) -> dict[str, str]:
    return {"HOME": str(home)}


def write(directory: Path, text: str, name: str = "synctui.toml", mode: int = 0o600) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    path.chmod(mode)
    return path


def problems_of(path: Path, **kwargs) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, **kwargs)
    for problem in caught.value.problems:
        assert "\n" not in problem
    return caught.value.problems


# Durations and sizes


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("200ms", 0.2),
        ("30s", 30),
        ("15m", 900),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1d", 86400),
        ("2m30s", 150),
        ("1.5h", 5400),
        ("1d2h3m4s5ms", 93784.005),
    ],
)
def test_parse_duration_reads_operator_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["", "15", "15 m", " 15m", "-5m", "0s", "0m0s", "m", "1x", "1h 30m", "1H", "١٥m", "1e3s", "inf"],
)
def test_parse_duration_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="^expected "):
        parse_duration(text)


def test_parse_duration_refuses_non_strings_and_absurd_lengths() -> None:
    for value in (15, None, 1.5, ["15m"]):
        with pytest.raises(ValueError, match="^expected a duration"):
            parse_duration(value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at most 100 years"):
        parse_duration("40000d")


def test_parse_duration_zero_only_when_allowed() -> None:
    assert parse_duration("0s", allow_zero=True) == 0
    with pytest.raises(ValueError, match="greater than zero"):
        parse_duration("0s")


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("10B", 10),
        ("512KB", 512_000),
        ("50MB", 50_000_000),
        ("2GB", 2_000_000_000),
        ("1TB", 10**12),
        ("1KiB", 1024),
        ("2MiB", 2 * 1024**2),
        ("1GiB", 1024**3),
        ("1.5KB", 1500),
        ("50mb", 50_000_000),
        ("2 GiB", 2 * 1024**3),
    ],
)
def test_parse_size_reads_decimal_and_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "50", "MB", "-1MB", "0B", "0.1B", "5XB", "50 M B", "1e3MB"])
def test_parse_size_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="^expected "):
        parse_size(text)


# Crontab


def test_cron_is_written_as_cronsim_reads_it_with_numbers_for_names() -> None:
    assert parse_crontab("0 3 * * sun").cron == "0 3 * * 0"
    assert parse_crontab("0 3 * * 0,7").cron == "0 3 * * 0,7"
    assert parse_crontab("*/15 9-17 * jan,JUL mon-fri").cron == "*/15 9-17 * 1,7 1-5"
    assert parse_crontab("1-10/2 * * * *").cron == "1-10/2 * * * *"
    assert parse_crontab("5/20 * * * *").cron == "5/20 * * * *"
    assert parse_crontab("* * * * MON-Fri").cron == "* * * * 1-5"
    # cronsim refuses a range that wraps; Sunday as 7 closes the week instead.
    assert parse_crontab("* * * * fri-sun").cron == "* * * * 5-7"
    assert parse_crontab("  0 0 1,15 * *  ").expression == "0 0 1,15 * *"


def test_cron_a_one_value_range_with_a_step_is_that_value_as_in_cron() -> None:
    # cronsim reads "a-a/n" as "a/n" (a to the field's end, every n); cron as {a}.
    assert parse_crontab("5-5/10 * * * *").cron == "5 * * * *"
    assert parse_crontab("0 0 * * mon-mon/2").cron == "0 0 * * 1"
    assert parse_crontab("5-5 * * * *").cron == "5 * * * *"


def test_cron_extensions_are_accepted() -> None:
    assert parse_crontab("30 2 L * *").cron == "30 2 L * *"
    assert parse_crontab("30 2 lw * *").cron == "30 2 LW * *"
    assert parse_crontab("0 9 * * 5L").cron == "0 9 * * 5L"
    assert parse_crontab("0 9 * * friL").cron == "0 9 * * 5L"
    assert parse_crontab("0 9 * * MON#2").cron == "0 9 * * 1#2"
    assert parse_crontab("0 9 1,L * 1#1,5L").cron == "0 9 1,L * 1#1,5L"


@pytest.mark.parametrize(
    ("macro", "expanded"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_cron_macros_mean_their_five_fields(macro: str, expanded: str) -> None:
    spec = parse_crontab(macro)
    assert spec.expression == macro
    assert spec.cron == expanded


def test_cron_reboot_is_refused_pointing_at_run_on_start() -> None:
    with pytest.raises(ValueError, match="run_on_start"):
        parse_crontab("@reboot")


@pytest.mark.parametrize("expression", ["0 0 * * * *", "*/5 0 0 * * * 2030"])
def test_cron_seconds_fields_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="expected 5 fields.*seconds"):
        parse_crontab(expression)


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("60 * * * *", ["minute", '"60"']),
        ("* 24 * * *", ["hour", '"24"']),
        ("* * 0 * *", ["day-of-month", '"0"']),
        ("* * * 13 *", ["month", '"13"']),
        ("* * * * 8", ["day-of-week", '"8"']),
        ("* * * * xyz", ["day-of-week", '"xyz"']),
        ("* * * foo *", ["month", '"foo"']),
        ("*/0 * * * *", ["minute", '"*/0"']),
        ("5-1 * * * *", ["minute", '"5-1"']),
        ("1,,2 * * * *", ["minute"]),
        ("? * * * *", ["minute", '"?"']),
        ("0 0 31 2 *", ["never fire", '"31"']),
        ("* * * *", ["expected 5 fields", "got 4"]),
        ("", ["expected 5 fields", "got 0"]),
        ("@fortnightly", ["@daily", '"@fortnightly"']),
        ("* * * * mon#6", ["day-of-week", '"mon#6"']),
        ("* * * * 8L", ["day-of-week", '"8"']),
        ("* * L/2 * *", ["day-of-month", '"L"']),
        ("* L * * *", ["hour", '"L"']),
        ("* * * * L", ["day-of-week", '"L"']),
        ("0 0 * * * *", ["expected 5 fields", "got 6", "seconds"]),
    ],
)
def test_cron_errors_name_the_field_and_value(expression: str, names: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        parse_crontab(expression)
    message = str(caught.value)
    assert message.startswith("expected ")
    assert "\n" not in message
    for name in names:
        assert name in message


def test_cron_impossible_day_is_fine_when_weekdays_also_restrict() -> None:
    # Crontab fires when either day field matches, so this still fires on Mondays.
    assert parse_crontab("0 0 30 2 mon").cron == "0 0 30 2 1"
    assert parse_crontab("0 0 29 2 *").cron == "0 0 29 2 *"  # leap years


def test_config_package_imports_no_console_or_scheduler_library() -> None:
    code = (
        "import sys, synctui.config\n"
        "bad = [m for m in ('textual', 'rich', 'apscheduler') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


# Loading: what a valid file becomes


def test_minimal_config_gets_the_defaults(tmp_path: Path, environ: dict[str, str], home: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), environ=environ)
    assert isinstance(config, Config)
    assert config.name == "synctui"
    assert config.path == tmp_path / "synctui.toml"
    assert config.scheduler.interval_s == 900
    assert config.scheduler.state_dir == home / ".local/state/synctui/synctui"
    assert config.autorefresh.enabled is True
    assert config.autorefresh.interval_s == 1800
    assert config.control.group == ""
    job = config.jobs["orders"]
    assert job.command == ("true",)
    assert job.interval_s == 900  # the scheduler's default
    assert job.cron is None
    assert config.warnings == ()


def test_default_timezone_is_the_machine_zone_or_utc(
    tmp_path: Path, environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tzlocal

    path = write(tmp_path, MINIMAL)
    monkeypatch.setattr(tzlocal, "get_localzone_name", lambda: "Europe/Berlin")
    assert load_config(path, environ=environ).scheduler.timezone == "Europe/Berlin"

    def no_zone() -> str:
        raise LookupError("no zone here")

    monkeypatch.setattr(tzlocal, "get_localzone_name", no_zone)
    assert load_config(path, environ=environ).scheduler.timezone == "UTC"
    monkeypatch.setattr(tzlocal, "get_localzone_name", lambda: None)
    assert load_config(path, environ=environ).scheduler.timezone == "UTC"


def test_the_spec_example_loads_with_every_value(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(
        tmp_path,
        """
        [scheduler]
        timezone = "America/Sao_Paulo"
        interval = "15m"
        shutdown_grace_seconds = 30
        catch_up = false
        state_dir = "state"
        keep_runs = 500
        keep_log_bytes = "2GB"
        on_failure = ["notify", "a sync failed"]

        [autorefresh]
        enabled = false
        interval = "30m"

        [control]
        group = "operators"

        [jobs.orders]
        command = ["python", "-m", "shop.sync_orders"]
        interval = "15m"
        timeout_seconds = 600
        retries = 2
        retry_backoff_seconds = 30
        jitter_seconds = 0
        manual_cooldown_seconds = 5
        kill_grace_seconds = "2s"
        cwd = "/srv/shop"
        env = { API_URL = "https://example.com" }
        overlap = "replace"
        run_on_start = true
        grace_minutes = 5
        log_max_bytes = "50MB"
        on_success = "echo ok"

        [jobs.nightly]
        callable = "shop.sync:run_incremental_sync"
        cron = "0 3 * * 7"
        on_failure = "echo own hook"
        """,
    )
    config = load_config(path, environ=environ)
    scheduler = config.scheduler
    assert scheduler.timezone == "America/Sao_Paulo"
    assert scheduler.interval_s == 900
    assert scheduler.shutdown_grace_s == 30
    assert scheduler.catch_up == "none"
    assert scheduler.state_dir == tmp_path / "state"
    assert scheduler.keep_runs == 500
    assert scheduler.keep_log_bytes == 2_000_000_000
    assert config.autorefresh.enabled is False
    assert config.autorefresh.interval_s == 1800
    assert config.control.group == "operators"
    orders = config.jobs["orders"]
    assert orders.command == ("python", "-m", "shop.sync_orders")
    assert orders.callable is None
    assert orders.interval_s == 900
    assert orders.timeout_s == 600
    assert orders.retries == 2
    assert orders.retry_backoff_s == 30
    assert orders.jitter_s == 0
    assert orders.manual_cooldown_s == 5
    assert orders.kill_grace_s == 2
    assert orders.cwd == Path("/srv/shop")
    assert orders.env == {"API_URL": "https://example.com"}
    assert orders.overlap == "replace"
    assert orders.run_on_start is True
    assert orders.grace_s == 300
    assert orders.log_max_bytes == 50_000_000
    assert orders.on_failure == ("notify", "a sync failed")  # inherited from [scheduler]
    assert orders.on_success == "echo ok"
    nightly = config.jobs["nightly"]
    assert nightly.command is None
    assert nightly.callable == "shop.sync:run_incremental_sync"
    assert nightly.interval_s is None
    assert nightly.cron is not None and nightly.cron.cron == "0 3 * * 7"
    assert nightly.on_failure == "echo own hook"
    assert "https://example.com" not in repr(config)


def test_units_named_by_the_key_take_numbers_or_strings(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(
        tmp_path,
        """
        [scheduler]
        interval_minutes = 0.5
        keep_log_bytes = 5000
        shutdown_grace_seconds = "1m"
        [autorefresh]
        interval_minutes = "1h"
        [jobs.fast]
        command = "echo hi"
        interval = "200ms"
        timeout_seconds = "10m"
        grace_minutes = "90s"
        log_max_bytes = 1024
        [jobs.slow]
        command = "echo hi"
        interval_minutes = 30
        """,
    )
    config = load_config(path, environ=environ)
    assert config.scheduler.interval_s == 30
    assert config.scheduler.keep_log_bytes == 5000
    assert config.scheduler.shutdown_grace_s == 60
    assert config.autorefresh.interval_s == 3600
    assert config.jobs["fast"].interval_s == pytest.approx(0.2)
    assert config.jobs["fast"].timeout_s == 600
    assert config.jobs["fast"].grace_s == 90
    assert config.jobs["fast"].log_max_bytes == 1024
    assert config.jobs["slow"].interval_s == 1800


def test_relative_paths_are_taken_from_the_config_directory(
    tmp_path: Path, environ: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path / "etc",
        """
        [scheduler]
        state_dir = "var/state"
        [jobs.a]
        command = "true"
        cwd = "work"
        [jobs.b]
        command = "true"
        cwd = "~/shop"
        """,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path, environ=environ)
    assert config.scheduler.state_dir == tmp_path / "etc/var/state"
    assert config.jobs["a"].cwd == tmp_path / "etc/work"
    assert config.jobs["b"].cwd == home / "shop"


def test_default_state_dir_follows_systemd_then_xdg_then_home(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path, MINIMAL, name="shop.toml")
    state = load_config(path, environ={"HOME": str(home)}).scheduler.state_dir
    assert state == home / ".local/state/synctui/shop"
    xdg = {"HOME": str(home), "XDG_STATE_HOME": "/var/xdg"}
    assert load_config(path, environ=xdg).scheduler.state_dir == Path("/var/xdg/synctui/shop")
    systemd = {**xdg, "STATE_DIRECTORY": "/var/lib/synctui:/var/lib/other"}
    assert load_config(path, environ=systemd).scheduler.state_dir == Path("/var/lib/synctui")


def test_example_config_is_valid_and_documents_every_key(tmp_path: Path, environ: dict[str, str]) -> None:
    assert EXAMPLE_CONFIG_PATH.is_file()
    config = load_config(EXAMPLE_CONFIG_PATH, environ=environ)
    assert config.jobs
    assert any(job.cron is not None for job in config.jobs.values())
    text = EXAMPLE_CONFIG_PATH.read_text(encoding="utf-8")
    keys = [
        "timezone", "interval", "interval_minutes", "shutdown_grace_seconds", "catch_up",
        "state_dir", "keep_runs", "keep_log_bytes", "on_failure", "on_success", "enabled",
        "group", "command", "callable", "cron", "after", "timeout_seconds", "retries",
        "retry_backoff_seconds", "jitter_seconds", "manual_cooldown_seconds",
        "kill_grace_seconds", "cwd", "env", "overlap", "run_on_start", "grace_minutes",
        "log_max_bytes", "hook_timeout_seconds", "active_hours", "active_days", "blackout",
        "SYNC_INTERVAL_MINUTES", "SCHEDULER_TIMEZONE",
        "AUTOREFRESH_INTERVAL_MINUTES", "ENABLE_AUTOREFRESH_FALLBACK",
    ]  # fmt: skip
    missing = [key for key in keys if f"{key} =" not in text]
    assert missing == []


def test_example_jobs_actually_run_here(tmp_path: Path, environ: dict[str, str]) -> None:
    config = load_config(EXAMPLE_CONFIG_PATH, environ=environ)
    for job in config.jobs.values():
        argv = list(job.command) if isinstance(job.command, tuple) else ["/bin/sh", "-c", job.command]
        result = subprocess.run(argv, capture_output=True, timeout=10, check=False)
        assert result.returncode == 0, job.name


# Loading: what is refused, and how it is said


def test_bare_number_interval_is_refused_with_the_unit_hint(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    path = write(tmp_path, '[jobs.orders]\ncommand = "true"\ninterval = 15\n')
    assert problems_of(path, environ=environ) == (
        f'{path}: jobs.orders.interval: expected a duration like "15m" or "1h30m" '
        "(a bare number has no unit; use interval_minutes), got 15",
    )


def test_unknown_keys_are_refused_with_did_you_mean(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(
        tmp_path,
        """
        job = 1
        [scheduler]
        timzone = "UTC"
        timeout_seconds = 5
        [autorefresh]
        Enabled = true
        [control]
        grup = "x"
        [jobs.orders]
        command = "true"
        retires = 2
        zzz = 1
        env = { ANYTHING_GOES = "x" }
        """,
    )
    assert set(problems_of(path, environ=environ)) == {
        f'{path}: job: unknown key (did you mean "jobs"?)',
        f'{path}: scheduler.timzone: unknown key (did you mean "timezone"?)',
        f"{path}: scheduler.timeout_seconds: unknown key (it belongs in [jobs.NAME])",
        f'{path}: autorefresh.Enabled: unknown key (did you mean "enabled"?)',
        f'{path}: control.grup: unknown key (did you mean "group"?)',
        f'{path}: jobs.orders.retires: unknown key (did you mean "retries"?)',
        f"{path}: jobs.orders.zzz: unknown key",
    }


def test_every_problem_in_the_file_is_reported_at_once(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(
        tmp_path,
        """
        [scheduler]
        timezone = "Mars/Olympus_Mons"
        interval = "15 minutes"
        catch_up = "yes"
        keep_runs = 0
        keep_log_bytes = "lots"
        [autorefresh]
        enabled = 1
        [jobs.orders]
        command = ["python", 3]
        interval = "0s"
        timeout_seconds = -1
        retries = 1.5
        overlap = "kill"
        run_on_start = "false"
        log_max_bytes = "50XB"
        [jobs."bad name"]
        callable = "not a callable"
        cron = "@reboot"
        [jobs.neither]
        interval_minutes = 5
        cron = "* * * * *"
        [jobs.both]
        command = "true"
        callable = "pkg.mod:func"
        """,
    )
    found = problems_of(path, environ=environ)
    expected_keys = [
        "scheduler.timezone", "scheduler.interval", "scheduler.catch_up", "scheduler.keep_runs",
        "scheduler.keep_log_bytes", "autorefresh.enabled", "jobs.orders.command",
        "jobs.orders.interval", "jobs.orders.timeout_seconds", "jobs.orders.retries",
        "jobs.orders.overlap", "jobs.orders.run_on_start", "jobs.orders.log_max_bytes",
        'jobs."bad name"', 'jobs."bad name".callable', 'jobs."bad name".cron', "jobs.neither",
        "jobs.both",
    ]  # fmt: skip
    for key in expected_keys:
        assert any(problem.startswith(f"{path}: {key}: ") for problem in found), key
    # jobs.neither has two: no command or callable, and both interval_minutes and cron.
    assert len(found) == 19
    assert all(problem.startswith(f"{path}: ") for problem in found)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('command = ""', "jobs.a.command: expected an argv list"),
        ("command = []", "jobs.a.command: expected an argv list"),
        ('command = ["", "x"]', "jobs.a.command: expected a program name"),
        ("command = 5", "jobs.a.command: expected an argv list"),
        ('callable = "pkg.mod"', 'jobs.a.callable: expected "package.module:function"'),
        ('callable = "pkg.mod:"', 'jobs.a.callable: expected "package.module:function"'),
        ('command = "true"\nretries = -1', "jobs.a.retries: expected a whole number from 0 to 100"),
        ('command = "true"\nretries = true', "jobs.a.retries: expected a whole number"),
        ('command = "true"\ntimeout_seconds = 0', "jobs.a.timeout_seconds: expected a number of"),
        ('command = "true"\ntimeout_seconds = nan', "jobs.a.timeout_seconds: expected a number of"),
        ('command = "true"\njitter_seconds = -5', "jobs.a.jitter_seconds: expected a number of seconds >="),
        ('command = "true"\ninterval_minutes = 0', "jobs.a.interval_minutes: expected a number of"),
        ('command = "true"\ninterval = "-1m"', 'jobs.a.interval: expected a duration like'),
        ('command = "true"\ncron = "*/15 * * *"', "jobs.a.cron: expected 5 fields"),
        ('command = "true"\ncron = 15', "jobs.a.cron: expected a crontab string"),
        ('command = "true"\ncron = "0 30 2 * * *"', "jobs.a.cron: expected 5 fields (minute hour"),
        ('command = "true"\nrun_on_start = 1', "jobs.a.run_on_start: expected true or false"),
        ('command = "true"\ncwd = 5', "jobs.a.cwd: expected a path"),
        ('command = "true"\nenv = "A=1"', "jobs.a.env: expected a table"),
        ('command = "true"\non_failure = []', "jobs.a.on_failure: expected an argv list"),
        ('command = "true"\ninterval = "1h"\ncron = "@daily"', "jobs.a: expected at most one of"),
        ('command = "true"\ncallable = "a:b"', "jobs.a: expected one of command or callable, got both"),
        ("interval = \"1h\"", "jobs.a: expected a command or a callable, got neither"),
    ],
)
def test_job_values_are_checked(tmp_path: Path, environ: dict[str, str], body: str, expected: str) -> None:
    path = write(tmp_path, f"[jobs.a]\n{body}\n")
    found = problems_of(path, environ=environ)
    assert any(problem.startswith(f"{path}: {expected}") for problem in found), found


@pytest.mark.parametrize("name", ["orders", "orders.daily-1_x", "0day", "a" * 64])
def test_good_job_names(tmp_path: Path, environ: dict[str, str], name: str) -> None:
    path = write(tmp_path, f'[jobs."{name}"]\ncommand = "true"\n')
    assert list(load_config(path, environ=environ).jobs) == [name]


@pytest.mark.parametrize("name", ["-x", ".x", "a b", "a/b", "a" * 65, "é", ""])
def test_bad_job_names(tmp_path: Path, environ: dict[str, str], name: str) -> None:
    path = write(tmp_path, f'[jobs."{name}"]\ncommand = "true"\n')
    (problem,) = problems_of(path, environ=environ)
    assert "expected a job name" in problem


@pytest.mark.parametrize("text", ["", "[scheduler]\n", "[jobs]\n"])
def test_at_least_one_job_is_required(tmp_path: Path, environ: dict[str, str], text: str) -> None:
    path = write(tmp_path, text)
    assert problems_of(path, environ=environ) == (f"{path}: jobs: expected at least one [jobs.NAME] table",)


def test_wrong_table_types(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path, 'scheduler = 5\njobs = "x"\n')
    assert problems_of(path, environ=environ) == (
        f"{path}: scheduler: expected a table, got 5",
        f'{path}: jobs: expected [jobs.NAME] tables, got "x"',
    )
    path = write(tmp_path, "[jobs]\norders = 5\n")
    assert problems_of(path, environ=environ) == (f"{path}: jobs.orders: expected a table, got 5",)


def test_timezone_is_validated_with_a_suggestion(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path, '[scheduler]\ntimezone = "america/sao_paulo"\n' + MINIMAL)
    (problem,) = problems_of(path, environ=environ)
    assert problem == (
        f'{path}: scheduler.timezone: expected an IANA time zone name like "America/Sao_Paulo", '
        'got "america/sao_paulo" (did you mean "America/Sao_Paulo"?)'
    )
    for zone in ("", "/etc/passwd", "../UTC", "America", "x" * 300):
        path = write(tmp_path, f'[scheduler]\ntimezone = "{zone}"\n' + MINIMAL)
        (problem,) = problems_of(path, environ=environ)
        assert "scheduler.timezone: expected an IANA time zone name" in problem


def test_env_values_are_never_printed(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(
        tmp_path,
        """
        [jobs.orders]
        command = "true"
        [jobs.orders.env]
        TOKEN = "hunter2-secret"
        PORT = 8080
        NESTED = { deep = "deep-secret" }
        "A=B" = "eq-secret"
        """,
    )
    found = problems_of(path, environ=environ)
    text = "\n".join(found)
    assert f"{path}: jobs.orders.env.PORT: expected a string, got a value of type integer" in found
    assert f"{path}: jobs.orders.env.NESTED: expected a string, got a value of type table" in found
    assert any('jobs.orders.env."A=B": expected a variable name' in problem for problem in found)
    for secret in ("hunter2", "8080", "deep-secret", "eq-secret"):
        assert secret not in text
    path = write(tmp_path, '[jobs.orders]\ncommand = "true"\nenv = ["secret-in-a-list"]\n')
    (problem,) = problems_of(path, environ=environ)
    assert "secret-in-a-list" not in problem
    assert problem.endswith("got a value of type array")


def test_readable_env_gets_a_warning(tmp_path: Path, environ: dict[str, str]) -> None:
    text = '[jobs.orders]\ncommand = "true"\nenv = { TOKEN = "x" }\n'
    path = write(tmp_path, text, mode=0o644)
    assert load_config(path, environ=environ).warnings == (
        f"{path}: jobs.orders.env: holds environment values but the file is readable by other "
        "users (mode 0644); chmod 600 it",
    )
    assert load_config(write(tmp_path, text, mode=0o600), environ=environ).warnings == ()
    assert load_config(write(tmp_path, text, mode=0o640), environ=environ).warnings != ()
    assert load_config(write(tmp_path, MINIMAL, mode=0o644), environ=environ).warnings == ()


# Loading: files that cannot be read


def test_missing_file(tmp_path: Path, environ: dict[str, str]) -> None:
    path = tmp_path / "nope.toml"
    assert problems_of(path, environ=environ) == (
        f"{path}: cannot read the file: No such file or directory",
    )


def test_directory_instead_of_file(tmp_path: Path, environ: dict[str, str]) -> None:
    assert problems_of(tmp_path, environ=environ) == (f"{tmp_path}: cannot read the file: Is a directory",)


@pytest.mark.skipif(IS_ROOT, reason="root reads any file")
def test_unreadable_file(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path, MINIMAL, mode=0o000)
    assert problems_of(path, environ=environ) == (f"{path}: cannot read the file: Permission denied",)


def test_non_utf8_file_reports_where(tmp_path: Path, environ: dict[str, str]) -> None:
    path = tmp_path / "synctui.toml"
    path.write_bytes(b'[jobs.a]\ncommand = "caf\xe9"\n')
    assert problems_of(path, environ=environ) == (
        f"{path}: expected UTF-8 text, got an invalid byte at line 2, column 15",
    )


def test_invalid_toml_reports_line_and_column(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path, '[jobs.a]\ncommand = "true"\ninterval = 15m\n')
    (problem,) = problems_of(path, environ=environ)
    assert problem.startswith(f"{path}: invalid TOML: ")
    assert "line 3" in problem and "column" in problem


def test_byte_order_mark_is_accepted(tmp_path: Path, environ: dict[str, str]) -> None:
    path = tmp_path / "synctui.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert list(load_config(path, environ=environ).jobs) == ["orders"]


def test_config_error_is_lines(tmp_path: Path) -> None:
    error = ConfigError(["a: b: one", "a: c: two"])
    assert error.problems == ("a: b: one", "a: c: two")
    assert str(error) == "a: b: one\na: c: two"
    assert ConfigError("just one").problems == ("just one",)
    assert ConfigError(["x: y\nz\u2028w"]).problems == ("x: y\\nz\\u2028w",)


# The seed's four keys: file top level, --secrets, environment


SEED_FILE = """
SYNC_INTERVAL_MINUTES = 10
SCHEDULER_TIMEZONE = "Europe/Lisbon"
AUTOREFRESH_INTERVAL_MINUTES = 40
ENABLE_AUTOREFRESH_FALLBACK = false
"""


def settings_of(config: Config) -> tuple[float, str, float, bool]:
    return (
        config.scheduler.interval_s,
        config.scheduler.timezone,
        config.autorefresh.interval_s,
        config.autorefresh.enabled,
    )


def test_seed_keys_at_the_top_of_the_file(tmp_path: Path, environ: dict[str, str]) -> None:
    config = load_config(write(tmp_path, SEED_FILE + MINIMAL), environ=environ)
    assert settings_of(config) == (600, "Europe/Lisbon", 2400, False)
    assert config.jobs["orders"].interval_s == 600


def test_precedence_is_environment_then_secrets_then_file(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path, SEED_FILE + MINIMAL)
    secrets = write(
        tmp_path,
        """
        SYNC_INTERVAL_MINUTES = 20
        SCHEDULER_TIMEZONE = "Asia/Tokyo"
        AUTOREFRESH_INTERVAL_MINUTES = "45"
        ENABLE_AUTOREFRESH_FALLBACK = true
        """,
        name="secrets.toml",
    )
    config = load_config(path, secrets=secrets, environ=environ)
    assert settings_of(config) == (1200, "Asia/Tokyo", 2700, True)
    assert config.jobs["orders"].interval_s == 1200

    env = {
        **environ,
        "SYNC_INTERVAL_MINUTES": "30",
        "SCHEDULER_TIMEZONE": "America/Sao_Paulo",
        "AUTOREFRESH_INTERVAL_MINUTES": "1h",
        "ENABLE_AUTOREFRESH_FALLBACK": "No",
    }
    config = load_config(path, secrets=secrets, environ=env)
    assert settings_of(config) == (1800, "America/Sao_Paulo", 3600, False)
    assert config.jobs["orders"].interval_s == 1800

    # One layer at a time: the environment alone overrides the file's [sections] too.
    sectioned = write(tmp_path, '[scheduler]\ninterval = "5m"\n' + MINIMAL, name="b.toml")
    only_env = {**environ, "SYNC_INTERVAL_MINUTES": "0.5"}
    assert load_config(sectioned, environ=only_env).scheduler.interval_s == 30


def test_a_job_with_its_own_interval_keeps_it(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path, '[jobs.own]\ncommand = "true"\ninterval = "1m"\n')
    config = load_config(path, environ={**environ, "SYNC_INTERVAL_MINUTES": "30"})
    assert config.jobs["own"].interval_s == 60


@pytest.mark.parametrize(
    ("word", "value"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("Yes", True),
     ("false", False), ("False", False), ("0", False), ("no", False), ("NO", False)],
)  # fmt: skip
def test_environment_switch_words(tmp_path: Path, environ: dict[str, str], word: str, value: bool) -> None:
    env = {**environ, "ENABLE_AUTOREFRESH_FALLBACK": word}
    assert load_config(write(tmp_path, MINIMAL), environ=env).autorefresh.enabled is value


def test_empty_environment_variables_count_as_unset(tmp_path: Path, environ: dict[str, str]) -> None:
    env = {**environ, "SYNC_INTERVAL_MINUTES": "", "ENABLE_AUTOREFRESH_FALLBACK": ""}
    config = load_config(write(tmp_path, MINIMAL), environ=env)
    assert config.scheduler.interval_s == 900
    assert config.autorefresh.enabled is True


def test_environment_problems_are_named_by_variable(tmp_path: Path, environ: dict[str, str]) -> None:
    env = {
        **environ,
        "SYNC_INTERVAL_MINUTES": "often",
        "SCHEDULER_TIMEZONE": "Nowhere/Land",
        "AUTOREFRESH_INTERVAL_MINUTES": "0",
        "ENABLE_AUTOREFRESH_FALLBACK": "maybe",
    }
    found = problems_of(write(tmp_path, MINIMAL), environ=env)
    assert found == (
        "environment: SYNC_INTERVAL_MINUTES: expected a number of minutes or a duration "
        'like "15m", got "often"',
        'environment: SCHEDULER_TIMEZONE: expected an IANA time zone name like "America/Sao_Paulo", '
        'got "Nowhere/Land"',
        "environment: AUTOREFRESH_INTERVAL_MINUTES: expected a number of minutes > 0, got 0.0",
        'environment: ENABLE_AUTOREFRESH_FALLBACK: expected true/false, 1/0 or yes/no, got "maybe"',
    )


def test_file_top_level_seed_keys_are_typed(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path, 'ENABLE_AUTOREFRESH_FALLBACK = "yes"\nSYNC_INTERVAL_MINUTES = "15"\n' + MINIMAL)
    assert problems_of(path, environ=environ) == (
        f'{path}: ENABLE_AUTOREFRESH_FALLBACK: expected true or false (unquoted), got "yes"',
        f'{path}: SYNC_INTERVAL_MINUTES: expected a number of minutes or a duration like "15m", got "15"',
    )


@pytest.mark.parametrize(
    ("top", "section"),
    [
        ("SYNC_INTERVAL_MINUTES = 5", '[scheduler]\ninterval = "5m"'),
        ("SYNC_INTERVAL_MINUTES = 5", "[scheduler]\ninterval_minutes = 5"),
        ('SCHEDULER_TIMEZONE = "UTC"', '[scheduler]\ntimezone = "UTC"'),
        ("AUTOREFRESH_INTERVAL_MINUTES = 5", '[autorefresh]\ninterval = "5m"'),
        ("ENABLE_AUTOREFRESH_FALLBACK = true", "[autorefresh]\nenabled = true"),
    ],
)
def test_a_seed_key_and_its_section_key_together_is_an_error(
    tmp_path: Path, environ: dict[str, str], top: str, section: str
) -> None:
    path = write(tmp_path, f"{top}\n{section}\n{MINIMAL}")
    (problem,) = problems_of(path, environ=environ)
    key = top.split()[0]
    assert problem.startswith(f"{path}: {key}: expected either {key} or [")
    assert problem.endswith("got both")


def test_secrets_file_is_read_for_the_four_keys_only(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path, MINIMAL)
    secrets = write(
        tmp_path,
        """
        SYNC_INTERVAL_MINUTES = 20
        password = "hunter2"
        api_key = 12345
        SYNC_INTERVAL = "not-a-key-we-read"
        [scheduler]
        interval = "bogus"
        timzone = "also bogus"
        [jobs.evil]
        command = "rm -rf /"
        [connections.db]
        url = "postgres://user:hunter2@host/db"
        """,
        name="secrets.toml",
    )
    config = load_config(path, secrets=secrets, environ=environ)
    assert config.scheduler.interval_s == 1200
    assert list(config.jobs) == ["orders"]
    assert config.scheduler.timezone != "also bogus"


def test_secrets_file_problems_never_show_other_values(tmp_path: Path, environ: dict[str, str]) -> None:
    path = write(tmp_path, MINIMAL)
    secrets = write(tmp_path, 'password = "hunter2"\nSYNC_INTERVAL_MINUTES = "soon"\n', name="secrets.toml")
    assert problems_of(path, secrets=secrets, environ=environ) == (
        f"{secrets}: SYNC_INTERVAL_MINUTES: expected a number of minutes or a duration "
        'like "15m", got "soon"',
    )
    broken = write(tmp_path, 'password = "hunter2\nother = 1\n', name="broken.toml")
    (problem,) = problems_of(path, secrets=broken, environ=environ)
    assert problem.startswith(f"{broken}: invalid TOML: ")
    assert "hunter2" not in problem
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b'password = "hunter2\xff\xfe"\n')
    (problem,) = problems_of(path, secrets=binary, environ=environ)
    assert problem == f"{binary}: expected UTF-8 text, got an invalid byte at line 1, column 20"
    missing = tmp_path / "missing.toml"
    assert problems_of(path, secrets=missing, environ=environ) == (
        f"{missing}: cannot read the file: No such file or directory",
    )


def test_problems_from_file_secrets_and_environment_are_all_reported(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    path = write(tmp_path, '[scheduler]\ncatch_up = "yes"\n' + MINIMAL)
    secrets = write(tmp_path, "ENABLE_AUTOREFRESH_FALLBACK = 7\n", name="secrets.toml")
    env = {**environ, "SCHEDULER_TIMEZONE": "Bad/Zone"}
    found = problems_of(path, secrets=secrets, environ=env)
    assert [problem.split(": ")[0] for problem in found] == [str(path), str(secrets), "environment"]


# Discovery


def test_discovery_order(tmp_path: Path, home: Path) -> None:
    if Path("/etc/synctui/config.toml").exists():
        pytest.skip("this machine has a system-wide synctui config")
    cwd = tmp_path / "cwd"
    xdg = tmp_path / "xdg"
    explicit = write(tmp_path, MINIMAL, name="explicit.toml")
    named = write(tmp_path, MINIMAL, name="named.toml")
    local = write(cwd, MINIMAL, name="synctui.toml")
    in_xdg = write(xdg / "synctui", MINIMAL, name="config.toml")
    in_home = write(home / ".config/synctui", MINIMAL, name="config.toml")
    environ = {"HOME": str(home), "SYNCTUI_CONFIG": str(named), "XDG_CONFIG_HOME": str(xdg)}

    assert discover_config(explicit, environ, cwd) == explicit
    assert discover_config("explicit.toml", environ, tmp_path) == explicit  # relative to cwd
    assert discover_config(None, environ, cwd) == named
    del environ["SYNCTUI_CONFIG"]
    assert discover_config(None, environ, cwd) == local
    local.unlink()
    assert discover_config(None, environ, cwd) == in_xdg
    del environ["XDG_CONFIG_HOME"]
    assert discover_config(None, environ, cwd) == in_home
    assert discover_config(None, {"HOME": str(home), "XDG_CONFIG_HOME": "relative/ignored"}, cwd) == in_home
    in_home.unlink()
    assert discover_config(None, environ, cwd) is None
    assert discover_config(None, {**environ, "SYNCTUI_CONFIG": ""}, cwd) is None


def test_discovery_explicit_paths_must_exist(tmp_path: Path, home: Path) -> None:
    environ = {"HOME": str(home)}
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as caught:
        discover_config(missing, environ, tmp_path)
    assert caught.value.problems == (f"{missing}: no such config file (given with --config)",)
    with pytest.raises(ConfigError) as caught:
        discover_config(None, {**environ, "SYNCTUI_CONFIG": str(missing)}, tmp_path)
    assert caught.value.problems == (f"{missing}: no such config file (named by $SYNCTUI_CONFIG)",)
    # "~/" is the injected $HOME (`--config=~/x` reaches synctui unexpanded); relative is from cwd.
    in_home = write(home, MINIMAL, name="mine.toml")
    assert discover_config("~/mine.toml", environ, tmp_path) == in_home
    assert discover_config(None, {**environ, "SYNCTUI_CONFIG": "mine.toml"}, home) == in_home
    # An explicit path wins even when a later place has a file.
    write(tmp_path, MINIMAL, name="synctui.toml")
    with pytest.raises(ConfigError):
        discover_config("missing.toml", environ, tmp_path)
