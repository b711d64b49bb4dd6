"""`synctui timeline`: the console's runs timeline, printed for a shell."""

from __future__ import annotations

import argparse
import shutil
from zoneinfo import ZoneInfo

from synctui.commands import EXIT_OK, CommandError, at_least
from synctui.commands.reaching import known_job, load, open_store, reach_host
from synctui.scheduler.clock import utc_now
from synctui.scheduler.lanes import build
from synctui.scheduler.status import stored_snapshot
from synctui.scheduler.timeline import WINDOWS, window_seconds

CLI_THEME = {"success": "green", "error": "red", "warning": "yellow", "accent": "cyan"}
"""The colours of the console's theme variables, for a terminal with no theme."""


def _window(text: str) -> float:
    try:
        return window_seconds(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {', '.join(WINDOWS)} or a duration such as 90m, got {text!r}") from None


def timeline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", type=_window, default=WINDOWS["24h"], metavar="SPAN",
                        help=f"{', '.join(WINDOWS)} or any duration (default: 24h)")
    parser.add_argument("--job", metavar="NAME", help="only this job")
    parser.add_argument("--width", type=at_least(40, "a width of 40 columns or more"), metavar="COLUMNS",
                        help="default: the terminal's width")


def timeline(args: argparse.Namespace) -> int:
    """`synctui timeline [--window 24h] [--job NAME] [--width COLUMNS]`."""
    from rich.console import Console

    from synctui.tui.timeline_text import LEGEND, axis, cells_for, lane_text, name_width

    config = load(args)
    name = known_job(config, args.job)
    names = [name] if name else list(config.jobs)
    if not names:
        raise CommandError("the config has no jobs to draw")
    width = args.width or shutil.get_terminal_size().columns
    cells = cells_for(width, names)
    remote = reach_host(config)
    if remote is not None:
        drawn = remote.timeline(args.window, cells, names)
    else:
        store = open_store(config.scheduler.state_dir)
        drawn = build(store, config, stored_snapshot(store, config), utc_now(), args.window,
                      cells, names)
    zone = ZoneInfo(config.scheduler.timezone)
    console = Console(highlight=False, width=width)
    names_width = name_width(names)
    console.print(axis(drawn, zone, names_width), no_wrap=True, crop=True)
    for lane in drawn.lanes:
        console.print(lane_text(lane, drawn, CLI_THEME, names_width), no_wrap=True, crop=True)
    console.print(LEGEND, style="dim")
    return EXIT_OK
