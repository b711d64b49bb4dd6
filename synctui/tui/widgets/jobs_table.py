"""The jobs table: one row per job, updated in place and only where the text changed."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from rich.text import Text
from textual.widgets import DataTable

from synctui.scheduler.status import JobStatus, SchedulerStatus
from synctui.tui import text

STATE, LAST, LAST_SHORT, RESULT, DURATION, NEXT, HEALTH = (
    ("state", "State", 7), ("last", "Last run", 13), ("last", "Last run", 8),
    ("result", "Result", 13), ("duration", "Duration", 8), ("next", "Next run", 12),
    ("health", "Health", 7),
)
"""(key, label, width) of each column but the name: fixed widths, so a changed cell never
re-measures the table. `LAST_SHORT` says only how long ago (`12m ago`)."""
LAYOUTS = (
    (STATE, LAST, RESULT, DURATION, NEXT, HEALTH),
    (STATE, LAST_SHORT, RESULT, DURATION, NEXT, HEALTH),
    (STATE, LAST_SHORT, RESULT, NEXT, HEALTH),
    (STATE, RESULT, NEXT, HEALTH),
)
"""The columns after the name, the widest first: the one used is the first that fits with
the names whole. State, result, next run and health are in every one; the last run and the
duration (which the status panel shows for the selected job) narrow, then go."""
PADDING = 2
"""Columns each cell takes beyond its width (one either side)."""
NAME_MIN, NAME_MAX = 8, 48
"""The name column's narrowest (longer names shortened with an ellipsis) and widest."""


def layout(width: int, longest: int) -> tuple[int, tuple[tuple[str, str, int], ...]]:
    """The name column's width and the other columns, for a table `width` columns wide
    whose longest job name is `longest` characters."""
    wanted = max(len("Job"), min(longest, NAME_MAX))
    for columns in LAYOUTS:
        if wanted + PADDING + sum(w + PADDING for _, _, w in columns) <= width:
            return wanted, columns
    columns = LAYOUTS[-1]
    room = width - PADDING - sum(w + PADDING for _, _, w in columns)
    return max(NAME_MIN, min(wanted, room)), columns


class JobsTable(DataTable):
    """Every job's state, last run, result, duration, next run and health."""

    DEFAULT_CSS = """
    JobsTable {
        height: auto;
        max-height: 40%;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, zone: tzinfo, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", id=id)
        self._zone = zone
        self._shown: dict[str, dict[str, Text]] = {}
        """The text of every cell drawn, by job and column."""
        self._restyle: set[str] = set()
        """Rows whose cells are drawn in the colours of a previous theme."""
        self._status: SchedulerStatus | None = None
        self._now: datetime | None = None
        self._keep: str | None = None
        """The job the cursor was on before the columns were laid out again."""
        self._layout: tuple[int, tuple[tuple[str, str, int], ...]] | None = None

    def on_mount(self) -> None:
        self._arrange()

    def on_resize(self) -> None:
        if self._arrange() and self._status is not None:
            self.show(self._status, self._now)

    def _arrange(self) -> bool:
        """Lay the columns out for the width and the longest name; whether they changed
        (then every row is added again when next shown, the cursor kept on its job)."""
        names = self._status.jobs if self._status is not None else ()
        longest = max(map(len, names), default=0)
        # The width within the scrollbar: when it appears, the table is laid out again.
        chosen = layout(self.size.width or self.app.size.width, longest)
        if chosen == self._layout:
            return False
        self._layout = chosen
        self._keep = self.selected
        self.clear(columns=True)
        self._shown.clear()
        name_width, columns = chosen
        self.add_column("Job", key="name", width=name_width)
        for key, label, column_width in columns:
            self.add_column(label, key=key, width=column_width)
        return True

    @property
    def selected(self) -> str | None:
        """The job under the cursor."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def restyle(self) -> None:
        """The theme changed: draw every cell again in its colours when next shown."""
        self._restyle = set(self._shown)

    def show(self, status: SchedulerStatus, now: datetime) -> None:
        """Bring the rows on screen up to date (the others when they scroll into view, so
        that a second's countdowns cost the rows shown, not every job); repaints only cells
        whose text changed."""
        self._status, self._now = status, now
        theme = self.app.theme_variables
        self._arrange()
        with self.app.batch_update():
            for name in [n for n in self._shown if n not in status.jobs]:
                self.remove_row(name)
                del self._shown[name]
            for name, job in status.jobs.items():
                if name not in self._shown:
                    self._shown[name] = cells = self._cells(job, status.running, now, theme)
                    self.add_row(*cells.values(), key=name)
            if self._keep in self._shown:
                self.move_cursor(row=self.get_row_index(self._keep), animate=False)
            self._keep = None
            self._bring_up_to_date(self._rows_in_view())

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self._status is not None:
            with self.app.batch_update():
                self._bring_up_to_date(self._rows_in_view())

    def _rows_in_view(self) -> list[str]:
        first = int(self.scroll_y)
        return [row.key.value for row in self.ordered_rows[first:first + self.size.height + 1]]

    def _bring_up_to_date(self, names: list[str]) -> None:
        status, now, theme = self._status, self._now, self.app.theme_variables
        for name in names:
            job = status.jobs.get(name)
            if job is None:
                continue
            cells = self._cells(job, status.running, now, theme)
            shown = self._shown[name]
            restyle = name in self._restyle
            self._restyle.discard(name)
            for column, cell in cells.items():
                # Equal texts may differ in colour (`Text` compares no base style).
                if restyle or shown[column] != cell:
                    self.update_cell(name, column, cell)
            self._shown[name] = cells

    def _when(self, moment: datetime, relative: str, now: datetime, width: int) -> str:
        """`14:05 in 3m` in `width` columns: the time of day within a day of now (`relative`
        says which day), else the date; `relative` alone where both do not fit."""
        if abs(moment - now) < timedelta(days=1):
            when = moment.astimezone(self._zone).strftime("%H:%M")
        else:
            when = text.time_of_day(moment, self._zone, now)
        both = f"{when} {relative}"
        return both if len(both) <= width else relative

    def _cells(self, job: JobStatus, scheduling: bool, now: datetime, theme) -> dict[str, Text]:
        if job.running:
            state = text.styled("running", "bold $accent", theme)
        elif job.paused:
            state = text.styled("paused", "$warning", theme)
        elif job.queued:
            state = text.styled("queued", "$warning", theme)
        elif not scheduling:
            state = text.styled("stopped", "$error", theme)
        else:
            state = Text("idle", style="dim")
        name_width, columns = self._layout
        if job.last_run is None:
            last = "-"
        elif LAST_SHORT in columns:
            last = text.ago(job.last_run, now)
        else:
            last = self._when(job.last_run, text.ago(job.last_run, now), now, LAST[2])
        upcoming = "-" if job.next_run is None else (
            self._when(job.next_run, text.countdown(job.next_run, now), now, NEXT[2])
        )
        cells = {
            "name": Text(text.shortened(job.name, name_width), style="bold"),
            "state": state,
            "last": Text(last),
            "result": text.result_text(job.last_result, theme),
            "duration": Text(text.running_for(job.last_run, now) if job.running
                             else text.duration(job.last_duration_s)),
            "next": Text(upcoming),
            "health": text.health_text(job.health, theme),
        }
        return {"name": cells["name"], **{key: cells[key] for key, _, _ in columns}}
