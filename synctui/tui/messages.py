"""Messages the console posts to itself from other threads; their handlers own all state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual.message import Message

from synctui.scheduler.status import SchedulerStatus


class EventsWaiting(Message):
    """The scheduler's events wait in the subscription (posted from the scheduler's threads)."""


@dataclass(frozen=True)
class Snapshot:
    """The scheduler's status, fetched off the UI thread."""

    status: SchedulerStatus
    at: datetime
    """When it was fetched, by the app's clock."""
    asked: float
    """`time.monotonic()` when the fetch began: fetches may overtake each other, and of
    two, the one asked for later is the truer."""


class StatusFetched(Message):
    """A fresh status snapshot."""

    def __init__(self, snapshot: Snapshot, *, quitting: bool = False) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.quitting = quitting
        """Fetched for the operator's `q`: whether to ask first depends on it."""


class Steered(Message):
    """An operator's action ended: what happened, or why the scheduler refused it."""

    def __init__(
        self, text: str, snapshot: Snapshot | None = None, *, refused: bool = False
    ) -> None:
        super().__init__()
        self.text = text
        self.snapshot = snapshot
        """The status fetched once the action was done, so that the keys shown with its
        outcome act on the state it made (a second `P` resumes what the first paused); None
        when refused, or when the host went away just after."""
        self.refused = refused


class SchedulerShutDown(Message):
    """The hosted scheduler has stopped for good: the console may exit."""
