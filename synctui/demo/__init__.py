"""The built-in demo: a real incremental sync between two local SQLite databases."""

from __future__ import annotations

from pathlib import Path

from synctui.config.crontab import parse_crontab
from synctui.config.model import (
    AutorefreshSettings,
    Config,
    ControlSettings,
    JobConfig,
    SchedulerSettings,
)

__all__ = ["demo_config"]


def demo_config(state_dir: Path, timezone: str) -> Config:
    """The demo's configuration: an `orders` sync every 30 s and a `report` every minute.

    Args:
        state_dir: Where synctui keeps the demo's state; the two databases go in
            its `demo/` folder.
        timezone: The IANA zone the console shows times in.
    """
    env = {"SYNCTUI_DEMO_DIR": str(state_dir / "demo")}
    orders = JobConfig(
        name="orders",
        callable="synctui.demo.shop:sync_orders",
        interval_s=30.0,
        timeout_s=60.0,
        retries=1,
        retry_backoff_s=5.0,
        manual_cooldown_s=2.0,
        env=env,
        # Something to watch the moment the console opens, not 30 s later.
        run_on_start=True,
    )
    report = JobConfig(
        name="report",
        callable="synctui.demo.shop:report",
        cron=parse_crontab("* * * * *"),
        timeout_s=30.0,
        env=env,
    )
    return Config(
        scheduler=SchedulerSettings(
            timezone=timezone, interval_s=30.0, catch_up="last", state_dir=state_dir
        ),
        autorefresh=AutorefreshSettings(),
        control=ControlSettings(),
        jobs={orders.name: orders, report.name: report},
        path=None,
    )
