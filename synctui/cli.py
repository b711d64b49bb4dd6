"""The command line: picks the console, headless mode or a one-shot subcommand.

Imports stay inside the commands: `--version`, `status`, `history`, `logs` and
`health` answer from the store without loading APScheduler or Textual.
"""

from __future__ import annotations

import argparse
import os
import sys

from synctui import __version__

def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="the config file (default: discovered, see README)")
    common.add_argument("--secrets", metavar="PATH", default=argparse.SUPPRESS,
                        help="a Streamlit secrets.toml to read the seed's four keys from")
    common.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                        help="use the built-in demo instead of a config")

    parser = argparse.ArgumentParser(
        prog="synctui", parents=[common],
        description="Run incremental sync jobs on a schedule and steer them from a terminal.",
    )
    parser.add_argument("--version", action="version", version=f"synctui {__version__}")
    parser.add_argument("--headless", action="store_true", help="run the scheduler with no screen")
    parser.add_argument("--once", action="store_true",
                        help="with --headless: run every job once and exit (0 if all succeeded)")
    parser.add_argument("--job", metavar="NAME", help="with --once: only this job")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="headless log lines on stderr (default: text)")
    parser.add_argument("--no-passthrough", action="store_true",
                        help="headless: do not copy job output to stdout")
    parser.add_argument("--metrics-port", type=_port, metavar="N",
                        help="headless: serve Prometheus /metrics, /healthz and /livez on this port")
    parser.add_argument("--metrics-host", metavar="ADDR",
                        help="the address for --metrics-port (default: 127.0.0.1)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = commands.add_parser("status", parents=[common], help="every job's state")
    shape = status.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="the full snapshot as JSON")
    shape.add_argument("--short", action="store_true", help="one line, for a status bar")
    status.add_argument("--job", metavar="NAME", help="only this job")

    history = commands.add_parser("history", parents=[common], help="recorded runs, newest first")
    history.add_argument("--job", metavar="NAME")
    history.add_argument("--limit", type=_positive, default=20, metavar="N")
    history.add_argument("--json", action="store_true")

    logs = commands.add_parser("logs", parents=[common], help="a run's output")
    logs.add_argument("job", metavar="JOB")
    logs.add_argument("--run", type=_positive, metavar="ID", help="this run (default: the latest)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing while it runs")

    run = commands.add_parser("run", parents=[common], help="run a job now")
    run.add_argument("job", metavar="JOB")
    run.add_argument("--wait", action="store_true", help="wait for the result; exit 1 if it failed")
    for name, text in (("cancel", "end a job's running run"), ("skip", "skip a job's next run")):
        commands.add_parser(name, parents=[common], help=text).add_argument("job", metavar="JOB")
    for name, text in (("pause", "pause a job, or all"), ("resume", "resume a job, or all")):
        commands.add_parser(name, parents=[common], help=text).add_argument(
            "job", metavar="JOB", nargs="?")
    for name, text in (("stop", "stop the scheduler"), ("start", "start the scheduler"),
                       ("restart", "stop and start the scheduler")):
        commands.add_parser(name, parents=[common], help=text)
    commands.add_parser("check", parents=[common],
                        help="validate the config and show the next fire times")
    init = commands.add_parser("init", help="write a commented example config")
    init.add_argument("path", metavar="PATH", nargs="?", default="synctui.toml")
    health = commands.add_parser("health", parents=[common],
                                 help="exit 0 when every job is healthy")
    health.add_argument("--job", metavar="NAME")
    health.add_argument("--json", action="store_true")
    health.add_argument("--liveness", action="store_true",
                        help="exit 0 while a scheduler runs and ticks, whatever the jobs do")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `synctui` command."""
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:
        # Asked by scripts and probes: answered before the parser is even built.
        print(f"synctui {__version__}")
        return 0
    args = _parser().parse_args(argv)
    from synctui import commands

    try:
        return _dispatch(args, commands)
    except commands.CommandError as failure:
        for line in str(failure).splitlines():
            print(f"synctui: {line}", file=sys.stderr)
        return failure.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `synctui history | head`: the reader left; nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return commands.EXIT_OK


def _dispatch(args: argparse.Namespace, commands) -> int:
    if not args.headless and (args.metrics_port is not None or args.metrics_host is not None):
        raise commands.CommandError("--metrics-port and --metrics-host go with --headless")
    if args.command is None:
        if args.headless:
            return commands.headless(args)
        if args.once or args.job:
            raise commands.CommandError("--once and --job go with --headless")
        return commands.console(args)
    if args.headless:
        raise commands.CommandError(f"--headless does not go with the {args.command} command")
    return getattr(commands, args.command)(args)
