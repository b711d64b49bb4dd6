"""A backfill's windows: moments and steps read in the configured zone, cut into calendar windows."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

STEP_UNITS = {"h": "hour", "d": "day", "w": "week", "mo": "month"}
"""The units a step counts in: an hour is 60 minutes; a day, week or month is a calendar
one in the zone (a day is 23 or 25 hours across a DST change)."""

_STEP = re.compile(r"^(\d+)(mo|h|d|w)$")


class BadMoment(ValueError):
    """A moment or step that cannot be read; the message says which and why."""


def parse_moment(text: str, zone: tzinfo) -> datetime:
    """An ISO-8601 moment in UTC; one without an offset is read in `zone`."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadMoment(f"{text!r} is not an ISO-8601 time (2026-01-03 or"
                        " 2026-01-03T04:00, optionally with an offset)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class Step:
    """How long each window is: `count` of `unit` (a key of `STEP_UNITS`)."""

    count: int
    unit: str

    @classmethod
    def parse(cls, text: str) -> Step:
        match = _STEP.match(text.strip())
        if match is None or int(match[1]) == 0:
            units = ", ".join(f"{unit} ({name})" for unit, name in STEP_UNITS.items())
            raise BadMoment(f"{text!r} is not a step: a positive count and a unit, one of {units}")
        return cls(int(match[1]), match[2])

    def after(self, moment: datetime, zone: tzinfo) -> datetime:
        """The moment one step after `moment` (UTC), on the zone's calendar."""
        if self.unit == "h":
            return moment + timedelta(hours=self.count)
        local = moment.astimezone(zone).replace(tzinfo=None)
        if self.unit == "mo":
            months = local.month - 1 + self.count
            year, month = local.year + months // 12, months % 12 + 1
            day = min(local.day, calendar.monthrange(year, month)[1])
            later = local.replace(year=year, month=month, day=day)
        else:
            later = local + timedelta(days=self.count * (7 if self.unit == "w" else 1))
        return later.replace(tzinfo=zone).astimezone(timezone.utc)

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


def windows(start: datetime, end: datetime, step: Step, zone: tzinfo) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into windows of one step each (the last one ends at `end`).

    Window i starts i steps after `start`, counted from it, so months keep its day
    (31 Jan, 28 Feb, 31 Mar) rather than drifting to the shortest.
    """
    if start >= end:
        raise BadMoment("the backfill's --from must be before its --to")
    bounds, count = [start], 1
    while bounds[-1] < end:
        bounds.append(min(Step(step.count * count, step.unit).after(start, zone), end))
        count += 1
    return list(zip(bounds, bounds[1:]))
