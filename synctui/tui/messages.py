"""Messages the console posts to itself from other threads; their handlers own all state."""

from __future__ import annotations

from datetime import datetime

from textual.message import Message

from synctui.scheduler.status import SchedulerStatus


class EventsWaiting(Message):
    """The scheduler's events wait in the subscription (posted from the scheduler's threads)."""


class StatusFetched(Message):
    """A fresh status snapshot, fetched off the UI thread."""

    def __init__(self, status: SchedulerStatus, at: datetime, *, quitting: bool = False) -> None:
        super().__init__()
        self.status = status
        self.at = at
        """When it was fetched, by the app's clock."""
        self.quitting = quitting
        """Fetched for the operator's `q`: whether to ask first depends on it."""


class Steered(Message):
    """An operator's action ended: what happened, or why the scheduler refused it."""

    def __init__(
        self, text: str, *, refused: bool = False, after: StatusFetched | None = None
    ) -> None:
        super().__init__()
        self.text = text
        self.refused = refused
        self.after = after
        """The status fetched once the action was done: the keys shown with the outcome act on
        the state it made (a second `P` resumes what the first paused)."""


class SchedulerShutDown(Message):
    """The hosted scheduler has stopped for good: the console may exit."""
