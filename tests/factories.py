"""Small builders and process checks shared by the tests."""

from __future__ import annotations

import time
from collections import deque
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


def config(tmp_path, jobs: dict, **scheduler):
    """A Config with the given jobs (name -> JobConfig keyword dict) and scheduler settings."""
    from synctui.config.model import (
        AutorefreshSettings, Config, ControlSettings, SchedulerSettings,
    )

    scheduler.setdefault("timezone", "UTC")
    scheduler.setdefault("state_dir", tmp_path / "state")
    scheduler.setdefault("shutdown_grace_s", 0.5)
    return Config(
        SchedulerSettings(**scheduler), AutorefreshSettings(), ControlSettings(),
        {name: job(name, **settings) for name, settings in jobs.items()},
    )


def next_event(subscription, predicate, timeout: float = 10.0):
    """The first event matching `predicate`, waiting up to `timeout` seconds.

    Events read past the match stay queued (on the subscription) for the next call.
    """
    backlog = subscription.__dict__.setdefault("test_backlog", deque())
    deadline = time.monotonic() + timeout
    while True:
        while backlog:
            event = backlog.popleft()
            if predicate(event):
                return event
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no matching event in time")
        backlog.extend(subscription.get(timeout=remaining))


def discard(subscription) -> None:
    """Forget every event received so far, read or not."""
    subscription.__dict__.setdefault("test_backlog", deque()).clear()
    subscription.drain()


def finished(subscription, job_name: str | None = None, timeout: float = 10.0):
    """The record of the next run (of `job_name`) to finish, skips excluded."""
    from synctui.scheduler.events import RunFinished
    from synctui.scheduler.records import Result

    return next_event(
        subscription,
        lambda e: isinstance(e, RunFinished) and e.run.result is not Result.SKIPPED
        and (job_name is None or e.run.job == job_name),
        timeout,
    ).run
