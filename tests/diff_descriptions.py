"""Reading a ``diff`` group's description back as a condition, to hold it to the brute force.

A changed cell compared class by class is described by a condition over the rules' own tests
(``policy_engine/analysis/diff_describe.py``): each test in backticks, as the language writes it,
sometimes followed by ``is unknown``, ``is false or unknown``, ``is true or unknown`` or ``is true
or false``, joined by
``and``/``or`` with parentheses. :func:`read_description` parses it; :func:`described` values it
on a request, each test compiled in the version that has it (a test of an attribute the versions
give the cell's term differently is written with one version's value, so it reads the same in
both). A description that lists context classes instead (``… or 3 more``, or the words of a
class: the minimiser's budget ran out) is not a condition: :func:`read_description` returns None.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import policy_engine
from policy_engine import load_policy_text
from policy_engine.engine.compiler import compile_condition
from policy_engine.engine.request import normalize_context
from policy_engine.language import ast
from policy_engine.language.ast_expressions import names_read
from policy_engine.language.parser import parse_source
from policy_engine.language.source import Source

Literal = tuple[str, str]
"""(a test's text, how it is read: "true", "unknown", "false or unknown", "true or unknown")."""
Node = Literal | tuple[str, tuple[Any, ...]]
"""A literal, or ("and" | "or", parts)."""

_TOKEN = re.compile(
    r"\s*(?:`(?P<atom>[^`]+)`(?: is (?P<how>unknown|false or unknown|true or unknown|true or "
    r"false))?"
    r"|(?P<word>and|or|\(|\)))"
)


def read_description(when: str) -> Node | None:
    """The group's ``when`` as a condition; ("always", ()) for "in every context" and "when
    always"; None for a description by context classes."""
    if when in ("in every context", "when always"):
        return ("and", ())
    if not when.startswith("when ") or re.search(r" or \d+ more$", when):
        return None
    tokens: list[tuple[str, str]] = []
    text, at = when[len("when ") :], 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            return None
        at = match.end()
        if match["atom"] is not None:
            tokens.append(("atom", match["atom"] + "\0" + (match["how"] or "true")))
        else:
            tokens.append(("word", match["word"]))
    node, rest = _parse(tokens)
    return node if not rest else None


def _parse(tokens: list[tuple[str, str]]) -> tuple[Node, list[tuple[str, str]]]:
    """A sequence of parts joined by one connective (the describer never mixes them unbracketed)."""
    parts: list[Node] = []
    joiner = "and"
    while tokens:
        kind, value = tokens[0]
        if kind == "word" and value == ")":
            break
        if kind == "word" and value in ("and", "or"):
            joiner = value
            tokens = tokens[1:]
            continue
        if kind == "word" and value == "(":
            inner, tokens = _parse(tokens[1:])
            assert tokens and tokens[0] == ("word", ")"), "unbalanced description"
            tokens = tokens[1:]
            parts.append(inner)
            continue
        text, how = value.split("\0")
        parts.append((text, how))
        tokens = tokens[1:]
    node: Node = parts[0] if len(parts) == 1 else (joiner, tuple(parts))
    return node, tokens


def atoms_of(node: Node) -> list[str]:
    if node[0] in ("and", "or") and isinstance(node[1], tuple):
        return [a for part in node[1] for a in atoms_of(part)]
    return [str(node[0])]


Test = Callable[[dict[str, Any], tuple[str, str, str]], "bool | None"]


def compile_atoms(texts: Sequence[str], versions: Sequence[str]) -> dict[str, Test]:
    """Each test's text compiled in the first version (policy text) that can say it: parsed as
    the condition of a probe rule, resolved (a named condition's name) and compiled with the
    version's compiled policy, unchecked (``dest = "y"`` with `y` none of `dest`'s values is a
    test the describer may write: the value an attribute has, compared with a key)."""
    found: dict[str, Test] = {}
    policies = [load_policy_text(v) for v in versions]
    for text in dict.fromkeys(texts):
        for version, policy in zip(versions, policies, strict=True):
            probe = (
                f"{version}\nrule zz_probe §1\n  allow any party to use any data for any purpose\n"
                f"  when {text}\n"
            )
            try:
                tree = parse_source(Source("probe.policy", probe))
                rule = next(
                    i for i in tree.items if isinstance(i, ast.Rule) and i.id.value == "zz_probe"
                )
                assert rule.condition is not None
                condition = policy.compiled.checked.resolver().expr(rule.condition)
                if not _all_declared(condition, policy):
                    continue  # a name of the other version
                compiled_test = compile_condition(policy.compiled, condition)
            except (policy_engine.PolicyError, KeyError):
                continue
            compiled = policy.compiled

            def test(
                context: dict[str, Any],
                cell: tuple[str, str, str],
                check: Any = compiled_test,
                compiled: Any = compiled,
            ) -> bool | None:
                value: bool | None = check(normalize_context(compiled, context), cell)
                return value

            found[text] = test
            break
        else:
            raise AssertionError(f"no version can say `{text}`")
    return found


def _all_declared(expr: ast.Expr, policy: policy_engine.Policy) -> bool:
    """Every name the condition (resolved: ``kk_party.level`` is the key's term's attribute when
    the version has it) reads is a key, a term or a named condition of ``policy``."""
    checked = policy.compiled.checked
    known = set(checked.context) | set(checked.symbols) | set(checked.conditions)
    if isinstance(expr, ast.And | ast.Or):
        return all(_all_declared(e, policy) for e in expr.operands)
    if isinstance(expr, ast.Not | ast.NamedCondition):
        return _all_declared(expr.operand if isinstance(expr, ast.Not) else expr.body, policy)
    if isinstance(expr, ast.Presence):
        return expr.key.value in known
    if isinstance(expr, ast.AttributePresence):
        read = names_read(expr.attribute)
        return all(n.name in known for n in read if isinstance(n, ast.NameRef))
    nodes = (expr.operand,) if isinstance(expr, ast.Truth) else (expr.left, expr.right)  # type: ignore[union-attr]
    names = [n for node in nodes for n in names_read(node) if isinstance(n, ast.NameRef)]
    return all(n.name in known for n in names)


def described(
    node: Node, tests: dict[str, Test], context: dict[str, Any], cell: tuple[str, str, str]
) -> bool:
    """Whether the request is one the description speaks of."""
    if node[0] in ("and", "or") and isinstance(node[1], tuple):
        values = (described(p, tests, context, cell) for p in node[1])
        return all(values) if node[0] == "and" else any(values)
    text, how = str(node[0]), str(node[1])
    value = tests[text](context, cell)
    return {
        "true": value is True,
        "unknown": value is None,
        "false or unknown": value is not True,
        "true or unknown": value is not False,
        "true or false": value is not None,
    }[how]
