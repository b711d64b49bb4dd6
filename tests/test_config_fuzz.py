"""Property tests: a mutated config gives a Config or a ConfigError of clean lines, never a crash."""

from __future__ import annotations

import copy
import datetime as dt
import math
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synctui.config import Config, ConfigError, load_config

FUZZ_EXAMPLES = int(os.environ.get("SYNCTUI_FUZZ_EXAMPLES", "200"))
"""Examples per property: 200 in the suite; `bench/fuzz.py` runs them by the ten thousand."""

SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SECRET = "Zq9xK7wPv3Lm"
"""An env value the tests look for in every message; it must never be there."""

VALID_CONFIGS: list[dict[str, Any]] = [
    {"jobs": {"orders": {"command": ["sh", "-c", "echo hi"], "interval": "15m"}}},
    {
        "SYNC_INTERVAL_MINUTES": 15,
        "SCHEDULER_TIMEZONE": "UTC",
        "AUTOREFRESH_INTERVAL_MINUTES": 30,
        "ENABLE_AUTOREFRESH_FALLBACK": True,
        "jobs": {
            "a": {"callable": "shop.sync:run", "cron": "*/15 9-17 * jan-jun mon-fri"},
            "b.nightly": {"command": "echo b", "cron": "@daily", "env": {"TOKEN": SECRET}},
        },
    },
    {
        "scheduler": {
            "timezone": "America/Sao_Paulo",
            "interval_minutes": 15,
            "shutdown_grace_seconds": 30,
            "catch_up": True,
            "state_dir": "state",
            "keep_runs": 1000,
            "keep_log_bytes": "2GB",
            "on_failure": ["notify", "failed"],
            "on_success": "echo ok",
        },
        "autorefresh": {"enabled": True, "interval": "30m"},
        "control": {"group": ""},
        "jobs": {
            "orders": {
                "command": ["python", "-m", "shop.sync_orders"],
                "interval": "1h30m",
                "timeout_seconds": 600,
                "retries": 2,
                "retry_backoff_seconds": "30s",
                "jitter_seconds": 0,
                "manual_cooldown_seconds": 5,
                "kill_grace_seconds": 10,
                "cwd": "/srv/shop",
                "env": {"API_URL": SECRET, "OTHER": "x"},
                "overlap": "skip",
                "run_on_start": False,
                "grace_minutes": 5,
                "log_max_bytes": "50MB",
                "on_failure": "echo failed",
            }
        },
    },
]

SEED_KEYS = (
    "SYNC_INTERVAL_MINUTES",
    "SCHEDULER_TIMEZONE",
    "AUTOREFRESH_INTERVAL_MINUTES",
    "ENABLE_AUTOREFRESH_FALLBACK",
)
KNOWN_KEYS = [
    "scheduler", "autorefresh", "control", "jobs", "timezone", "interval", "interval_minutes",
    "shutdown_grace_seconds", "catch_up", "state_dir", "keep_runs", "keep_log_bytes",
    "on_failure", "on_success", "enabled", "group", "command", "callable", "cron",
    "timeout_seconds", "retries", "retry_backoff_seconds", "jitter_seconds",
    "manual_cooldown_seconds", "kill_grace_seconds", "cwd", "env", "overlap", "run_on_start",
    "grace_minutes", "log_max_bytes", "SYNC_INTERVAL_MINUTES", "SCHEDULER_TIMEZONE",
    "AUTOREFRESH_INTERVAL_MINUTES", "ENABLE_AUTOREFRESH_FALLBACK",
]  # fmt: skip

TRICKY_STRINGS = [
    "", " ", "15", "15x", "-1m", "0s", "1h30", "200ms", "1h 30m", "99999999d", "50MB", "50XB",
    "0B", "1.5GiB", "@reboot", "@daily", "@fortnightly", "* * * *", "* * * * * *",
    "60 * * * *", "*/0 * * * *", "0 0 31 2 *", "5-1 * * * *", "Mars/Phobos", "America/Sao Paulo",
    "../UTC", "/etc/passwd", "a\x00b", "x\u2028y", "line\nbreak", "x" * 300, "pkg.mod:func",
    "pkg:", ":func", "skip", "replace", "true", "é", "~", "~/x", "relative/dir",
]  # fmt: skip
CRON_FIELDS = [
    "*", "*/15", "1-5", "mon", "JAN", "sun-sat", "7", "0", "60", "-1", "a-b", "1,2", ",", "*/x", "5/", "?",
]  # fmt: skip

