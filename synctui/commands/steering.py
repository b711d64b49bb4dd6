"""The subcommands that steer the running scheduler: cancel, skip, stop, start, restart, pause, resume."""

from __future__ import annotations

import argparse
import sys

from synctui.commands import EXIT_FAILED, EXIT_OK, CommandError
from synctui.commands.reaching import known_job, load, open_store, reach_host, through


def _a_job(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", metavar="JOB")


def _a_job_or_all(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", metavar="JOB", nargs="?")


cancel_arguments = skip_arguments = _a_job
pause_arguments = resume_arguments = _a_job_or_all


def cancel(args: argparse.Namespace) -> int:
    """`synctui cancel JOB`."""
    return _steer(args, lambda remote: remote.cancel(args.job),
                  lambda _: f"{args.job}: asked its run to end",
                  "no scheduler is running: nothing to cancel", EXIT_FAILED, gone_jobs=True)


def skip(args: argparse.Namespace) -> int:
    """`synctui skip JOB`."""
    return _steer(args, lambda remote: remote.skip_next(args.job),
                  lambda when: f"{args.job}: the run due {when.isoformat()} will be skipped",
                  "no scheduler is running: there is no next run to skip", EXIT_FAILED)


def stop(args: argparse.Namespace) -> int:
    """`synctui stop`: the running scheduler stops scheduling (runs in progress finish)."""
    return _steer(args, lambda remote: remote.stop(), lambda _: "scheduler stopped",
                  "no scheduler is running: already stopped", EXIT_OK)


def start(args: argparse.Namespace) -> int:
    """`synctui start`: a stopped scheduler schedules again."""
    return _steer(args, lambda remote: remote.start(), lambda _: "scheduler started",
                  "no scheduler is running; start one with `synctui --headless` or `synctui`",
                  EXIT_FAILED)


def restart(args: argparse.Namespace) -> int:
    """`synctui restart`."""
    return _steer(args, lambda remote: remote.restart(), lambda _: "scheduler restarted",
                  "no scheduler is running; start one with `synctui --headless` or `synctui`",
                  EXIT_FAILED)


def pause(args: argparse.Namespace) -> int:
    """`synctui pause [JOB]`: through the running scheduler, or remembered in the store."""
    return _set_paused(args, True)


def resume(args: argparse.Namespace) -> int:
    """`synctui resume [JOB]`."""
    return _set_paused(args, False)


def _steer(
    args: argparse.Namespace, act, said, absent: str, absent_status: int, *,
    gone_jobs: bool = False,
) -> int:
    """Do `act(remote)` through the live host and print `said(result)`; with none, say `absent`.

    `gone_jobs`: the host may know a job the config no longer has (a reload removed it
    while it ran), so a job name is checked against the config only if the host refuses.
    """
    config = load(args)
    job = getattr(args, "job", None)
    remote = reach_host(config)
    if job and (remote is None or not gone_jobs):
        known_job(config, job)
    if remote is None:
        print(f"synctui: {absent}", file=sys.stderr)
        return absent_status
    from synctui.scheduler.control import Refused

    try:
        result = act(remote)
    except Refused as refusal:
        if job:
            known_job(config, job)  # an unknown name is a usage error, whoever says so
        raise CommandError(str(refusal), EXIT_FAILED) from None
    print(f"{said(result)} ({through(remote)})")
    return EXIT_OK


def _set_paused(args: argparse.Namespace, paused: bool) -> int:
    config = load(args)
    names = [known_job(config, args.job)] if args.job else list(config.jobs)
    word = "paused" if paused else "resumed"
    remote = reach_host(config)
    if remote is not None:
        from synctui.scheduler.control import Refused

        try:
            (remote.pause if paused else remote.resume)(args.job)
        except Refused as refusal:
            raise CommandError(str(refusal), EXIT_FAILED) from None
        print(f"{word} {', '.join(names)} ({through(remote)})")
        return EXIT_OK
    store = open_store(config.scheduler.state_dir)
    for name in names:
        store.set_paused(name, paused)
    print(f"{word} {', '.join(names)} (no scheduler is running: remembered for the next one)")
    return EXIT_OK
