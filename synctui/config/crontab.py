"""Crontab expressions read with crontab(5)'s meaning, into a `CronSpec`.

APScheduler 3 gets day-of-week wrong for crontab strings (its 0 is Monday) and
refuses the @ macros, so synctui reads them itself and the scheduler translates
the expanded values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

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
# February counts 29 days: a 29th of February fires in leap years, which is a schedule.
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_NUMBER = re.compile(r"[0-9]{1,4}")
_FIELD_NAMES = "minute hour day-of-month month day-of-week"


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
    # 7 is Sunday too, as in crontab(5); folded into 0 once the field is read.
    _Field("day-of-week", 0, 7, {name: number for number, name in enumerate(_WEEKDAYS)}),
)


def parse_crontab(expression: str) -> CronSpec:
    """Read a five-field crontab expression or an @ macro such as "@daily".

    Fields are minute, hour, day-of-month, month and day-of-week, each `*`, a
    value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n` (from a to the field's
    end), or a comma list of those. Month and weekday names (jan, mon) may be
    used in place of numbers; day-of-week 0 and 7 are both Sunday.

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
        if len(fields) in (6, 7):
            raise ValueError(
                f"expected 5 fields ({_FIELD_NAMES}), got {len(fields)} in {_shown(text)}; "
                "a seconds (or year) field is not supported"
            )
        if len(fields) != 5:
            raise ValueError(
                f"expected 5 fields ({_FIELD_NAMES}), got {len(fields)} in {_shown(text)}"
            )
    minutes, hours, days, months, weekdays = (
        _read_field(field_text, field) for field_text, field in zip(fields, _FIELDS)
    )
    # Vixie cron's rule: a field is restricted unless it starts with "*" ("*/2" is not).
    dom_restricted = not fields[2].startswith("*")
    dow_restricted = not fields[4].startswith("*")
    if dom_restricted and not dow_restricted and not any(
        day <= _DAYS_IN_MONTH[month - 1] for day in days for month in months
    ):
        raise ValueError(
            f"expected a day-of-month that exists in the months given, got {_shown(fields[2])} "
            f"with month {_shown(fields[3])}: it would never fire"
        )
    return CronSpec(
        expression=text,
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=tuple(sorted({day % 7 for day in weekdays})),
        dom_restricted=dom_restricted,
        dow_restricted=dow_restricted,
    )


def _read_field(text: str, field: _Field) -> tuple[int, ...]:
    """Expand one field to the sorted values it allows."""
    values: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not _NUMBER.fullmatch(step_text) or int(step_text) == 0:
                raise ValueError(
                    f"expected a step of 1 or more after / in the {field.name} field, "
                    f"got {_shown(item)}"
                )
            step = int(step_text)
        if base == "*":
            start, end = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _read_value(first, field), _read_value(last, field)
            if field.name == "day-of-week" and end == 0 and start > 0:
                end = 7  # "fri-sun": Sunday closes the week here
            if start > end:
                raise ValueError(
                    f"expected a range from low to high in the {field.name} field, "
                    f"got {_shown(item)}"
                )
        else:
            start = _read_value(base, field)
            # "5/15" is read as "5-59/15", as cronie and most other crons do.
            end = field.high if slash else start
        values.update(range(start, end + 1, step))
    return tuple(sorted(values))


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
