"""`synctui history`: recorded runs, newest first, as a table or JSON."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from synctui.commands import EXIT_OK, CommandError, positive
from synctui.commands.reaching import known_job, load, open_store, reach_host
from synctui.commands.status import columns
from synctui.scheduler.clock import duration, timestamp
from synctui.scheduler.records import NOT_RUN, RunRecord
from synctui.scheduler.words import not_run_words, result_words


def history_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--job", metavar="NAME")
    parser.add_argument("--limit", type=positive, default=20, metavar="N")
    parser.add_argument("--json", action="store_true")


def history(args: argparse.Namespace) -> int:
    """`synctui history [--job NAME] [--limit N] [--json]`."""
    config = load(args)
    name = known_job(config, args.job)
    try:
        runs = open_store(config.scheduler.state_dir).runs(name, limit=args.limit)
    except CommandError:
        # A `[control] group` member may not read the store, but may ask the host.
        remote = reach_host(config)
        if remote is None:
            raise
        from synctui.scheduler.protocol import MAX_HISTORY

        runs = remote.history(name, min(args.limit, MAX_HISTORY))
    if args.json:
        print(json.dumps([run_json(run) for run in runs], indent=2))
        return EXIT_OK
    zone = ZoneInfo(config.scheduler.timezone)
    rows = [("ID", "JOB", "TRIGGER", "STARTED", "DURATION", "RESULT", "DETAIL")]
    for run in runs:
        detail = run.error or ""
        if run.result in NOT_RUN:
            detail = not_run_words(run)
        rows.append((str(run.id), run.job, run.trigger.value, timestamp(run.started_at, zone),
                     duration(run.duration_s), result_words(run.result), detail))
    for line in columns(rows):
        print(line)
    return EXIT_OK


def run_json(run: RunRecord) -> dict:
    """What `history --json` says of a run."""
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": run.id, "job": run.job, "trigger": run.trigger.value, "result": run.result.value,
        "attempt": run.attempt, "scheduled_at": iso(run.scheduled_at),
        "started_at": iso(run.started_at), "finished_at": iso(run.finished_at),
        "duration_s": run.duration_s, "exit_code": run.exit_code, "signal": run.signal,
        "error": run.error, "skip_count": run.skip_count, "reason": run.reason,
        "last_scheduled_at": iso(run.last_scheduled_at),
        "log_path": str(run.log_path) if run.log_path else None,
    }
