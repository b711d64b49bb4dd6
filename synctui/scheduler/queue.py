"""The runs waiting to start, in start order, and the room the limits leave them.

A run that cannot start when due (its group or the whole scheduler is full, an
upstream holds it, the job's own run is still going under `catch_up = "all"`) waits
here, in fire-time order, then config order. The run lifecycle (`lifecycle.py`)
decides what enters and starts what may; this module only keeps the order and counts
what runs against `[groups.NAME] max_running` and `[scheduler] max_running`.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from synctui.config.model import Config, JobConfig
from synctui.scheduler.records import Trigger
from synctui.scheduler.runner import RunRequest

FIRES = frozenset({Trigger.SCHEDULED, Trigger.CATCH_UP, Trigger.START, Trigger.FALLBACK})
"""Triggers that are fire times of the job's schedule: `catch_up` says which of them still
run when several wait, and whether one that cannot start at once waits at all."""
_DEADLINE_MARGIN_S = 0.01
"""How long after a deadline the queue looks again (a deadline is passed once exceeded)."""


class NoRoom(Exception):
    """A run may not start now: its group or the scheduler is full (the message says which)."""


@dataclass(eq=False)
class Waiting:
    """One run waiting to start."""

    request: RunRequest
    order: int
    """The job's place in the config: ties of fire time go in config order."""
    deadline: datetime | None
    """Past it, the run is recorded `missed` instead (None: it waits as long as it takes)."""
    following: Callable[[datetime], datetime | None] | None = None
    """For fire times caught up one after another: the fire time to queue once this one
    starts (None when it is the last)."""
    why: str = ""
    """Why it waits, as last found ("group warehouse full (1 of 1 running)")."""

    @classmethod
    def due(
        cls, request: RunRequest, order: int,
        following: Callable[[datetime], datetime | None] | None = None,
    ) -> Waiting:
        """The entry of `request`, its deadline its job's `start_deadline` after its fire time."""
        seconds = request.job.start_deadline_s
        deadline = None if seconds is None else request.scheduled_at + timedelta(seconds=seconds)
        return cls(request, order, deadline, following)

    @property
    def name(self) -> str:
        return self.request.job.name

    @property
    def key(self) -> tuple[datetime, int]:
        return self.request.scheduled_at, self.order


