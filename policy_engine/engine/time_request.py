"""Dates and instants in a request's context: checked and read into the numbers the evaluator
compares (:class:`~policy_engine.language.time_values.Day`,
:class:`~policy_engine.language.time_values.Instant`), once per request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..language import ast
from ..language.errors import Diagnostic
from ..language.time_values import TimeKind, TimeValueError, parse_time, time_value

TIME_TYPES = (ast.DateType, ast.InstantType)

_EXAMPLES = {"date": '"2026-12-06"', "instant": '"2026-12-06T18:00:00Z"'}


def time_kind(type_: ast.ValueType) -> TimeKind | None:
    """``date`` or ``instant`` for a key of that type, else None."""
    if isinstance(type_, ast.DateType):
        return "date"
    if isinstance(type_, ast.InstantType):
        return "instant"
    return None


def time_validator(kind: TimeKind, invalid: Any) -> Callable[[Any], Any]:
    """The fast check-and-convert function of a date or instant key (``invalid`` for a value
    the careful path must explain)."""

    def check(value: Any) -> Any:
        if type(value) is not str:
            return invalid
        try:
            return time_value(kind, parse_time(kind, value))
        except TimeValueError:
            return invalid

    return check


def convert_time(key: str, kind: TimeKind, value: Any, problems: list[Diagnostic]) -> Any:
    """A request's date or instant, or None after saying precisely what is wrong with it."""
    expected = "a date written YYYY-MM-DD" if kind == "date" else "an instant written in RFC 3339"
    if not isinstance(value, str):
        shown = "true" if value is True else "false" if value is False else type(value).__name__
        if isinstance(value, int | float) and not isinstance(value, bool):
            shown = f"the number {value}"
        problems.append(
            Diagnostic(
                "wrong-context-type",
                f"context key `{key}` must be {expected}, got {shown}",
                None,
                f"send it as a string, e.g. {_EXAMPLES[kind]}",
            )
        )
        return None
    try:
        return time_value(kind, parse_time(kind, value))
    except TimeValueError as exc:
        problems.append(
            Diagnostic(
                "wrong-context-type",
                f"context key `{key}` must be {expected}: {exc}",
                None,
                f"for example {_EXAMPLES[kind]}",
            )
        )
        return None
