"""One (party, data, purpose) cell's candidate rules → its :class:`FastCell`.

The cell's rules are folded for its terms (:mod:`.specialize`); when nothing left depends on the
context the outcome is computed once, else the rules become the body of one generated function of
the context. The body is built here from Python ``ast`` nodes (rule-derived parts are always
nodes or bound values, never text).
"""

from __future__ import annotations

import ast as py
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

from .compiled import CellPlan, CompiledRule, FastCell, Outcome
from .specialize import CODEGEN_LOCK, Folded, Specializer, shape_of

Clauses = list[tuple[tuple[str, ...], Folded]]
"""A rule's obligation clauses left in the cell: their names and folded conditions."""
FoldedDeny = tuple[CompiledRule, Folded]
FoldedAllow = tuple[CompiledRule, Folded, Clauses]
OutcomeKey = tuple[object, ...]
"""``(effect, rule indices, obligation names)``: what a generated function found."""


def specialize_cell(plan: CellPlan, spec: Specializer) -> FastCell:
    """The cell's rules after partial evaluation for the cell's terms."""
    folded: list[tuple[CompiledRule, Folded, Clauses]] = []
    for rule in plan.denies + plan.allows:
        logic = rule.logic
        applies = spec.applicability(logic.condition, logic.exceptions)
        if applies is False:
            continue
        clauses: Clauses = []
        for clause, when in zip(rule.obligations, logic.obligation_conditions, strict=True):
            test: Folded = True if when is None else spec.fold(when)
            if test is not False:
                clauses.append((clause.names, test))
        folded.append((rule, applies, clauses))  # applies is True or an expression here
    denies = [(r, a) for r, a, _ in folded if r.effect == "deny"]
    allows = [(r, a, c) for r, a, c in folded if r.effect == "allow"]
    if all(a is True for _, a, _ in folded) and all(t is True for *_, c in allows for _, t in c):
        if denies:
            return FastCell(Outcome("deny", tuple(r for r, _ in denies), (), ()), None)
        if allows:
            names = sorted({n for *_, c in allows for ns, _ in c for n in ns})
            return FastCell(Outcome("allow", tuple(r for r, *_ in allows), tuple(names), ()), None)
        return FastCell(Outcome("deny", (), (), ()), None)
    return FastCell(None, spec.function(_cell_body(spec, denies, allows)))


@functools.cache
def _stmt(source: str) -> py.stmt:
    """One statement of the engine's own template text (parsed once, shared: nothing
    downstream changes a node)."""
    with CODEGEN_LOCK:
        return py.parse(source).body[0]


def _return(value: py.expr) -> py.stmt:
    """``return value``"""
    return py.Return(value)


def _append(name: str, value: py.expr) -> py.stmt:
    """``name = name + value`` (rule-derived parts are always AST nodes, never text)."""
    return py.Assign(
        [py.Name(name, py.Store())], py.BinOp(py.Name(name, py.Load()), py.Add(), value)
    )


class _Grouped(NamedTuple):
    """The cell's rules grouped by condition (keyed by its shape, ``""`` for none): rules with
    the same condition test it once (a large policy has many such rules per cell)."""

    denies: dict[Any, list[int]]
    """Condition → indices of the deny rules it decides."""
    deny_tests: dict[Any, Folded]
    allows: dict[Any, list[tuple[int, Clauses]]]
    """Condition → indices (after the denies) of the allow rules it decides, with their clauses."""
    allow_tests: dict[Any, Folded]


def _group(denies: list[FoldedDeny], allows: list[FoldedAllow]) -> _Grouped:
    by_condition: dict[Any, list[int]] = {}
    tests: dict[Any, Folded] = {}
    for index, (_, applies) in enumerate(denies):
        key = "" if applies is True else shape_of(applies)
        by_condition.setdefault(key, []).append(index)
        tests[key] = applies
    groups: dict[Any, list[tuple[int, Clauses]]] = {}
    conditions: dict[Any, Folded] = {}
    for index, (_, applies, clauses) in enumerate(allows, start=len(denies)):
        key = "" if applies is True else shape_of(applies)
        groups.setdefault(key, []).append((index, clauses))
        conditions[key] = applies
    return _Grouped(by_condition, tests, groups, conditions)


