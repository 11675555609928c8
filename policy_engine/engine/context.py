"""What compiled code reads, and how a request's context is checked on the fast path.

Owns the vocabulary shared by every compiled piece: the request's terms and context, the ``MISSING``
and ``INVALID`` sentinels, the signature of a compiled condition, and the context keys with their
check-and-convert validators, built once at load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..language import ast
from ..semantics.vocabulary import Hierarchy
from .time_request import time_kind, time_validator

MISSING: Any = object()
"""Stands for an absent context key inside compiled conditions."""

INVALID: Any = object()
"""What a context validator returns for a value of the wrong type."""

Context = Mapping[str, Any]
RequestTerms = tuple[str, str, str]
SymbolTables = tuple[dict[str, ast.ValueType], dict[str, str]]  # (party, data, purpose)
Condition = Callable[[Context, RequestTerms], "bool | None"]
Getter = Callable[[Context, RequestTerms], Any]

REQUEST_INDEX = {"party": 0, "data": 1, "purpose": 2}
"""Where each kind of term sits in :data:`RequestTerms`."""


@dataclass(frozen=True)
class ContextKey:
    name: str
    decl: ast.ContextDecl
    default: Any = MISSING
    check: Callable[[Any], Any] = field(default=lambda value: INVALID, repr=False)
    """Converts a valid request value to the evaluator's form, or returns ``INVALID``."""


def context_validator(
    type_: ast.ValueType, hierarchies: dict[str, Hierarchy]
) -> Callable[[Any], Any]:
    """A fast check-and-convert function for one context key, built once at load. Anything it
    refuses goes through the slow path in ``request.py``, which explains what is wrong."""
    if isinstance(type_, ast.BoolType):
        return lambda v: v if v is True or v is False else INVALID
    if isinstance(type_, ast.IntType):
        return lambda v: v if type(v) is int else INVALID
    if isinstance(type_, ast.StrType):
        return lambda v: v if type(v) is str else INVALID
    if isinstance(type_, ast.OneOfType):
        choices = frozenset(type_.literals)
        return lambda v: v if type(v) is str and v in choices else INVALID
    if isinstance(type_, ast.DateType | ast.InstantType):
        return time_validator(time_kind(type_) or "date", INVALID)
    # Lists stay as given: rules only test membership in them (the checker refuses `=` on lists
    # and sets), which a list answers as a set would, and a set built per request costs more
    # than the test.
    if isinstance(type_, ast.ListType) and type_.literals is None:

        def strings_check(value: Any) -> Any:
            if type(value) is not list and type(value) is not tuple:
                return INVALID
            for item in value:
                if type(item) is not str:
                    return INVALID
            return value

        return strings_check
    allowed = frozenset(
        type_.literals  # type: ignore[arg-type]
        if isinstance(type_, ast.ListType)
        else hierarchies[type_.kind].terms
    )

    def list_check(value: Any) -> Any:
        # Every allowed value is a string, so a list whose items are all allowed holds only
        # strings.
        if type(value) is not list and type(value) is not tuple:
            return INVALID
        try:
            return value if allowed.issuperset(value) else INVALID
        except TypeError:  # an unhashable item
            return INVALID

    return list_check
