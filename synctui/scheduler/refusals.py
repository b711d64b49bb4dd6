"""Why a manual run may not start, in the operator's words (the run lifecycle raises each as
`Refused`): the job runs already, it started a moment ago, or it is outside its run window."""

from __future__ import annotations

from datetime import datetime, tzinfo

from synctui.config.model import JobConfig
from synctui.scheduler.blackout import blocked, next_allowed
from synctui.scheduler.clock import seconds_text, timestamp
from synctui.scheduler.records import RunRecord


def already_running(
    job: JobConfig, running: RunRecord | None, elsewhere: str | None, now: datetime,
) -> str | None:
    """`running`: its run going here; `elsewhere`: where another process runs it."""
    if elsewhere:
        return f"{job.name} is already running ({elsewhere})"
    if running is not None:
        started = (now - running.started_at).total_seconds()
        return f"{job.name} is already running (run {running.id}, started {started:.0f}s ago)"
    return None


def in_cooldown(job: JobConfig, last_start: datetime | None, now: datetime) -> str | None:
    """`last_start`: when this process last started the job (a cooldown guards against a
    double press here, not against other processes' runs)."""
    if last_start is None:
        return None
    since = (now - last_start).total_seconds()
    if since >= job.manual_cooldown_s:
        return None
    return (f"{job.name} started {since:.1f}s ago; manual runs wait"
            f" {seconds_text(job.manual_cooldown_s)} after a start (try again in"
            f" {job.manual_cooldown_s - since:.1f}s)")


def outside_window(job: JobConfig, now: datetime, zone: tzinfo) -> str | None:
    reason = blocked(job.window, now, zone)
    if reason is None:
        return None
    until = next_allowed(job.window, now, zone)
    return (f"{job.name} may not start now: {reason}"
            + (f" (until {timestamp(until, zone)})" if until else "")
            + f"; a forced run starts anyway (synctui run {job.name} --force)")
