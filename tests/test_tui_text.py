"""How the console words times and durations, and how it makes a job's output safe to draw."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from synctui.scheduler.records import Result
from synctui.tui import text
from synctui.tui.widgets.log_tail import MAX_LINES, TAIL_BYTES, _after_overlap, clean, read_tail

NOW = datetime(2026, 3, 4, 14, 5, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(("seconds", "said"), [
    (0, "due"), (-5, "due"), (0.4, "in 0s"), (42.9, "in 42s"), (59.9, "in 59s"),
    (60, "in 1m"), (119, "in 1m"), (11 * 60 + 59, "in 11m"), (3 * 3600 + 5, "in 3h"),
    (2 * 86400, "in 2d"),
])
def test_a_countdown_shows_seconds_only_in_its_last_minute(seconds, said):
    assert text.countdown(NOW + timedelta(seconds=seconds), NOW) == said


@pytest.mark.parametrize(("seconds", "said"), [
    (0, "<1m ago"), (59, "<1m ago"), (60, "1m ago"), (3 * 60 + 59, "3m ago"),
    (2 * 3600 + 1, "2h ago"), (4 * 86400, "4d ago"),
])
def test_ago_changes_at_minute_granularity(seconds, said):
    assert text.ago(NOW - timedelta(seconds=seconds), NOW) == said


def test_times_are_shown_in_the_configured_zone_with_the_date_when_not_today():
    zone = ZoneInfo("America/Sao_Paulo")
    assert text.time_of_day(NOW, zone, NOW) == "11:05"
    assert text.time_of_day(NOW, zone, NOW, seconds=True) == "11:05:30"
    assert text.time_of_day(NOW + timedelta(days=1), zone, NOW) == "Mar 05"


@pytest.mark.parametrize(("seconds", "said"), [
    (None, "-"), (0.04, "0.0s"), (12.34, "12.3s"), (125, "2m05s"), (3725, "1h02m"),
])
def test_durations(seconds, said):
    assert text.duration(seconds) == said


def test_results_and_health_carry_a_symbol_and_a_word():
    theme = {"success": "#00ff00", "error": "#ff0000"}
    shown = text.result_text(Result.FAILURE, theme)
    assert shown.plain == "✗ failure" and "#ff0000" in str(shown.style)
    assert text.health_text("down", theme, symbol=True).plain == "▼ down"
    assert text.result_text(None, theme).plain == "-"


def test_a_job_cannot_steer_the_terminal_through_its_output():
    assert clean("\x1b[31mred\x1b[0m and \x1b]0;title\x07plain") == "red and plain"
    assert clean("bell\x07 and \x9b31m") == "bell\x07 and �31m"
    assert clean("lone \x1b") == "lone �"
    assert clean("") == " "  # a blank line stays a line
    assert clean("plain text") == "plain text"


def test_the_log_file_is_read_from_its_end_only(tmp_path):
    log = tmp_path / "1.log"
    log.write_text("".join(f"line {n}\n" for n in range(100_000)))
    assert log.stat().st_size > TAIL_BYTES
    lines = read_tail(log, 1)
    assert len(lines) == MAX_LINES and lines[-1] == "line 99999"
    assert read_tail(tmp_path / "gone.log", 7) == [
        "[synctui] the log of run 7 is gone (retention removed it)"
    ]


def test_lines_that_came_live_while_the_file_was_read_are_kept_once():
    assert _after_overlap(["a", "b", "c"], ["b", "c", "d", "e"]) == ["d", "e"]
    assert _after_overlap(["a", "b"], ["c", "d"]) == ["c", "d"]
    assert _after_overlap(["a", "b"], ["a", "b"]) == []
