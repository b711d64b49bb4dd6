"""Which jobs are unhealthy and why, in one line each: the words of `synctui health` and `/healthz`."""

from __future__ import annotations

from typing import Mapping

from synctui.scheduler.records import FAILED_RESULTS
from synctui.scheduler.status import JobStatus

HEALTHY = frozenset({"new", "up", "late", "paused"})
"""The health states that pass a health check; `down` fails it."""


def unhealthy(jobs: Mapping[str, JobStatus]) -> dict[str, str]:
    """Each job that fails the check, with the reason: `last run failure: exit status 3`."""
    return {name: why_down(job) for name, job in jobs.items() if job.health not in HEALTHY}


def why_down(job: JobStatus) -> str:
    """Why a `down` (or `overdue`) job is unhealthy."""
    if job.health == "overdue":
        return f"run {job.running_run_id} is going past its warn_after"
    if job.last_result in FAILED_RESULTS:
        return f"last run {job.last_result.value}" + (f": {job.last_error}" if job.last_error else "")
    if job.running and job.last_error:
        return f"last finished run: {job.last_error} (run {job.running_run_id} is going)"
    since = ("never succeeded" if job.freshness_s is None
             else f"last success started {job.freshness_s:.0f}s ago")
    return f"no success since a fire time more than its grace ago ({since})"
