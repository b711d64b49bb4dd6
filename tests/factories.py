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


def config(tmp_path, jobs: dict, groups=None, **scheduler):
    """A Config with the given jobs (name -> JobConfig keyword dict), groups (name ->
    max_running) and scheduler settings; jobs take the scheduler's `catch_up`, as a file's do."""
    from synctui.config.model import (
        AutorefreshSettings, Config, ControlSettings, GroupConfig, SchedulerSettings,
    )

    groups = {name: GroupConfig(name, limit) for name, limit in (groups or {}).items()}

    scheduler.setdefault("timezone", "UTC")
    scheduler.setdefault("state_dir", tmp_path / "state")
    scheduler.setdefault("shutdown_grace_s", 0.5)
    settings = SchedulerSettings(**scheduler)
    return Config(
        settings, AutorefreshSettings(), ControlSettings(),
        {name: job(name, **{"catch_up": settings.catch_up, **job_settings})
         for name, job_settings in jobs.items()},
        groups=groups,
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
    """The record of the next run (of `job_name`) to finish, skipped and missed fire times
    excluded."""
    from synctui.scheduler.events import RunFinished
    from synctui.scheduler.records import NOT_RUN

    return next_event(
        subscription,
        lambda e: isinstance(e, RunFinished) and e.run.result not in NOT_RUN
        and (job_name is None or e.run.job == job_name),
        timeout,
    ).run
