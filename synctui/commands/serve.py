"""`synctui serve`: the console in a browser, one console process per tab, behind a token.

The server never hosts the scheduler, and neither do the consoles it starts: each
attaches to the host of the state directory (the headless service, say), and with
none running shows that it waits. `synctui --headless --serve PORT` serves from the
host itself.
"""

from __future__ import annotations

import argparse
import sys

from synctui.commands import EXIT_OK, CommandError, port
from synctui.commands.reaching import load
from synctui.config import Config


def serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", metavar="ADDR",
                        help="the address to serve on (default: 127.0.0.1)")
    parser.add_argument("--port", type=port, default=8080, metavar="N",
                        help="the port to serve on (default: 8080)")
    parser.add_argument("--new-token", action="store_true",
                        help="make new tokens: the old ones no longer let anyone in")


def serve(args: argparse.Namespace) -> int:
    """`synctui serve [--host ADDR] [--port N] [--new-token]`."""
    from synctui.log_format import setup_logging

    setup_logging("text")
    config = load(args, demo_when_missing=True, log_warnings=True)
    server = console_server(args, config, args.host, args.port, renew=args.new_token)
    server.run(until_signalled=True)
    return EXIT_OK


def console_server(args: argparse.Namespace, config: Config, host: str, port: int, *,
                   renew: bool = False):
    """The server of `config`'s console, bound; its addresses told on stderr (with the
    tokens, when they are new: the only time they are shown)."""
    from synctui.web.server import ConsoleServer, ServeError
    from synctui.web.tokens import TokenFile, TokensError

    tokens = TokenFile(config.scheduler.state_dir)
    try:
        made = tokens.ensure(renew=renew)
        server = ConsoleServer(_console(args, config), tokens, config.serve, host=host,
                               port=port, title=f"synctui: {config.name}")
    except (TokensError, ServeError) as error:
        raise CommandError(str(error)) from None
    if made is None:
        print(f"synctui: serving the console on {server.url} (its tokens are in"
              f" {tokens.path}; --new-token makes new ones)", file=sys.stderr)
    else:
        print(f"synctui: serving the console on {server.url}; these addresses are shown"
              f" only now (the tokens are kept in {tokens.path}):\n"
              f"  operators, who steer:  {server.url}?token={made.operator}\n"
              f"  viewers, who watch:    {server.url}?token={made.viewer}",
              file=sys.stderr)
    return server


def _console(args: argparse.Namespace, config: Config) -> list[str]:
    """The command line of a console on the same config as this process."""
    chosen = ["--config", str(config.path)] if config.path else ["--demo"]
    secrets = getattr(args, "secrets", None)
    return [sys.executable, "-m", "synctui", *chosen, *(["--secrets", secrets] if secrets else [])]
