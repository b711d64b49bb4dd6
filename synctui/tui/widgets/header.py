"""The console's top line: app and config name, the scheduler's badge, and a clock."""

from __future__ import annotations

from datetime import datetime, tzinfo

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from synctui.scheduler.words import state_words



class ConsoleHeader(Horizontal):
    """`synctui  shop  ▶ running ... 14:05 UTC`; with no config, `◇ demo` and how to write
    one; a note says why, when no scheduler runs."""

    DEFAULT_CSS = """
    ConsoleHeader {
        dock: top;
        height: 1;
        background: $panel;
        & > Static { width: auto; padding: 0 1; text-wrap: nowrap; }
        & > #app-name { text-style: bold; color: $text-accent; }
        & > #badge { text-style: bold; }
        & > #badge.-running { background: $success-muted; }
        & > #badge.-paused { background: $warning-muted; }
        & > #badge.-stopped, & > #badge.-stopping { background: $error-muted; }
        & > #badge.-fallback, & > #badge.-waiting { background: $warning-muted; }
        & > #demo { background: $primary-muted; text-style: bold; }
        & > #demo-note, & > #note { width: 1fr; color: $text-muted; text-overflow: ellipsis; }
        & > #clock { dock: right; }
    }
    """

    def __init__(
        self, config_name: str, zone: tzinfo, *, demo: bool, note: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._note = note
        self._config_name = config_name
        self._zone = zone
        self._demo = demo
        self._badge = ""
        self._clock = ""

    def compose(self) -> ComposeResult:
        yield Static("synctui", id="app-name")
        if not self._demo:
            yield Static(self._config_name, id="config-name", markup=False)
        yield Static("", id="badge")
        if self._demo:
            yield Static("◇ demo", id="demo")
            yield Static("no config found: `synctui init` writes one", id="demo-note")
        # Always there, shown only with a note: one removed and another mounted in one
        # turn would meet (the removal lands a turn later) and clash over their id.
        note = Static(self._note or "", id="note", markup=False)
        note.display = bool(self._note)
        yield note
        yield Static("", id="clock")

    def show_note(self, note: str | None) -> None:
        """Say why no scheduler runs (None: one does)."""
        if note == self._note:
            return
        shown = self.query_one("#note", Static)
        shown.update(note or "")
        shown.display = bool(note)
        self._note = note

    def show_badge(self, word: str) -> None:
        """Show the scheduler's state; repaints only when it changed."""
        if word == self._badge:
            return
        badge = self.query_one("#badge", Static)
        badge.remove_class(f"-{self._badge}")
        badge.add_class(f"-{word}")
        badge.update(state_words(word))
        self._badge = word

    def show_time(self, now: datetime) -> None:
        """Show the clock (to the minute, in the configured zone); repaints once a minute."""
        text = now.astimezone(self._zone).strftime("%H:%M %Z")
        if text != self._clock:
            self.query_one("#clock", Static).update(text)
            self._clock = text
