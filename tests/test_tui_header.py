"""The console's top line, in a tiny app of its own: its note follows the scheduler's news."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from textual.app import App
from textual.widgets import Static

from synctui.tui.widgets.header import ConsoleHeader


class HeaderApp(App[None]):
    def compose(self):
        yield ConsoleHeader("shop", ZoneInfo("UTC"), demo=False, note="first note")


def test_notes_changed_within_one_turn_leave_one_note_the_last():
    """The hour-long soak's console crashed on `DuplicateIds: 'note'`: a note replaced by
    another in one turn, the old one's removal not landed yet."""
    app = HeaderApp()
    shown: list[tuple[bool, str]] = []

    async def main() -> None:
        async with app.run_test() as pilot:
            header = app.query_one(ConsoleHeader)
            header.show_note("second note")
            header.show_note(None)
            header.show_note("third note")
            await pilot.pause()
            notes = header.query("#note")
            shown.extend((note.display, str(note.render())) for note in notes)
            header.show_note(None)
            await pilot.pause()
            shown.append((header.query_one("#note", Static).display, ""))

    asyncio.run(main())
    assert shown == [(True, "third note"), (False, "")]
