"""Small builders and process checks shared by the tests."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from synctui.config.model import JobConfig
from synctui.scheduler.records import Trigger
from synctui.scheduler.runner import RunRequest


def job(name: str = "job", **settings) -> JobConfig:
    """A job with short, test-friendly defaults."""
    settings.setdefault("kill_grace_s", 0.3)
    return JobConfig(name=name, **settings)


def request(job_config: JobConfig, trigger: Trigger = Trigger.MANUAL) -> RunRequest:
    return RunRequest(job_config, trigger, datetime.now(timezone.utc))


def pid_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll `predicate` until true or `timeout`; for conditions no event announces."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
