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


def report(jobs: Mapping[str, JobStatus]) -> tuple[bool, list[str]]:
    """Whether every job passes, and the lines that say so: one per unhealthy job
    (`orders: down: last run failure: exit 3; last success 2h ago`), else one
    `healthy: orders up, nightly new (never succeeded)`. Every job that is not `up` is
    named with the age of its last success."""
    failing = unhealthy(jobs)
    if failing:
        return False, [f"{name}: {jobs[name].health}: {why}; {success_age(jobs[name])}"
                       for name, why in failing.items()]
    return True, ["healthy: " + ", ".join(
        f"{name} {job.health}" + ("" if job.health == "up" else f" ({success_age(job)})")
        for name, job in jobs.items())]


def success_age(job: JobStatus) -> str:
    """`last success 2h ago`, or `never succeeded`."""
    if job.freshness_s is None:
        return "never succeeded"
    seconds = job.freshness_s
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= 2 * size:
            return f"last success {seconds / size:.0f}{unit} ago"
    return f"last success {seconds:.0f}s ago"


def why_down(job: JobStatus) -> str:
    """Why a `down` (or `overdue`) job is unhealthy."""
    if job.health == "overdue":
        return f"run {job.running_run_id} is going past its warn_after"
    if job.last_result in FAILED_RESULTS:
        return f"last run {job.last_result.value}" + (f": {job.last_error}" if job.last_error else "")
    if job.running and job.last_error:
        return f"last finished run: {job.last_error} (run {job.running_run_id} is going)"
    return "no success since a fire time more than its grace ago"
