"""Monotone maps of dates (or instants) to dates: what a comparison with a moved key does to the
key's classes.

A date moved by durations is a non-decreasing function of the date: days, weeks, hours and
minutes translate it; months (and years) move the calendar month and clamp the day, so
2026-01-28 … 2026-01-31 all become 2026-02-28. ``F(a) >= y`` then holds exactly when ``a`` is at
least the *lower adjoint* ``F⁻(y) = min {a : F(a) >= y}``, so every comparison of a moved key
with a value is a comparison of the key itself with a point (:mod:`.time_domains`).

A map is a sequence of steps applied in order, each one of ``("add", k)`` (k units: days for
dates, nanoseconds for instants), ``("month", m)`` (m calendar months) and ``("month_lo", m)``
(the lower adjoint of moving m months). Lower adjoints of these are again such sequences, so the
analysis can compose and invert maps as often as a tree of comparisons needs:

- ``add(k)⁻ = add(-k)``;
- ``month(m)⁻ = month_lo(m)``;
- ``month_lo(m)⁻ = add(-1), month(m), add(1)`` (``month_lo(m)(x) >= y`` iff ``x > month(m)(y-1)``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..language.time_values import NANOS_PER_DAY, TimeKind, add_months, month_length, shift

Step = tuple[str, int]


_CYCLE_MONTHS = 4_800
_CYCLE_DAYS = 146_097
"""The Gregorian calendar repeats every 400 years: 4,800 months, 146,097 days."""


@functools.cache
def _month_starts() -> tuple[list[int], list[int]]:
    """Over one 400-year cycle: the day each month starts on (from the cycle's start) and its
    length."""
    starts, lengths = [], []
    day = 0
    for index in range(_CYCLE_MONTHS):
        year, month = divmod(index, 12)
        starts.append(day)
        lengths.append(month_length(2000 + year, month + 1))
        day += lengths[-1]
    return starts, lengths


@functools.cache
def month_spread(months: int) -> tuple[int, int]:
    """The least and greatest number of days that moving a date by ``months`` adds. Within a
    month the number only falls as the day grows: the first day gives the most (the days between
    the two months' starts), the last the least (the new month may be shorter)."""
    starts, lengths = _month_starts()
    low, high = None, None
    for index in range(_CYCLE_MONTHS):
        cycles, target = divmod(index + months, _CYCLE_MONTHS)
        between = starts[target] + cycles * _CYCLE_DAYS - starts[index]
        last = between + min(lengths[index], lengths[target]) - lengths[index]
        low = last if low is None else min(low, last)
        high = between if high is None else max(high, between)
    assert low is not None and high is not None
    return low, high


def _month_lower_date(months: int, target: int) -> int:
    """``min {x : add_months(x, months) >= target}`` for dates."""
    x = add_months(target, -months)
    for _ in range(64):  # the day of the month moves by at most 3 at a clamp
        if add_months(x, months) < target:
            x += 1
        elif add_months(x - 1, months) >= target:
            x -= 1
        else:
            return x
    raise AssertionError("the lower adjoint of a month shift did not settle")


def month_lower(kind: TimeKind, months: int, target: int) -> int:
    """``min {x : x + months calendar months >= target}``."""
    if kind == "date":
        return _month_lower_date(months, target)
    day, time_of_day = divmod(target, NANOS_PER_DAY)
    first = _month_lower_date(months, day)
    if add_months(first, months) > day:
        return first * NANOS_PER_DAY
    return first * NANOS_PER_DAY + time_of_day


def _simplified(steps: list[Step]) -> tuple[Step, ...]:
    out: list[Step] = []
    for op, amount in steps:
        if amount == 0 and op in ("add", "month"):
            continue
        if op == "add" and out and out[-1][0] == "add":
            merged = out[-1][1] + amount
            out.pop()
            if merged:
                out.append(("add", merged))
            continue
        out.append((op, amount))
    return tuple(out)


@dataclass(frozen=True)
class TimeMap:
    """A non-decreasing map of dates (or instants) to dates: its steps, applied in order."""

    kind: TimeKind
    steps: tuple[Step, ...] = ()

    @classmethod
    def of(cls, kind: TimeKind, steps: list[Step]) -> TimeMap:
        return cls(kind, _simplified(steps))

    def __call__(self, value: int) -> int:
        for op, amount in self.steps:
            if op == "add":
                value += amount
            elif op == "month":
                value = shift(self.kind, value, amount, 0)
            else:
                value = month_lower(self.kind, amount, value)
        return value

    def then(self, other: TimeMap) -> TimeMap:
        """This map, then ``other``."""
        return TimeMap.of(self.kind, [*self.steps, *other.steps])

    def plus(self, units: int) -> TimeMap:
        return TimeMap.of(self.kind, [*self.steps, ("add", units)])

    def lower(self) -> TimeMap:
        """The lower adjoint: ``x -> min {a : self(a) >= x}``."""
        steps: list[Step] = []
        for op, amount in reversed(self.steps):
            if op == "add":
                steps.append(("add", -amount))
            elif op == "month":
                steps.append(("month_lo", amount))
            else:
                steps += [("add", -1), ("month", amount), ("add", 1)]
        return TimeMap.of(self.kind, steps)

    @property
    def is_translation(self) -> bool:
        return all(op == "add" for op, _ in self.steps)

    def core(self) -> tuple[tuple[Step, ...], int]:
        """The steps before a final translation, and that translation: two maps with the same
        core differ by a constant."""
        if self.steps and self.steps[-1][0] == "add":
            return self.steps[:-1], self.steps[-1][1]
        return self.steps, 0

    def spread(self) -> tuple[int, int]:
        """Bounds of ``self(x) - x`` over every ``x`` (in units of the kind)."""
        unit = 1 if self.kind == "date" else NANOS_PER_DAY
        low = high = 0
        for op, amount in self.steps:
            if op == "add":
                low, high = low + amount, high + amount
                continue
            least, most = month_spread(amount)
            if op == "month":
                low, high = low + least * unit, high + most * unit
            else:
                low, high = low - most * unit, high - least * unit
        return low, high


def order(first: TimeMap, second: TimeMap) -> int | None:
    """-1, 0 or 1 when ``first(x)`` is below, equal to or above ``second(x)`` for every ``x``;
    None when that may change with ``x`` (or cannot be shown not to)."""
    (core_a, shift_a), (core_b, shift_b) = first.core(), second.core()
    if core_a == core_b:
        return (shift_a > shift_b) - (shift_a < shift_b)
    low_a, high_a = first.spread()
    low_b, high_b = second.spread()
    if high_a < low_b:
        return -1
    if low_a > high_b:
        return 1
    return None
