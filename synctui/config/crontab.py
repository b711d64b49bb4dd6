"""Crontab expressions checked with one-line messages and written as cronsim reads them, into a `CronSpec`.

The fire times are cronsim's (Debian's cron, daylight-saving quirks included); this module
only refuses what cron would refuse, in words naming the field, and rewrites the few terms
that cronsim reads differently from cron.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from cronsim import CronSim, CronSimError

from synctui.config.model import CronSpec

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NUMBER = re.compile(r"[0-9]{1,4}")
_FIELD_NAMES = "minute hour day-of-month month day-of-week"
_ANY_TIME = datetime(2000, 1, 1)
"""Where cronsim starts when it only reads or explains an expression (naive: no zone)."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, {name: number for number, name in enumerate(_MONTHS, start=1)}),
    # 7 is Sunday too, as in crontab(5).
    _Field("day-of-week", 0, 7, {name: number for number, name in enumerate(_WEEKDAYS)}),
)
_DAY_OF_MONTH, _DAY_OF_WEEK = _FIELDS[2], _FIELDS[4]


def parse_crontab(expression: str) -> CronSpec:
    """Read a five-field crontab expression or an @ macro such as "@daily".

    Fields are minute, hour, day-of-month, month and day-of-week, each `*`, a
    value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n` (from a to the field's
    end), or a comma list of those. Month and weekday names (jan, mon) may be
    used in place of numbers; day-of-week 0 and 7 are both Sunday. Day-of-month
    also takes `L` (the last day) and `LW` (the last weekday); day-of-week takes
    `5L` (the last Friday) and `mon#2` (the second Monday).

    Raises:
        ValueError: With a one-line "expected ..., got ..." message that names
            the field at fault; @reboot and six-field (seconds) forms included.
    """
    if not isinstance(expression, str):
        raise ValueError(f'expected a crontab string like "*/15 * * * *", got {_shown(expression)}')
    text = expression.strip()
    if text.startswith("@"):
        macro = text.lower()
        if macro == "@reboot":
            raise ValueError(
                'expected a schedule, got "@reboot"; to run a job when the scheduler starts, '
                "set run_on_start = true"
            )
        if macro not in _MACROS:
            raise ValueError(f"expected one of {', '.join(_MACROS)}, got {_shown(text)}")
        fields = _MACROS[macro].split()
    else:
        fields = text.split()
        # cronsim takes a leading seconds field; cron has none, and Debian's DST rules with it.
        if len(fields) in (6, 7):
            raise ValueError(
                f"expected 5 fields ({_FIELD_NAMES}), got {len(fields)} in {_shown(text)}; "
                "a seconds (or year) field is not supported"
            )
        if len(fields) != 5:
            raise ValueError(
                f"expected 5 fields ({_FIELD_NAMES}), got {len(fields)} in {_shown(text)}"
            )
    cron = " ".join(_read_field(field_text, field) for field_text, field in zip(fields, _FIELDS))
    try:
        CronSim(cron, _ANY_TIME)
    except CronSimError:
        # Every term has passed the checks above: what cronsim still refuses is a
        # day-of-month that no month given has, with day-of-week not widening it.
        raise ValueError(
            f"expected a day-of-month that exists in the months given, got {_shown(fields[2])} "
            f"with month {_shown(fields[3])}: it would never fire"
        ) from None
    return CronSpec(expression=text, cron=cron)


def explain(spec: CronSpec) -> str:
    """The schedule in words, as cronsim says it: "At 02:30 on the last day of every month"."""
    return CronSim(spec.cron, _ANY_TIME).explain()


def _read_field(text: str, field: _Field) -> str:
    """Check one field and write it as cronsim reads it: numbers only, a comma list kept."""
    return ",".join(_read_term(item, field) for item in text.split(","))


def _read_term(item: str, field: _Field) -> str:
    """One term of a field, checked, in cronsim's spelling."""
    special = item.upper()
    if field is _DAY_OF_MONTH and special in ("L", "LW"):
        return special
    if field is _DAY_OF_WEEK and special.endswith("L") and len(special) > 1:
        return f"{_read_value(item[:-1], field)}L"
    if field is _DAY_OF_WEEK and "#" in item:
        day, _, nth = item.partition("#")
        if not _NUMBER.fullmatch(nth) or not 1 <= int(nth) <= 5:
            raise ValueError(
                f"expected 1-5 after # in the {field.name} field (the nth weekday of the "
                f"month), got {_shown(item)}"
            )
        return f"{_read_value(day, field)}#{int(nth)}"
    base, slash, step_text = item.partition("/")
    if slash and (not _NUMBER.fullmatch(step_text) or int(step_text) == 0):
        raise ValueError(
            f"expected a step of 1 or more after / in the {field.name} field, got {_shown(item)}"
        )
    step = f"/{int(step_text)}" if slash else ""
    if base == "*":
        return f"*{step}"
    if "-" in base:
        first, _, last = base.partition("-")
        start, end = _read_value(first, field), _read_value(last, field)
        if field is _DAY_OF_WEEK and end == 0 and start > 0:
            end = 7  # "fri-sun": Sunday closes the week here
        if start > end:
            raise ValueError(
                f"expected a range from low to high in the {field.name} field, got {_shown(item)}"
            )
        # cronsim reads "a-a/n" as "a/n" (a to the field's end); cron's range holds a alone.
        return str(start) if start == end else f"{start}-{end}{step}"
    # "5/15" is read as "5-59/15", as cronie, cronsim and most other crons do.
    return f"{_read_value(base, field)}{step}"


def _read_value(text: str, field: _Field) -> int:
    """One number or name of a field, within the field's range."""
    if field.names and text.lower() in field.names:
        return field.names[text.lower()]
    if _NUMBER.fullmatch(text) and field.low <= int(text) <= field.high:
        return int(text)
    named = f' or a name like "{next(iter(field.names))}"' if field.names else ""
    raise ValueError(
        f"expected {field.low}-{field.high}{named} in the {field.name} field, got {_shown(text)}"
    )


def _shown(value: object) -> str:
    """The offending value for a message: quoted if text, and never very long."""
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 60 else value[:57] + "...", ensure_ascii=False)
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."
