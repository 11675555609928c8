"""Checks of values written in declarations: a default or an attribute's value has the declared
type, and a type's listed strings are listed once (shared by context keys and attributes)."""

from __future__ import annotations

import re
from decimal import Decimal

from ..language import ast
from ..language.source import Span
from .check_state import CheckState, article


def check_literals_unique(
    state: CheckState, name: str, span: Span | None, literals: tuple[str, ...]
) -> None:
    """No value is listed twice in a ``one of`` or ``list of "…"`` type (of the key or attribute
    ``name``, declared at ``span``)."""
    seen: set[str] = set()
    for value in literals:
        if value in seen:
            state.error(
                "duplicate-literal",
                f'`"{value}"` is listed twice in the values of `{name}`',
                span,
            )
        seen.add(value)


def default_problem(type_: ast.ValueType, value: object) -> str | None:
    """What is wrong with ``value`` as the default of a key of ``type_``, or None."""
    if isinstance(type_, ast.BoolType):
        return None if isinstance(value, bool) else "must be `true` or `false`"
    if isinstance(type_, ast.IntType):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "must be a whole number"
    if isinstance(type_, ast.DecimalType):
        ok = isinstance(value, int | Decimal) and not isinstance(value, bool)
        return None if ok else "must be a number, such as `0.75` or `2`"
    if isinstance(type_, ast.StrType):
        return None if isinstance(value, str) else "must be a quoted string"
    if isinstance(type_, ast.OneOfType):
        if isinstance(value, str) and value in type_.literals:
            return None
        return "must be one of " + ", ".join(f'"{v}"' for v in type_.literals)
    if isinstance(type_, ast.DateType | ast.InstantType):
        return (
            f"cannot be set: {article(type_.describe())} {type_.describe()} is a fact the "
            "request states, never assumed (leave it out to make it unknown)"
        )
    return "must be a list"


_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def number_hint(node: ast.Operand) -> str | None:
    """`write the number without quotes` for a quoted number compared with a number."""
    text = node.value if isinstance(node, ast.Literal_) else None
    if isinstance(text, str) and _NUMBER.fullmatch(text):
        return f"write the number without quotes: `{text}`"
    return None
