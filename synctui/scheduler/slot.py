"""`JobSlot`: one job's place in the run lifecycle (`lifecycle.py`): its run going, the run
waiting to replace it, its retry timer, and the lock that decides what may start."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from synctui.config.model import JobConfig
from synctui.scheduler.runner import RunHandle, RunRequest


@dataclass
class JobSlot:
    """One job's place in the lifecycle; its lock decides what may start."""

    job: JobConfig
    paused: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    handle: RunHandle | None = None
    pending: RunRequest | None = None
    """A run waiting for the one it replaces to end."""
    retry: threading.Timer | None = None
    last_start: datetime | None = None
    """When this process last started the job, for the manual cooldown (a cooldown guards
    against a double press here, not against other processes' runs)."""
    idle: threading.Condition = field(default_factory=threading.Condition)

    @property
    def busy(self) -> bool:
        return self.handle is not None and not self.handle.done

    @property
    def settled(self) -> bool:
        """Nothing going and nothing to come here: no run, no retry, no replacement waiting."""
        return not self.busy and self.retry is None and self.pending is None
