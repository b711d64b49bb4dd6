"""Events leaving the scheduler's threads, and the one thread-safe hand-off that carries them.

A publisher never waits for a subscriber: each subscription has a bounded queue,
and what does not fit is counted and reported as `EventsMissed` on the next read,
so a slow console can catch up from a status snapshot instead of stalling a run.
The bound counts output lines (an `OutputLines` batch weighs its line count), so
a subscriber that stops reading holds a bounded amount of text.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Union

from synctui.scheduler.records import RunRecord


@dataclass(frozen=True)
class RunStarted:
    """A run began (its record says `running`)."""

    run: RunRecord


@dataclass(frozen=True)
class OutputLines:
    """Lines a running job printed, in order, batched as they were read."""

    job: str
    run_id: int
    lines: tuple[str, ...]
    escaped: frozenset[int] = frozenset()
    """The indices of the lines that held bytes not UTF-8, shown escaped (`\\xff`);
    the run log keeps them as they were."""


@dataclass(frozen=True)
class RunFinished:
    """A run ended; the record holds its result."""

    run: RunRecord


class Change(str, Enum):
    """What changed, in `StateChanged`; the value is the word on the wire and in logs."""

    PAUSED = "paused"
    RESUMED = "resumed"
    SKIPPED_NEXT = "skipped-next"
    """A job's next fire time was dropped."""
    OVERDUE = "overdue"
    """A job's run went past its `warn_after` (it goes on)."""
    STARTED = "started"
    STOPPED = "stopped"
    RELOADED = "reloaded"
    REFRESHED = "refreshed"
    """Another process changed the store (what a fallback watches for)."""
    HOSTING = "hosting"
    """This console took over hosting from a host that went away."""
    ATTACHED = "attached"
    FALLBACK = "fallback"
    HANDING_OVER = "handing-over"
    HOST_STOPPING = "host-stopping"
    """The host is being stopped by its operator: its consoles must not take over."""
    HOST_LOST = "host-lost"


@dataclass(frozen=True)
class StateChanged:
    """Something about a job (or the whole scheduler, `job=None`) other than a run changed."""

    job: str | None
    what: Change


@dataclass(frozen=True)
class EventsMissed:
    """The subscriber fell behind and `count` events were dropped before this one."""

    count: int


Event = Union[RunStarted, OutputLines, RunFinished, StateChanged, EventsMissed]


class Subscription:
    """One subscriber's bounded queue. Read it from any one thread."""

    def __init__(self, bus: EventBus, maxsize: int, notify: Callable[[], None] | None) -> None:
        self._bus = bus
        self._maxsize = maxsize
        self._notify = notify
        self._queue: deque[Event] = deque()
        self._weight = 0
        self._missed = 0
        self._cond = threading.Condition(threading.Lock())
        self.closed = False

    def _offer(self, event: Event) -> None:
        weight = len(event.lines) if isinstance(event, OutputLines) else 1
        with self._cond:
            # An empty queue takes any one event, so one big batch is never starved.
            if self._queue and self._weight + weight > self._maxsize:
                self._missed += 1
                return
            was_empty = not self._queue and not self._missed
            self._queue.append(event)
            self._weight += weight
            self._cond.notify()
        if was_empty and self._notify is not None:
            self._notify()

    def drain(self) -> list[Event]:
        """Everything queued now, oldest first, without waiting."""
        with self._cond:
            return self._take()

    def get(self, timeout: float | None = None) -> list[Event]:
        """Wait up to `timeout` seconds for events, then return what is queued (maybe nothing)."""
        with self._cond:
            if not self._queue and not self._missed and not self.closed:
                self._cond.wait(timeout)
            return self._take()

    def _take(self) -> list[Event]:
        # Dropped events came after everything still queued, so the gap goes last.
        events: list[Event] = list(self._queue)
        self._queue.clear()
        self._weight = 0
        if self._missed:
            events.append(EventsMissed(self._missed))
            self._missed = 0
        return events

    def close(self) -> None:
        """Stop receiving events and wake a waiting reader."""
        self._bus._remove(self)
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class EventBus:
    """Fans events out to subscribers without ever blocking the publisher."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: tuple[Subscription, ...] = ()

    def subscribe(
        self, maxsize: int = 10_000, notify: Callable[[], None] | None = None
    ) -> Subscription:
        """A new subscription holding up to `maxsize` events or output lines; `notify`
        (which must not block) is called when it stops being empty."""
        subscription = Subscription(self, maxsize, notify)
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)
        return subscription

    def publish(self, event: Event) -> None:
        """Hand `event` to every subscriber; safe from any thread."""
        for subscription in self._subscriptions:
            subscription._offer(event)

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)
