"""`synctui backfill JOB --from T1 --to T2 --step 1d`: one run per window, in order, resumable."""

from __future__ import annotations

import argparse
import signal
import sys
from contextlib import ExitStack
from zoneinfo import ZoneInfo

from synctui.commands import EXIT_FAILED, EXIT_OK, CommandError
from synctui.commands.reaching import known_job, load, open_store, reach_host, through
from synctui.commands.run import follow
from synctui.scheduler.backfill import STEP_UNITS, BadMoment, Step, parse_moment, windows
from synctui.scheduler.clock import duration
from synctui.scheduler.records import Result, Scope


def backfill_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", metavar="JOB")
    parser.add_argument("--from", dest="start", required=True, metavar="T1",
                        help="the first window's start (ISO-8601; no offset: the configured zone)")
    parser.add_argument("--to", dest="end", required=True, metavar="T2",
                        help="the last window's end")
    parser.add_argument("--step", default="1d", help="each window's length: a count and one of "
                        + ", ".join(STEP_UNITS) + " (default 1d)")


def backfill(args: argparse.Namespace) -> int:
    """Run the job once per window not yet backfilled; stop at the first that does not succeed."""
    config = load(args)
    name = known_job(config, args.job)
    zone = ZoneInfo(config.scheduler.timezone)
    try:
        cut = windows(parse_moment(args.start, zone), parse_moment(args.end, zone),
                      Step.parse(args.step), zone)
    except BadMoment as bad:
        raise CommandError(f"backfill: {bad}") from None
    store = open_store(config.scheduler.state_dir)
    done = store.backfilled(name)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler)
    with ExitStack() as stack:
        remote = reach_host(config)
        if remote is not None:
            control, events, stored = remote, remote.subscribe(), lambda run: None
            print(f"backfill of {name}: {len(cut)} windows {through(remote)}", file=sys.stderr)
        else:
            from synctui.scheduler.control import HostBusy
            from synctui.scheduler.hosting import OneShot

            control = OneShot(config, store=store)
            events = control.bus.subscribe()
            stored = lambda run: store.run(run.id)  # noqa: E731
            try:
                stack.enter_context(control)
            except HostBusy as busy:
                raise CommandError(f"{busy}: try again when it ends") from None
            print(f"backfill of {name}: {len(cut)} windows (no scheduler is running: they run"
                  " here)", file=sys.stderr)
        for number, window in enumerate(cut, start=1):
            scope = Scope(window=window, part=(number, len(cut)))
            words = scope.describe(zone)
            if window in done:
                print(f"{words}: succeeded before, skipped", file=sys.stderr)
                continue
            final = _run_window(control, remote, name, scope, events, stored, store)
            print(f"{words}: {final.result.value} in {duration(final.duration_s)}"
                  + (f": {final.error}" if final.error else ""), file=sys.stderr)
            if final.result is not Result.SUCCESS:
                print(f"backfill of {name} stopped at window {number}/{len(cut)}; run it again"
                      " to resume", file=sys.stderr)
                return EXIT_FAILED
    return EXIT_OK


def _run_window(control, remote, name, scope, events, stored, store):
    """The window's run, started and followed to its end (ended early by ctrl-c)."""
    from synctui.scheduler.control import Refused

    record = None
    try:
        record = control.run_now(name, scope)
        final = follow(events, record, lambda: stored(record))
    except Refused as refusal:
        raise CommandError(str(refusal), EXIT_FAILED) from None
    except KeyboardInterrupt:
        if record is None:
            raise CommandError(f"backfill of {name} stopped before the window's run began",
                               EXIT_FAILED) from None
        if remote is None:  # it runs here: ended now, recorded interrupted
            control.shutdown(grace=0)
            final = store.run(record.id)
        else:  # the scheduler runs it: end it there (recorded cancelled)
            control.cancel(name)
            final = follow(events, record, lambda: None)
        print(f"window's run {record.id}: {final.result.value if final else 'unknown'}",
              file=sys.stderr)
        raise CommandError(f"backfill of {name} stopped; run it again to resume",
                           EXIT_FAILED) from None
    if final is None:
        raise CommandError(f"the scheduler went away during run {record.id} of {name};"
                           " run the backfill again to resume", EXIT_FAILED)
    return final
