"""The console's styling of results and health: the core's symbols and words, in the theme's colours.

The words themselves (symbols, times, durations) are the core's, shared with the command
line; they are re-exported here so that every widget says them through one module.
"""

from __future__ import annotations

import re
from typing import Mapping

from rich.text import Text

from synctui.scheduler.clock import (
    ago, countdown, duration, running_for, span, time_of_day, timestamp,
)
from synctui.scheduler.records import Result
from synctui.scheduler.words import HEALTH_SYMBOLS, result_words

__all__ = [
    "HEALTH_STYLES", "RESULT_STYLES", "ago", "countdown", "duration", "health_text",
    "result_text", "running_for", "shortened", "span", "styled", "time_of_day", "timestamp",
]

# Styles name theme colours (`$success`); `styled` resolves them with the app's theme.
RESULT_STYLES = {
    Result.RUNNING: "bold $accent", Result.SUCCESS: "$success", Result.FAILURE: "bold $error",
    Result.TIMEOUT: "bold $error", Result.INTERRUPTED: "bold $error",
    Result.CANCELLED: "$warning", Result.SKIPPED: "dim", Result.MISSED: "dim",
    Result.REPLACED: "dim",
}
HEALTH_STYLES = {"up": "$success", "late": "bold $warning", "down": "bold $error", "new": "dim",
                 "paused": "$warning", "overdue": "bold $warning"}
_VARIABLE = re.compile(r"\$([a-z-]+)")


def styled(text: str, style: str, theme: Mapping[str, str]) -> Text:
    """`text` in `style`, its `$variables` taken from the theme (Rich knows no theme)."""
    return Text(text, style=_VARIABLE.sub(lambda m: theme.get(m.group(1), ""), style).strip())


def result_text(result: Result | None, theme: Mapping[str, str]) -> Text:
    """`✓ success`, styled; `-` when the job never ran."""
    if result is None:
        return Text("-", style="dim")
    return styled(result_words(result), RESULT_STYLES[result], theme)


def health_text(health: str, theme: Mapping[str, str], *, symbol: bool = False) -> Text:
    """The health word (`up`, `late`...), styled; with its symbol where there is room."""
    word = f"{HEALTH_SYMBOLS.get(health, '?')} {health}" if symbol else health
    return styled(word, HEALTH_STYLES.get(health, ""), theme)


def shortened(name: str, width: int) -> str:
    """`name` in `width` columns, its end replaced by `…` if longer."""
    return name if len(name) <= width else name[:width - 1] + "…"
