"""The jobs table: one row per job, updated in place and only where the text changed."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.text import Text
from textual.widgets import DataTable

from synctui.scheduler.status import JobStatus, SchedulerStatus
from synctui.tui import text

COLUMNS = (
    ("name", "Job", None),
    ("state", "State", 7),
    ("last", "Last run", 13),
    ("result", "Result", 13),
    ("duration", "Duration", 8),
    ("next", "Next run", 12),
    ("health", "Health", 7),
)
"""(key, label, width): fixed widths, so a changed cell never re-measures the table.
Together they fit 80 columns with job names of up to 6 characters (wider, the table
scrolls sideways)."""


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

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

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
        with self.app.batch_update():
            for name in [n for n in self._shown if n not in status.jobs]:
                self.remove_row(name)
                del self._shown[name]
            for name, job in status.jobs.items():
                if name not in self._shown:
                    self._shown[name] = cells = self._cells(job, status.running, now, theme)
                    self.add_row(*cells.values(), key=name)
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
        last = "-" if job.last_run is None else (
            f"{text.time_of_day(job.last_run, self._zone, now)} {text.ago(job.last_run, now)}"
        )
        upcoming = "-" if job.next_run is None else (
            f"{text.time_of_day(job.next_run, self._zone, now)} {text.countdown(job.next_run, now)}"
        )
        return {
            "name": Text(job.name, style="bold"),
            "state": state,
            "last": Text(last),
            "result": text.result_text(job.last_result, theme),
            "duration": Text(text.running_for(job.last_run, now) if job.running
                             else text.duration(job.last_duration_s)),
            "next": Text(upcoming),
            "health": text.health_text(job.health, theme),
        }
