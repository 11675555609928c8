"""Time in conditions: date and instant literals, durations and ``now`` (the decision's time: the
context key the policy declares ``is now``). A key moved by a duration, ``Shifted``, is an
operand made of operands: it lives with them in :mod:`.ast_expressions`."""

from __future__ import annotations

from dataclasses import dataclass, field

from .source import Span
from .time_values import DurationUnit, TimeKind, duration_text


@dataclass(frozen=True, slots=True)
class TimeLiteral:
    """``date "2023-09-22"`` or ``instant "2026-12-06T18:00:00Z"``: ``text`` as written and
    ``value`` its number (days, or nanoseconds, since 1970-01-01; see :mod:`.time_values`)."""

    kind: TimeKind
    text: str
    value: int
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Duration:
    """``13 months``, ``30 days``: a whole number of one unit."""

    amount: int
    unit: DurationUnit
    span: Span | None = field(default=None, compare=False, repr=False)

    def text(self) -> str:
        return duration_text(self.amount, self.unit)


@dataclass(frozen=True, slots=True)
class Now:
    """``now``: the decision's time, read from the context key declared ``is now``."""

    span: Span | None = field(default=None, compare=False, repr=False)
