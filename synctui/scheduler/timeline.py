"""The runs timeline: one lane per job, time across, cut into cells; what each cell holds.

A window (`1h`, `24h`, `7d`, `30d`) ends a little after now (an eighth of it more, for the
fire times ahead). How the runs and the roll-up fall into the cells is `lanes`'s; these are
the pictures it makes, which the console and the command line draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from synctui.config.durations import parse_duration
from synctui.scheduler.records import Result

WINDOWS = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
"""The windows the console cycles through, by name."""
AHEAD = 1 / 8
"""The share of a window drawn after now."""
SEVERITY = (
    Result.FAILURE, Result.TIMEOUT, Result.INTERRUPTED, Result.RUNNING, Result.CANCELLED,
    Result.MISSED, Result.SKIPPED, Result.REPLACED, Result.SUCCESS,
)
"""Results from worst to best: a cell shows its worst."""


@dataclass(frozen=True)
class Cell:
    """A lane's share of the window: the fire times in it, a run going through it, a
    fire time ahead, a blackout."""

    counts: tuple[tuple[Result, int], ...] = ()
    """The fire times that started (or were skipped) in the cell, by result."""
    run_id: int | None = None
    """The newest run that started in it or goes through it: its output opens from here."""
    through: Result | None = None
    """The result of a run that started in an earlier cell and went on through this one."""
    rolled_up: bool = False
    """Its counts come from the hourly roll-up: its runs are too many to draw or no longer
    kept, and the counts are those of every hour the cell overlaps."""
    fire: bool = False
    """A fire time ahead of now falls in it."""
    blackout: bool = False
    """The job may not start on its own at the cell's middle."""

    @property
    def runs(self) -> int:
        """How many fire times it holds."""
        return sum(count for _, count in self.counts)

    @property
    def worst(self) -> Result | None:
        """The worst result among its fire times (None: none)."""
        held = {result for result, _ in self.counts}
        return next((result for result in SEVERITY if result in held), None)


@dataclass(frozen=True)
class Lane:
    """One job's row."""

    job: str
    cells: tuple[Cell, ...]
    freshness: float | None
    """The share (0 to 1) of the window the job's data was fresh; None when that cannot be
    said (no period, never succeeded within the window's reach)."""


@dataclass(frozen=True)
class Timeline:
    """Every lane over one window."""

    start: datetime
    now: datetime
    end: datetime
    lanes: tuple[Lane, ...] = field(default=())

    @property
    def cells(self) -> int:
        """How many cells a lane has."""
        return len(self.lanes[0].cells) if self.lanes else 0

    def cell_span(self, index: int) -> tuple[datetime, datetime]:
        """When cell `index` starts and ends."""
        size = (self.end - self.start) / self.cells
        return self.start + size * index, self.start + size * (index + 1)

    def cell_index(self, moment: datetime) -> int:
        """The cell holding `moment` (the first or last for one outside the window)."""
        index = int((moment - self.start) / ((self.end - self.start) / self.cells))
        return min(self.cells - 1, max(0, index))


def window_seconds(text: str) -> float:
    """A window's length from its name or any duration (`24h`, `90m`); ValueError if neither."""
    if text in WINDOWS:
        return WINDOWS[text]
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return seconds
