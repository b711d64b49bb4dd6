"""A headless Textual app that counts the frames it writes, for the screen benchmarks.

Not a benchmark itself (`run_all.py` skips files whose name starts with `_`).
"""

from __future__ import annotations

import asyncio

from textual.app import App


class Bench(App[None]):
    """An empty app screens are pushed on; it notes when each frame is written."""

    frames = 0

    def _display(self, screen, renderable) -> None:
        # Textual's one place where a frame goes to the terminal (here the headless driver).
        super()._display(screen, renderable)
        self.frames += 1


async def drawn(app: Bench, ready, poll_s: float = 0.0) -> None:
    """Wait for `ready()`, then for the next frame written after it, looking every `poll_s`
    (0: at every turn of the loop; a screen that waits for Textual to be idle before it
    fetches wants a little more, or the loop is never idle)."""
    while not ready():
        await asyncio.sleep(poll_s)
    frames = app.frames
    while app.frames == frames:
        await asyncio.sleep(poll_s)
