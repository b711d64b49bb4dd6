"""A run's whole output, from its log file: `/` searches, `g`/`G` go to the ends, `y` copies a line."""

from __future__ import annotations

from datetime import tzinfo

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from synctui.scheduler.records import RunRecord
from synctui.scheduler.words import result_words
from synctui.tui import text
from synctui.tui.widgets.log_view import LogView


def describe_run(run: RunRecord, zone: tzinfo) -> str:
    """`orders · run 41 · scheduled · 2026-03-04 11:01:48 · ✓ success in 2.3s · exit 0`."""
    parts = [run.job, f"run {run.id}", run.trigger.value]
    if run.started_at is not None:
        parts.append(text.timestamp(run.started_at, zone))
    ended = result_words(run.result)
    if run.duration_s is not None:
        ended += f" in {text.duration(run.duration_s)}"
    parts.append(ended)
    if run.signal:
        parts.append(run.signal)
    elif run.exit_code is not None:
        parts.append(f"exit {run.exit_code}")
    return " · ".join(parts)


class OutputScreen(Screen[None]):
    """One run's log file, page by page."""

    DEFAULT_CSS = """
    OutputScreen {
        & > #run { height: 1; background: $panel; padding: 0 1; text-wrap: nowrap;
                   text-overflow: ellipsis; }
        & > #error { height: auto; max-height: 3; color: $text-error; padding: 0 1; }
        & > #search { dock: bottom; display: none; }
        & > #search.-open { display: block; }
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("slash", "open_search", "Search", id="search"),
        Binding("n", "next_match", "Next", id="next-match"),
        Binding("N", "previous_match", "Previous", id="previous-match"),
        Binding("y", "copy_line", "Copy line", tooltip="Copy the cursor line (OSC 52)",
                id="copy-line"),
    ]

    def __init__(self, run: RunRecord, zone: tzinfo) -> None:
        super().__init__()
        self.run = run
        self._zone = zone

    def compose(self) -> ComposeResult:
        yield Static(describe_run(self.run, self._zone), id="run", markup=False)
        if self.run.error:
            yield Static(self.run.error, id="error", markup=False)
        yield LogView(self.run.log_path, id="output")
        yield Input(placeholder="search (enter: find below, escape: close)", id="search")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(LogView).focus()

    def action_back(self) -> None:
        """Close the search, or go back."""
        search = self.query_one("#search", Input)
        if search.has_class("-open"):
            search.remove_class("-open")
            self.query_one(LogView).focus()
        else:
            self.dismiss()

    def action_open_search(self) -> None:
        """Ask what to look for."""
        search = self.query_one("#search", Input)
        search.add_class("-open")
        search.focus()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.input.remove_class("-open")
        view = self.query_one(LogView)
        view.focus()
        view.search(event.value)

    def action_next_match(self) -> None:
        """The next line holding the text searched for."""
        self._again(backward=False)

    def action_previous_match(self) -> None:
        """The previous line holding the text searched for."""
        self._again(backward=True)

    def _again(self, *, backward: bool) -> None:
        view = self.query_one(LogView)
        if not view.query:
            self.notify("Nothing searched yet: / searches", severity="warning")
            return
        view.search(view.query, backward=backward)

    @on(LogView.Searched)
    def _searched(self, message: LogView.Searched) -> None:
        if message.problem is not None:
            self.notify(f"cannot read the log: {message.problem}", severity="error",
                        markup=False)
        elif message.offset is None:
            where = "above" if message.backward else "below"
            self.notify(f"{message.query!r} not found {where}", severity="warning", markup=False)
        else:
            self.query_one(LogView).show_match(message.offset)

    def action_copy_line(self) -> None:
        """Copy the cursor line to the clipboard (through the terminal: OSC 52)."""
        line = self.query_one(LogView).cursor_line
        if line is None:
            self.notify("No line to copy", severity="warning")
            return
        self.app.copy_to_clipboard(line)
        shown = line if len(line) <= 60 else line[:59] + "…"
        self.notify(f"Copied: {shown}", markup=False)
