"""`synctui` with no subcommand: the console, hosting the scheduler or attached to its host.

Every error the operator can fix is reported before the screen opens.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from synctui.commands import EXIT_FAILED, EXIT_OK, CommandError
from synctui.commands.reaching import load, reach_host, read_config, unusable
from synctui.config import Config
from synctui.scheduler.processes import become_subreaper, cap_malloc_arenas
from synctui.scheduler.store import DB_NAME, Store, StoreError


def console(args: argparse.Namespace) -> int:
    """`synctui`: the console, hosting the scheduler or attached to its host (the demo with no
    config); `--served-as ROLE`: a browser tab's, which only ever attaches (waiting for a host
    if none runs), and as a viewer only watches."""
    config = load(args, demo_when_missing=True)
    served = getattr(args, "served_as", None)
    store = _readable_store(config) if served else None
    guest = served is not None or _guest(config)
    from zoneinfo import ZoneInfo

    from synctui.scheduler.control import Refused
    from synctui.scheduler.shared import SharedScheduler
    from synctui.tui.app import SyncTuiApp

    console_log = _console_log(config, guest and store is None)
    become_subreaper()
    cap_malloc_arenas()
    log_to_file(console_log)
    read_only = served == "viewer"
    shared = SharedScheduler(
        config, guest=guest, store=store, read_only=read_only,
        reload_config=(lambda: read_config(args)) if config.path else None,
    )
    app = SyncTuiApp(
        shared, config=config, config_name=config.name, zone=ZoneInfo(config.scheduler.timezone),
        demo=config.path is None, read_only=read_only, terminal=served is None,
        **_console_places(config, console_log),
    )
    try:
        shared.open(wait=served is not None)
    except Refused as refusal:
        raise CommandError(str(refusal), EXIT_FAILED) from None
    try:
        app.run()
    finally:
        # Done already when the console quit; this covers a crash, where runs may still go.
        if shared.hosting:
            running = [job.name for job in shared.status().jobs.values() if job.running]
            if running:
                print(f"synctui: stopping: {', '.join(running)} get up to"
                      f" {config.scheduler.shutdown_grace_s:g}s to finish", file=sys.stderr)
        shared.shutdown()
    return app.return_code or EXIT_OK


def _guest(config: Config) -> bool:
    """Whether the console can only attach: the state directory is not this user's to
    write, but the scheduler running there takes them (a `[control] group` member). Every
    other case where the store cannot be opened is an error before the screen opens."""
    state_dir = config.scheduler.state_dir
    try:
        Store(state_dir).close()
    except (StoreError, OSError) as error:
        database = state_dir / DB_NAME
        not_ours = os.path.isdir(state_dir) and (
            not os.access(state_dir, os.W_OK | os.X_OK)
            or os.path.exists(database) and not os.access(database, os.R_OK | os.W_OK)
        )
        host = reach_host(config) if not_ours else None
        if host is None:
            also = "; and no scheduler runs there that this user may attach to" if not_ours else ""
            raise unusable(state_dir, error, also) from None
        host.close()
        return True
    return False


def _readable_store(config: Config) -> Store | None:
    """The store, for a console that never hosts to read between hosts; None if this user
    cannot open it (it then shows what the host says, once there is one)."""
    try:
        return Store(config.scheduler.state_dir)
    except (StoreError, OSError):
        return None


def _console_log(config: Config, elsewhere: bool) -> Path:
    """Where the console logs: its state directory, or (`elsewhere`, for a guest that
    cannot write there) its own log directory."""
    if not elsewhere:
        return config.scheduler.state_dir / "console.log"
    from platformdirs import user_log_path

    folder = user_log_path("synctui")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"{folder}: cannot keep the console's log: {error.strerror}") from None
    return folder / f"{config.name}-console.log"


def _console_places(config: Config, console_log: Path) -> dict:
    """What the console shows of where things are, and where it remembers the theme."""
    from synctui.tui.screens.help import Places
    from synctui.tui.themes import theme_file

    return {
        "places": Places(config.path, config.scheduler.state_dir, console_log),
        "theme_file": theme_file(),
    }


def log_to_file(path: Path) -> None:
    """Send every log record to `path` (rotated at 1 MB): nothing may print over the screen.

    Every console on a state directory writes the same file: the handler locks it around
    each write and rotation, so one console's rotation never loses another's lines.
    """
    import logging

    from concurrent_log_handler import ConcurrentRotatingFileHandler

    from synctui.log_format import TextFormatter

    try:
        handler = ConcurrentRotatingFileHandler(
            path, maxBytes=1_000_000, backupCount=1, encoding="utf-8"
        )
    except OSError as error:
        raise CommandError(f"{path}: cannot keep the console's log: {error.strerror}") from None
    handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.captureWarnings(True)
