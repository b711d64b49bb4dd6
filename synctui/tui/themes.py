"""The console's themes: Textual's own, the operator's pick remembered in a small file, and a
colourless one for `NO_COLOR`."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from textual.theme import Theme

log = logging.getLogger("synctui.console")

NO_COLOR_THEME = Theme(
    name="synctui-no-color",
    primary="#c8c8c8", secondary="#a0a0a0", accent="#e0e0e0", warning="#b4b4b4",
    error="#f0f0f0", success="#909090", foreground="#e8e8e8", background="#000000",
    surface="#121212", panel="#262626", dark=True,
)
"""Greys only: with `NO_COLOR` the symbols and words carry every meaning (they always do)."""


def theme_file() -> Path:
    """Where the operator's theme is remembered: `$XDG_CONFIG_HOME/synctui/theme`."""
    from platformdirs import user_config_path

    return user_config_path("synctui") / "theme"


def remembered(path: Path) -> str | None:
    """The theme name kept in `path`, if any."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except OSError as error:
        log.warning("cannot read the remembered theme %s: %s", path, error.strerror)
        return None


def remember(path: Path, name: str) -> None:
    """Keep `name` in `path` for the next start; a failure is logged, the switch stands."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(name + "\n", encoding="utf-8")
        temporary.replace(path)
    except OSError as error:
        log.warning("cannot remember the theme in %s: %s", path, error.strerror)
