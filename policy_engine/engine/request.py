"""Checking a decision request against the policy: known terms, declared context keys, right types.

A bad request is an error, never a decision: a misspelt purpose or a context value of the wrong type
must not quietly become a deny (or worse, an allow).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from ..language import ast
from ..language.errors import (
    Diagnostic,
    RequestError,
    UnknownTermError,
    did_you_mean,
    suggestion_help,
)
from .compiler import INVALID, MISSING, CompiledPolicy
from .context import exact_number
from .time_request import convert_time, time_kind


def resolve_term(compiled: CompiledPolicy, kind: str, value: object) -> str:
    """The request's party, data category or purpose, checked to be a declared term of that kind."""
    word = ast.KIND_WORDS[kind]
    hierarchy = compiled.hierarchies[kind]
    if isinstance(value, str) and value in hierarchy:
        return value
    if not isinstance(value, str):
        raise RequestError(
            [Diagnostic("bad-request", f"the {word} must be a name, got {describe_value(value)}")]
        )
    other_kind = compiled.symbol_tables[1].get(value)
    suggestions = did_you_mean(value, hierarchy.terms)
    if other_kind is not None:
        other = ast.KIND_WORDS[other_kind]
        message = f"`{value}` is {_article(other)} {other}, not {_article(word)} {word}"
    else:
        message = f"unknown {word} `{value}`"
    raise UnknownTermError(kind, value, suggestions, message)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


_LONGEST_SHOWN_BITS = 332
"""About 100 decimal digits: longer numbers are not written out (Python refuses to write one of
over 4,300 digits, and nobody reads one of 100)."""


def describe_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, int) and value.bit_length() > _LONGEST_SHOWN_BITS:
        return "a number too long to show"
    if isinstance(value, int | float | Decimal):
        return f"the number {value}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _supplied_help(compiled: CompiledPolicy, key: object) -> str | None:
    """For a package's key the policy supplies from a key of its own: which one to send."""
    for use in compiled.packages:
        supplier = use.supplies.get(key) if isinstance(key, str) else None
        if supplier is not None:
            return f"the policy supplies `{key}` from `{supplier}`: send `{supplier}`"
    return None


