"""Durations and sizes as operators write them in a config: "15m", "1h30m", "50MB"."""

from __future__ import annotations

import json
import re
from fractions import Fraction

# Far beyond any sensible schedule, yet near enough that "now + interval" can never
# overflow a datetime (year 9999) in the scheduler.
MAX_DURATION_S = 100 * 365 * 86400.0
# What SQLite and a signed 64-bit file offset can hold.
MAX_SIZE_BYTES = 2**63 - 1

_DURATION_UNITS = {"ms": Fraction(1, 1000), "s": 1, "m": 60, "h": 3600, "d": 86400}
# `[0-9]`, not `\d`: `\d` also matches other scripts' digits, which float() accepts.
_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d))+")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")

_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?([A-Za-z]+)")

DURATION_EXPECTED = 'expected a duration like "30s", "15m" or "1h30m"'
SIZE_EXPECTED = 'expected a size like "512KB", "50MB" or "2GiB"'


def parse_duration(text: str, *, allow_zero: bool = False) -> float:
    """Read a duration such as "200ms", "30s", "15m", "1h30m" or "1d".

    Args:
        text: Numbers each followed by a unit (ms, s, m, h, d), no spaces.
        allow_zero: Accept a zero duration ("0s"), for settings where zero means "none".

    Returns:
        The duration in seconds.

    Raises:
        ValueError: With a one-line "expected ..., got ..." message.
    """
    if not isinstance(text, str) or not _DURATION.fullmatch(text):
        raise ValueError(f"{DURATION_EXPECTED}, got {_shown(text)}")
    seconds = sum(
        Fraction(number) * _DURATION_UNITS[unit] for number, unit in _DURATION_PART.findall(text)
    )
    if seconds == 0 and not allow_zero:
        raise ValueError(f"expected a duration greater than zero, got {_shown(text)}")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"expected a duration of at most 100 years, got {_shown(text)}")
    return float(seconds)


def parse_size(text: str) -> int:
    """Read a size such as "10B", "512KB", "50MB", "2GB" or "1GiB".

    KB, MB, GB and TB count in thousands; KiB, MiB, GiB and TiB in 1024s. Units are
    case-insensitive.

    Raises:
        ValueError: With a one-line "expected ..., got ..." message.
    """
    match = _SIZE.fullmatch(text) if isinstance(text, str) else None
    unit = _SIZE_UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise ValueError(f"{SIZE_EXPECTED}, got {_shown(text)}")
    size = round(Fraction(match.group(1)) * unit)
    if size < 1:
        raise ValueError(f"expected a size of at least one byte, got {_shown(text)}")
    if size > MAX_SIZE_BYTES:
        raise ValueError(f"expected a size below 8 EiB, got {_shown(text)}")
    return size


def _shown(value: object) -> str:
    """The offending value for a message: quoted if text, and never very long."""
    if isinstance(value, str):
        shown = json.dumps(value if len(value) <= 60 else value[:57] + "...", ensure_ascii=False)
    else:
        shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."
