"""Problems in a config as one-line messages naming the source, the key and what was expected."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import Any, TypeVar

from synctui.config.schema import HOMES, SEED_KEYS

T = TypeVar("T")

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class Invalid(Exception):
    """A value a reader refused; its message is "expected ..., got ..."."""


def expected(what: str, value: Any) -> Invalid:
    """The refusal of `value`, which is not `what` a reader takes."""
    return Invalid(f"expected {what}, got {shown(value)}")


@dataclass(frozen=True)
class Report:
    """Collects problems from one source (a file, or the environment) into a shared list."""

    source: str
    problems: list[str]

    def add(self, key: str, text: str) -> None:
        """Record one problem at a key path ("" for the source as a whole)."""
        self.problems.append(f"{self.source}: {key}: {text}" if key else f"{self.source}: {text}")


@dataclass(frozen=True)
class Table:
    """One TOML table being read: bad values are reported under their key path."""

    report: Report
    path: tuple[str, ...]
    data: Mapping[str, Any]

    def key(self, *keys: str) -> str:
        return key_path(*self.path, *keys)

    def get(self, key: str, read: Callable[[Any], T]) -> T | None:
        """The key's value as `read` makes it, or None when absent or refused (and reported)."""
        if key not in self.data:
            return None
        try:
            return read(self.data[key])
        except Invalid as invalid:
            self.report.add(self.key(key), str(invalid))
            return None

    def take(self, key: str, read: Callable[[Any], Any], into: dict[str, Any], field: str) -> None:
        """Store the key's value in `into[field]` if it is present and valid."""
        value = self.get(key, read)
        if value is not None:
            into[field] = value

    def table(self, key: str) -> Table:
        """A sub-table; an empty one when absent or not a table (reported)."""
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            self.report.add(self.key(key), f"expected a table, got {shown(value)}")
            value = {}
        return Table(self.report, (*self.path, key), value)

    def at_most_one(self, *keys: str) -> None:
        present = [key for key in keys if key in self.data]
        if len(present) > 1:
            self.report.add(
                self.key(), f"expected at most one of {_listed(keys)}, got {_listed(present)}"
            )

    def refuse_unknown(self, known: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in known:
                self.report.add(self.key(key), f"unknown key{_hint(key, known)}")


def shown(value: Any, depth: int = 0) -> str:
    """A value as a message shows it: TOML-like, on one line, never long."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value if len(value) <= 60 else value[:57] + "...", ensure_ascii=False)
    elif isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, (date, time)):
        text = value.isoformat()
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list) and depth < 2:
        items = [shown(item, depth + 1) for item in value[:5]]
        text = "[" + ", ".join(items + ["..."] * (len(value) > 5)) + "]"
    elif isinstance(value, list):
        text = "[...]"
    else:
        text = type(value).__name__
    return text if len(text) <= 80 else text[:77] + "..."


def toml_type(value: Any) -> str:
    """The TOML name of a value's type, which is all a message may say about an env value."""
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"),
                       (list, "array"), (dict, "table")):
        if isinstance(value, kind):
            return name
    return "date-time" if isinstance(value, (date, time)) else type(value).__name__


def key_path(*keys: str) -> str:
    """A dotted key as TOML writes it: `jobs."nightly report".cron`."""
    return ".".join(key if _BARE_KEY.fullmatch(key) else shown(key) for key in keys)


def _listed(items: Iterable[str]) -> str:
    """ "a, b and c"."""
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _hint(key: str, known: tuple[str, ...]) -> str:
    """Why a key may be unknown: it belongs elsewhere, or is a near miss of a known one."""
    if key in HOMES or key in SEED_KEYS:
        return f" (it belongs in {HOMES.get(key, 'the top level')})"
    by_lower = {name.lower(): name for name in known}
    close = difflib.get_close_matches(key.lower(), by_lower, n=1, cutoff=0.6)
    return f' (did you mean "{by_lower[close[0]]}"?)' if close else ""


def one_line(text: str) -> str:
    """The text with anything that could break or hide a line escaped."""
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )
