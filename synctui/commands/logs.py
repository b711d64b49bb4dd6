"""`synctui logs JOB`: a run's output, and with `-f` the rest of it while it runs."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from functools import partial

from synctui.commands import EXIT_FAILED, EXIT_OK, CommandError, positive
from synctui.commands.reaching import known_job, load, open_store, reach_host
from synctui.scheduler.records import Result, RunRecord
from synctui.scheduler.store import Store

FOLLOW_POLL_S = 0.2


def logs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", metavar="JOB")
    parser.add_argument("--run", type=positive, metavar="ID", help="this run (default: the latest)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing while it runs")


def logs(args: argparse.Namespace) -> int:
    """`synctui logs JOB [--run ID] [-f]`."""
    from synctui.scheduler.control import Refused

    config = load(args)
    name = known_job(config, args.job)
    try:
        store = open_store(config.scheduler.state_dir)
    except CommandError:
        # A `[control] group` member may not read the store, but may ask the host, whose
        # run logs are readable by the group.
        remote = reach_host(config)
        if remote is None:
            raise
        record = partial(_hosted_run, remote, name)
        recent = partial(remote.history, name, 50)
        held = None  # a host that went away makes `record` fail
    else:
        record, recent, held = store.run, partial(store.runs, name, limit=50), partial(_held, store)
    if args.run is not None:
        run = record(args.run)
        if run is None or run.job != name:
            raise CommandError(f"{name} has no run {args.run}")
    else:
        run = next((r for r in recent() if r.log_path is not None), None)
        if run is None:
            raise CommandError(f"{name} has no run with a log yet", EXIT_FAILED)
    if run.log_path is None or not run.log_path.exists():
        raise CommandError(f"the log of run {run.id} is gone (retention removed it)", EXIT_FAILED)
    try:
        log = run.log_path.open("rb")
    except OSError as error:  # a log written before `[control] group` was set, say
        raise CommandError(f"{run.log_path}: cannot read the log of run {run.id}:"
                           f" {error.strerror}", EXIT_FAILED) from None
    out = sys.stdout.buffer
    with log:
        shutil.copyfileobj(log, out)
        out.flush()
        while args.follow and run.result is Result.RUNNING:
            chunk = log.read()
            if chunk:
                out.write(chunk)
                out.flush()
                continue
            if held is not None and not held(run.id):
                break  # its process died; the next start records it interrupted
            time.sleep(FOLLOW_POLL_S)
            try:
                run = record(run.id) or run
            except Refused:
                break  # the host went away meanwhile
        out.write(log.read())
    return EXIT_OK


def _hosted_run(remote, name: str, run_id: int) -> RunRecord | None:
    """Run `run_id` of job `name`, as the live host tells it."""
    found = remote.history(name, 1, before_id=run_id + 1)
    return found[0] if found and found[0].id == run_id else None


def _held(store: Store, run_id: int) -> bool:
    """Whether the process that started a `running` run is still alive."""
    from synctui.scheduler.processes import is_alive

    return any(
        orphan.run.id == run_id and is_alive(orphan.host_pid, orphan.host_start)
        for orphan in store.orphans()
    )
