"""How a comparison of dates or instants is explained: each side with its value, moved sides
computed (``consent_given_at + 13 months = 2027-01-05 > now = 2026-12-06``)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..language import ast
from ..language.printer import operand_text
from ..language.time_values import TimeKind, format_time
from .attribute_trace import Attributes, attribute_value, unknown_attributes
from .context import MISSING, Context, RequestTerms
from .time_operands import innermost, mover, time_kind_of

Traced = tuple[bool | None, frozenset[str], str]
"""The comparison's value (None: unknown), the keys it missed, and what it saw, in words."""

_TESTS: dict[str, Callable[[int, int], bool]] = dict(
    zip(
        ("=", "!=", "<", "<=", ">", ">="),
        (operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge),
        strict=True,
    )
)


@dataclass(frozen=True)
class TimeReads:
    """What a comparison of dates reads besides literals: the context, the request's terms and
    the attributes of terms (a date attribute, ``party.founded``)."""

    attributes: Attributes
    ctx: Context
    req: RequestTerms


def is_time_compare(
    expr: ast.Compare,
    key_types: Mapping[str, ast.ValueType],
    now_key: str | None,
    attributes: Attributes | None = None,
) -> bool:
    return any(
        time_kind_of(side, key_types, now_key, attributes) for side in (expr.left, expr.right)
    )


def _key_of(node: ast.Operand, now_key: str | None) -> str | None:
    base = innermost(node)
    if isinstance(base, ast.Now):
        return now_key
    return base.name if isinstance(base, ast.NameRef) else None


def _value(node: ast.Operand, kind: TimeKind, reads: TimeReads, now_key: str | None) -> Any:
    base = innermost(node)
    if isinstance(base, ast.TimeLiteral):
        value: Any = base.value
    elif isinstance(base, ast.AttributeRef | ast.KeyAttributeRef):
        value = attribute_value(reads.attributes, base, reads.ctx, reads.req)[0]
    else:
        value = reads.ctx.get(_key_of(node, now_key) or "", MISSING)
    if value is MISSING or not isinstance(node, ast.Shifted):
        return value
    return mover(node, kind)(value)


def trace_time_compare(
    expr: ast.Compare,
    key_types: Mapping[str, ast.ValueType],
    now_key: str | None,
    attributes: Attributes,
    reads: TimeReads,
) -> Traced:
    kind = time_kind_of(expr.left, key_types, now_key, attributes) or time_kind_of(
        expr.right, key_types, now_key, attributes
    )
    assert kind is not None
    sides = (expr.left, expr.right)
    values = [_value(side, kind, reads, now_key) for side in sides]
    keys = {
        key
        for side, value in zip(sides, values, strict=True)
        if value is MISSING and (key := _key_of(side, now_key)) is not None
    }
    missing = frozenset(keys) | unknown_attributes(attributes, sides, reads.ctx, reads.req)
    if missing:
        notes = [f"`{key}` is missing" for key in sorted(keys)]
        for side, value in zip(sides, values, strict=True):
            base = innermost(side)
            if value is MISSING and isinstance(base, ast.AttributeRef | ast.KeyAttributeRef):
                notes.append(attribute_value(attributes, base, reads.ctx, reads.req)[1])
        return None, missing, "; ".join(notes)
    left, right = (_side(side, value, kind) for side, value in zip(sides, values, strict=True))
    result = bool(_TESTS[expr.op](values[0], values[1]))
    return (
        result,
        frozenset(),
        f"{left} {expr.op} {right}" if result else f"{left}, not {expr.op} {right}",
    )


def _side(node: ast.Operand, value: int, kind: TimeKind) -> str:
    written = format_time(kind, value)
    if isinstance(node, ast.TimeLiteral):
        return written
    return f"{operand_text(node)} = {written}"
