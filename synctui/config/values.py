"""Readers of config values: each makes a TOML value what the model holds, or raises `Invalid`."""

from __future__ import annotations

import difflib
import functools
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
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
from synctui.config.model import CronSpec
from synctui.config.report import Invalid, expected, shown

_IDENTIFIERS = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_CALLABLE = re.compile(rf"{_IDENTIFIERS}:{_IDENTIFIERS}")
_TRUE_WORDS = ("true", "1", "yes")
_FALSE_WORDS = ("false", "0", "no")


def interval(value: Any) -> float:
    if _is_number(value):
        raise expected(
            'a duration like "15m" or "1h30m" (a bare number has no unit; use interval_minutes)',
            value,
        )
    return _duration(value, allow_zero=False)


def duration(value: Any) -> float:
    """A duration string greater than zero ("10m")."""
    return _duration(value, allow_zero=False)


def _duration(value: Any, *, allow_zero: bool) -> float:
    if not isinstance(value, str):
        raise expected('a duration like "15m" or "1h30m"', value)
    try:
        return parse_duration(value, allow_zero=allow_zero)
    except ValueError as error:
        raise Invalid(str(error)) from None


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
                    raise Invalid(str(error)) from None
        if not _is_number(value):
            raise expected(f'a number of {unit} or a duration like "{example}"', value)
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise expected(f"a number of {unit} {bound}", value)
        if value * unit_s > MAX_DURATION_S:
            raise expected("a duration of at most 100 years", value)
        return float(value * unit_s)

    return read


def seconds(*, allow_zero: bool) -> Callable[[Any], float]:
    return _in_unit("seconds", 1, "30s", allow_zero=allow_zero)


def minutes(*, allow_zero: bool) -> Callable[[Any], float]:
    return _in_unit("minutes", 60, "15m", allow_zero=allow_zero)


def size(value: Any) -> int:
    if isinstance(value, str):
        try:
            return parse_size(value)
        except ValueError as error:
            if not str(error).startswith(SIZE_EXPECTED):
                raise Invalid(str(error)) from None
    whole = _is_number(value) and math.isfinite(value) and value == int(value)
    if whole and 1 <= value <= MAX_SIZE_BYTES:
        return int(value)
    raise expected('a number of bytes > 0 or a size like "50MB"', value)


def count(low: int, high: int) -> Callable[[Any], int]:
    def read(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            limit = f"from {low} to {high}" if high < 2**63 - 1 else f">= {low}"
            raise expected(f"a whole number {limit}", value)
        return value

    return read


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise expected("true or false (unquoted)", value)
    return value


def switch(value: Any) -> bool:
    """A boolean as the environment spells it: true/false, 1/0 or yes/no."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE_WORDS:
        return False
    raise expected("true/false, 1/0 or yes/no", value)


def timezone(value: Any) -> str:
    what = 'an IANA time zone name like "America/Sao_Paulo"'
    if not isinstance(value, str) or not value:
        raise expected(what, value)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # Long values are not names anyone meant; difflib on them would only be slow.
        names = _zone_names() if len(value) < 64 else {}
        close = difflib.get_close_matches(value.lower(), names, n=1)
        hint = f' (did you mean "{names[close[0]]}"?)' if close else ""
        raise Invalid(f"expected {what}, got {shown(value)}{hint}") from None
    return value


@functools.lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    """Every known zone by its lower-cased name, for "did you mean"."""
    return {name.lower(): name for name in available_timezones()}


def command(value: Any) -> tuple[str, ...] | str:
    what = 'an argv list like ["python", "-m", "shop.sync"] or a shell command string'
    if isinstance(value, str):
        if not value.strip():
            raise expected(what, value)
        if "\0" in value:
            raise Invalid("expected a command without NUL characters, got one with a NUL")
        return value
    if not isinstance(value, list) or not value:
        raise expected(what, value)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise Invalid(
                f"expected every item to be a string, got {shown(item)} at index {index}"
            )
        if "\0" in item:
            raise Invalid(f"expected items without NUL characters, got one at index {index}")
    if not value[0]:
        raise Invalid('expected a program name as the first item, got ""')
    return tuple(value)


def callable_ref(value: Any) -> str:
    """A job's `callable`: "package.module:function"."""
    if not isinstance(value, str) or not _CALLABLE.fullmatch(value):
        raise expected('"package.module:function"', value)
    return value


def cron(value: Any) -> CronSpec:
    try:
        return parse_crontab(value)
    except ValueError as error:
        raise Invalid(str(error)) from None


def overlap(value: Any) -> str:
    if not isinstance(value, str) or value not in ("skip", "replace"):
        raise expected('"skip" or "replace"', value)
    return value


def catch_up(value: Any) -> str:
    """`catch_up`: "last", "all" or "none"; true and false, as before, are "last" and "none"."""
    if value is True or value is False:
        return "last" if value else "none"
    if not isinstance(value, str) or value not in ("last", "all", "none"):
        raise expected('"last", "all" or "none" (true and false mean "last" and "none")', value)
    return value


def job_names(value: Any) -> tuple[str, ...]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(item, str) and item for item in value)):
        raise expected('a list of job names, like ["orders", "customers"]', value)
    if len(set(value)) != len(value):
        repeated = next(item for item in value if value.count(item) > 1)
        raise Invalid(f"expected each job once, got {shown(repeated)} twice")
    return tuple(value)


def group_name(value: Any) -> str:
    """A job's `group`: the name of a `[groups.NAME]` table."""
    if not isinstance(value, str) or not value:
        raise expected('the name of a [groups.NAME] table, like "warehouse"', value)
    return value


def group(value: Any) -> str:
    if not isinstance(value, str) or "\0" in value:
        raise expected('a group name, or "" for none', value)
    return value


def path(base: Path, home: Path | None) -> Callable[[Any], Path]:
    """A reader for a path; relative ones are taken from the config file's directory."""

    def read(value: Any) -> Path:
        if not isinstance(value, str) or not value or "\0" in value:
            raise expected("a path", value)
        return resolve(value, base, home)

    return read


def resolve(text: str, base: Path, home: Path | None) -> Path:
    """A path as written by an operator: "~/" is the injected $HOME, relative is from `base`."""
    if (text == "~" or text.startswith("~/")) and home is not None:
        return home / text[2:]
    return base / os.path.expanduser(text)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