def _outcomes(
    rules: tuple[CompiledRule, ...],
) -> tuple[dict[OutcomeKey, Outcome], Callable[[OutcomeKey], Outcome]]:
    """A memo of outcomes and the function that fills it: the outcome for each combination is
    built once (outcomes are immutable, and a repeated dict store of the same value is harmless
    across threads)."""
    memo: dict[OutcomeKey, Outcome] = {}

    def outcome(key: OutcomeKey) -> Outcome:
        found = memo.get(key)
        if found is None:
            effect, chosen, names = key
            # Indices come grouped by condition; rule order (by id) is restored here.
            deciding = tuple(rules[i] for i in sorted(chosen))  # type: ignore[call-overload]
            if effect == "deny":
                found = Outcome("deny", deciding, (), ())
            elif not chosen:
                found = Outcome("deny", (), (), ())
            else:
                found = Outcome("allow", deciding, tuple(sorted(set(names))), ())  # type: ignore[call-overload]
            memo[key] = found
        return found

    return memo, outcome


def _cell_body(
    spec: Specializer, denies: list[FoldedDeny], allows: list[FoldedAllow]
) -> list[py.stmt]:
    """``_d`` collects the indices of applying deny rules, ``_g`` of granting allow rules, ``_o``
    obligation names; the outcome for each combination is built once and memoised."""
    rules = tuple(r for r, _ in denies) + tuple(r for r, *_ in allows)
    memo, outcome = _outcomes(rules)
    grouped = _group(denies, allows)
    unconditional_obligations = all(t is True for *_, c in allows for _, t in c)
    if len(grouped.denies) <= 1 and len(grouped.allows) <= 1 and unconditional_obligations:
        return _constant_body(spec, grouped, outcome)
    spec.namespace["_memo"] = memo
    spec.namespace["_outcome"] = outcome
    body = _deny_part(spec, grouped)  # binds its values first: the names follow code order
    body += _allow_part(spec, grouped)
    return body


def _constant_body(
    spec: Specializer, grouped: _Grouped, outcome: Callable[[OutcomeKey], Outcome]
) -> list[py.stmt]:
    """The common cell: at most one deny test and one allow test, so each of its (at most
    three) outcomes is a constant, built now; the function only tests and returns."""
    body: list[py.stmt] = []
    for key, indices in grouped.denies.items():
        deny = _return(spec.bind(outcome(("deny", tuple(indices), ()))))
        test = grouped.deny_tests[key]
        body.append(deny if test is True else py.If(test, [deny], []))  # type: ignore[arg-type]
    for key, members in grouped.allows.items():
        granted = tuple(index for index, _ in members)
        names = tuple(n for _, clauses in members for ns, _ in clauses for n in ns)
        allow = _return(spec.bind(outcome(("allow", granted, names))))
        test = grouped.allow_tests[key]
        body.append(allow if test is True else py.If(test, [allow], []))  # type: ignore[arg-type]
    body.append(_return(spec.bind(outcome(("allow", (), ())))))
    return body


def _deny_part(spec: Specializer, grouped: _Grouped) -> list[py.stmt]:
    """Collect the applying deny rules in ``_d``; return the deny outcome if there are any."""
    body = [_stmt("_d = ()")]
    for key, indices in grouped.denies.items():
        add = _append("_d", spec.bind(tuple(indices)))
        applies = grouped.deny_tests[key]
        body.append(add if applies is True else py.If(applies, [add], []))  # type: ignore[arg-type]
    body.append(
        _stmt(
            "if _d:\n key = ('deny', _d, ())\n return _memo.get(key) or _outcome(key)",
        )
    )
    return body


def _allow_part(spec: Specializer, grouped: _Grouped) -> list[py.stmt]:
    """Collect the granting allow rules in ``_g`` and their attached obligations in ``_o``;
    return the outcome they make."""
    body = [_stmt("_g = ()"), _stmt("_o = ()")]
    for key, members in grouped.allows.items():
        granted = tuple(index for index, _ in members)
        inner: list[py.stmt] = [_append("_g", spec.bind(granted))]
        for _, clauses in members:
            for names, test in clauses:
                add = _append("_o", spec.bind(names))
                inner.append(add if test is True else py.If(test, [add], []))  # type: ignore[arg-type]
        applies = grouped.allow_tests[key]
        if applies is True:
            body += inner
        else:
            body.append(py.If(applies, inner, []))  # type: ignore[arg-type]
    body.append(_stmt("key = ('allow', _g, _o)"))
    body.append(_stmt("return _memo.get(key) or _outcome(key)"))
    return body
