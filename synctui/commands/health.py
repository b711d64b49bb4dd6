"""`synctui health`: exit 0 when every job is healthy; with `--liveness`, while a scheduler ticks."""

from __future__ import annotations

import argparse
import json
import sys

from synctui.commands import EXIT_FAILED, EXIT_OK, CommandError
from synctui.commands.reaching import known_job, load, open_store, read_config
from synctui.config import ConfigError
from synctui.scheduler.clock import utc_now
from synctui.scheduler.health import report, unhealthy
from synctui.scheduler.status import live_host, stored_snapshot


def health_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--job", metavar="NAME")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--liveness", action="store_true",
                        help="exit 0 while a scheduler runs and ticks, whatever the jobs do")


def health(args: argparse.Namespace) -> int:
    """`synctui health [--job NAME] [--json] [--liveness]`."""
    if args.liveness:
        return _liveness(args)
    config = load(args)
    name = known_job(config, args.job)
    store = open_store(config.scheduler.state_dir)
    snapshot = stored_snapshot(store, config, utc_now())
    jobs = {n: j for n, j in snapshot.jobs.items() if name is None or n == name}
    reasons = unhealthy(jobs)
    if args.json:
        print(json.dumps({
            "healthy": not reasons,
            "jobs": {n: {"health": j.health, "reason": reasons.get(n),
                         "last_success_age_s": j.freshness_s} for n, j in jobs.items()},
        }))
    else:
        print("\n".join(report(jobs)[1]))
    return EXIT_FAILED if reasons else EXIT_OK


def _liveness(args: argparse.Namespace) -> int:
    """`health --liveness`: whether a scheduler runs and ticks, whatever its jobs do.

    Whatever the config file says now, too: one edited wrong under a running scheduler
    (which refused to reload it and runs on) must not get that scheduler restarted.
    """
    try:
        config = read_config(args)
    except ConfigError as error:
        if error.state_dir is None:
            raise CommandError("\n".join(error.problems)) from None
        print(f"synctui: warning: {error.problems[0]} (a running scheduler goes on with the"
              " config it read before)", file=sys.stderr)
        state_dir = error.state_dir
    else:
        known_job(config, args.job)
        state_dir = config.scheduler.state_dir
    now = utc_now()
    host = live_host(open_store(state_dir), now)
    alive = host is not None and not host.wedged
    if host is None:
        reason = "no scheduler is running for this state directory"
    elif host.wedged:
        reason = (f"scheduler pid {host.pid} ticks but is wedged:"
                  f" {'; '.join(host.wedged.splitlines())}")
    else:
        reason = (f"scheduler pid {host.pid} ticked"
                  f" {(now - host.heartbeat_at).total_seconds():.0f}s ago ({host.mode})"
                  + ("" if host.scheduling else "; scheduling is stopped by the operator"))
    if args.json:
        print(json.dumps({"live": alive, "reason": reason}))
    else:
        print(("live: " if alive else "not live: ") + reason)
    return EXIT_OK if alive else EXIT_FAILED
