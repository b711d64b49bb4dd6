"""The runs timeline: a lane per job across a window of time; `enter` opens a run's output."""

from __future__ import annotations

from datetime import tzinfo

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from synctui.scheduler.control import Refused, SchedulerControl
from synctui.scheduler.timeline import WINDOWS, Timeline
from synctui.tui.screens.output import OutputScreen
from synctui.tui.timeline_text import (
    LEGEND, axis, cell_words, cells_for, lane_text, name_width,
)

REFRESH_S = 5.0
"""How often the lanes are fetched again (and at once when a shown job's run starts or ends)."""


class Lanes(Widget):
    """The axis and the lanes in view, the cursor's cell reversed."""

    DEFAULT_CSS = """
    Lanes { height: 1fr; }
    """

    def __init__(self, zone: tzinfo, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._zone = zone
        self.timeline: Timeline | None = None
        self.lane = 0
        """The index of the selected lane among those shown."""
        self.cell: int | None = None
        """The cell under the cursor; None: at now."""

    def show(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.lane = min(self.lane, max(0, len(timeline.lanes) - 1))
        self.refresh()

    @property
    def cursor(self) -> int:
        timeline = self.timeline
        if timeline is None or not timeline.cells:
            return 0
        if self.cell is None:
            return timeline.cell_index(timeline.now)
        return min(self.cell, timeline.cells - 1)

    def render(self) -> Text:
        timeline = self.timeline
        if timeline is None:
            return Text("Reading the runs…", style="dim")
        if not timeline.lanes:
            return Text("No jobs to draw", style="dim")
        names = [lane.job for lane in timeline.lanes]
        width = name_width(names)
        theme = self.app.theme_variables
        lines = [axis(timeline, self._zone, width)]
        for index, lane in enumerate(timeline.lanes):
            lines.append(lane_text(lane, timeline, theme, width,
                                   self.cursor if index == self.lane else None))
        return Text("\n").join(lines)


class TimelineScreen(Screen[None]):
    """Every job's runs over the last hour, day, week or month."""

    DEFAULT_CSS = """
    TimelineScreen {
        & > #title { height: 1; background: $panel; padding: 0 1; text-wrap: nowrap; }
        & > #cell { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
        & > #legend { height: auto; color: $text-muted; padding: 0 1; }
        & > Lanes { padding: 0 1; }
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("enter", "open_output", "Output", tooltip="Show the output of the run under"
                " the cursor", id="open-output"),
        Binding("w", "next_window", "Window", tooltip="1 hour, 24 hours, 7 days, 30 days",
                id="next-window"),
        Binding("W", "previous_window", "Window back", show=False, id="previous-window"),
        Binding("left", "move(-1)", "Earlier", show=False, id="earlier"),
        Binding("right", "move(1)", "Later", show=False, id="later"),
        Binding("up", "lane(-1)", "Job above", show=False, id="job-above"),
        Binding("down", "lane(1)", "Job below", show=False, id="job-below"),
        Binding("k", "lane(-1)", "Job above", show=False, id="job-above-k"),
        Binding("j", "lane(1)", "Job below", show=False, id="job-below-j"),
        Binding("end", "now", "Now", show=False, id="now"),
    ]

    class Loaded(Message):
        """Lanes fetched off the UI thread (or why not)."""

        def __init__(self, timeline: Timeline | None, refused: str | None = None) -> None:
            super().__init__()
            self.timeline = timeline
            self.refused = refused

    def __init__(self, control: SchedulerControl, jobs: list[str], zone: tzinfo,
                 *, window: str = "24h", selected: str | None = None) -> None:
        super().__init__()
        self._control = control
        self._jobs = jobs
        self._zone = zone
        self.window = window
        """The window's name, a key of `WINDOWS`."""
        self._first = jobs.index(selected) if selected in jobs else 0
        """The first job of the lanes asked for: only the lanes that fit are fetched."""
        self._selected = selected

    def compose(self) -> ComposeResult:
        yield Static(id="title", markup=False)
        yield Lanes(self._zone)
        yield Static(id="cell", markup=False)
        yield Static(LEGEND, id="legend", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._show_title()
        self.set_interval(REFRESH_S, self._fetch)
        self.call_after_refresh(self._fetch)

    def on_resize(self) -> None:
        self._fetch()

    def watches(self, job: str) -> bool:
        """Whether `job`'s lane is shown (its runs starting or ending redraw it)."""
        lanes = self.query_one(Lanes).timeline
        return lanes is not None and any(lane.job == job for lane in lanes.lanes)

    def runs_changed(self) -> None:
        """A shown job's run started or ended."""
        self._fetch()

    def _visible_jobs(self) -> list[str]:
        rows = max(1, self.query_one(Lanes).size.height - 1)
        if self._selected in self._jobs:
            at = self._jobs.index(self._selected)
            if at < self._first:
                self._first = at
            elif at >= self._first + rows:
                self._first = at - rows + 1
        self._first = max(0, min(self._first, len(self._jobs) - rows))
        return self._jobs[self._first:self._first + rows]

    def _fetch(self) -> None:
        jobs = self._visible_jobs()
        width = self.query_one(Lanes).content_size.width or self.size.width - 2
        self._load(WINDOWS[self.window], cells_for(width, jobs), jobs)

    @work(thread=True, exclusive=True, group="timeline")
    def _load(self, window_s: float, cells: int, jobs: list[str]) -> None:
        try:
            drawn = self._control.timeline(window_s, cells, jobs)
        except Refused as refusal:
            self.post_message(self.Loaded(None, str(refusal)))
        else:
            self.post_message(self.Loaded(drawn))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        if message.refused is not None:
            self.notify(message.refused, title="No timeline", severity="warning", markup=False)
            return
        lanes = self.query_one(Lanes)
        names = [lane.job for lane in message.timeline.lanes]
        if self._selected in names:
            lanes.lane = names.index(self._selected)
        lanes.show(message.timeline)
        self._show_cell()

    def _show_title(self) -> None:
        self.query_one("#title", Static).update(
            f"Timeline · the last {self.window} (w: window) · ←/→: time · ↑/↓: job"
            " · enter: output · escape: back"
        )

    def _show_cell(self) -> None:
        lanes = self.query_one(Lanes)
        timeline = lanes.timeline
        if timeline is None or not timeline.lanes:
            self.query_one("#cell", Static).update("")
            return
        lane = timeline.lanes[lanes.lane]
        index = lanes.cursor
        self.query_one("#cell", Static).update(
            f"{lane.job} · {cell_words(lane.cells[index], timeline.cell_span(index), self._zone)}"
        )

    def action_next_window(self) -> None:
        """The next longer window (after 30 days, 1 hour)."""
        self._switch_window(1)

    def action_previous_window(self) -> None:
        """The next shorter window."""
        self._switch_window(-1)

    def _switch_window(self, step: int) -> None:
        names = list(WINDOWS)
        self.window = names[(names.index(self.window) + step) % len(names)]
        self.query_one(Lanes).cell = None
        self._show_title()
        self._fetch()

    def action_move(self, step: int) -> None:
        """Move the cursor a cell earlier or later."""
        lanes = self.query_one(Lanes)
        if lanes.timeline is None:
            return
        lanes.cell = max(0, min(lanes.timeline.cells - 1, lanes.cursor + step))
        lanes.refresh()
        self._show_cell()

    def action_now(self) -> None:
        """Back to now."""
        lanes = self.query_one(Lanes)
        lanes.cell = None
        lanes.refresh()
        self._show_cell()

    def action_lane(self, step: int) -> None:
        """Select the job above or below."""
        if not self._jobs:
            return
        at = self._jobs.index(self._selected) if self._selected in self._jobs else 0
        self._selected = self._jobs[max(0, min(len(self._jobs) - 1, at + step))]
        lanes = self.query_one(Lanes)
        shown = lanes.timeline
        names = [lane.job for lane in shown.lanes] if shown else []
        if self._selected in names:
            lanes.lane = names.index(self._selected)
            lanes.refresh()
            self._show_cell()
        else:
            self._fetch()

    def action_open_output(self) -> None:
        """Show the output of the newest run in the cell under the cursor."""
        lanes = self.query_one(Lanes)
        timeline = lanes.timeline
        if timeline is None or not timeline.lanes:
            return
        lane = timeline.lanes[lanes.lane]
        run_id = lane.cells[lanes.cursor].run_id
        if run_id is None:
            self.notify("No run started here", severity="warning")
            return
        self._open(lane.job, run_id)

    @work(thread=True, group="timeline-output")
    def _open(self, job: str, run_id: int) -> None:
        try:
            runs = self._control.history(job, 1, run_id + 1)
        except Refused as refusal:
            self.app.call_from_thread(self.notify, str(refusal), severity="warning",
                                      markup=False)
            return
        if runs and runs[0].id == run_id:
            self.app.call_from_thread(self.app.push_screen, OutputScreen(runs[0], self._zone))
        else:
            self.app.call_from_thread(
                self.notify, f"Run {run_id} is no longer kept (keep_runs): only its count is",
                severity="warning")

    def action_back(self) -> None:
        """Back to the jobs."""
        self.dismiss()
