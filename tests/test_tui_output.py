"""A run's output screen: paging by byte offsets, the ends, search, copying a line, and a 1 GB log.

The screen runs in a tiny app of its own; `LogFile` is checked against `splitlines`.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from textual.app import App

from pilot import until
from synctui.scheduler.records import Result, RunRecord, Trigger
from synctui.tui import log_file
from synctui.tui.log_file import LogFile
from synctui.tui.screens.output import OutputScreen
from synctui.tui.widgets.log_view import LogView

GIGABYTE = 1024 ** 3


def record(path: Path | None, **fields) -> RunRecord:
    started = datetime(2026, 3, 4, 14, 0, tzinfo=timezone.utc)
    return RunRecord(**{
        "id": 7, "job": "orders", "trigger": Trigger.SCHEDULED, "result": Result.SUCCESS,
        "started_at": started, "finished_at": started, "duration_s": 2.5, "exit_code": 0,
        "log_path": path, **fields,
    })


class OutputApp(App[None]):
    """Only the output screen of one run."""

    def __init__(self, run: RunRecord) -> None:
        super().__init__()
        self.run_record = run
        self.copied: list[str] = []

    def on_mount(self) -> None:
        self.push_screen(OutputScreen(self.run_record, ZoneInfo("UTC")))

    def copy_to_clipboard(self, text: str) -> None:
        self.copied.append(text)
        super().copy_to_clipboard(text)


def drive(run: RunRecord, scenario, size=(80, 24)) -> OutputApp:
    app = OutputApp(run)

    async def main() -> None:
        async with app.run_test(size=size, notifications=True) as pilot:
            await pilot.pause()
            await scenario(pilot, app.screen.query_one(LogView))

    asyncio.run(main())
    return app


def numbered(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "run.log"
    path.write_text("".join(f"line {n}\n" for n in range(1, count + 1)))
    return path


# --- the file, by byte offsets ----------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_pages_forward_and_back_match_the_file_lines(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(log_file, "BLOCK", 16)  # small blocks: every path through the reads
    rnd = random.Random(seed)
    lines = ["x" * rnd.choice([0, 1, 5, 14]) for _ in range(rnd.randint(0, 40))]
    path = tmp_path / "run.log"
    path.write_text("\n".join(lines) + ("\n" if lines and rnd.random() < 0.5 else ""))
    file = LogFile(path)
    got = file.lines_from(0, 1000)
    assert [raw.decode() for _, raw in got] == path.read_text().splitlines()
    starts = [offset for offset, _ in got]
    for index, (start, raw) in enumerate(got):
        assert file.back(start, 1) == starts[max(0, index - 1)]
        assert file.back(start, index) == 0
        assert file.line_at(start + max(0, len(raw) - 1)) == start
    for count in range(1, len(starts) + 2 if starts else 0):
        assert file.last_page(count) == starts[max(0, len(starts) - count)]


def test_a_line_longer_than_a_block_is_shown_in_pieces(tmp_path, monkeypatch):
    monkeypatch.setattr(log_file, "BLOCK", 16)
    path = tmp_path / "run.log"
    path.write_bytes(b"a" * 40 + b"\nend\n")
    assert [raw for _, raw in LogFile(path).lines_from(0, 10)] == [
        b"a" * 16, b"a" * 16, b"a" * 8, b"end"]


def test_search_finds_forward_and_backward_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(log_file, "SEARCH_BLOCK", 8)
    path = tmp_path / "run.log"
    path.write_bytes(b"alpha\nbeta NEEDLE\ngamma\nneedle again\n")
    file = LogFile(path)
    first = file.find("needle", 0)
    assert first == path.read_bytes().index(b"NEEDLE")  # lower case: case ignored
    second = file.find("needle", first + 1)
    assert second == path.read_bytes().index(b"needle")
    assert file.find("needle", second, backward=True) == first
    assert file.find("Needle", 0) is None  # a capital: case counts
    assert file.find("absent", 0) is None


# --- the screen -------------------------------------------------------------------------


def test_it_opens_at_the_start_and_G_g_go_to_the_ends(tmp_path):
    async def scenario(pilot, view):
        assert view.lines[:2] == ["line 1", "line 2"]
        await pilot.press("G")
        assert view.lines[-1] == "line 5000" and view.cursor_line == "line 5000"
        await pilot.press("g")
        assert view.lines[0] == "line 1" and view.cursor_line == "line 1"
        await pilot.press("pagedown")
        assert view.lines[0] == f"line {1 + len(view.lines)}"
        await pilot.press("pageup", "down", "down")
        assert view.cursor_line == "line 3"

    drive(record(numbered(tmp_path, 5000)), scenario)


def test_the_wheel_scrolls_lines_and_the_scrollbar_jumps(tmp_path):
    async def scenario(pilot, view):
        view.scroll_to(y=view.scroll_y + 3, animate=False)  # what the wheel does
        await until(pilot, lambda: view.lines[0] == "line 4")
        view.scroll_to(y=view.scroll_y - 3, animate=False)
        await until(pilot, lambda: view.lines[0] == "line 1")
        view.scroll_to(y=view.max_scroll_y / 2, animate=False)  # the thumb dragged half-way
        await until(pilot, lambda: view.lines[0] != "line 1")
        assert 200 < int(view.lines[0].split()[1]) < 300

    drive(record(numbered(tmp_path, 500)), scenario)


def test_slash_searches_and_n_N_move_between_matches(tmp_path):
    path = tmp_path / "run.log"
    path.write_text("".join(f"row {n}{' ERROR disk full' if n in (300, 900) else ''}\n"
                            for n in range(1, 1500)))

    async def scenario(pilot, view):
        await pilot.press("slash", *"error", "enter")
        await until(pilot, lambda: view.cursor_line == "row 300 ERROR disk full")
        await pilot.press("n")
        await until(pilot, lambda: view.cursor_line == "row 900 ERROR disk full")
        await pilot.press("N")
        await until(pilot, lambda: view.cursor_line == "row 300 ERROR disk full")
        await pilot.press("slash", *"nowhere", "enter")
        await until(pilot, lambda: "'nowhere' not found below" in notifications(pilot.app))

    drive(record(path), scenario)


def test_y_copies_the_cursor_line(tmp_path):
    async def scenario(pilot, view):
        await pilot.press("down", "y")
        await until(pilot, lambda: "Copied: line 2" in notifications(pilot.app))

    app = drive(record(numbered(tmp_path, 10)), scenario)
    assert app.copied == ["line 2"]
    assert app.clipboard == "line 2"


def test_escape_goes_back(tmp_path):
    async def scenario(pilot, view):
        await pilot.press("slash")
        await pilot.press("escape")  # closes the search first
        assert isinstance(pilot.app.screen, OutputScreen)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, OutputScreen))

    drive(record(numbered(tmp_path, 10)), scenario)


def test_a_run_without_its_log_says_why(tmp_path):
    async def scenario(pilot, view):
        assert "retention removed it" in view.problem

    drive(record(tmp_path / "gone.log"), scenario)


def test_lines_the_job_adds_appear_at_the_end(tmp_path):
    path = numbered(tmp_path, 3)

    async def scenario(pilot, view):
        await pilot.press("G")
        with path.open("a") as log:
            log.write("line 4\n")
        await until(pilot, lambda: view.lines[-1] == "line 4", timeout=5)

    drive(record(path, result=Result.RUNNING, finished_at=None, duration_s=None), scenario)


def test_a_1_gb_log_opens_at_once_and_shows_its_last_lines(tmp_path):
    path = tmp_path / "big.log"
    with path.open("wb") as log:
        log.write(b"".join(b"first %d\n" % n for n in range(1, 100)))
        log.truncate(GIGABYTE)  # a hole: a gigabyte that costs no disk
        log.seek(GIGABYTE)
        log.write(b"\n" + b"".join(b"last %d\n" % n for n in range(1, 101)))
    assert path.stat().st_size > GIGABYTE

    async def scenario(pilot, view):
        assert view.lines[0] == "first 1" and view.size_bytes > GIGABYTE
        pressed = time.monotonic()
        await pilot.press("G")
        assert view.lines[-1] == "last 100"
        assert time.monotonic() - pressed < 2.0  # the benchmark holds it to 300 ms
        await pilot.press("pageup")
        assert view.lines[-1] != "last 100"

    opened = time.monotonic()
    drive(record(path), scenario)
    assert time.monotonic() - opened < 10.0


def notifications(app) -> str:
    return "\n".join(toast.render().plain for toast in app.screen.query("Toast"))
