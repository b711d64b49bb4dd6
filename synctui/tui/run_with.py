"""The "Run with..." question: a full re-sync of the selected job, or a sync since a time."""

from __future__ import annotations

from datetime import tzinfo

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from synctui.scheduler.backfill import BadMoment, parse_moment
from synctui.scheduler.records import Scope
from synctui.tui.questions import QuestionScreen


class RunWithScreen(QuestionScreen):
    """Dismissed with the `Scope` of the run asked for, or None to run nothing."""

    BINDINGS = [
        Binding("ctrl+f", "full", "Full re-sync", id="run-with-full"),
        Binding("escape", "dismiss(None)", "Cancel", id="run-with-cancel"),
    ]

    def __init__(self, job: str, zone: tzinfo) -> None:
        super().__init__()
        self._job = job
        self._zone = zone

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Run {self._job} with: a full re-sync (everything), or what changed"
                         f" since a time (ISO-8601; without an offset, in {self._zone})?",
                         id="question", markup=False)
            yield Input(placeholder="2026-01-03T04:00", id="since")
            yield Static("", id="problem", markup=False)
            with Horizontal(id="choices"):
                yield Button("Since that time (enter)", id="run-since", variant="primary")
                yield Button("Full re-sync (ctrl+f)", id="full", variant="warning")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#since", Input).focus()

    @on(Input.Submitted, "#since")
    @on(Button.Pressed, "#run-since")
    def _since(self, event) -> None:
        event.stop()
        text = self.query_one("#since", Input).value.strip()
        try:
            self.dismiss(Scope(since=parse_moment(text, self._zone)))
        except BadMoment as bad:
            self.query_one("#problem", Static).update(str(bad))

    @on(Button.Pressed, "#full")
    def _full_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_full()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_full(self) -> None:
        """Ask for a full re-sync."""
        self.dismiss(Scope(full=True))
