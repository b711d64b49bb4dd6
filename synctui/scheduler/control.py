"""The one interface the console steers a scheduler through, wherever that scheduler runs.

`SyncScheduler` implements it in-process; `RemoteControl` for a scheduler hosted
by another process, over its control socket; `FallbackControl` over the store alone,
when nobody hosts; `SharedScheduler` follows whichever applies. The console tells
them apart only by `label`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Protocol, runtime_checkable

from synctui.scheduler.events import Subscription
from synctui.scheduler.records import RunRecord
from synctui.scheduler.status import SchedulerStatus


class Refused(Exception):
    """An operation the scheduler declines; the message is the reason, for the operator."""


class HostBusy(Refused):
    """Another live process hosts the scheduler of this state directory."""


@runtime_checkable
class SchedulerControl(Protocol):
    """Status, history, the operator's actions, and a stream of events."""

    label: str
    """`in-process`, `attached` or `fallback`: the only difference the console may show."""

    def status(self) -> SchedulerStatus:
        """The snapshot of SPEC §8."""

    def history(
        self, job: str | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[RunRecord]:
        """Recorded runs, newest first."""

    def run_now(self, name: str) -> RunRecord:
        """Start a manual run; raises `Refused` while it runs or within its cooldown."""

    def cancel(self, name: str) -> None:
        """Ask the running run to end (result `cancelled`) or drop a pending retry."""

    def pause(self, name: str | None = None) -> None:
        """Pause one job, or all."""

    def resume(self, name: str | None = None) -> None:
        """Resume one job, or all."""

    def skip_next(self, name: str) -> datetime:
        """Drop the job's next fire time; returns it."""

    def stop(self) -> None:
        """Stop scheduling (runs in progress finish)."""

    def start(self) -> None:
        """Start scheduling."""

    def restart(self) -> None:
        """Stop, then start."""

    def subscribe(
        self, notify: Callable[[], None] | None = None, maxsize: int = 10_000
    ) -> Subscription:
        """Events: run started, output lines, run finished, state changed."""
