"""Whether a job may start on its own at a moment, and when it next may: its `RunWindow`.

Times of day and blackout spans are wall-clock times in the zone. A span of
`active_hours` that crosses midnight belongs to the day it starts on: with
"22:00-06:00" and "mon-fri", Friday 22:00 to Saturday 06:00 is allowed, Monday 00:00
to 06:00 is not. On a day whose clocks spring forward, a wall-clock time the jump skips
begins at the jump; in a repeated hour both passes count. Finding the next allowed time
jumps from span to span, never from fire time to fire time.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone, tzinfo
from typing import Callable

from synctui.config.model import RunWindow

LOOKAHEAD = timedelta(days=366)
"""How far ahead the next allowed time is looked for; beyond, the job counts as never allowed."""
_JUMPS = 10_000
"""A bound on the spans crossed while looking (a year of daily spans, and blackouts, fit)."""
_DAY = timedelta(days=1)


def blocked(window: RunWindow, moment: datetime, zone: tzinfo) -> str | None:
    """Why a run may not start on its own at `moment` ("outside active_hours 06:00-22:00",
    "blackout 2026-12-24"); None when it may."""
    if window.always:
        return None
    for span in window.blackout:
        if _instant(span.start, zone) <= moment < _instant(span.end, zone):
            return f"blackout {span.text}"
    return _outside(window, moment, zone)


def _outside(window: RunWindow, moment: datetime, zone: tzinfo) -> str | None:
    """Why `moment` is outside the active hours or days (blackouts aside); None if inside."""
    local = moment.astimezone(zone).replace(tzinfo=None)
    hours, days = window.active_hours, window.active_days
    day = local.date()
    if hours is not None:
        second = local.hour * 3600 + local.minute * 60 + local.second
        crossing = hours.end_s <= hours.start_s
        if crossing and second < hours.end_s:
            day -= _DAY  # the early hours of a span that began the evening before
        elif not (hours.start_s <= second < (86400 if crossing else hours.end_s)):
            return f"outside active_hours {hours.text}"
    if days is not None and day.weekday() not in days.days:
        return f"outside active_days {days.text}"
    return None


def next_allowed(window: RunWindow, moment: datetime, zone: tzinfo) -> datetime | None:
    """The first moment at or after `moment` when a run may start on its own; None if there
    is none within `LOOKAHEAD`."""
    limit = moment + LOOKAHEAD
    for _ in range(_JUMPS):
        if moment > limit:
            return None
        if blocked(window, moment, zone) is None:
            return moment
        moment = _past_block(window, moment, zone)
    return None


def next_allowed_fire(
    window: RunWindow, zone: tzinfo, fire: datetime | None,
    fire_from: Callable[[datetime], datetime | None],
) -> datetime | None:
    """The first fire time from `fire` on at which a run may start; `fire_from(t)` is the
    schedule's first fire time at or after `t`. Across a blackout it asks for the first fire
    after its end, not for each fire inside it."""
    limit = None if fire is None else fire + LOOKAHEAD
    for _ in range(_JUMPS):
        if fire is None or fire > limit:
            return None
        allowed = next_allowed(window, fire, zone)
        if allowed == fire or allowed is None:
            return allowed
        fire = fire_from(allowed)
    return None


def describe(window: RunWindow) -> str | None:
    """`starts on its own only 06:00-22:00, mon-fri; not during 2026-12-24`, for `check`; None
    when nothing restricts the job."""
    if window.always:
        return None
    parts = [part.text for part in (window.active_hours, window.active_days) if part]
    said = [f"starts on its own only {', '.join(parts)}"] if parts else []
    if window.blackout:
        spans = ", ".join(span.text for span in window.blackout)
        said.append(f"not during {spans}" if parts else f"starts on its own except during {spans}")
    return "; ".join(said)


def _past_block(window: RunWindow, moment: datetime, zone: tzinfo) -> datetime:
    """A later moment that may be allowed: the end of the blackout holding `moment`, else the
    start of the next active span."""
    ends = [_instant(span.end, zone) for span in window.blackout
            if _instant(span.start, zone) <= moment < _instant(span.end, zone)]
    if ends:
        return max(ends)
    local_day = moment.astimezone(zone).date()
    hours = window.active_hours
    start = time() if hours is None else time(hours.start_s // 3600, hours.start_s // 60 % 60)
    for offset in range(9):  # a week of days, and the one before for a span crossing midnight
        begins = _instant(datetime.combine(local_day + (offset - 1) * _DAY, start), zone)
        if begins > moment and _outside(window, begins, zone) is None:
            return begins
    raise AssertionError("unreachable: every week has an active day")


def _instant(wall: datetime, zone: tzinfo) -> datetime:
    """The first moment the clock in `zone` reads `wall` or later: a time a spring-forward
    skips is the moment of the jump; a repeated time, its first pass."""
    early = wall.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    if early.astimezone(zone).replace(tzinfo=None) == wall:
        return early
    # Skipped: the jump lies between the instants of the two offsets.
    low, high = wall.replace(tzinfo=zone, fold=1).astimezone(timezone.utc), early
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)

