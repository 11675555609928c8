"""Findings about declarations nothing uses: a term that no rule or invariant names (nor any term
above or below it), a context key that no condition reads, and a named condition that no rule,
invariant or obligation uses (itself or through another named condition that one does)."""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.compiler import CompiledOverride, CompiledPolicy
from ..language import ast
from ..language.ast_expressions import names_read
from ..language.errors import Diagnostic
from ..language.printer import obligation_name
from .conditions import keys_of
from .invariants import invariant_exprs


def _operand_nodes(expr: ast.Expr) -> Iterator[ast.Operand]:
    if isinstance(expr, ast.And | ast.Or):
        for e in expr.operands:
            yield from _operand_nodes(e)
    elif isinstance(expr, ast.Not):
        yield from _operand_nodes(expr.operand)
    elif isinstance(expr, ast.NamedCondition):
        yield from _operand_nodes(expr.body)
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
        used |= {obligation_name(n) for o in rule.obligations for n in o.names}
        exprs += rule.logic.expressions()
    for override in compiled.overrides:
        used |= {obligation_name(n) for names, _ in override.obligations for n in names}
        exprs += _override_exprs(override)
    for invariant in compiled.checked.invariants:
        for s in (invariant.parties, invariant.data, invariant.purposes):
            used |= {n.value for n in (*(s.names or ()), *s.excepts)}
        exprs += invariant_exprs(invariant)
    for expr in exprs:
        for node in _operand_nodes(expr):
            used |= {i.name for i in names_read(node) if isinstance(i, ast.NameRef)}
        if isinstance(expr, ast.Presence):
            used.add(expr.key.value)
    return used


def _override_exprs(override: CompiledOverride) -> list[ast.Expr]:
    """An override's condition and its obligation clauses' (as written, resolved)."""
    return [override.condition, *(w for _, w in override.obligations if w is not None)]


def _read_keys(compiled: CompiledPolicy) -> set[str]:
    keys: set[str] = set()
    for rule in compiled.rules:
        for expr in rule.logic.expressions():
            keys |= keys_of(expr, compiled.context, compiled.now_key)
    for override in compiled.overrides:
        for expr in _override_exprs(override):
            keys |= keys_of(expr, compiled.context, compiled.now_key)
    for invariant in compiled.checked.invariants:
        for expr in invariant_exprs(invariant):
            keys |= keys_of(expr, compiled.context, compiled.now_key)
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


def _named_in(expr: ast.Expr, into: set[str]) -> None:
    """The named conditions ``expr`` uses, and those they use."""
    if isinstance(expr, ast.And | ast.Or):
        for operand in expr.operands:
            _named_in(operand, into)
    elif isinstance(expr, ast.Not):
        _named_in(expr.operand, into)
    elif isinstance(expr, ast.NamedCondition) and expr.name not in into:
        into.add(expr.name)
        _named_in(expr.body, into)


def _unused_conditions(compiled: CompiledPolicy) -> list[Diagnostic]:
    checked = compiled.checked
    used: set[str] = set()
    for rule in compiled.rules:
        for expr in rule.logic.expressions():
            _named_in(expr, used)
    for override in compiled.overrides:  # its clauses may add to no rule: none may grant there
        for expr in _override_exprs(override):
            _named_in(expr, used)
    for invariant in checked.invariants:
        for expr in invariant_exprs(invariant):
            _named_in(expr, used)
    resolver = checked.resolver()  # an obligation's declared condition is a use (the message's)
    for name, decl in checked.term_decls.items():
        declared = resolver.declared(name) if decl.kind == "obligation" else None
        if declared is not None:
            _named_in(declared, used)
    return [
        Diagnostic(
            "unused-condition",
            f"named condition `{name}` is declared but no rule, invariant or obligation uses it",
            decl.name.span,
            "remove it, or use it where its condition is meant",
            "warning",
        )
        for name, decl in checked.conditions.items()
        if name not in used
    ]


def unused_declarations(compiled: CompiledPolicy) -> list[Diagnostic]:
    """Unused terms, unused named conditions, then unused context keys."""
    found = _unused_terms(compiled) + _unused_conditions(compiled)
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
