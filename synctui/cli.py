"""The command line: picks the console, headless mode or a one-shot subcommand.

Only the module of the command given is imported, and heavy imports stay inside the
commands: `--version`, `status`, `history`, `logs` and `health` answer from the store
without loading APScheduler or Textual.
"""

from __future__ import annotations

import argparse
import os
import sys

from synctui import __version__, commands


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
    parser.add_argument("--metrics-port", type=commands.port, metavar="N",
                        help="headless: serve Prometheus /metrics, /healthz and /livez on this port")
    parser.add_argument("--metrics-host", metavar="ADDR",
                        help="the address for --metrics-port (default: 127.0.0.1)")
    parser.add_argument("--serve", type=commands.port, metavar="PORT",
                        help="headless: also serve the console to browsers on this port"
                             " (as `synctui serve`)")
    parser.add_argument("--serve-host", metavar="ADDR",
                        help="the address for --serve (default: 127.0.0.1)")
    # The console of a browser tab, as `synctui serve` starts it: never hosts.
    parser.add_argument("--served-as", choices=("operator", "viewer"), help=argparse.SUPPRESS)
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", action=_Subcommands)
    for name, subcommand in commands.SUBCOMMANDS.items():
        subcommands.add_parser(name, parents=[common] if subcommand.reads_config else [],
                               help=subcommand.summary)
    return parser


class _Subcommands(argparse._SubParsersAction):
    """The subcommands' parsers, each given its arguments only once chosen: the module of
    only that command is imported."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        commands.add_arguments(values[0], self._name_parser_map[values[0]])
        super().__call__(parser, namespace, values, option_string)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `synctui` command."""
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:
        # Asked by scripts and probes: answered before the parser is even built.
        print(f"synctui {__version__}")
        return 0
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except commands.CommandError as failure:
        for line in str(failure).splitlines():
            print(f"synctui: {line}", file=sys.stderr)
        return failure.status
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        from synctui.scheduler.control_client import HostUnreachable

        if not isinstance(error, HostUnreachable):
            raise
        # The host went away while it answered (killed, restarted): one line, as at connect.
        print(f"synctui: {error}; try again", file=sys.stderr)
        return commands.EXIT_FAILED
    except BrokenPipeError:
        # `synctui history | head`: the reader left; nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return commands.EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    if not args.headless and (args.metrics_port is not None or args.metrics_host is not None):
        raise commands.CommandError("--metrics-port and --metrics-host go with --headless")
    if not args.headless and (args.serve is not None or args.serve_host is not None):
        raise commands.CommandError("--serve and --serve-host go with --headless"
                                    " (or use `synctui serve`)")
    if args.served_as is not None and (args.headless or args.command is not None):
        raise commands.CommandError("--served-as is for the consoles `synctui serve` starts")
    if args.command is None:
        if args.headless:
            from synctui import signals

            signals.catch()  # before the imports and the config: stopped cleanly from now on
            from synctui.commands.headless import headless

            return headless(args)
        if args.once or args.job:
            raise commands.CommandError("--once and --job go with --headless")
        from synctui.commands.console import console

        return console(args)
    if args.headless:
        raise commands.CommandError(f"--headless does not go with the {args.command} command")
    return commands.handler(args.command)(args)
