"""The symbols beside results, health and the scheduler's state, alike in the console and the command line.

Plain strings, so that the command line needs no Rich. A symbol always comes with its
word (colour is never the only signal), and is one that terminals draw one cell wide
(no emoji-capable ones such as ⏸ or ⏱).
"""

from __future__ import annotations

from synctui.scheduler.records import Result

RESULT_SYMBOLS = {
    Result.RUNNING: "⟳", Result.SUCCESS: "✓", Result.FAILURE: "✗", Result.TIMEOUT: "◷",
    Result.CANCELLED: "⊘", Result.INTERRUPTED: "↯", Result.SKIPPED: "↷",
    Result.REPLACED: "⇄",
}
HEALTH_SYMBOLS = {"new": "○", "up": "●", "late": "◐", "down": "▼", "paused": "‖"}
STATE_SYMBOLS = {"running": "▶", "paused": "‖", "stopped": "■", "stopping": "◌", "fallback": "↻",
                 "attached": "⇄", "waiting": "…"}
"""The scheduler's state words (the console's badge) and their symbols."""


def result_words(result: Result | None) -> str:
    """`✓ success`; `-` when the job never ran."""
    return "-" if result is None else f"{RESULT_SYMBOLS[result]} {result.value}"


def state_words(state: str) -> str:
    """`▶ running`, `‖ paused`, `■ stopped`..."""
    return f"{STATE_SYMBOLS[state]} {state}"
