"""`synctui run JOB`: the running scheduler runs the job now; with none running, it runs here."""

from __future__ import annotations

import argparse
import signal
import sys

from synctui.commands import EXIT_FAILED, EXIT_OK, CommandError
from synctui.commands.reaching import known_job, load, open_store, reach_host, through
from synctui.scheduler.clock import duration
from synctui.scheduler.records import Result, RunRecord, Scope


def run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", metavar="JOB")
    parser.add_argument("--wait", action="store_true",
                        help="wait for the result; exit 1 if it failed")
    parser.add_argument("--force", action="store_true",
                        help="run it even outside its active hours and days, or in a blackout")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--full", action="store_true",
                       help="sync everything: SYNCTUI_LAST_SUCCESS_AT empty, SYNCTUI_FULL=1")
    scope.add_argument("--since", metavar="TIME",
                       help="sync what changed since TIME (ISO-8601; no offset: the configured"
                       " zone) instead of since the watermark")


def _scope(args: argparse.Namespace, config) -> Scope:
    from zoneinfo import ZoneInfo

    from synctui.scheduler.backfill import BadMoment, parse_moment

    if args.since is None:
        return Scope(full=args.full)
    try:
        return Scope(since=parse_moment(args.since, ZoneInfo(config.scheduler.timezone)))
    except BadMoment as bad:
        raise CommandError(f"run --since: {bad}") from None


def run(args: argparse.Namespace) -> int:
    """`synctui run JOB [--wait] [--force] [--full | --since TIME]`: the running scheduler
    runs it; with none, it runs here."""
    config = load(args)
    name = known_job(config, args.job)
    scope = _scope(args, config)
    remote = reach_host(config)
    if remote is not None:
        return run_on_host(remote, name, wait=args.wait, scope=scope, force=args.force)
    store = open_store(config.scheduler.state_dir)
    from synctui.scheduler.control import HostBusy, Refused
    from synctui.scheduler.hosting import OneShot

    # The seat is held while the job runs here, as `--once` holds it: no other one-shot
    # runs the same jobs alongside, and a scheduler that starts meanwhile waits as a standby.
    shot = OneShot(config, store=store)
    events = shot.bus.subscribe()
    # Stopped by the operator (ctrl-c), a supervisor (SIGTERM) or a dropped SSH link
    # (SIGHUP), the run here ends too, and is recorded so.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler)
    record = None
    try:
        with shot:
            record = shot.run_now(name, scope, force=args.force)
            print(f"run {record.id} of {name} started (no scheduler is running: it runs here)",
                  file=sys.stderr)
            final = follow(events, record, lambda: store.run(record.id))
    except KeyboardInterrupt:  # the one-shot has ended the run and recorded it
        if record is None:
            raise CommandError(f"stopped before the run of {name} began", EXIT_FAILED) from None
        final = store.run(record.id)
    except HostBusy:
        other = store.host()
        raise CommandError(
            f"another synctui{f' (pid {other.pid}, {other.mode})' if other else ''} runs jobs of"
            f" {config.scheduler.state_dir} without a control socket (a `run` or `--once`):"
            " try again when it ends"
        ) from None
    except Refused as refusal:
        raise CommandError(str(refusal), EXIT_FAILED) from None
    return _ran(final, args.wait)


def run_on_host(
    remote, name: str, *, wait: bool, scope: Scope = Scope(), force: bool = False,
) -> int:
    """Have the live host run job `name` now (`force`: outside its run window too); with
    `wait`, print its output and its result."""
    from synctui.scheduler.control import Refused

    events = remote.subscribe() if wait else None
    try:
        record = remote.run_now(name, scope, force=force)
    except Refused as refusal:
        raise CommandError(str(refusal), EXIT_FAILED) from None
    print(f"run {record.id} of {name} started {through(remote)}", file=sys.stderr)
    if events is None:
        return EXIT_OK
    final = follow(events, record, lambda: None)
    if final is None:
        raise CommandError(f"the scheduler went away during run {record.id} of {name};"
                           f" `synctui history --job {name}` shows how it ended", EXIT_FAILED)
    return _ran(final, wait)


def follow(events, record: RunRecord, stored) -> RunRecord | None:
    """Print the run's output until it ends; its final record (None if the host went away).

    `stored` reads the record from the store, for a run hosted here: a run's output is
    published before it is recorded finished, so once it is, one more look at the
    queue, without waiting, holds the rest of it.
    """
    from synctui.scheduler.events import Change, OutputLines, RunFinished, StateChanged

    while True:
        final = stored()
        done = final is not None and final.finished
        for event in events.get(timeout=0 if done else 1.0):
            if isinstance(event, OutputLines) and event.run_id == record.id:
                sys.stdout.write("".join(f"{line}\n" for line in event.lines))
            elif isinstance(event, RunFinished) and event.run.id == record.id:
                final, done = event.run, True
            elif event == StateChanged(None, Change.HOST_LOST):
                return None
        sys.stdout.flush()
        if done:
            return final


def _ran(final: RunRecord, wait: bool) -> int:
    print(f"run {final.id}: {final.result.value} in {duration(final.duration_s)}"
          + (f": {final.error}" if final.error else ""), file=sys.stderr)
    return EXIT_FAILED if wait and final.result is not Result.SUCCESS else EXIT_OK