class RunQueue:
    """The waiting runs in start order, the room the limits leave, and a timer for the next
    deadline. Thread-safe; callers may hold a job's lock while they call in, never the
    other way round."""

    def __init__(self, config: Config, on_deadline: Callable[[], None]) -> None:
        """`on_deadline` is called (on a timer's thread) once the earliest deadline passes."""
        self._entries: list[Waiting] = []
        self._count: Counter[str] = Counter()
        self._room = Room(config)
        self._lock = threading.Lock()
        self._on_deadline = on_deadline
        self._armed: datetime | None = None
        self._timer: threading.Timer | None = None
        self._closed = False

    def set_config(self, config: Config) -> None:
        with self._lock:
            self._room.config = config

    def count(self, name: str) -> int:
        """How many of the job's runs wait."""
        return self._count[name]

    def by_job(self) -> dict[str, list[Waiting]]:
        """Every job's waiting runs, in start order (one pass)."""
        found: dict[str, list[Waiting]] = {}
        with self._lock:
            for entry in self._entries:
                found.setdefault(entry.name, []).append(entry)
        return found

    # --- room ---------------------------------------------------------------------

    def take_room(self, job: JobConfig) -> str | None:
        """Count a run of `job` as going (`NoRoom` if its group or the scheduler is full);
        the group it counts against, to give to `free_room` when it ends."""
        with self._lock:
            full = self._room.full(job)
            if full is not None:
                raise NoRoom(full)
            return self._room.take(job)

    def hand_room(self, job: JobConfig) -> str | None:
        """Count a run of `job` as going whatever the limits (a replacement takes the place
        of the run it replaces)."""
        with self._lock:
            return self._room.take(job)

    def free_room(self, group: str | None) -> None:
        with self._lock:
            self._room.free(group)

    # --- waiting ------------------------------------------------------------------

    def add(self, entry: Waiting, *, replacing: bool) -> list[Waiting]:
        """Queue `entry`; with `replacing`, it stands for the job's fire times waiting (they
        are taken out and returned: they will never run)."""
        with self._lock:
            replaced = [waiting for waiting in self._entries if waiting.name == entry.name
                        and waiting.request.trigger in FIRES] if (
                replacing and self._count[entry.name]) else []
            for waiting in replaced:
                self._remove(waiting)
            bisect.insort(self._entries, entry, key=lambda waiting: waiting.key)
            self._count[entry.name] += 1
        return replaced

    def take(self, name: str) -> list[Waiting]:
        """Take the job's waiting runs out of the queue."""
        with self._lock:
            taken = [entry for entry in self._entries if entry.name == name]
            for entry in taken:
                self._remove(entry)
        return taken

    def next_ready(
        self, why_waiting: Callable[[Waiting], str | None], now: datetime,
    ) -> tuple[Waiting | None, str | None, list[Waiting]]:
        """The first waiting run that may start now, out of the queue with its room taken
        (and the group it counts against); and the runs that will never start, out of the
        queue too: those past their deadline, and those of jobs that catch up `none` which
        would have to wait. Each entry's `why` is brought up to date; a missed one's says
        why it is missed."""
        missed = []
        with self._lock:
            for entry in list(self._entries):
                why = why_waiting(entry)
                if why is None:
                    why = self._room.full(entry.request.job)
                late = entry.deadline is not None and now > entry.deadline
                if why is None and not late:
                    self._remove(entry)
                    return entry, self._room.take(entry.request.job), missed
                gives_up = entry.request.trigger in FIRES and entry.request.job.catch_up == "none"
                entry.why = f"past its start_deadline ({why or entry.why or 'late'})" if late else why
                if not (late or gives_up):
                    continue
                self._remove(entry)
                missed.append(entry)
        return None, None, missed

    def _remove(self, entry: Waiting) -> None:
        self._entries.remove(entry)
        self._count[entry.name] -= 1

    # --- deadlines ----------------------------------------------------------------

    def arm(self, now: datetime) -> None:
        """Have `on_deadline` called when the earliest deadline passes."""
        with self._lock:
            deadlines = [entry.deadline for entry in self._entries if entry.deadline]
            deadline = min(deadlines, default=None)
            if deadline == self._armed or self._closed:
                return
            if self._timer is not None:
                self._timer.cancel()
            self._armed, self._timer = deadline, None
            if deadline is not None:
                delay = max(0.0, (deadline - now).total_seconds()) + _DEADLINE_MARGIN_S
                self._timer = threading.Timer(delay, self._deadline_passed)
                self._timer.daemon = True
                self._timer.start()

    def _deadline_passed(self) -> None:
        with self._lock:
            self._armed = None
        self._on_deadline()

    def close(self) -> None:
        """No more deadline timers."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()


class Room:
    """How many runs go now, in all and per group, against the config's limits."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.total = 0
        self._in_group: Counter[str] = Counter()

    def full(self, job: JobConfig) -> str | None:
        """Why another run of `job` may not start now; None if it may."""
        group = self.config.groups.get(job.group) if job.group else None
        if group is not None and self._in_group[group.name] >= group.max_running:
            return (f"group {group.name} full ({self._in_group[group.name]} of"
                    f" {group.max_running} running)")
        limit = self.config.scheduler.max_running
        if limit is not None and self.total >= limit:
            return f"max_running reached ({self.total} of {limit} running)"
        return None

    def take(self, job: JobConfig) -> str | None:
        """Count a run of `job` as going; the group it counts against (free it with that)."""
        self.total += 1
        if job.group:
            self._in_group[job.group] += 1
        return job.group

    def free(self, group: str | None) -> None:
        self.total -= 1
        if group:
            self._in_group[group] -= 1
