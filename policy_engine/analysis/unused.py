"""Findings about declarations nothing uses: a term that no rule or invariant names (nor any term
above or below it), and a context key that no condition reads."""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.compiler import CompiledPolicy
from ..language import ast
from ..language.errors import Diagnostic
from .conditions import keys_of
from .invariants import invariant_exprs


def _operand_nodes(expr: ast.Expr) -> Iterator[ast.Operand]:
    if isinstance(expr, ast.And | ast.Or):
        for e in expr.operands:
            yield from _operand_nodes(e)
    elif isinstance(expr, ast.Not):
        yield from _operand_nodes(expr.operand)
    elif isinstance(expr, ast.Truth):
        yield expr.operand
    elif isinstance(expr, ast.Compare | ast.Member):
        yield expr.left
        yield expr.right


def _mentioned_terms(compiled: CompiledPolicy) -> set[str]:
    used: set[str] = set()
    exprs: list[ast.Expr] = []
    for rule in compiled.rules:
        for scope in (rule.parties, rule.data, rule.purposes):
            used |= set(scope or ())
        used |= {n for o in rule.obligations for n in o.names}
        exprs += rule.logic.expressions()
    for override in compiled.overrides:
        used |= {n for names, _ in override.obligations for n in names}
        exprs += [override.condition]
    for invariant in compiled.checked.invariants:
        for s in (invariant.parties, invariant.data, invariant.purposes):
            used |= {n.value for n in (*(s.names or ()), *s.excepts)}
        exprs += invariant_exprs(invariant)
    for expr in exprs:
        for node in _operand_nodes(expr):
            items = node.items if isinstance(node, ast.ListLiteral) else (node,)
            used |= {i.name for i in items if isinstance(i, ast.NameRef)}
        if isinstance(expr, ast.Presence):
            used.add(expr.key.value)
    return used


def _read_keys(compiled: CompiledPolicy) -> set[str]:
    keys: set[str] = set()
    for rule in compiled.rules:
        for expr in rule.logic.expressions():
            keys |= keys_of(expr, compiled.context)
    for override in compiled.overrides:
        for _, when in override.obligations:
            if when is not None:
                keys |= keys_of(when, compiled.context)
    for invariant in compiled.checked.invariants:
        for expr in invariant_exprs(invariant):
            keys |= keys_of(expr, compiled.context)
    return keys


def _unused_terms(compiled: CompiledPolicy) -> list[Diagnostic]:
    used = _mentioned_terms(compiled)
    found = []
    symbols = compiled.checked.symbols
    for kind in ("party", "data", "purpose", "obligation"):
        hierarchy = compiled.hierarchies[kind]
        related = hierarchy.related_to(used & set(hierarchy.ordered))
        for term in hierarchy.terms:
            if term not in related:
                word = ast.KIND_WORDS[kind]
                found.append(
                    Diagnostic(
                        "unused-term",
                        f"{word} `{term}` is declared but no rule or invariant uses it, or any "
                        "term above or below it",
                        symbols[term].span,
                        "remove it, or write the rule that needs it",
                        "warning",
                    )
                )
    return found


def unused_declarations(compiled: CompiledPolicy) -> list[Diagnostic]:
    """Unused terms, then unused context keys."""
    found = _unused_terms(compiled)
    keys = _read_keys(compiled)
    symbols = compiled.checked.symbols
    for key in compiled.context:
        if key not in keys:
            found.append(
                Diagnostic(
                    "unused-context-key",
                    f"context key `{key}` is declared but no condition reads it",
                    symbols[key].span,
                    "remove it, or write the rule that needs it",
                    "warning",
                )
            )
    return found
