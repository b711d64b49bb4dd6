"""The console's words for times, durations, results and health, so every widget says them alike.

Symbols always come with a word (colour is never the only signal), and are ones
terminals draw one cell wide (no emoji-capable ones such as ⏸). Relative times
have minute granularity, and countdowns show seconds only in their last minute, so
an idle screen changes at most once a minute.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Mapping

from rich.text import Text

from synctui.scheduler.records import Result

RESULT_SYMBOLS = {
    Result.RUNNING: "⟳", Result.SUCCESS: "✓", Result.FAILURE: "✗", Result.TIMEOUT: "◷",
    Result.CANCELLED: "⊘", Result.INTERRUPTED: "↯", Result.SKIPPED: "↷",
    Result.REPLACED: "⇄",
}
# Styles name theme colours (`$success`); `styled` resolves them with the app's theme.
RESULT_STYLES = {
    Result.RUNNING: "bold $accent", Result.SUCCESS: "$success", Result.FAILURE: "bold $error",
    Result.TIMEOUT: "bold $error", Result.INTERRUPTED: "bold $error",
    Result.CANCELLED: "$warning", Result.SKIPPED: "dim", Result.REPLACED: "dim",
}
HEALTH_SYMBOLS = {"new": "○", "up": "●", "late": "◐", "down": "▼", "paused": "‖"}
HEALTH_STYLES = {"up": "$success", "late": "bold $warning", "down": "bold $error", "new": "dim",
                 "paused": "$warning"}
_VARIABLE = re.compile(r"\$([a-z-]+)")


def styled(text: str, style: str, theme: Mapping[str, str]) -> Text:
    """`text` in `style`, its `$variables` taken from the theme (Rich knows no theme)."""
    return Text(text, style=_VARIABLE.sub(lambda m: theme.get(m.group(1), ""), style).strip())


def result_text(result: Result | None, theme: Mapping[str, str]) -> Text:
    """`✓ success`, styled; `-` when the job never ran."""
    if result is None:
        return Text("-", style="dim")
    return styled(f"{RESULT_SYMBOLS[result]} {result.value}", RESULT_STYLES[result], theme)


def health_text(health: str, theme: Mapping[str, str], *, symbol: bool = False) -> Text:
    """The health word (`up`, `late`...), styled; with its symbol where there is room."""
    word = f"{HEALTH_SYMBOLS.get(health, '?')} {health}" if symbol else health
    return styled(word, HEALTH_STYLES.get(health, ""), theme)


def time_of_day(moment: datetime, zone: tzinfo, now: datetime, *, seconds: bool = False) -> str:
    """`14:05` (or `14:05:09`) on the same day as `now`, else the date: `Mar 04`."""
    local = moment.astimezone(zone)
    if local.date() != now.astimezone(zone).date():
        return local.strftime("%b %d")
    return local.strftime("%H:%M:%S" if seconds else "%H:%M")


def ago(moment: datetime, now: datetime) -> str:
    """`<1m ago`, `3m ago`, `2h ago`, `4d ago`."""
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "<1m ago"
    return f"{span(seconds)} ago"


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
