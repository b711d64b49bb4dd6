"""Driving the console with Pilot: run a scenario, wait for what the screen shows, read it."""

from __future__ import annotations

import asyncio
import time

from textual.widgets.data_table import CellDoesNotExist

from synctui.tui.app import SyncTuiApp
from synctui.tui.widgets.jobs_table import JobsTable


def drive(app: SyncTuiApp, scenario, size: tuple[int, int] = (100, 30)) -> None:
    """Run the app headless and, once a job is selected, play `scenario(pilot)` on it."""

    async def main() -> None:
        async with app.run_test(size=size, notifications=True) as pilot:
            await until(pilot, lambda: app.selected is not None)
            await scenario(pilot)

    asyncio.run(main())


async def until(pilot, predicate, timeout: float = 15.0, interval: float = 0.05) -> None:
    """Let the app run until `predicate()` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never shown; notifications: {notifications(pilot.app)!r}")
        await pilot.pause(interval)


def cell(app: SyncTuiApp, job: str, column: str) -> str:
    """What the jobs table shows (nothing before the first status has drawn the job's row)."""
    try:
        return app.query_one(JobsTable).get_cell(job, column).plain
    except CellDoesNotExist:
        return ""


def notifications(app: SyncTuiApp) -> str:
    """The text of every notification on screen."""
    return "\n".join(toast.render().plain for toast in app.screen.query("Toast"))


def badge(app: SyncTuiApp) -> str:
    return str(app.query_one("#badge").render())
