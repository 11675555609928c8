"""What a test case says of a decision's obligations: ``obligations = ["log_access",
"retain_for(years = 6)"]``.

An entry is an obligation's name, or the obligation as a rule requires it, with arguments
written as in a rule (``years = 6``, ``share = 0.25``, ``medium = "paper"``, ``urgent = true``),
the others taking their declared defaults. The list is exact: the decision carries the
obligations named, no other; and for an obligation written with arguments, it carries it with
those arguments, and with no others (list it once for each: ``["retain_for(years = 6)",
"retain_for(years = 10)"]``). An obligation written by its name alone may come with any
arguments.

The reader checks an entry's syntax (:func:`parse_expected`); the runner checks it against the
policy's declaration and the decision (:func:`obligation_failures`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..engine.compiled import Argument, Arguments, requirement_order
from ..engine.decision import Decision
from ..engine.policy import Policy
from ..language import ast
from ..language.errors import did_you_mean
from ..language.printer import obligation_text
from ..semantics.resolve import plain_decimal
from ..semantics.value_checks import default_problem

_ENTRY = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(?:\((.*)\))?\s*", re.DOTALL)
_VALUE = r'"(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.[0-9]+)?|true|false'
_ARGUMENT = re.compile(rf"\s*([A-Za-z_]\w*)\s*=\s*({_VALUE})\s*(,|$)")


@dataclass(frozen=True)
class ExpectedObligation:
    """One entry of a case's ``obligations``: a name, with its arguments when written."""

    text: str
    name: str
    arguments: tuple[tuple[str, Argument], ...] | None
    """None: the name alone, any arguments."""


def parse_expected(text: str) -> ExpectedObligation | str:
    """The entry ``text``, or what is wrong with how it is written."""
    entry = _ENTRY.fullmatch(text)
    if entry is None:
        return f"`{text}` is not an obligation: write its name, or `name(parameter = value)`"
    inside = entry.group(2)
    if inside is None:
        return ExpectedObligation(text, entry.group(1), None)
    arguments: list[tuple[str, Argument]] = []
    at = 0
    while at < len(inside) and inside[at:].strip():
        found = _ARGUMENT.match(inside, at)
        if found is None:
            return (
                f"`{text}`: write each argument as `parameter = value`, the value as in a rule "
                '(`6`, `0.25`, `"paper"`, `true`), separated by commas'
            )
        arguments.append((found.group(1), _value(found.group(2))))
        at = found.end()
    return ExpectedObligation(text, entry.group(1), tuple(arguments))


def _value(written: str) -> Argument:
    if written.startswith('"'):
        return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), written[1:-1])
    if written in ("true", "false"):
        return written == "true"
    return Decimal(written) if "." in written else int(written)


def obligation_failures(policy: Policy, entries: Sequence[str], decision: Decision) -> list[str]:
    """What differs between the case's ``obligations`` and the decision's (none: it passes)."""
    expected = [e for e in map(parse_expected, entries) if isinstance(e, ExpectedObligation)]
    known = policy.terms("obligation")
    failures: list[str] = []
    for name in sorted({e.name for e in expected} - set(known)):
        hint = did_you_mean(name, known)
        suffix = f" (did you mean {' or '.join(f'`{h}`' for h in hint)}?)" if hint else ""
        failures.append(f"`{name}` in `obligations` is not an obligation of this policy{suffix}")
    written = [e for e in expected if e.arguments is not None and e.name in known]
    texts: dict[str, dict[str, tuple[Any, ...]]] = {}  # name → text → where it sorts
    for entry in written:
        found = _requirement(policy, entry, failures)
        if found is not None:
            texts.setdefault(entry.name, {})[obligation_text(*found)] = requirement_order(*found)
    # Each name once when arguments are written (an obligation may be listed once for each of
    # its requirements); as listed otherwise, as the list always was read.
    names = sorted({e.name for e in expected}) if written else sorted(e.name for e in expected)
    if names != sorted(decision.obligations):
        failures.append(
            f"expected obligations {_listed(names)}, got {_listed(sorted(decision.obligations))}"
        )
    for name, wanted in sorted(texts.items()):
        got = [o.text for o in decision.obligation_details if o.name == name]
        if name in decision.obligations and set(got) != set(wanted):
            listed = sorted(wanted, key=wanted.__getitem__)
            failures.append(f"expected `{name}` as {_listed(listed)}, got {_listed(got)}")
    return failures


def _listed(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names) or "none"


def _requirement(
    policy: Policy, entry: ExpectedObligation, failures: list[str]
) -> tuple[str, Arguments] | None:
    """The entry as decisions hold it (its name and its arguments, complete, in the order of
    the declaration), or None after saying in ``failures`` why it cannot be."""
    decl = policy.compiled.checked.term_decls.get(entry.name)
    params = {p.name.value: p for p in decl.parameters} if decl is not None else {}
    given = dict(entry.arguments or ())
    problems = []
    for key, value in entry.arguments or ():
        param = params.get(key)
        if param is None:
            hint = did_you_mean(key, params)
            problems.append(
                f"`{key}` is not a parameter of `{entry.name}`"
                + (f" (did you mean `{hint[0]}`?)" if hint else "")
            )
        elif problem := default_problem(param.type, value):
            problems.append(f"`{key}` {problem}")
    if len(given) != len(entry.arguments or ()):
        problems.append("a parameter is given twice")
    arguments: list[tuple[str, Argument]] = []
    for name, param in params.items():
        found: Argument | None = given.get(name)
        if found is None and isinstance(param.default, ast.Literal_):
            found = param.default.value
        if found is None:
            problems.append(f"`{name}` has no default: give it")
        elif isinstance(param.type, ast.DecimalType) and isinstance(found, int | Decimal):
            arguments.append((name, plain_decimal(found)))
        else:
            arguments.append((name, found))
    if problems:
        failures.append(f"`{entry.text}` in `obligations`: " + "; ".join(problems))
        return None
    return entry.name, tuple(arguments)
