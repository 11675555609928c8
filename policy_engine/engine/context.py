"""What compiled code reads, and how a request's context is checked on the fast path.

Owns the vocabulary shared by every compiled piece: the request's terms and context, the ``MISSING``
and ``INVALID`` sentinels, the signature of a compiled condition, and the context keys with their
check-and-convert validators, built once at load.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
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
    if isinstance(type_, ast.DecimalType):
        return exact_number
    if isinstance(type_, ast.StrType):
        return lambda v: v if type(v) is str else INVALID
    if isinstance(type_, ast.OneOfType):
        choices = frozenset(type_.literals)
        return lambda v: v if type(v) is str and v in choices else INVALID
    if isinstance(type_, ast.DateType | ast.InstantType):
        return time_validator(time_kind(type_) or "date", INVALID)
    if isinstance(type_, ast.TermType):  # a declared term of the key's kind, by its name
        terms = hierarchies[type_.kind]
        return lambda v: v if type(v) is str and v in terms else INVALID
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


def json_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """A request's context as JSON holds it, to echo in a decision: a
    :class:`~decimal.Decimal` becomes the float that reads back as it (:func:`plain_value`), or
    its text when no float does; anything else is kept as given."""
    if not any(type(v) is Decimal or type(v) is dict for v in context.values()):
        return dict(context)
    return {k: _json_value(v) for k, v in context.items()}


def _json_value(value: Any) -> Any:
    if type(value) is dict:
        return json_context(value)
    if type(value) is Decimal:
        plain = plain_value(value)
        return plain if type(plain) is float else format(value, "f")
    return value


def plain_value(value: Any) -> Any:
    """A context value (a default, a class's representative) as JSON holds it: a list's items
    sorted; a decimal as the float that reads back as exactly that decimal (every decimal of up
    to 15 significant digits has one), else as it is (JSON writers then write its text)."""
    if isinstance(value, frozenset | set):
        return sorted(value)
    if type(value) is Decimal:
        near = float(value)
        if math.isfinite(near) and Decimal(repr(near)) == value:
            return near
    return value


class ExactFloat(float):
    """A JSON number read as a float that keeps the text it was written with, so that a decimal
    key reads exactly what was sent (``json.loads(text, parse_float=ExactFloat)``): the command
    line reads requests so."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> ExactFloat:
        made = super().__new__(cls, text)
        made.text = text
        return made


def exact_number(value: Any) -> Any:
    """A decimal key's value, exactly: a :class:`~decimal.Decimal` from a whole number, a
    ``Decimal``, or a float read from the text it was written with (:class:`ExactFloat`) or else
    from its ``repr`` (the shortest text that reads back as that float, so ``0.1`` is 0.1, never
    the binary fraction nearest to it). ``INVALID`` for anything else: booleans, text, and
    numbers that are not finite (NaN, infinities)."""
    kind = type(value)
    if kind is int:
        return Decimal(value)
    if kind is Decimal:
        return value if value.is_finite() else INVALID
    if kind is float or kind is ExactFloat:
        try:
            found = Decimal(value.text if kind is ExactFloat else repr(value))
        except InvalidOperation:
            return INVALID
        return found if found.is_finite() else INVALID
    return INVALID
