"""`synctui serve`: the console in a browser, one console process per tab, behind a token.

The server never hosts the scheduler, and neither do the consoles it starts: each
attaches to the host of the state directory (the headless service, say), and with
none running shows that it waits. `synctui --headless --serve PORT` serves from the
host itself.
"""

from __future__ import annotations

import argparse
import logging
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
    """The server of `config`'s console, bound; its addresses logged (with the tokens, when
    they are new: the only time they are shown)."""
    from synctui.web.server import ConsoleServer, ServeError
    from synctui.web.tokens import TokenFile, TokensError

    tokens = TokenFile(config.scheduler.state_dir)
    try:  # bound first: an address in use changes no token
        server = ConsoleServer(_console(args, config), tokens, config.serve, host=host,
                               port=port, title=f"synctui: {config.name}")
        made = tokens.ensure(renew=renew)
    except (TokensError, ServeError) as error:
        raise CommandError(str(error)) from None
    # Through the log, so that `--log-format json` stays one JSON object a line.
    log = logging.getLogger("synctui.serve")
    if made is None:
        log.info("serving the console on %s; its tokens are in %s (--new-token makes new"
                 " ones)", server.url, tokens.path, extra={"event": "serve"})
    else:
        log.info("serving the console on %s; these addresses are shown only now (the tokens"
                 " are kept in %s):", server.url, tokens.path, extra={"event": "serve"})
        log.info("operators, who steer:  %s?token=%s", server.url, made.operator,
                 extra={"event": "serve_token"})
        log.info("viewers, who watch:    %s?token=%s", server.url, made.viewer,
                 extra={"event": "serve_token"})
    return server


def _console(args: argparse.Namespace, config: Config) -> list[str]:
    """The command line of a console on the same config as this process."""
    chosen = ["--config", str(config.path)] if config.path else ["--demo"]
    secrets = getattr(args, "secrets", None)
    return [sys.executable, "-m", "synctui", *chosen, *(["--secrets", secrets] if secrets else [])]
