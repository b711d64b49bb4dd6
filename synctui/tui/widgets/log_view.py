"""A whole run's output, read from its log file page by page: open, scroll, search and copy lines
of a file of any size.

Textual's `Log` holds every line in memory; this view holds only the lines on screen
(see `LogFile`). Its place is a byte offset, so the scrollbar is proportional to
bytes, as in `less`, and the line count is never needed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from rich.segment import Segment
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from synctui.tui.log_file import LogFile
from synctui.tui.widgets.log_tail import clean

FOLLOW_EVERY_S = 1.0
"""How often a growing file (a run still going) is looked at again."""
# Control bytes other than tab would move the cursor or draw nothing: shown as �.
_C0 = re.compile(r"[\x00-\x08\x0b-\x1f]")


def shown(raw: bytes) -> str:
    """A line of the file as drawn: decoded, escape sequences removed, controls shown as �."""
    line = clean(raw.rstrip(b"\r").decode("utf-8", "replace"))
    return _C0.sub("�", line).expandtabs()


class LogView(ScrollView, can_focus=True):
    """A run's log file, a page at a time, with a cursor line."""

    DEFAULT_CSS = """
    LogView {
        scrollbar-size-vertical: 1;
        & > .log-view--cursor { background: $block-cursor-blurred-background; }
        &:focus > .log-view--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .log-view--match { background: $warning; color: $text; text-style: bold; }
        & > .log-view--note { color: $text-muted; text-style: italic; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-view--cursor", "log-view--match", "log-view--note",
    }

    BINDINGS = [
        Binding("up,k", "line_up", "Up", show=False),
        Binding("down,j", "line_down", "Down", show=False),
        Binding("pageup,b", "page_up", "Page up", show=False),
        Binding("pagedown,space", "page_down", "Page down", show=False),
        Binding("g,home", "start", "Start", key_display="g", id="output-start"),
        Binding("G,end", "end", "End", key_display="G", id="output-end"),
    ]

    class Searched(Message):
        """A search ended: found at `offset`, or not (`offset` None)."""

        def __init__(
            self, query: str, offset: int | None, backward: bool, problem: str | None = None
        ) -> None:
            super().__init__()
            self.query = query
            self.offset = offset
            self.backward = backward
            self.problem = problem
            """Why the file could not be read, or None."""

    def __init__(self, path: Path | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._path = path
        self._file: LogFile | None = None
        self.problem: str | None = None
        """Why there is nothing to show (no log kept, the file is gone), or None."""
        self._top = 0
        """Byte offset of the first line on screen."""
        self._cursor = 0
        """Row of the cursor line, from the top of the view."""
        self._page: list[tuple[int, str]] = []
        """The lines on screen: (offset, text)."""
        self._widest = 0
        self._last_top = 0
        """Where the last page starts: the scrollbar's end."""
        self._moving = False
        self.query = ""
        """The text searched for, highlighted where it shows."""

    # --- opening ------------------------------------------------------------------

    def on_mount(self) -> None:
        if self._path is None:
            self.problem = "this run kept no log"
        else:
            try:
                self._file = LogFile(self._path)
            except FileNotFoundError:
                self.problem = f"{self._path} is gone (retention removed it)"
            except OSError as error:
                self.problem = f"cannot read {self._path}: {error.strerror}"
        self.set_interval(FOLLOW_EVERY_S, self._follow)

    def on_unmount(self) -> None:
        if self._file is not None:
            self._file.close()

    @property
    def size_bytes(self) -> int:
        """The size of the file as last looked at."""
        return self._file.size if self._file is not None else 0

    @property
    def lines(self) -> list[str]:
        """The lines on screen."""
        return [text for _, text in self._page]

    @property
    def cursor_line(self) -> str | None:
        """The text of the cursor line."""
        return self._page[self._cursor][1] if self._cursor < len(self._page) else None

    @property
    def at_end(self) -> bool:
        """Whether the last line of the file is on screen."""
        return self._file is None or self._top >= self._last_top

    def on_resize(self) -> None:
        self._place(self._top, self._cursor)

    # --- moving -------------------------------------------------------------------

    @property
    def _height(self) -> int:
        return max(1, self.scrollable_content_region.height)

    def _place(self, top: int, cursor: int) -> None:
        """Show the page starting at `top`, the cursor on row `cursor`."""
        if self._file is None:
            self._page = []
            self.refresh()
            return
        height = self._height
        self._last_top = self._file.last_page(height)
        top = min(top, self._last_top)
        self._top = top
        self._page = [(offset, shown(raw)) for offset, raw in self._file.lines_from(top, height)]
        self._cursor = max(0, min(cursor, len(self._page) - 1))
        self._widest = max([self._widest, *(Text(text).cell_len for _, text in self._page)])
        # About as many rows as the file has lines, judged from this page: the scrollbar's
        # thumb then moves about one row a line.
        page_bytes = sum(len(text) + 1 for _, text in self._page) or 1
        rows = max(height, round(self._file.size / page_bytes * len(self._page)))
        self.virtual_size = Size(self._widest, rows)
        self._moving = True
        try:
            self.scroll_to(y=self.max_scroll_y * top / self._last_top if self._last_top else 0,
                           animate=False, immediate=True)
        finally:
            self._moving = False
        self.refresh()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._moving or self._file is None:
            return
        # The mouse moved the scrollbar or turned the wheel: a few rows are lines, a drag
        # of the thumb is a place in the file.
        delta = round(new_value) - round(old_value)
        if abs(delta) <= self._height:
            self._move(delta)
        elif self.max_scroll_y:
            target = int(self._last_top * new_value / self.max_scroll_y)
            self._place(self._file.line_at(target), self._cursor)

    def _move(self, lines: int) -> None:
        """Scroll by `lines` (down if positive), the cursor staying on its row."""
        if self._file is None or not self._page:
            return
        if lines > 0:
            ahead = self._file.lines_from(self._top, lines + 1)
            self._place(ahead[-1][0] if len(ahead) > lines else self._top, self._cursor)
        elif lines < 0:
            self._place(self._file.back(self._top, -lines), self._cursor)

    def action_line_down(self) -> None:
        """Cursor one line down, scrolling at the bottom."""
        if self._cursor < len(self._page) - 1:
            self._cursor += 1
            self.refresh()
        else:
            self._move(1)

    def action_line_up(self) -> None:
        """Cursor one line up, scrolling at the top."""
        if self._cursor > 0:
            self._cursor -= 1
            self.refresh()
        else:
            self._move(-1)

    def action_page_down(self) -> None:
        """One page down."""
        if self.at_end:
            self._cursor = len(self._page) - 1
            self.refresh()
        else:
            self._move(self._height)

    def action_page_up(self) -> None:
        """One page up."""
        if self._top == 0:
            self._cursor = 0
            self.refresh()
        else:
            self._move(-self._height)

    def action_start(self) -> None:
        """To the first line."""
        self._place(0, 0)

    def action_end(self) -> None:
        """To the last line."""
        if self._file is not None:
            self._file.grew()
            self._place(self._file.size, self._height)

    def _follow(self) -> None:
        """Take lines a running job added; stay at the end if there already."""
        if self._file is None:
            return
        following = self.at_end and self._cursor == len(self._page) - 1
        if self._file.grew():
            if following:
                self.action_end()
            else:
                self._place(self._top, self._cursor)

    # --- searching ----------------------------------------------------------------

    def search(self, query: str, *, backward: bool = False) -> None:
        """Look for `query` after the cursor line (before it, `backward`), off the UI thread."""
        self.query = query
        self.refresh()
        if self._file is None or not query:
            return
        start = self._page[self._cursor][0] if self._page else 0
        if not backward:
            following = self._file.lines_from(start, 2)
            start = following[1][0] if len(following) > 1 else self._file.size
        self._search(self._file, query, start, backward)

    @work(thread=True, exclusive=True, group="log-view-search")
    def _search(self, file: LogFile, query: str, start: int, backward: bool) -> None:
        worker = get_current_worker()
        try:
            found = file.find(query, start, backward=backward,
                              cancelled=lambda: worker.is_cancelled)
        except OSError as error:
            self.post_message(self.Searched(query, None, backward, problem=error.strerror))
            return
        if not worker.is_cancelled:
            self.post_message(self.Searched(query, found, backward))

    def show_match(self, offset: int) -> None:
        """Put the line holding byte `offset` under the cursor, a few lines below the top."""
        if self._file is None:
            return
        line = self._file.line_at(offset)
        above = min(3, self._height // 3)
        top = self._file.back(line, above)
        self._place(top, 0)
        rows = [row for row, (start, _) in enumerate(self._page) if start == line]
        self._cursor = rows[0] if rows else 0
        self.refresh()

    # --- drawing ------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if self.problem is not None or (self._file is not None and not self._page and y == 0):
            if y:
                return Strip.blank(width, base)
            note = self.problem or "(the log is empty)"
            style = base + self.get_component_rich_style("log-view--note")
            return Strip([Segment(note, style)]).adjust_cell_length(width, base)
        if y >= len(self._page):
            return Strip.blank(width, base)
        text = Text(self._page[y][1], style=base, no_wrap=True, end="")
        if self.query:
            text.highlight_words([self.query], self.get_component_rich_style("log-view--match"),
                                 case_sensitive=self.query != self.query.lower())
        if y == self._cursor:
            text.stylize_before(self.get_component_rich_style("log-view--cursor"))
        # Unstyled parts of the line render with no style at all: give them the view's.
        segments = Segment.apply_style(text.render(self.app.console), base)
        scroll_x = int(self.scroll_x)
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        line_style = base + (self.get_component_rich_style("log-view--cursor")
                             if y == self._cursor else base)
        return strip.adjust_cell_length(width, line_style)
