"""The core: schedules, runs, records and reports jobs. Never imports Textual or Rich.

The seed's module-level API lives here: `initialize_scheduler()`, `get_scheduler()`
and `get_scheduler_status()`. `SyncScheduler` is loaded on first use, so that
reading status does not import APScheduler.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synctui.config import Config
    from synctui.scheduler.sync_scheduler import SyncScheduler

log = logging.getLogger("synctui.scheduler")

_scheduler: SyncScheduler | None = None


def __getattr__(name: str) -> Any:
    if name == "SyncScheduler":
        from synctui.scheduler.sync_scheduler import SyncScheduler

        return SyncScheduler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _discovered_config() -> Config | None:
    from synctui.config import discover_config, load_config

    path = discover_config(None, os.environ, Path.cwd())
    return None if path is None else load_config(path)


def initialize_scheduler(config: Config | None = None) -> SyncScheduler | None:
    """Start this process's scheduler (once) and return it; None if it cannot start.

    Without `config`, the config is discovered as the `synctui` command does. Why it
    could not start is logged.
    """
    global _scheduler
    if _scheduler is not None and _scheduler.is_running:
        return _scheduler
    from synctui.config import ConfigError
    from synctui.scheduler.control import Refused
    from synctui.scheduler.store import StoreError
    from synctui.scheduler.sync_scheduler import SyncScheduler

    try:
        config = config or _discovered_config()
        if config is None:
            log.error("no synctui config found; write one with `synctui init`")
            return None
        scheduler = _scheduler if _scheduler is not None else SyncScheduler(config)
        scheduler.start()
    except ConfigError as error:
        for problem in error.problems:
            log.error("%s", problem)
        return None
    except (Refused, StoreError) as error:
        log.error("scheduler not started: %s", error)
        return None
    _scheduler = scheduler
    return scheduler


def get_scheduler() -> SyncScheduler | None:
    """The scheduler `initialize_scheduler()` started in this process, if any."""
    return _scheduler


def get_scheduler_status() -> dict:
    """The seed's status dict (`running`, `interval_minutes`, `last_run`, `last_result`,
    `next_run`, plus every job); read from the store when this process hosts nothing."""
    if _scheduler is not None:
        return _scheduler.status().to_json()
    from synctui.config import ConfigError
    from synctui.scheduler.status import stored_snapshot
    from synctui.scheduler.store import Store, StoreError

    try:
        config = _discovered_config()
        if config is not None:
            store = Store(config.scheduler.state_dir)
            try:
                return stored_snapshot(store, config).to_json()
            finally:
                store.close()
    except (ConfigError, StoreError) as error:
        log.error("no status: %s", error)
    return {"running": False, "interval_minutes": None, "last_run": None,
            "last_result": None, "next_run": None}
