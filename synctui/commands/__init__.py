"""The `synctui` subcommands: the one list of them, each found by name in its own module.

The list holds each command's one-line help, so that the parser can offer them all
without importing any: only the module of the command given is imported, and the
read-only commands answer without loading APScheduler or Textual. A module
`synctui.commands.<module>` defines, for each of its commands, `<command>(args) -> int`
and, if it takes arguments of its own, `<command>_arguments(parser)`. Adding a
command is a line here and the module that does it.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """An error for the operator (one line per problem) and the exit status it means."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Subcommand:
    """Where a subcommand lives and what `synctui --help` says of it."""

    module: str
    summary: str
    reads_config: bool = True
    """Whether it takes `--config`, `--secrets` and `--demo`."""


SUBCOMMANDS = {
    "status": Subcommand("status", "every job's state"),
    "history": Subcommand("history", "recorded runs, newest first"),
    "timeline": Subcommand("timeline", "the runs of a window of time, drawn per job"),
    "logs": Subcommand("logs", "a run's output"),
    "run": Subcommand("run", "run a job now"),
    "backfill": Subcommand("backfill", "run a job once per window of a past span"),
    "cancel": Subcommand("steering", "end a job's running run"),
    "skip": Subcommand("steering", "skip a job's next run"),
    "pause": Subcommand("steering", "pause a job, or all"),
    "resume": Subcommand("steering", "resume a job, or all"),
    "stop": Subcommand("steering", "stop the scheduler"),
    "start": Subcommand("steering", "start the scheduler"),
    "restart": Subcommand("steering", "stop and start the scheduler"),
    "check": Subcommand("check", "validate the config and show the next fire times"),
    "init": Subcommand("init", "write a commented example config", reads_config=False),
    "health": Subcommand("health", "exit 0 when every job is healthy"),
    "serve": Subcommand("serve", "serve the console to browsers, behind a token"),
}
"""Every subcommand, in the order `synctui --help` lists them."""


def at_least(minimum: int, what: str) -> Callable[[str], int]:
    """An argument type: a whole number from `minimum` up, else "expected `what`"."""

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return whole


positive = at_least(1, "a positive whole number")
"""`--limit`, `--run`."""


def port(text: str) -> int:
    """An argument type: a TCP port (0: one the system picks)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return value


def handler(command: str) -> Callable[[argparse.Namespace], int]:
    """The function that does `command`."""
    return getattr(_module(command), command)


def add_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Give `parser` the arguments of `command`, as the command's module declares them."""
    declare = getattr(_module(command), f"{command}_arguments", None)
    if declare is not None:
        declare(parser)


def _module(command: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{SUBCOMMANDS[command].module}")
