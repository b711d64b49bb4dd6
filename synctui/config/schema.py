"""The tables and keys a synctui config takes, and the settings read from them so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WINDOW_KEYS = ("active_hours", "active_days", "blackout")
"""When jobs may start on their own: in `[scheduler]` for every job, or a job's own."""
SCHEDULER_KEYS = (
    "timezone",
    "interval",
    "interval_minutes",
    "shutdown_grace_seconds",
    "catch_up",
    "start_deadline",
    "max_running",
    "state_dir",
    "keep_runs",
    "keep_log_bytes",
    "keep_rollup_days",
    "on_failure",
    "on_success",
    "on_recovery",
    "notify_after_failures",
    "hook_timeout_seconds",
    "on_overdue",
    "warn_after",
    "notify",
    *WINDOW_KEYS,
)
GROUP_KEYS = ("max_running",)
AUTOREFRESH_KEYS = ("enabled", "interval", "interval_minutes")
CONTROL_KEYS = ("group",)
SERVE_KEYS = ("max_sessions", "idle_timeout")
JOB_KEYS = (
    "command",
    "callable",
    "interval",
    "interval_minutes",
    "cron",
    "after",
    "timeout_seconds",
    "retries",
    "retry_backoff_seconds",
    "jitter_seconds",
    "manual_cooldown_seconds",
    "kill_grace_seconds",
    "keep_daemons",
    "cwd",
    "env",
    "overlap",
    "run_on_start",
    "grace_minutes",
    "log_max_bytes",
    "on_failure",
    "on_success",
    "on_recovery",
    "notify_after_failures",
    "hook_timeout_seconds",
    "on_overdue",
    "warn_after",
    "notify",
    "ping_url",
    "ping",
    "group",
    "catch_up",
    "start_deadline",
    *WINDOW_KEYS,
)
# The seed's settings: (section, field of that section's dataclass, the section's
# keys that set the same thing).
SEED_KEYS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "SYNC_INTERVAL_MINUTES": ("scheduler", "interval_s", ("interval", "interval_minutes")),
    "SCHEDULER_TIMEZONE": ("scheduler", "timezone", ("timezone",)),
    "AUTOREFRESH_INTERVAL_MINUTES": ("autorefresh", "interval_s", ("interval", "interval_minutes")),
    "ENABLE_AUTOREFRESH_FALLBACK": ("autorefresh", "enabled", ("enabled",)),
}
TOP_KEYS = ("scheduler", "autorefresh", "control", "serve", "groups", "jobs", *SEED_KEYS)
# Where a key belongs, for a key written in the wrong table.
HOMES = {
    **{key: "[jobs.NAME]" for key in JOB_KEYS},
    **{key: "[control]" for key in CONTROL_KEYS},
    **{key: "[serve]" for key in SERVE_KEYS},
    **{key: "[autorefresh]" for key in AUTOREFRESH_KEYS},
    **{key: "[scheduler]" for key in SCHEDULER_KEYS},
}


@dataclass(frozen=True)
class Settings:
    """What was read so far, as keyword arguments for the model's dataclasses."""

    scheduler: dict[str, Any] = field(default_factory=dict)
    autorefresh: dict[str, Any] = field(default_factory=dict)
    control: dict[str, Any] = field(default_factory=dict)
    serve: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    hooks: dict[str, Any] = field(default_factory=dict)
    """The hooks, `notify_after_failures`, `warn_after`, `notify` and `hook_timeout_s` of
    `[scheduler]`, for jobs that set none."""
    window: dict[str, Any] = field(default_factory=dict)
    """`[scheduler]`'s `RunWindow` parts, for jobs that set none of their own."""

    def section(self, name: str) -> dict[str, Any]:
        """The keyword arguments of one section, by its table's name."""
        return getattr(self, name)
