"""The clock, and how times and durations are said, alike by the console and the command line.

Relative times have minute granularity, and countdowns show seconds only in their last
minute, so that an idle console screen changes at most once a minute.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo


def utc_now() -> datetime:
    """The current time, UTC-aware."""
    return datetime.now(timezone.utc)


def seconds_text(seconds: float) -> str:
    """`0.2s`, `30s`, `600s`: how long, as the operator configured it."""
    return f"{seconds:g}s"


def timestamp(moment: datetime | None, zone: tzinfo) -> str:
    """`2024-03-04 14:05:09` in `zone`; `-` when there is none."""
    if moment is None:
        return "-"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def time_of_day(moment: datetime, zone: tzinfo, now: datetime, *, seconds: bool = False) -> str:
    """`14:05` (or `14:05:09`) on the same day as `now`, else the date: `Mar 04`."""
    local = moment.astimezone(zone)
    if local.date() != now.astimezone(zone).date():
        return local.strftime("%b %d")
    return local.strftime("%H:%M:%S" if seconds else "%H:%M")


def ago(moment: datetime, now: datetime, *, seconds: bool = False) -> str:
    """`3m ago`, `2h ago`, `4d ago`; under a minute `<1m ago`, or with `seconds` `42s ago`
    (for an answer printed once, which no minute-long screen has to keep true)."""
    elapsed = max(0.0, (now - moment).total_seconds())
    if elapsed < 60:
        return f"{int(elapsed)}s ago" if seconds else "<1m ago"
    return f"{span(elapsed)} ago"


def countdown(moment: datetime, now: datetime) -> str:
    """`in 12m`, or `in 42s` in the last minute, or `due` once it has passed."""
    seconds = (moment - now).total_seconds()
    if seconds <= 0:
        return "due"
    if seconds < 60:
        return f"in {int(seconds)}s"
    return f"in {span(seconds)}"


def span(seconds: float) -> str:
    """A whole-minute age or wait: `3m`, `2h`, `4d` (`<1m` below a minute)."""
    if seconds < 60:
        return "<1m"
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds // 60)}m"


def running_for(started: datetime | None, now: datetime) -> str:
    """How long a run has been going, in whole seconds: `12.0s…`."""
    if started is None:
        return "-"
    return duration(float(int(max(0.0, (now - started).total_seconds())))) + "…"


def duration(seconds: float | None) -> str:
    """How long a run took: `0.4s`, `12.3s`, `2m05s`, `1h02m`; `-` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
