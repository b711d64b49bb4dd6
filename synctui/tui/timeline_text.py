"""The timeline as lines of text, for the console's screen and `synctui timeline` alike.

One lane a job: its name, a glyph a cell, its freshness. A cell shows the symbol of its
worst result (the same symbols as everywhere: colour is never the only signal), `━` where a
run goes on from an earlier cell, `◇` a fire time ahead, `░` a blackout, `·` nothing.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, tzinfo
from typing import Mapping

from rich.text import Text

from synctui.scheduler.records import NOT_RUN, Result
from synctui.scheduler.timeline import Cell, Lane, Timeline
from synctui.scheduler.words import RESULT_SYMBOLS
from synctui.tui import text
from synctui.tui.text import RESULT_STYLES, styled

NAME_MAX = 24
"""Longer job names are shortened with an ellipsis."""
FRESH_WIDTH = 5
"""`100%`, ` 97%`, `  -`."""
THROUGH, FIRE, BLACKOUT, NOTHING = "━", "◇", "░", "·"
LEGEND = (
    f"{RESULT_SYMBOLS[Result.SUCCESS]} success  {RESULT_SYMBOLS[Result.FAILURE]} failure  "
    f"{RESULT_SYMBOLS[Result.TIMEOUT]} timeout  {RESULT_SYMBOLS[Result.INTERRUPTED]} interrupted  "
    f"{RESULT_SYMBOLS[Result.CANCELLED]} cancelled  {RESULT_SYMBOLS[Result.SKIPPED]} skipped  "
    f"{RESULT_SYMBOLS[Result.MISSED]} missed  {RESULT_SYMBOLS[Result.RUNNING]} running  "
    f"{THROUGH} going on  {FIRE} next fire  {BLACKOUT} blackout  · fresh: share of the window"
    " the data was fresh"
)
_TICKS = tuple(timedelta(minutes=m) for m in (5, 10, 15, 30, 60, 120, 180, 360, 720)) + tuple(
    timedelta(days=d) for d in (1, 2, 7, 14))
_LABEL_GAP = 10
"""Cells at least between two labels of the time axis."""


def name_width(names: list[str]) -> int:
    """How wide the names column is: the longest name, up to `NAME_MAX`."""
    return min(NAME_MAX, max((len(name) for name in names), default=3))


def cells_for(width: int, names: list[str]) -> int:
    """How many cells a lane has in `width` columns."""
    return max(10, width - name_width(names) - FRESH_WIDTH - 2)


def axis(timeline: Timeline, zone: tzinfo, names_width: int) -> Text:
    """The time axis above the lanes: local times at round steps, and `now`."""
    cells = timeline.cells
    size = (timeline.end - timeline.start) / cells
    step = next((tick for tick in _TICKS if tick >= size * _LABEL_GAP), _TICKS[-1])
    daily = step >= timedelta(days=1)
    row = [" "] * cells
    local = timeline.start.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if daily:
        moment = midnight + timedelta(days=1)
    else:
        moment = midnight + step * math.ceil((local - midnight) / step)
    taken, now = -1, timeline.cell_index(timeline.now)
    while moment < timeline.end:
        index = timeline.cell_index(moment)
        label = f"│{moment.strftime('%b %d' if daily else '%H:%M')}"
        if index > taken and index + len(label) <= cells and not (
                index <= now < index + len(label)):
            row[index:index + len(label)] = label
            taken = index + len(label)
        moment += step  # in wall-clock time: the labels stay round across a clock change
    row[now] = "▼"
    return Text(" " * (names_width + 1) + "".join(row) + " fresh", style="dim")


def lane_text(
    lane: Lane, timeline: Timeline, theme: Mapping[str, str], names_width: int,
    cursor: int | None = None,
) -> Text:
    """One lane: the job's name, its cells (the one at `cursor` reversed), its freshness."""
    now = timeline.cell_index(timeline.now)
    line = Text(text.shortened(lane.job, names_width).ljust(names_width) + " ",
                style="bold" if cursor is not None else "")
    for index, cell in enumerate(lane.cells):
        glyph = cell_glyph(cell, future=index > now, theme=theme)
        if index == cursor:
            glyph.stylize("reverse")
        line.append_text(glyph)
    line.append(" " + freshness_words(lane.freshness).rjust(FRESH_WIDTH - 1))
    return line


def cell_glyph(cell: Cell, *, future: bool, theme: Mapping[str, str]) -> Text:
    """The one character a cell is drawn with, styled."""
    worst = cell.worst
    if worst is not None:
        return styled(RESULT_SYMBOLS[worst], RESULT_STYLES[worst], theme)
    if cell.through is not None:
        return styled(THROUGH, RESULT_STYLES[cell.through], theme)
    if cell.fire:
        return styled(FIRE, "$accent", theme)
    if cell.blackout:
        return Text(BLACKOUT, style="dim")
    return Text(" " if future else NOTHING, style="dim")


def freshness_words(share: float | None) -> str:
    """`97%`; `-` when it cannot be said."""
    return "-" if share is None else f"{share * 100:.0f}%"


def cell_words(cell: Cell, span: tuple[datetime, datetime], zone: tzinfo) -> str:
    """What a cell holds, in a line: `Dec 03 14:00–14:16 · 3 runs: 2 ✓ success, 1 ✗ failure`."""
    begins, ends = (moment.astimezone(zone) for moment in span)
    same_day = begins.date() == ends.date()
    words = [f"{begins:%b %d %H:%M}–{ends:%H:%M}" if same_day
             else f"{begins:%b %d %H:%M}–{ends:%b %d %H:%M}"]
    if cell.counts:
        runs = cell.runs
        noun = "fire time" if all(result in NOT_RUN for result, _ in cell.counts) else "run"
        words.append(f"{runs} {noun}{'s' if runs != 1 else ''}: " + ", ".join(
            f"{count} {RESULT_SYMBOLS[result]} {result.value}" for result, count in cell.counts))
        if cell.rolled_up:
            words.append("counted by the hour")
    if cell.through is not None:
        words.append(f"a run going on ({cell.through.value})")
    if cell.fire:
        words.append("a fire time is due")
    if cell.blackout:
        words.append("blackout: no run starts on its own")
    if len(words) == 1:
        words.append("nothing ran")
    return " · ".join(words)
