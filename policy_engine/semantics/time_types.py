"""Typing time in conditions: date and instant literals, a key moved by a duration, ``now``, and
comparisons of dates with dates and instants with instants (the one key marked ``is now`` is
checked with the context schema).

:class:`~.condition_types.Typer` hands every time operand and every comparison with a time side
to this module, so the rules of time live in one place: a date moves by days, weeks, months and
years, an instant by those and by hours and minutes; a date never compares with an instant (a
day and a point in time: which day an instant falls on depends on a time zone the rule does not
name); ``now`` needs a key declared ``is now``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..language import ast
from ..language.printer import operand_text
from ..language.time_values import TimeValueError, parse_time
from .check_state import CheckState


class Typed(Protocol):
    """What this module reads of an operand's type (``OpType`` of :mod:`.condition_types`)."""

    @property
    def base(self) -> str: ...

    def describe(self) -> str: ...

    def a(self) -> str: ...


TIME_BASES = ("date", "instant")
TIME_OPERANDS = (ast.TimeLiteral, ast.Shifted, ast.Now)
_MOVES = {
    "date": "days, weeks, months or years",
    "instant": "minutes, hours, days, weeks, months or years",
}


def now_key(context: dict[str, ast.ContextDecl]) -> ast.ContextDecl | None:
    """The key declared ``is now`` (the first, when a policy wrongly marks several)."""
    return next((decl for decl in context.values() if decl.is_now), None)


def time_operand(
    state: CheckState,
    node: ast.TimeOperand,
    operand: Callable[[ast.Operand], Typed | None],
    make: Callable[[str], Typed],
) -> Typed | None:
    """The type of a date or instant literal, of ``now`` and of a key moved by a duration (made
    by ``make`` from ``date`` or ``instant``; ``operand`` types the key a duration moves); None
    after reporting why there is none."""
    if isinstance(node, ast.TimeLiteral):
        return make(node.kind)
    if isinstance(node, ast.Now):
        decl = now_key(state.context)
        if decl is None:
            state.error(
                "now-undeclared",
                "`now` is the decision's time, but no context key is declared `is now`",
                node.span,
                "declare the key that holds it, e.g. "
                '`context decided_at: instant is now "the time of the decision"`; a request '
                "then states that time, so that every decision can be replayed",
            )
            return None
        if not isinstance(decl.type, ast.DateType | ast.InstantType):
            return None  # the declaration's error says why
        return make(decl.type.describe())
    base = operand(node.base)
    if base is None:
        return None
    written = operand_text(node.base)
    if base.base not in TIME_BASES:
        state.error(
            "type-mismatch",
            f"`{node.sign} {node.duration.text()}` moves a date or an instant, but `{written}` "
            f"is {base.a()}",
            node.span,
            "durations are added to (or taken from) date and instant keys and `now`",
        )
        return None
    if base.base == "date" and node.duration.unit in ("hours", "minutes"):
        state.error(
            "type-mismatch",
            f"`{written}` is a date, which cannot move by {node.duration.unit}",
            node.duration.span or node.span,
            f"a date moves by {_MOVES['date']}; declare the key as an instant to count "
            f"{node.duration.unit}",
        )
        return None
    return base


def check_time_compare(state: CheckState, expr: ast.Compare, left: Typed, right: Typed) -> None:
    """A comparison with a date or an instant on one side: the other side is of the same kind."""
    if left.base == right.base:
        return
    left_text, right_text = operand_text(expr.left), operand_text(expr.right)
    if left.base in TIME_BASES and right.base in TIME_BASES:
        state.error(
            "type-mismatch",
            f"cannot compare `{left_text}` ({left.a()}) with `{right_text}` ({right.a()})",
            expr.span,
            "a date is a calendar day and an instant a point in time; which day an instant "
            "falls on depends on a time zone, so the two never compare: declare both keys "
            "as dates or both as instants",
        )
        return
    timed, other_node = (left, expr.right) if left.base in TIME_BASES else (right, expr.left)
    example = '`date "2023-09-22"`' if timed.base == "date" else '`instant "2026-12-06T18:00:00Z"`'
    state.error(
        "type-mismatch",
        f"cannot compare `{left_text}` ({left.describe()}) with `{right_text}` "
        f"({right.describe()})",
        expr.span,
        _literal_hint(timed.base, other_node)
        or f"compare {timed.a()} with another {timed.base}: a key, `now` or a literal such as "
        f"{example}",
    )


def _literal_hint(kind: str, node: ast.Operand) -> str | None:
    """`write date "2023-09-22"` for a quoted date compared with a date."""
    if not (isinstance(node, ast.Literal_) and isinstance(node.value, str)):
        return None
    try:
        parse_time(kind, node.value)  # type: ignore[arg-type]
    except TimeValueError:
        return None
    return f'write `{kind} "{node.value}"`: a quoted value is a string'
