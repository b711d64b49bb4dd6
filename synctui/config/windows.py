"""`active_hours`, `active_days` and `blackout` read into a `RunWindow`'s parts, or refused."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from synctui.config.model import ActiveDays, ActiveHours, BlackoutSpan
from synctui.config.report import Invalid, expected, shown

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")
_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?)?")
_HOURS_EXPECTED = 'a span of the day like "06:00-22:00" (or "22:00-06:00" across midnight)'
_DAYS_EXPECTED = 'weekdays like "mon-fri" or "sat,sun"'
_BLACKOUT_EXPECTED = ('a list of dates or spans like "2026-12-24", "2026-12-24/2026-12-26"'
                      ' or "2026-12-24T20:00/2026-12-26T06:00"')


def active_hours(value: Any) -> ActiveHours:
    """`"HH:MM-HH:MM"`: start included, end excluded; `24:00` ends at midnight."""
    match = _HOURS.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise expected(_HOURS_EXPECTED, value)
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    if start_h > 23 or start_m > 59 or end_m > 59 or end_h > 24 or (end_h == 24 and end_m):
        raise expected(f"{_HOURS_EXPECTED} with times from 00:00 to 24:00", value)
    start_s, end_s = start_h * 3600 + start_m * 60, end_h * 3600 + end_m * 60
    if start_s == end_s:
        raise Invalid(f"expected a start and an end that differ, got {shown(value)}"
                      " (leave active_hours out, or 00:00-24:00, for the whole day)")
    return ActiveHours(value, start_s, end_s)


def active_days(value: Any) -> ActiveDays:
    """`"mon-fri"`, `"sat,sun"`, `"mon,wed-fri"`; a range may wrap (`"fri-mon"`)."""
    if not isinstance(value, str) or not value.strip():
        raise expected(_DAYS_EXPECTED, value)
    days: set[int] = set()
    for part in value.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise Invalid(f"expected {_DAYS_EXPECTED} ({', '.join(WEEKDAYS)}), got {shown(value)}")
        low, high = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days.update((low + step) % 7 for step in range((high - low) % 7 + 1))
    return ActiveDays(value, frozenset(days))


def blackout(value: Any) -> tuple[BlackoutSpan, ...]:
    """A list of dates (the whole day), or `START/END` spans of dates or date-times."""
    if not isinstance(value, list):
        raise expected(_BLACKOUT_EXPECTED, value)
    return tuple(_span(item, index) for index, item in enumerate(value))


def _span(item: Any, index: int) -> BlackoutSpan:
    if isinstance(item, date) and not isinstance(item, datetime):
        item = item.isoformat()  # a TOML local date
    if not isinstance(item, str):
        raise Invalid(f"expected {_BLACKOUT_EXPECTED}, got {shown(item)} at index {index}")
    first, slash, last = item.partition("/")
    start = _moment(first, item, index, end=False)
    end = _moment(last if slash else first, item, index, end=True)
    if end <= start:
        raise Invalid(f"expected a span that ends after it starts, got {shown(item)}"
                      f" at index {index}")
    return BlackoutSpan(item, start, end)


def _moment(text: str, item: str, index: int, *, end: bool) -> datetime:
    """A wall-clock moment; a date alone is its 00:00, or as an end the end of that day."""
    try:
        if not _MOMENT.fullmatch(text):
            raise ValueError
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"expected {_BLACKOUT_EXPECTED} (no UTC offset: times are in the"
                      f" [scheduler] timezone), got {shown(item)} at index {index}") from None
    if "T" not in text and end:
        moment += timedelta(days=1)
    return moment

