"""The status snapshot: what each job last did, when it runs next, and its health.

Built from the store plus the fire times of a live scheduler (or, from another
process, the fire times the host last wrote down), so `synctui status` answers
without importing APScheduler.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from typing import Mapping

from synctui.config.model import Config, JobConfig
from synctui.scheduler import after
from synctui.scheduler.blackout import blocked
from synctui.scheduler.processes import is_alive
from synctui.scheduler.records import (
    FAILED_RESULTS, NOT_RUN, Fires, HostRecord, QueuedRun, Result, RunRecord,
)
from synctui.scheduler.store import Store

WINDOW = 100
"""Success rate and duration percentiles look at this many recent runs."""
HEARTBEAT_STALE_S = 30.0
"""A host whose heartbeat is older than this is not counted as live."""

# Results that say something about the job's health; skips, replacements and
# cancels are the operator's or the schedule's doing, not the job's.
_JUDGED = FAILED_RESULTS | {Result.SUCCESS}


@dataclass(frozen=True)
class JobStatus:
    """One job's line in the status snapshot."""

    name: str
    schedule: str
    """`every 15m` or `cron */15 * * * *`."""
    paused: bool
    running: bool
    running_run_id: int | None
    last_run: datetime | None
    last_result: Result | None
    last_run_id: int | None
    last_trigger: str | None
    last_error: str | None
    last_duration_s: float | None
    next_run: datetime | None
    success_rate: float | None
    p50_duration_s: float | None
    p95_duration_s: float | None
    freshness_s: float | None
    health: str
    recent_durations: tuple[tuple[float, bool], ...] = ()
    """(duration, succeeded) of the recent judged runs, oldest first: the sparkline's data."""
    after: tuple[str, ...] = ()
    """The jobs it runs after."""
    waits_on: tuple[str, ...] = ()
    """The upstreams it waits on, with why: `orders (last run failure)`."""
    needed_by: tuple[str, ...] = ()
    """The jobs that run after it."""
    blackout: str | None = None
    """Why the job may not start on its own now (`outside active_hours 06:00-22:00`, `blackout
    2026-12-24`): a manual run then needs forcing; None when it may. `next_run` is then the
    first fire time at which it may."""
    queued: tuple[QueuedRun, ...] = ()
    """Its runs waiting in the host's queue, in start order."""


@dataclass(frozen=True)
class HostInfo:
    """Who hosts the scheduler."""

    pid: int
    mode: str
    config: str | None
    socket: str | None = None

    @classmethod
    def of(cls, record: HostRecord) -> HostInfo:
        """What a status says of the host, from its record in the store."""
        return cls(record.pid, record.mode, record.config, record.socket)


