"""How explanations and the analysis write context values: as a person would write them in a
rule (a date as its day, a set's terms without quotes, the term a key of one term names in
backticks)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..language import ast
from ..language.printer import literal_text
from ..language.time_values import TimeValue
from .context import ExactFloat

if TYPE_CHECKING:
    from .compiler import CompiledPolicy


def show(value: Any) -> str:
    """A context value as a person would write it in a rule."""
    if isinstance(value, TimeValue):
        return value.isoformat()
    if isinstance(value, frozenset | set | list | tuple):
        return "[" + ", ".join(show(v) for v in sorted(value, key=str)) + "]"
    if isinstance(value, str | int | bool | Decimal):
        return literal_text(value)
    if type(value) is ExactFloat:  # a JSON number read as written: shown so
        return value.text
    return str(value)


def show_key(compiled: CompiledPolicy, key: str, value: Any) -> str:
    """A context value as a person would write it: terms of a ``set of …`` key without quotes,
    the term a key of one term names in backticks."""
    decl = compiled.context.get(key)
    if decl is not None and isinstance(decl.decl.type, ast.TermType) and isinstance(value, str):
        return f"`{value}`"
    is_terms = decl is not None and isinstance(decl.decl.type, ast.TermSetType)
    if is_terms and isinstance(value, frozenset | set | list | tuple):
        return "[" + ", ".join(sorted(str(v) for v in value)) + "]"
    return show(value)
