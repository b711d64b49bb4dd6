"""A job's history: its runs newest first, filtered by result; `enter` opens a run's output."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from synctui.scheduler.control import Refused, SchedulerControl
from synctui.scheduler.records import NOT_RUN, Result, RunRecord
from synctui.scheduler.words import not_run_words
from synctui.tui import text
from synctui.tui.screens.output import OutputScreen

PAGE = 200
"""Runs fetched at a time; more are fetched when the cursor reaches the last row."""
FILTERS: tuple[Result | None, ...] = (
    None, Result.SUCCESS, Result.FAILURE, Result.TIMEOUT, Result.INTERRUPTED, Result.CANCELLED,
    Result.SKIPPED, Result.MISSED, Result.REPLACED, Result.RUNNING,
)
"""What `f` cycles through: every run, then one result at a time."""
COLUMNS = (
    ("run", "Run", 6), ("trigger", "Trigger", 9), ("scheduled", "Scheduled", 15),
    ("started", "Started", 15), ("finished", "Finished", 8), ("duration", "Duration", 8),
    ("result", "Result", 13), ("exit", "Exit", 7), ("detail", "Detail", None),
)


class HistoryScreen(Screen[None]):
    """Every recorded run of one job."""

    DEFAULT_CSS = """
    HistoryScreen {
        & > #title { height: 1; background: $panel; padding: 0 1; text-wrap: nowrap; }
        & > #runs { height: 1fr; }
        & > #empty { color: $text-muted; padding: 1 2; height: auto; }
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("enter", "open_output", "Output", tooltip="Show the run's whole output",
                id="open-output"),
        Binding("f", "next_filter", "Filter", tooltip="Show only runs with one result",
                id="filter"),
        Binding("F", "previous_filter", "Filter back", show=False, id="filter-back"),
    ]

    class Loaded(Message):
        """A page of runs fetched off the UI thread; `newest`: a refresh of the first page."""

        def __init__(
            self, runs: list[RunRecord], *, newest: bool, refused: str | None = None
        ) -> None:
            super().__init__()
            self.runs = runs
            self.newest = newest
            self.refused = refused
            """Why the scheduler gave no runs (its host is gone, say), or None."""

    def __init__(self, control: SchedulerControl, job: str, zone: tzinfo) -> None:
        super().__init__()
        self.job = job
        self._control = control
        self._zone = zone
        self._runs: dict[int, RunRecord] = {}
        self._exhausted = False
        self._loading = False
        self.result_filter: Result | None = None
        """Only runs with this result are listed (None: every run)."""

    def compose(self) -> ComposeResult:
        yield Static(id="title", markup=False)
        table = DataTable(cursor_type="row", id="runs")
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self._show_title()
        self._fetch(before_id=None, newest=False)

    def watches(self, job: str) -> bool:
        """Whether the screen shows `job`'s runs."""
        return job == self.job

    def runs_changed(self) -> None:
        """A run of this job started or ended: fetch the newest runs again."""
        self._fetch(before_id=None, newest=True)

    @work(thread=True, group="history")
    def _fetch(self, before_id: int | None, newest: bool) -> None:
        try:
            runs = self._control.history(self.job, PAGE, before_id)
        except Refused as refusal:
            self.post_message(self.Loaded([], newest=newest, refused=str(refusal)))
        else:
            self.post_message(self.Loaded(runs, newest=newest))

    def _more(self) -> None:
        if not self._exhausted and not self._loading and self._runs:
            self._loading = True
            self._fetch(before_id=min(self._runs), newest=False)

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.refused is not None:
            self._loading = False
            self.notify(message.refused, title="No history", severity="warning", markup=False)
            return
        if not message.newest:
            self._loading = False
            self._exhausted = len(message.runs) < PAGE
        self._runs.update((run.id, run) for run in message.runs)
        self._show_rows()
        if len(self._listed()) < self.size.height and not self._exhausted:
            self._more()  # a filter left too few rows: look further back

    def _listed(self) -> list[RunRecord]:
        runs = sorted(self._runs.values(), key=lambda run: run.id, reverse=True)
        if self.result_filter is None:
            return runs
        return [run for run in runs if run.result is self.result_filter]

    def _show_title(self) -> None:
        shown = "every run" if self.result_filter is None else f"{self.result_filter.value} only"
        self.query_one("#title", Static).update(
            f"{self.job} · history · {shown} (f: filter by result) · enter: output · escape: back"
        )

    def _show_rows(self) -> None:
        table = self.query_one("#runs", DataTable)
        selected = self.selected
        theme = self.app.theme_variables
        with self.app.batch_update():
            table.clear()
            for run in self._listed():
                table.add_row(*self._cells(run, theme), key=str(run.id))
            if selected is not None and str(selected.id) in table.rows:
                table.move_cursor(row=table.get_row_index(str(selected.id)), animate=False)

    def _cells(self, run: RunRecord, theme) -> list[Text]:
        zone = self._zone

        def moment(at: datetime | None, *, day: bool = True) -> str:
            if at is None:
                return "-"
            local = at.astimezone(zone)
            return local.strftime("%b %d %H:%M:%S" if day else "%H:%M:%S")

        same_day = (run.started_at is not None and run.finished_at is not None
                    and run.started_at.astimezone(zone).date()
                    == run.finished_at.astimezone(zone).date())
        if run.result in NOT_RUN:
            exit_text = f"×{run.skip_count}"
            detail = not_run_words(run)
        else:
            exit_text = run.signal or ("-" if run.exit_code is None else str(run.exit_code))
            detail = run.error or ""
        return [
            Text(str(run.id), style="bold"),
            Text(run.trigger.value),
            Text(moment(run.scheduled_at)),
            Text(moment(run.started_at)),
            Text(moment(run.finished_at, day=not same_day) if run.finished else "running"),
            Text(text.duration(run.duration_s)),
            text.result_text(run.result, theme),
            Text(exit_text),
            Text(detail, no_wrap=True),
        ]

    @property
    def selected(self) -> RunRecord | None:
        """The run under the cursor."""
        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._runs.get(int(key))

    @on(DataTable.RowHighlighted, "#runs")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= event.data_table.row_count - 1:
            self._more()

    @on(DataTable.RowSelected, "#runs")
    def _selected(self) -> None:
        self.action_open_output()

    def action_open_output(self) -> None:
        """Show the selected run's whole output."""
        run = self.selected
        if run is None:
            self.notify("No run to show", severity="warning")
        elif run.result in NOT_RUN:
            self.notify(f"A {run.result.value} fire time ran nothing: it has no output",
                        severity="warning")
        else:
            self.app.push_screen(OutputScreen(run, self._zone))

    def action_next_filter(self) -> None:
        """Show only the runs with the next result (after the last, every run again)."""
        self._filter_by(1)

    def action_previous_filter(self) -> None:
        """Back to the previous result filter."""
        self._filter_by(-1)

    def _filter_by(self, step: int) -> None:
        self.result_filter = FILTERS[(FILTERS.index(self.result_filter) + step) % len(FILTERS)]
        self._show_title()
        self._show_rows()
        if len(self._listed()) < self.size.height and not self._exhausted:
            self._more()

    def action_back(self) -> None:
        """Back to the jobs."""
        self.dismiss()
