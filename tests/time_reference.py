"""Dates, instants and durations for the reference evaluators, written from docs/semantics.md with
Python's own ``datetime`` and ``calendar`` (never the engine's calendar code).

A date is a whole number of days since 1970-01-01 and an instant a whole number of nanoseconds
since 1970-01-01T00:00:00Z, so that comparisons are of whole numbers; months are added as
PostgreSQL does (the day kept, or the last day of a shorter month).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

EPOCH = dt.date(1970, 1, 1)
NANOS = 10**9
DAY_NANOS = 86_400 * NANOS
UNIT_NANOS = {
    "weeks": 7 * DAY_NANOS,
    "days": DAY_NANOS,
    "hours": 3_600 * NANOS,
    "minutes": 60 * NANOS,
}
UNIT_DAYS = {"weeks": 7, "days": 1}

_INSTANT = re.compile(
    r"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})"
)


def date_number(text: str) -> int:
    return (dt.date.fromisoformat(text) - EPOCH).days


def instant_number(text: str) -> int:
    found = _INSTANT.fullmatch(text)
    assert found is not None, text
    day, hour, minute, second, fraction, offset = found.groups()
    seconds = date_number(day) * 86_400 + int(hour) * 3_600 + int(minute) * 60 + int(second)
    if offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        seconds -= sign * (int(offset[1:3]) * 3_600 + int(offset[4:6]) * 60)
    return seconds * NANOS + int((fraction or "0").ljust(9, "0"))


def number(kind: str, text: str) -> int:
    return date_number(text) if kind == "date" else instant_number(text)


def date_text(days: int) -> str:
    return (EPOCH + dt.timedelta(days=days)).isoformat()


def instant_text(nanos: int) -> str:
    days, rest = divmod(nanos, DAY_NANOS)
    seconds, fraction = divmod(rest, NANOS)
    clock = dt.time(seconds // 3_600, seconds // 60 % 60, seconds % 60).isoformat()
    tail = f".{fraction:09d}".rstrip("0") if fraction else ""
    return f"{date_text(days)}T{clock}{tail}Z"


def text(kind: str, value: int) -> str:
    return date_text(value) if kind == "date" else instant_text(value)


def _plus_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def moved(kind: str, value: int, sign: str, amount: int, unit: str) -> int:
    """``value`` plus (or minus) ``amount`` ``unit``s."""
    factor = -1 if sign == "-" else 1
    if unit in ("months", "years"):
        months = factor * amount * (12 if unit == "years" else 1)
        if kind == "date":
            return (_plus_months(EPOCH + dt.timedelta(days=value), months) - EPOCH).days
        days, time_of_day = divmod(value, DAY_NANOS)
        moved_day = _plus_months(EPOCH + dt.timedelta(days=days), months)
        return (moved_day - EPOCH).days * DAY_NANOS + time_of_day
    if kind == "date":
        return value + factor * amount * UNIT_DAYS[unit]
    return value + factor * amount * UNIT_NANOS[unit]


def first_at_least(function: Any, target: int, low: int, high: int) -> int | None:
    """The least ``x`` in ``[low, high]`` with ``function(x) >= target`` (``function`` non
    decreasing), by bisection; None when there is none."""
    if function(high) < target:
        return None
    while low < high:
        middle = (low + high) // 2
        if function(middle) >= target:
            high = middle
        else:
            low = middle + 1
    return low
