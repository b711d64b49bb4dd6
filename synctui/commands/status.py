"""`synctui status`: every job's state, as a table, one line for a status bar, or JSON."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from zoneinfo import ZoneInfo

from synctui.commands import EXIT_FAILED, EXIT_OK, CommandError
from synctui.commands.reaching import known_job, load, open_store, reach_host
from synctui.config import Config
from synctui.scheduler.clock import ago, countdown, duration, running_for, timestamp, utc_now
from synctui.scheduler.records import Result
from synctui.scheduler.status import SchedulerStatus, stored_snapshot
from synctui.scheduler.words import RESULT_SYMBOLS, queued_words, result_words, state_words


def status_arguments(parser: argparse.ArgumentParser) -> None:
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="the full snapshot as JSON")
    shape.add_argument("--short", action="store_true", help="one line, for a status bar")
    parser.add_argument("--job", metavar="NAME", help="only this job")


def status(args: argparse.Namespace) -> int:
    """`synctui status [--json|--short] [--job NAME]`."""
    config = load(args)
    name = known_job(config, args.job)
    remote = reach_host(config)
    snapshot = (remote.status() if remote
                else stored_snapshot(open_store(config.scheduler.state_dir), config))
    if name is not None:
        job = snapshot.jobs.get(name)
        if job is None:  # the host runs another config (it said so)
            raise CommandError(f"the running scheduler has no job named {name!r}", EXIT_FAILED)
        # The seed's top-level keys then speak of that job, not of the newest run of any job.
        snapshot = replace(
            snapshot, jobs={name: job}, paused=job.paused, last_run=job.last_run,
            last_result=job.last_result, next_run=job.next_run if snapshot.running else None,
        )
    if args.json:
        print(json.dumps(snapshot.to_json(), indent=2))
    elif args.short:
        print(short(snapshot))
    else:
        print(table(snapshot, config))
    return EXIT_OK


def badge(snapshot: SchedulerStatus) -> str:
    """The scheduler's state, as the console's badge says it: `▶ running`."""
    if snapshot.host is None:
        return state_words("stopped")
    if not snapshot.running:
        return f"{state_words('stopped')} (host pid {snapshot.host.pid})"
    return state_words("paused" if snapshot.paused else "running")


def short(snapshot: SchedulerStatus) -> str:
    """`synctui ▶ running · 2 up 1 down · ⟳ orders`."""
    counts: dict[str, int] = {}
    for job in snapshot.jobs.values():
        counts[job.health] = counts.get(job.health, 0) + 1
    healths = " ".join(f"{n} {word}" for word, n in counts.items())
    running = [job.name for job in snapshot.jobs.values() if job.running]
    line = f"synctui {badge(snapshot)} · {healths}"
    return line + (f" · {RESULT_SYMBOLS[Result.RUNNING]} {', '.join(running)}" if running else "")


def table(snapshot: SchedulerStatus, config: Config) -> str:
    """A header line, then a row a job."""
    now = utc_now()
    zone = ZoneInfo(snapshot.timezone)
    host = snapshot.host
    lines = [
        f"synctui {badge(snapshot)} · config {config.path or 'demo'} · zone {snapshot.timezone}"
        + (f" · host pid {host.pid} ({host.mode})" if host else ""),
        "",
    ]
    rows = [("JOB", "HEALTH", "LAST RUN", "RESULT", "DURATION", "NEXT RUN", "SCHEDULE")]
    for job in snapshot.jobs.values():
        rows.append((
            job.name,
            job.health,
            # A printout is read once: it can say the seconds the console rounds to minutes.
            f"{timestamp(job.last_run, zone)} ({ago(job.last_run, now, seconds=True)})"
            if job.last_run else "-",
            result_words(job.last_result),
            running_for(job.last_run, now) if job.running and job.last_run
            else duration(job.last_duration_s),
            f"{timestamp(job.next_run, zone)} ({countdown(job.next_run, now)})"
            if job.next_run else "-",
            job.schedule,
        ))
    waiting = [f"{job.name} waits on {', '.join(job.waits_on)}"
               for job in snapshot.jobs.values() if job.waits_on]
    waiting += [f"{job.name} queued: {queued_words(job.queued, zone)}"
                for job in snapshot.jobs.values() if job.queued]
    return "\n".join(lines + columns(rows) + waiting)


def columns(rows: list[tuple[str, ...]]) -> list[str]:
    """`rows` as lines of left-aligned columns, each as wide as its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
