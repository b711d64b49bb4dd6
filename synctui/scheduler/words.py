"""The symbols beside results, health and the scheduler's state, alike in the console and the command line.

Plain strings, so that the command line needs no Rich. A symbol always comes with its
word (colour is never the only signal), and is one that terminals draw one cell wide
(no emoji-capable ones such as ⏸ or ⏱).
"""

from __future__ import annotations

from datetime import tzinfo

from synctui.scheduler.records import OVERLAP_REASON, QueuedRun, Result, RunRecord

RESULT_SYMBOLS = {
    Result.RUNNING: "⟳", Result.SUCCESS: "✓", Result.FAILURE: "✗", Result.TIMEOUT: "◷",
    Result.CANCELLED: "⊘", Result.INTERRUPTED: "↯", Result.SKIPPED: "↷",
    Result.MISSED: "⌀", Result.REPLACED: "⇄",
}
HEALTH_SYMBOLS = {"new": "○", "up": "●", "late": "◐", "down": "▼", "paused": "‖",
                  "overdue": "◔"}
STATE_SYMBOLS = {"running": "▶", "paused": "‖", "stopped": "■", "stopping": "◌", "fallback": "↻",
                 "attached": "⇄", "waiting": "…"}
"""The scheduler's state words (the console's badge) and their symbols."""


def result_words(result: Result | None) -> str:
    """`✓ success`; `-` when the job never ran."""
    return "-" if result is None else f"{RESULT_SYMBOLS[result]} {result.value}"


def not_run_words(run: RunRecord) -> str:
    """What a skipped or missed record stands for: `3 fire times missed: group warehouse full
    (1 of 1 running)`."""
    count = run.skip_count
    return (f"{count} fire time{'s' if count != 1 else ''} {run.result.value}:"
            f" {run.reason or OVERLAP_REASON}")


def queued_words(queued: tuple[QueuedRun, ...], zone: tzinfo) -> str:
    """A job's queued runs in a line: `2 runs (first due 17:28:15): group warehouse full (1 of
    1 running)` (why the first waits)."""
    first = queued[0]
    due = first.scheduled_at.astimezone(zone).strftime("%H:%M:%S")
    runs = f"{len(queued)} runs" if len(queued) > 1 else "1 run"
    return f"{runs} (first due {due}): {first.why}"


def state_words(state: str) -> str:
    """`▶ running`, `‖ paused`, `■ stopped`..."""
    return f"{STATE_SYMBOLS[state]} {state}"