cron_expressions = st.lists(st.sampled_from(CRON_FIELDS), min_size=1, max_size=7).map(" ".join)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(TRICKY_STRINGS),
    cron_expressions,
    st.dates(),
    st.datetimes(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(min_size=1, max_size=12))


# A tiny TOML writer, enough for the values above.

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def toml_string(text: str) -> str:
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or char == "\x7f":
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def toml_key(key: str) -> str:
    return key if _BARE.fullmatch(key) else toml_string(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def to_toml(document: dict[str, Any], prefix: tuple[str, ...] = ()) -> str:
    lines = [f"[{'.'.join(map(toml_key, prefix))}]"] if prefix else []
    lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in document.items() if not isinstance(v, dict)]
    for key, value in document.items():
        if isinstance(value, dict):
            lines.append(to_toml(value, (*prefix, key)))
    return "\n".join(lines) + "\n"


# Mutations


def tables_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every table in the document, the document itself included."""
    found = [document]
    for value in document.values():
        if isinstance(value, dict):
            found += tables_of(value)
    return found


def misspelled(key: str, data: st.DataObject) -> str:
    if not key:
        return "x"
    at = data.draw(st.integers(0, len(key) - 1))
    how = data.draw(st.sampled_from(["drop", "double", "swap", "case"]))
    if how == "drop":
        return key[:at] + key[at + 1 :] or "x"
    if how == "double":
        return key[:at] + key[at] + key[at:]
    if how == "swap" and at + 1 < len(key):
        return key[:at] + key[at + 1] + key[at] + key[at + 2 :]
    return key.swapcase()


def mutate_document(document: dict[str, Any], data: st.DataObject) -> None:
    for _ in range(data.draw(st.integers(1, 4))):
        table = data.draw(st.sampled_from(tables_of(document)))
        how = data.draw(st.sampled_from(["drop", "set", "rename", "tricky", "add"]))
        existing = list(table)
        if how in ("drop", "set", "rename", "tricky") and not existing:
            how = "add"
        if how == "drop":
            del table[data.draw(st.sampled_from(existing))]
        elif how == "set":
            table[data.draw(st.sampled_from(existing))] = data.draw(values)
        elif how == "tricky":
            table[data.draw(st.sampled_from(existing))] = data.draw(
                st.sampled_from(TRICKY_STRINGS) | cron_expressions
            )
        elif how == "rename":
            old = data.draw(st.sampled_from(existing))
            new = data.draw(st.just(misspelled(old, data)) | keys)
            table[new] = table.pop(old)
        else:
            table[data.draw(keys)] = data.draw(values)


def mutate_text(raw: bytes, data: st.DataObject) -> bytes:
    for _ in range(data.draw(st.integers(0, 2))):
        how = data.draw(st.sampled_from(["truncate", "insert", "delete", "duplicate_line", "garbage"]))
        at = data.draw(st.integers(0, len(raw)))
        if how == "truncate":
            raw = raw[:at]
        elif how == "insert":
            inserted = data.draw(
                st.binary(min_size=1, max_size=4)
                | st.sampled_from([b"\xff", b"\xc3", b"[", b'"', b"=", b"\n"])
            )
            raw = raw[:at] + inserted + raw[at:]
        elif how == "delete":
            raw = raw[:at] + raw[at + data.draw(st.integers(1, 8)) :]
        elif how == "duplicate_line":
            lines = raw.split(b"\n")
            index = data.draw(st.integers(0, len(lines) - 1))
            lines.insert(index, lines[index])
            raw = b"\n".join(lines)
        else:
            raw = data.draw(st.binary(max_size=200))
    return raw


def check_result(path: Path, home: Path, **kwargs: Any) -> str:
    """Load; assert the outcome is a Config or a ConfigError of clean lines; return the error text."""
    try:
        config = load_config(path, environ={"HOME": str(home)}, **kwargs)
    except ConfigError as error:
        assert error.problems
        sources = [str(path)] + ([str(kwargs["secrets"])] if kwargs.get("secrets") else [])
        for problem in error.problems:
            assert len(problem.splitlines()) == 1, problem
            assert problem.isprintable(), problem
            assert any(problem.startswith(f"{source}: ") for source in sources), problem
        return str(error)
    assert isinstance(config, Config)
    assert config.jobs
    for job in config.jobs.values():
        assert (job.command is None) != (job.callable is None)
        assert (job.interval_s is None) != (job.cron is None)
    return ""


def test_the_seed_configs_are_valid() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "synctui.toml"
        for document in VALID_CONFIGS:
            path.write_text(to_toml(document), encoding="utf-8")
            assert tomllib.loads(path.read_text(encoding="utf-8")) == document
            assert isinstance(load_config(path, environ={"HOME": directory}), Config)


@SETTINGS
@given(base=st.sampled_from(VALID_CONFIGS), data=st.data())
def test_mutated_configs_never_crash(base: dict[str, Any], data: st.DataObject) -> None:
    document = copy.deepcopy(base)
    mutate_document(document, data)
    raw = mutate_text(to_toml(document).encode("utf-8"), data)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "synctui.toml"
        path.write_bytes(raw)
        check_result(path, Path(directory))


def shown_outside_env(document: Any, fragment: str, in_env: bool = False) -> bool:
    """Whether the fragment is somewhere a message may legitimately quote it: not an env value."""
    if isinstance(document, dict):
        return any(
            fragment in key or shown_outside_env(value, fragment, in_env or key == "env")
            for key, value in document.items()
        )
    if isinstance(document, list):
        return any(shown_outside_env(item, fragment, in_env) for item in document)
    return not in_env and fragment in str(document)


def secret_fragments(secret: str) -> list[str]:
    return [secret[i : i + 6] for i in range(len(secret) - 5)]


@SETTINGS
@given(base=st.sampled_from(VALID_CONFIGS[1:]), data=st.data())
def test_env_values_never_appear_in_errors_of_mutated_files(
    base: dict[str, Any], data: st.DataObject
) -> None:
    document = copy.deepcopy(base)
    if data.draw(st.booleans()):
        mutate_document(document, data)
    text = to_toml(document)
    for _ in range(data.draw(st.integers(1, 3))):
        how = data.draw(st.sampled_from(["truncate", "delete", "delete_line", "swap_lines", "insert"]))
        at = data.draw(st.integers(0, len(text)))
        lines = text.split("\n")
        line = data.draw(st.integers(0, len(lines) - 1))
        if how == "truncate":
            text = text[:at]
        elif how == "delete":
            text = text[:at] + text[at + data.draw(st.integers(1, 12)) :]
        elif how == "delete_line":
            del lines[line]
            text = "\n".join(lines)
        elif how == "swap_lines":
            other = data.draw(st.integers(0, len(lines) - 1))
            lines[line], lines[other] = lines[other], lines[line]
            text = "\n".join(lines)
        else:
            inserted = data.draw(st.sampled_from(['"', "[", "]", "{", "}", ",", "\n", " ", "'", "#"]))
            text = text[:at] + inserted + text[at:]
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "synctui.toml"
        path.write_text(text, encoding="utf-8")
        message = check_result(path, Path(directory))
    try:
        parsed: Any = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        parsed = {}
    for fragment in secret_fragments(SECRET):
        if fragment in message:
            # Only where the mutation moved the value out of `env` may a message quote it.
            assert shown_outside_env(parsed, fragment), message


@SETTINGS
@given(data=st.data())
def test_secrets_files_only_ever_show_the_four_keys(data: st.DataObject) -> None:
    document: dict[str, Any] = {
        "SYNC_INTERVAL_MINUTES": 20,
        "ENABLE_AUTOREFRESH_FALLBACK": "yes",
        "password": SECRET,
        "connections": {"db": {"url": f"postgres://user:{SECRET}@host/db"}},
        "scheduler": {"interval": SECRET},
    }
    mutate_document(document, data)
    raw = mutate_text(to_toml(document).encode("utf-8"), data)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "synctui.toml"
        path.write_text(to_toml(VALID_CONFIGS[0]), encoding="utf-8")
        secrets = Path(directory) / "secrets.toml"
        secrets.write_bytes(raw)
        message = check_result(path, Path(directory), secrets=secrets)
    try:
        parsed = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        parsed = {}
    four = {key: parsed[key] for key in SEED_KEYS if key in parsed}
    for fragment in secret_fragments(SECRET):
        if fragment in message:
            assert fragment in repr(four), message


@pytest.mark.parametrize("document", VALID_CONFIGS)
def test_writer_round_trips(document: dict[str, Any]) -> None:
    assert tomllib.loads(to_toml(document)) == document
