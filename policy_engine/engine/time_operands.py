"""Time operands for the compiled forms: which key ``now`` reads, whether an operand is a date or
an instant, and a moved date as a function of the date it moves (see
:mod:`policy_engine.language.time_values` for the calendar)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from ..language import ast
from ..language.time_values import TimeKind, duration_parts, shift


class Typed(Protocol):
    """An attribute of terms, as far as time needs it (its declared type)."""

    @property
    def type(self) -> ast.ValueType: ...


def now_key_name(context: Mapping[str, ast.ContextDecl]) -> str | None:
    """The context key declared ``is now`` (what ``now`` reads), or None."""
    return next((name for name, decl in context.items() if decl.is_now), None)


def key_time_kind(type_: ast.ValueType | None) -> TimeKind | None:
    if isinstance(type_, ast.DateType):
        return "date"
    if isinstance(type_, ast.InstantType):
        return "instant"
    return None


def time_kind_of(
    node: ast.Operand,
    key_types: Mapping[str, ast.ValueType],
    now_key: str | None,
    attributes: Mapping[tuple[str, str], Typed] | None = None,
) -> TimeKind | None:
    """``date`` or ``instant`` for a time operand (a literal, ``now``, a date or instant key or
    attribute of a term, a moved one), else None. ``attributes``: (kind, name) → the attribute
    (anything with a ``type``)."""
    while isinstance(node, ast.Shifted):
        node = node.base
    if isinstance(node, ast.TimeLiteral):
        return node.kind
    if isinstance(node, ast.Now):
        return key_time_kind(key_types.get(now_key)) if now_key is not None else None
    if isinstance(node, ast.NameRef):
        return key_time_kind(key_types.get(node.name))
    if isinstance(node, ast.AttributeRef | ast.KeyAttributeRef) and attributes:
        found = attributes.get((node.kind, node.name))
        return key_time_kind(found.type) if found is not None else None
    return None


def moved(node: ast.Shifted, kind: TimeKind) -> tuple[int, int]:
    """What ``node`` adds to its base: (calendar months, fixed units of ``kind``)."""
    months, fixed = duration_parts(kind, node.duration.amount, node.duration.unit)
    return (-months, -fixed) if node.sign == "-" else (months, fixed)


def mover(node: ast.Shifted, kind: TimeKind) -> Callable[[int], int]:
    """The function that moves a value of ``kind`` as ``node`` says (nested moves in order)."""
    steps: list[tuple[int, int]] = []
    current: ast.Operand = node
    while isinstance(current, ast.Shifted):
        steps.append(moved(current, kind))
        current = current.base
    steps.reverse()
    if len(steps) == 1:
        months, fixed = steps[0]
        if not months:
            return lambda value: value + fixed
        return lambda value: shift(kind, value, months, fixed)

    def apply(value: int) -> int:
        for months, fixed in steps:
            value = shift(kind, value, months, fixed)
        return value

    return apply


def innermost(node: ast.Operand) -> ast.Operand:
    """The operand a chain of moves starts from."""
    while isinstance(node, ast.Shifted):
        node = node.base
    return node