@dataclass(frozen=True)
class SchedulerStatus:
    """The whole snapshot: the seed's keys, plus every job's status."""

    running: bool
    paused: bool
    """Every job is paused."""
    timezone: str
    interval_minutes: float
    last_run: datetime | None
    last_result: Result | None
    next_run: datetime | None
    host: HostInfo | None
    jobs: Mapping[str, JobStatus] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The JSON shape of `synctui status --json` and `get_scheduler_status()`."""
        zone = _zone(self.timezone)
        return {
            "running": self.running,
            "paused": self.paused,
            "timezone": self.timezone,
            "interval_minutes": self.interval_minutes,
            "last_run": _iso(self.last_run, zone),
            "last_result": self.last_result.value if self.last_result else None,
            "next_run": _iso(self.next_run, zone),
            "host": None if self.host is None else {
                "pid": self.host.pid, "mode": self.host.mode,
                "socket": self.host.socket, "config": self.host.config,
            },
            "jobs": {name: _job_json(job, zone) for name, job in self.jobs.items()},
        }


def _zone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _iso(moment: datetime | None, zone: tzinfo) -> str | None:
    return None if moment is None else moment.astimezone(zone).isoformat()


def _job_json(job: JobStatus, zone: tzinfo) -> dict:
    return {
        "schedule": job.schedule,
        "paused": job.paused,
        "running": job.running,
        "running_run_id": job.running_run_id,
        "last_run": _iso(job.last_run, zone),
        "last_result": job.last_result.value if job.last_result else None,
        "last_run_id": job.last_run_id,
        "last_trigger": job.last_trigger,
        "last_error": job.last_error,
        "last_duration_s": job.last_duration_s,
        "next_run": _iso(job.next_run, zone),
        "success_rate": job.success_rate,
        "p50_duration_s": job.p50_duration_s,
        "p95_duration_s": job.p95_duration_s,
        "freshness_s": job.freshness_s,
        "health": job.health,
        "after": list(job.after),
        "waits_on": list(job.waits_on),
        "needed_by": list(job.needed_by),
        "blackout": job.blackout,
        "queued": [{"scheduled_at": _iso(run.scheduled_at, zone), "trigger": run.trigger.value,
                    "why": run.why} for run in job.queued],
    }


def describe_schedule(job: JobConfig) -> str:
    """How an operator reads the job's triggers: `every 15m`, `cron 0 2 * * *`, `after
    orders`, `every 1h, after orders`."""
    after = f"after {', '.join(job.after)}" if job.after else ""
    if job.cron is not None:
        own = f"cron {job.cron.expression}"
    elif job.interval_s is not None:
        own = f"every {every(job.interval_s)}"
    else:
        return after
    return f"{own}, {after}" if after else own


def every(seconds: float) -> str:
    """`15m`, `1h`, `90s`, `200ms`: a span in its largest whole unit."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds * 1000:g}ms"


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def warn_limit_s(store: Store, job: JobConfig) -> float | None:
    """How long a run of `job` may go before it is overdue, from its `warn_after` and
    its recent runs; None when it has no limit (yet)."""
    if job.warn_after is None:
        return None
    durations = [duration for _, duration in store.outcomes(job.name, _JUDGED, WINDOW)
                 if duration is not None]
    return job.warn_after.limit_s(percentile(durations, 0.95))


def health(
    *, paused: bool, fires: Fires, grace_s: float, last_judged: Result | None,
    last_success: datetime | None, now: datetime, overdue: bool = False,
) -> str:
    """The job's health word (`last_judged`: the newest result that says something about
    the job): `paused`; `down` after a failed run or once its last fire time is more than
    `grace_s` past with no success since; `up` when it succeeded since its last (or the
    one before the last) fire time; `new` before any judged run; else `late`. A run going
    past its `warn_after` makes it `overdue` (unless paused)."""
    if paused:
        return "paused"
    if overdue:
        return "overdue"
    if last_judged in FAILED_RESULTS:
        return "down"
    fire = fires.last
    if fire is None or (last_success is not None and last_success >= fire):
        return "up" if last_success is not None else "new"
    if (now - fire).total_seconds() > grace_s:
        return "down"
    if last_success is not None and fires.before_last is not None and last_success >= fires.before_last:
        return "up"
    return "new" if last_judged is None else "late"


def job_status(
    store: Store, job: JobConfig, *, fires: Fires, paused: bool, now: datetime, zone: tzinfo,
    running: RunRecord | None = None, needed_by: tuple[str, ...] = (),
    queued: tuple[QueuedRun, ...] = (),
) -> JobStatus:
    """One job's status from its recent runs (`zone`: the one its run window is read in)."""
    # Consecutive skips are one record, so the newest run and the newest finished
    # run are among the five newest records.
    recent = [r for r in store.runs(job.name, limit=5) if r.result not in NOT_RUN]
    shown = recent[0] if recent else None
    finished = [r for r in recent if r.finished]
    judged = store.outcomes(job.name, _JUDGED, WINDOW)
    durations = [duration for _, duration in judged if duration is not None]
    last_success = store.job_state(job.name).last_success_started_at
    if running is None and shown is not None and shown.result is Result.RUNNING:
        running = shown
    last = finished[0] if finished else None
    p95 = percentile(durations, 0.95)
    limit = job.warn_after.limit_s(p95) if job.warn_after else None
    overdue = (running is not None and limit is not None
               and (now - running.started_at).total_seconds() > limit)
    return JobStatus(
        name=job.name,
        schedule=describe_schedule(job),
        paused=paused,
        running=running is not None,
        running_run_id=running.id if running else None,
        last_run=shown.started_at if shown else None,
        last_result=shown.result if shown else None,
        last_run_id=shown.id if shown else None,
        last_trigger=shown.trigger.value if shown else None,
        last_error=last.error if last else None,
        last_duration_s=last.duration_s if last else None,
        next_run=fires.next,
        success_rate=(
            sum(result is Result.SUCCESS for result, _ in judged) / len(judged) if judged else None
        ),
        p50_duration_s=percentile(durations, 0.50),
        p95_duration_s=p95,
        freshness_s=(now - last_success).total_seconds() if last_success else None,
        health=health(
            paused=paused, fires=fires, grace_s=job.grace_s,
            last_judged=judged[0][0] if judged else None, last_success=last_success, now=now,
            overdue=overdue,
        ),
        recent_durations=tuple(
            (duration, result is Result.SUCCESS)
            for result, duration in reversed(judged[:30]) if duration is not None
        ),
        after=job.after,
        waits_on=tuple(map(str, after.waits(store, job, shown.started_at if shown else None))),
        needed_by=needed_by,
        blackout=blocked(job.window, now, zone),
        queued=queued,
    )


def snapshot(
    store: Store, config: Config, *, running: bool, host: HostInfo | None,
    fires: Mapping[str, Fires], paused: Mapping[str, bool], now: datetime,
    running_runs: Mapping[str, RunRecord] | None = None,
    queued: Mapping[str, tuple[QueuedRun, ...]] | None = None,
) -> SchedulerStatus:
    """The whole status snapshot (`queued`: the host's queue, by job)."""
    zone = _zone(config.scheduler.timezone)
    needs = after.needed_by(config.jobs)
    jobs = {
        name: job_status(
            store, job, fires=fires.get(name, Fires()), paused=paused.get(name, False),
            now=now, zone=zone, running=(running_runs or {}).get(name),
            needed_by=needs.get(name, ()), queued=(queued or {}).get(name, ()),
        )
        for name, job in config.jobs.items()
    }
    ran = [j for j in jobs.values() if j.last_run is not None]
    latest = max(ran, key=lambda j: j.last_run, default=None)
    upcoming = [j.next_run for j in jobs.values() if j.next_run is not None]
    return SchedulerStatus(
        running=running,
        paused=bool(jobs) and all(j.paused for j in jobs.values()),
        timezone=config.scheduler.timezone,
        interval_minutes=config.scheduler.interval_s / 60,
        last_run=latest.last_run if latest else None,
        last_result=latest.last_result if latest else None,
        next_run=min(upcoming) if running and upcoming else None,
        host=host,
        jobs=jobs,
    )


def live_host(store: Store, now: datetime) -> HostRecord | None:
    """The host recorded in the store if it is alive and its heartbeat is recent."""
    host = store.host()
    if host is None or not is_alive(host.pid, host.start_ticks):
        return None
    if (now - host.heartbeat_at).total_seconds() > HEARTBEAT_STALE_S:
        return None
    return host


def stored_snapshot(store: Store, config: Config, now: datetime | None = None) -> SchedulerStatus:
    """The snapshot as seen from outside the host: the store, and the host's last heartbeat."""
    now = now or datetime.now(timezone.utc)
    host = live_host(store, now)
    fires = store.fires()
    if host is None:
        # Nothing schedules: a fire time the last host expected that has passed is F.
        fires = {
            job: Fires(last=f.next, before_last=f.last) if f.next and f.next <= now
            else Fires(last=f.last, before_last=f.before_last)
            for job, f in fires.items()
        }
    elif not host.scheduling:
        fires = {job: Fires(last=f.last, before_last=f.before_last) for job, f in fires.items()}
    paused = {name: store.job_state(name).paused for name in config.jobs}
    return snapshot(
        store, config, running=host is not None and host.scheduling,
        host=HostInfo.of(host) if host else None,
        fires=fires, paused=paused, now=now,
    )
