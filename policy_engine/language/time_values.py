"""Dates, instants and durations as the engine computes with them.

A date is a whole number of days since 1970-01-01 and an instant a whole number of nanoseconds
since 1970-01-01T00:00:00Z, both in the proleptic Gregorian calendar: comparisons are comparisons
of whole numbers, and arithmetic never overflows (Python's ``datetime`` stops at year 9999; a
date plus 50 years may not). Requests and rules write them as ISO 8601 / RFC 3339 text
(``2026-12-06``, ``2026-12-06T18:00:00Z``, ``2026-12-06T19:00:00+01:00``), read here.

Adding months (or years, twelve months each) moves the calendar month and keeps the day of the
month, or takes the last day of the new month when it has fewer days, as PostgreSQL does:
2026-01-31 + 1 month = 2026-02-28, 2024-01-31 + 1 month = 2024-02-29, 2026-03-31 - 1 month =
2026-02-28. An instant keeps its time of day (in UTC). Weeks, days, hours and minutes are fixed
lengths (a day is 86,400 seconds: instants are in UTC, which has no daylight saving time).
"""

from __future__ import annotations

import re
from typing import Literal

TimeKind = Literal["date", "instant"]
DurationUnit = Literal["years", "months", "weeks", "days", "hours", "minutes"]

NANOS_PER_SECOND = 10**9
NANOS_PER_DAY = 86_400 * NANOS_PER_SECOND

MONTHS_IN: dict[str, int] = {"years": 12, "months": 1}
"""Units counted in calendar months."""
DAYS_IN: dict[str, int] = {"weeks": 7, "days": 1}
"""Units of whole days (dates and instants)."""
NANOS_IN: dict[str, int] = {
    "weeks": 7 * NANOS_PER_DAY,
    "days": NANOS_PER_DAY,
    "hours": 3_600 * NANOS_PER_SECOND,
    "minutes": 60 * NANOS_PER_SECOND,
}
"""Units of fixed length, for instants."""

UNITS: tuple[DurationUnit, ...] = ("years", "months", "weeks", "days", "hours", "minutes")


class TimeValueError(ValueError):
    """A text that is not a date or an instant; the message says what is wrong with it."""