def normalize_context(
    compiled: CompiledPolicy, context: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Validate ``context`` against the schema and return the evaluator's view of it.

    Lists are checked item by item and kept as they are (rules only test membership in them);
    ``null`` means unknown (the key is treated as missing); declared defaults fill absent keys.
    Every problem is reported at once in one :class:`RequestError`. The common case runs the
    validators compiled at load; anything they refuse goes through :func:`_normalize_checked`,
    which says precisely what is wrong.
    """
    out = dict(compiled.default_values)
    if context is None:
        return out
    if type(context) is not dict and not isinstance(context, Mapping):
        return _normalize_checked(compiled, context)  # type: ignore[unreachable]
    checks = compiled.checks
    for key, value in context.items():
        check = checks.get(key)
        if check is None:
            return _normalize_checked(compiled, context)
        if value is None:
            continue
        converted = check(value)
        if converted is INVALID:
            return _normalize_checked(compiled, context)
        out[key] = converted
    return out


def _normalize_checked(compiled: CompiledPolicy, context: Any) -> dict[str, Any]:
    """The careful path: collects every problem of the context and raises them together."""
    if context is None:
        context = {}
    if not isinstance(context, Mapping):
        raise RequestError(
            [
                Diagnostic(
                    "bad-request", f"the context must be an object, got {describe_value(context)}"
                )
            ]
        )
    problems: list[Diagnostic] = []
    out: dict[str, Any] = {}
    for key, value in flat_context(compiled, context, problems).items():
        entry = compiled.context.get(key) if isinstance(key, str) else None
        if entry is None:
            problems.append(
                Diagnostic(
                    "unknown-context-key",
                    f"unknown context key `{key}`",
                    None,
                    _supplied_help(compiled, key)
                    or suggestion_help(str(key), compiled.context)
                    or "the policy declares "
                    + ", ".join(f"`{k}`" for k in sorted(compiled.context)),
                )
            )
            continue
        if value is None:
            continue
        converted = _convert(compiled, key, entry.decl.type, value, problems)
        if converted is not MISSING:
            out[key] = converted
    if problems:
        raise RequestError(problems)
    for key, entry in compiled.context.items():
        if key not in out and entry.default is not MISSING:
            out[key] = entry.default
    return out


def flat_context(
    compiled: CompiledPolicy, context: Mapping[Any, Any], problems: list[Diagnostic]
) -> dict[Any, Any]:
    """The context with dotted keys' objects opened: ``{"record": {"author": "dr_a"}}`` is
    ``{"record.author": "dr_a"}`` when the policy declares ``record.author`` (``{"record":
    null}`` leaves every key under it unknown). A key given both ways is a problem."""
    prefixes = compiled.key_prefixes
    if not prefixes:
        return dict(context)
    out: dict[Any, Any] = {}

    def walk(prefix: str, given: Mapping[Any, Any]) -> None:
        for key, value in given.items():
            name = f"{prefix}.{key}" if prefix and isinstance(key, str) else key
            if isinstance(name, str) and name in prefixes and name not in compiled.context:
                if isinstance(value, Mapping):
                    walk(name, value)
                elif value is not None:
                    under = sorted(k for k in compiled.context if k.startswith(name + "."))
                    problems.append(
                        Diagnostic(
                            "wrong-context-type",
                            f"`{name}` must be an object, got {describe_value(value)}",
                            None,
                            f"its keys are {', '.join(f'`{k}`' for k in under)}",
                        )
                    )
                continue
            if name in out:
                problems.append(
                    Diagnostic(
                        "duplicate-context-key",
                        f"context key `{name}` is given twice",
                        None,
                        f"give it either as `{name}` or inside `{name.partition('.')[0]}`",
                    )
                )
            out[name] = value

    walk("", context)
    return out


def _convert(
    compiled: CompiledPolicy,
    key: str,
    type_: ast.ValueType,
    value: Any,
    problems: list[Diagnostic],
) -> Any:
    def wrong(expected: str, help: str | None = None) -> Any:
        problems.append(
            Diagnostic(
                "wrong-context-type",
                f"context key `{key}` must be {expected}, got {describe_value(value)}",
                None,
                help,
            )
        )
        return MISSING

    if isinstance(type_, ast.BoolType):
        return value if isinstance(value, bool) else wrong("true or false")
    if isinstance(type_, ast.IntType):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        hint = (
            "send the number without quotes" if isinstance(value, str) and value.isdigit() else None
        )
        return wrong("a whole number", hint)
    if isinstance(type_, ast.DecimalType):
        found = exact_number(value)
        if found is not INVALID:
            return found
        if isinstance(value, float | Decimal):
            return wrong("a finite number", "NaN and infinities are not numbers")
        hint = "send the number without quotes" if isinstance(value, str) else None
        return wrong("a number", hint)
    if isinstance(type_, ast.StrType):
        return value if isinstance(value, str) else wrong("a string")
    if isinstance(type_, ast.OneOfType):
        choices = ", ".join(f'"{v}"' for v in type_.literals)
        if isinstance(value, str) and value in type_.literals:
            return value
        return wrong(f"one of {choices}", suggestion_help(str(value), type_.literals))
    if isinstance(type_, ast.DateType | ast.InstantType):
        converted = convert_time(key, time_kind(type_) or "date", value, problems)
        return MISSING if converted is None else converted
    if isinstance(type_, ast.TermType):
        return _convert_term(compiled, key, type_.kind, value, problems)
    if not isinstance(value, list | tuple):
        return wrong(f"a list ({type_.describe()})")
    if isinstance(type_, ast.ListType):
        return _convert_strings(type_.literals, value, wrong)
    return _convert_terms(compiled, key, type_.kind, value, problems)


def _convert_strings(
    allowed: tuple[str, ...] | None,
    value: list[Any] | tuple[Any, ...],
    wrong: Callable[[str, str | None], Any],
) -> Any:
    """A list of strings (of the ``allowed`` ones, when the key lists them)."""
    for item in value:
        if not isinstance(item, str) or (allowed is not None and item not in allowed):
            choices = "strings" if allowed is None else ", ".join(f'"{v}"' for v in allowed)
            return wrong(
                f"a list of {choices}",
                suggestion_help(str(item), allowed or ())
                or f"{describe_value(item)} is not allowed",
            )
    return frozenset(value)


def _convert_term(
    compiled: CompiledPolicy, key: str, kind: str, value: Any, problems: list[Diagnostic]
) -> Any:
    """One declared term of ``kind``, by its name: a term of another kind, an undeclared name or
    anything but a name is a problem (with a did-you-mean)."""
    hierarchy = compiled.hierarchies[kind]
    if isinstance(value, str) and value in hierarchy:
        return value
    word = ast.KIND_WORDS[kind]
    code = "unknown-term"
    if not isinstance(value, str):
        code = "wrong-context-type"
        message = (
            f"context key `{key}` must name {_article(word)} {word}, got {describe_value(value)}"
        )
        help = f"send the {word}'s name as a string"
    else:
        other_kind = compiled.symbol_tables[1].get(value)
        if other_kind in ("party", "data", "purpose"):
            other = ast.KIND_WORDS[other_kind]
            message = (
                f"context key `{key}` names `{value}`, which is {_article(other)} {other}, "
                f"not {_article(word)} {word}"
            )
        else:
            message = f"context key `{key}` names unknown {word} `{value}`"
        help = suggestion_help(value, hierarchy.terms) or f"`{key}` names a declared {word}"
    problems.append(Diagnostic(code, message, None, help))
    return MISSING


def _convert_terms(
    compiled: CompiledPolicy,
    key: str,
    kind: str,
    value: list[Any] | tuple[Any, ...],
    problems: list[Diagnostic],
) -> Any:
    """A set of terms of one hierarchy: every item must be a declared term."""
    hierarchy = compiled.hierarchies[kind]
    word = ast.KIND_WORDS[kind]
    for item in value:
        if not isinstance(item, str) or item not in hierarchy:
            problems.append(
                Diagnostic(
                    "unknown-term",
                    f"context key `{key}` lists unknown {word} {describe_value(item)}",
                    None,
                    suggestion_help(str(item), hierarchy.terms),
                )
            )
            return MISSING
    return frozenset(value)
