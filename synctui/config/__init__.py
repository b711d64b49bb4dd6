"""synctui's settings: the model, and reading it from TOML, secrets and the environment."""

from __future__ import annotations

from synctui.config.crontab import parse_crontab
from synctui.config.durations import parse_duration, parse_size
from synctui.config.loading import EXAMPLE_CONFIG_PATH, ConfigError, discover_config, load_config
from synctui.config.model import (
    AutorefreshSettings,
    Config,
    ControlSettings,
    CronSpec,
    JobConfig,
    SchedulerSettings,
)
from synctui.config.sources import default_state_dir, local_zone

__all__ = [
    "EXAMPLE_CONFIG_PATH",
    "AutorefreshSettings",
    "Config",
    "ConfigError",
    "ControlSettings",
    "CronSpec",
    "JobConfig",
    "SchedulerSettings",
    "default_state_dir",
    "discover_config",
    "load_config",
    "local_zone",
    "parse_crontab",
    "parse_duration",
    "parse_size",
]
