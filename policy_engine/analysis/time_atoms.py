"""The comparisons of dates and instants a policy makes, read for the analysis: each side is a
constant or a key moved by a monotone map (:mod:`.time_maps`), and every comparison of a key
with a constant, or of one key with another, becomes a test of one key against *points*.

``F(a) >= y`` holds exactly when ``a >= F⁻(y)``, and ``F(a) > y`` exactly when
``a >= F⁻(y + 1)`` (one unit: a day, or a nanosecond), so each comparison splits a key's values
at one or two points: ``<`` and ``>=`` at ``F⁻(y)``, ``>`` and ``<=`` at ``F⁻(y + 1)``, ``=`` and
``!=`` at both. When ``y`` is another key moved by ``G``, the point is a map of that key:
``F⁻(G(b) + 1)``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from ..engine.time_operands import Typed, innermost, key_time_kind, moved, time_kind_of
from ..language import ast
from ..language.errors import Diagnostic
from ..language.printer import expr_text
from ..language.source import Span
from ..language.time_values import TimeKind
from .budget import BudgetExceeded
from .conditions import operand_pairs
from .time_maps import TimeMap

_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
}
_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}
_UNITS_AFTER = {"<": (0,), ">=": (0,), ">": (1,), "<=": (1,), "=": (0, 1), "!=": (0, 1)}
"""Where a comparison ``F(a) op y`` splits ``a``: at ``F⁻(y + u)`` for each ``u`` listed."""


class NotExact(BudgetExceeded):
    """A combination of comparisons the analysis cannot make exact: the question is left open
    (like a budget that ran out), never answered by a guess."""

    def __init__(self, reason: str, span: Span | None = None) -> None:
        where = f" ({span.source.name}:{span.line}:{span.column})" if span is not None else ""
        super().__init__(f"cannot analyse exactly: {reason}{where}")
        self.detail = reason
        self.span = span

    def diagnostic(self) -> Diagnostic:
        """The problem at its place, as ``check`` reports it (a question left open: exit 3)."""
        return Diagnostic(
            "analysis-undecided",
            f"cannot analyse exactly: {self.detail}",
            self.span,
            "nothing is proven about the rules and invariants that read these keys, and `diff` "
            "cannot compare them; docs/analysis.md says which comparisons of dates are exact",
        )


@dataclass(frozen=True)
class Side:
    """One side of a comparison: ``key`` moved by ``map``, or the constant ``value``, or one of
    the constants ``values`` (an attribute of a term, moved: the values terms give it)."""

    key: str | None
    map: TimeMap
    value: int = 0
    values: tuple[int, ...] | None = None

    def constants(self) -> tuple[int, ...]:
        return (self.value,) if self.values is None else self.values


@dataclass(frozen=True)
class TimeAtom:
    """A comparison ``left op right`` of dates (or of instants)."""

    expr: ast.Compare
    kind: TimeKind
    left: Side
    op: str
    right: Side

    def text(self) -> str:
        return f"`{expr_text(self.expr)}`"

    def outcomes(self, values: Mapping[str, int]) -> tuple[bool, ...]:
        """Whether the comparison holds for these values of its keys: once, or, when a side is
        an attribute of a term, once for each value terms give it (which one a request meets
        depends on its terms)."""
        left, right = (
            (s.map(values[s.key]),) if s.key is not None else s.constants()
            for s in (self.left, self.right)
        )
        return tuple(_COMPARE[self.op](a, b) for a in left for b in right)

    def oriented(self, key: str) -> tuple[Side, str, Side]:
        """The comparison with ``key``'s side on the left."""
        if self.left.key == key:
            return self.left, self.op, self.right
        return self.right, _FLIPPED[self.op], self.left


def points_of(key_side: Side, op: str, other: Side) -> list[TimeMap | int]:
    """Where ``key_side op other`` splits the key's values: a constant point when ``other`` is a
    constant, else a map of the other key's value to the point."""
    lower = key_side.map.lower()
    if other.key is None:
        return [lower(v + units) for v in other.constants() for units in _UNITS_AFTER[op]]
    return [other.map.plus(units).then(lower) for units in _UNITS_AFTER[op]]


AttributeValues = Mapping[tuple[str, str], Iterable[object]]
"""(kind, attribute) → every value some term gives it (in any version)."""


def _side(
    node: ast.Operand,
    kind: TimeKind,
    keys: Mapping[str, ast.ValueType],
    now_key: str | None,
    attributes: AttributeValues,
) -> Side:
    steps: list[tuple[str, int]] = []
    current = node
    while isinstance(current, ast.Shifted):
        months, fixed = moved(current, kind)
        steps[:0] = [("month", months), ("add", fixed)]
        current = current.base
    move = TimeMap.of(kind, steps)
    base = innermost(node)
    if isinstance(base, ast.TimeLiteral):
        return Side(None, TimeMap(kind), move(base.value))
    if isinstance(base, ast.AttributeRef | ast.KeyAttributeRef):
        # Within a cell (and for a given term of a key) a constant: one of the values terms give.
        given = attributes.get((base.kind, base.name), ())
        values = tuple(sorted({move(int(v)) for v in given if isinstance(v, int)}))
        return Side(None, TimeMap(kind), 0, values)
    key = now_key if isinstance(base, ast.Now) else base.name  # type: ignore[union-attr]
    assert key is not None and key in keys
    return Side(key, move)


def time_atoms(
    exprs: list[ast.Expr],
    keys: Mapping[str, ast.ValueType],
    now_key: str | None,
    attributes: Mapping[tuple[str, str], Typed] | None = None,
    values: AttributeValues | None = None,
) -> Iterator[TimeAtom]:
    """The comparisons of dates or instants among ``exprs`` (``keys``: context key → type;
    ``attributes``: the attributes of terms, for their types; ``values``: every value terms
    give each)."""
    values = values or {}
    for expr in exprs:
        for _, _, compare in operand_pairs(expr):
            if not isinstance(compare, ast.Compare):
                continue
            kind = time_kind_of(compare.left, keys, now_key, attributes) or time_kind_of(
                compare.right, keys, now_key, attributes
            )
            if kind is None:
                continue
            left = _side(compare.left, kind, keys, now_key, values)
            right = _side(compare.right, kind, keys, now_key, values)
            yield TimeAtom(compare, kind, left, compare.op, right)


def time_keys(keys: Mapping[str, ast.ValueType]) -> dict[str, TimeKind]:
    """The date and instant keys of a schema, with their kinds."""
    found = {name: key_time_kind(type_) for name, type_ in keys.items()}
    return {name: kind for name, kind in found.items() if kind is not None}
