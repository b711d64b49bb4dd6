"""`synctui --headless`: the scheduler with no screen, for a service; with `--once`, every job (or one) once."""

from __future__ import annotations

import argparse
import sys

from synctui import signals
from synctui.commands import EXIT_FAILED, EXIT_OK, CommandError
from synctui.commands.reaching import host_words, known_job, load, open_store, reach_host, read_config
from synctui.config import Config
from synctui.scheduler.processes import become_subreaper, cap_malloc_arenas


def headless(args: argparse.Namespace) -> int:
    """`synctui --headless [--once [--job NAME]]`."""
    from synctui.log_format import setup_logging

    setup_logging(args.log_format)
    config = load(args, log_warnings=True)
    if args.once and (args.metrics_port is not None or args.metrics_host is not None):
        raise CommandError("--metrics-port and --metrics-host go with --headless, not --once")
    if args.once and (args.serve is not None or args.serve_host is not None):
        raise CommandError("--serve and --serve-host go with --headless, not --once")
    if args.once:
        return _once(args, config)
    if args.job:
        raise CommandError("--job goes with --once")
    return _host(args, config)


def _once(args: argparse.Namespace, config: Config) -> int:
    """`--once`: run here; or, with a scheduler running, have it run the one job asked for."""
    from synctui.commands.run import run_on_host
    from synctui.headless import left_out, run_once
    from synctui.scheduler.control import Refused

    name = known_job(config, args.job)
    remote = reach_host(config)
    if remote is not None:
        signals.release()  # the host runs it: Ctrl-C stops this wait, as in `synctui run`
        if name is None:
            raise CommandError(
                f"a scheduler already runs these jobs ({host_words(remote)});"
                " --once would run them alongside it: give --job NAME to have it run one")
        try:
            job = remote.status().jobs.get(name)
        except Refused as refusal:
            raise CommandError(str(refusal), EXIT_FAILED) from None
        if job is not None and job.paused:  # as `run_once` leaves it out
            left_out(name)
            return EXIT_OK
        if job is not None and job.blackout:  # as `run_once` skips it
            print(f"{name}: not run: {job.blackout}", file=sys.stderr)
            return EXIT_OK
        return run_on_host(remote, name, wait=True)
    return run_once(config, name, passthrough=not args.no_passthrough,
                    log_format=args.log_format)


def _host(args: argparse.Namespace, config: Config) -> int:
    from synctui.headless import run_headless

    open_store(config.scheduler.state_dir).close()  # a clean error before anything starts
    become_subreaper()
    cap_malloc_arenas()
    return run_headless(config, lambda: read_config(args), passthrough=not args.no_passthrough,
                        log_format=args.log_format, metrics=_metrics_server(args),
                        web=_console_server(args, config))


def _metrics_server(args: argparse.Namespace):
    """The `--metrics-port` server, bound now so that a taken port stops synctui at once."""
    if args.metrics_port is None:
        if args.metrics_host is not None:
            raise CommandError("--metrics-host goes with --metrics-port")
        return None
    from synctui.scheduler.metrics import MetricsError, MetricsServer

    try:
        return MetricsServer(args.metrics_host or "127.0.0.1", args.metrics_port)
    except MetricsError as error:
        raise CommandError(str(error)) from None


def _console_server(args: argparse.Namespace, config: Config):
    """The `--serve` server, bound now so that a taken port stops synctui at once."""
    if args.serve is None:
        if args.serve_host is not None:
            raise CommandError("--serve-host goes with --serve")
        return None
    from synctui.commands.serve import console_server

    return console_server(args, config, args.serve_host or "127.0.0.1", args.serve)
