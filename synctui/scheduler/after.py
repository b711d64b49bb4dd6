"""Jobs that run `after` others: what each waits on, read from the store.

A job with `after = ["orders"]` runs (trigger `after`) once every upstream's newest
ended run is a success that ended after the job's own last start. An upstream whose
newest ended run did not succeed (failed, timed out, cancelled, skipped...) holds the
job: its own fire times wait in the queue, with the reason, until that upstream succeeds
(a one-shot, which cannot wait, records them skipped).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from graphlib import TopologicalSorter
from typing import TYPE_CHECKING, Mapping

from synctui.config.model import JobConfig
from synctui.scheduler.records import Result

if TYPE_CHECKING:  # the seams name the status, which names what a job waits on
    from synctui.scheduler.seams import RunStore

_NEWEST = 5
"""Records read per upstream: consecutive skips are one record, so its newest ended run
is among them."""


@dataclass(frozen=True)
class Wait:
    """One upstream a job waits on, and why."""

    upstream: str
    why: str
    """`last run failure`, `running`, `no success since report started`..."""
    holds: bool
    """Whether it holds the job's own fire times too (its newest ended run did not succeed)."""

    def __str__(self) -> str:
        return f"{self.upstream} ({self.why})"


def waits(store: RunStore, job: JobConfig, since: datetime | None) -> tuple[Wait, ...]:
    """The upstreams `job` waits on, `since` being its own last start (None: never)."""
    found = []
    for upstream in job.after:
        records = store.runs(upstream, limit=_NEWEST)
        ended = next((run for run in records if run.result is not Result.RUNNING), None)
        running = bool(records) and records[0].result is Result.RUNNING
        if ended is None:
            found.append(Wait(upstream, "running" if running else "never ran", holds=False))
        elif ended.result is not Result.SUCCESS:
            found.append(Wait(upstream, f"last run {ended.result.value}", holds=True))
        elif since is not None and ended.finished_at <= since:
            found.append(Wait(upstream, "running" if running
                              else f"no success since {job.name} started", holds=False))
    return tuple(found)


def holds(store: RunStore, job: JobConfig) -> tuple[Wait, ...]:
    """The upstreams that hold the job's own fire times now."""
    return tuple(wait for wait in waits(store, job, None) if wait.holds)


def needed_by(jobs: Mapping[str, JobConfig]) -> dict[str, tuple[str, ...]]:
    """For each job that others run after, those others, in config order (one pass over
    the config, not one per job)."""
    found: dict[str, list[str]] = {}
    for job in jobs.values():
        for upstream in job.after:
            found.setdefault(upstream, []).append(job.name)
    return {name: tuple(names) for name, names in found.items()}


def in_order(jobs: Mapping[str, JobConfig], names: list[str]) -> list[list[str]]:
    """`names` in waves: each wave's jobs wait on none of the later waves' (within `names`)."""
    graph = {name: [up for up in jobs[name].after if up in names] for name in names}
    sorter = TopologicalSorter(graph)
    sorter.prepare()
    waves = []
    while sorter.is_active():
        ready = set(sorter.get_ready())
        wave = [name for name in names if name in ready]
        sorter.done(*wave)
        waves.append(wave)
    return waves