# ---- the calendar (Howard Hinnant's algorithms: exact for every year, no tables) ----------------


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a day of the proleptic Gregorian calendar."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day number (the inverse of :func:`days_from_civil`)."""
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1_460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + (3 if shifted_month < 10 else -9)
    year = year_of_era + era * 400 + (month <= 2)
    return year, month, day


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def add_months(days: int, months: int) -> int:
    """The date ``months`` calendar months after (before, when negative) a date; the day of the
    month is kept, or the month's last day taken when the new month is shorter."""
    if months == 0:
        return days
    year, month, day = civil_from_days(days)
    index = year * 12 + (month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return days_from_civil(year, month, min(day, month_length(year, month)))


def shift(kind: TimeKind, value: int, months: int, fixed: int) -> int:
    """``value`` moved by ``months`` calendar months, then by ``fixed`` units of its kind (days
    for a date, nanoseconds for an instant)."""
    if months:
        if kind == "date":
            value = add_months(value, months)
        else:
            day, time_of_day = divmod(value, NANOS_PER_DAY)
            value = add_months(day, months) * NANOS_PER_DAY + time_of_day
    return value + fixed


def duration_parts(kind: TimeKind, amount: int, unit: str) -> tuple[int, int]:
    """A duration as (calendar months, fixed units of ``kind``): days for a date, nanoseconds for
    an instant. Hours and minutes have no meaning for dates (the checker refuses them)."""
    if unit in MONTHS_IN:
        return amount * MONTHS_IN[unit], 0
    if kind == "date":
        return 0, amount * DAYS_IN[unit]
    return 0, amount * NANOS_IN[unit]


# ---- reading ------------------------------------------------------------------------------------

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_INSTANT = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _day_number(year: str, month: str, day: str, text: str) -> int:
    y, m, d = int(year), int(month), int(day)
    if not 1 <= m <= 12:
        raise TimeValueError(f"`{text}` has no month {month}: months run from 01 to 12")
    if not 1 <= d <= month_length(y, m):
        raise TimeValueError(
            f"`{text}`: {_MONTHS[m - 1]} {y} has {month_length(y, m)} days, not {d}"
        )
    return days_from_civil(y, m, d)


def parse_date(text: str) -> int:
    """Days since 1970-01-01 of an ISO 8601 calendar date, ``YYYY-MM-DD``."""
    found = _DATE.fullmatch(text)
    if found is None:
        if _INSTANT.fullmatch(text):
            raise TimeValueError(
                f"`{text}` is an instant, not a date: write the day, `{text[:10]}`"
            )
        raise TimeValueError(f"`{text}` is not a date written YYYY-MM-DD")
    year, month, day = found.groups()
    return _day_number(year, month, day, text)


def parse_instant(text: str) -> int:
    """Nanoseconds since 1970-01-01T00:00:00Z of an RFC 3339 timestamp, which must say its
    offset from UTC (``Z`` or ``±hh:mm``); at most nanoseconds (nine digits after the point)."""
    found = _INSTANT.fullmatch(text)
    if found is None:
        if _DATE.fullmatch(text):
            raise TimeValueError(
                f"`{text}` is a date, not an instant: give the time and its offset, "
                f"e.g. `{text}T00:00:00Z`"
            )
        raise TimeValueError(
            f"`{text}` is not an instant written YYYY-MM-DDThh:mm:ss with an offset "
            "(`Z` or `+01:00`)"
        )
    year, month, day, hour, minute, second, fraction, offset = found.groups()
    if offset is None:
        raise TimeValueError(
            f"`{text}` has no offset from UTC, so it names no instant: add `Z` (UTC) or the "
            "offset, e.g. `+01:00`"
        )
    days = _day_number(year, month, day, text)
    h, mi, s = int(hour), int(minute), int(second)
    if h > 23 or mi > 59 or s > 59:
        leap = " (leap seconds are not supported)" if s == 60 else ""
        raise TimeValueError(f"`{text}` has no time {hour}:{minute}:{second}{leap}")
    nanos = 0
    if fraction is not None:
        digits = fraction[1:]
        if len(digits) > 9:
            raise TimeValueError(f"`{text}` is more precise than nanoseconds (9 digits)")
        nanos = int(digits.ljust(9, "0"))
    shift_seconds = 0
    if offset not in ("Z", "z"):
        oh, om = int(offset[1:3]), int(offset[4:6])
        if oh > 23 or om > 59:
            raise TimeValueError(f"`{text}` has no offset {offset}")
        shift_seconds = (oh * 3_600 + om * 60) * (1 if offset[0] == "+" else -1)
    seconds = days * 86_400 + h * 3_600 + mi * 60 + s - shift_seconds
    return seconds * NANOS_PER_SECOND + nanos


def parse_time(kind: TimeKind, text: str) -> int:
    return parse_date(text) if kind == "date" else parse_instant(text)


# ---- writing ------------------------------------------------------------------------------------


def _year_text(year: int) -> str:
    return f"{year:04d}" if 0 <= year <= 9999 else f"{year:+05d}"


def format_date(days: int) -> str:
    year, month, day = civil_from_days(days)
    return f"{_year_text(year)}-{month:02d}-{day:02d}"


def format_instant(nanos: int) -> str:
    """In UTC, with a fraction of a second only when there is one."""
    days, rest = divmod(nanos, NANOS_PER_DAY)
    seconds, fraction = divmod(rest, NANOS_PER_SECOND)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{format_date(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}"
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + "Z"


def format_time(kind: TimeKind, value: int) -> str:
    return format_date(value) if kind == "date" else format_instant(value)


def duration_text(amount: int, unit: str) -> str:
    """``1 month``, ``13 months``: the unit singular for one."""
    return f"{amount} {unit[:-1] if amount == 1 else unit}"


# ---- the values the evaluator reads ------------------------------------------------------------


class TimeValue(int):
    """A date or an instant as the evaluator holds it: a whole number (so compiled conditions
    compare it as one) that knows how to write itself."""

    __slots__ = ()
    kind: TimeKind

    def isoformat(self) -> str:
        return format_time(self.kind, int(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.isoformat()!r})"

    def __str__(self) -> str:
        return self.isoformat()


class Day(TimeValue):
    __slots__ = ()
    kind: TimeKind = "date"


class Instant(TimeValue):
    __slots__ = ()
    kind: TimeKind = "instant"


def time_value(kind: TimeKind, value: int) -> TimeValue:
    return Day(value) if kind == "date" else Instant(value)


EARLIEST_REQUEST: dict[TimeKind, int] = {
    "date": days_from_civil(0, 1, 1),
    "instant": days_from_civil(0, 1, 1) * NANOS_PER_DAY,
}
LATEST_REQUEST: dict[TimeKind, int] = {
    "date": days_from_civil(9999, 12, 31),
    "instant": (days_from_civil(9999, 12, 31) + 1) * NANOS_PER_DAY - 1,
}
"""The first and last values a request can write (four-digit years; instants in UTC)."""
