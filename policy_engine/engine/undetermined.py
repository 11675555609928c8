"""The obligations an allow may owe but does not carry (docs/semantics.md, 48): a clause of a
granting rule whose condition is unknown, because a context key is missing or because the
request's term has no value of an attribute the condition reads (``party.location``). The first
are listed in the decision's ``missing`` too; the second no request can state, so without this
list the obligation would be dropped without a word."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..language import ast
from .compiled import CompiledRule, ObligationPlan, Undetermined


def attached_obligations(
    context: Mapping[str, object],
    granting: Iterable[CompiledRule],
    request: tuple[Mapping[str, Any], tuple[str, str, str]],
    lacking_of: Callable[[ast.Expr], Iterable[str]],
) -> tuple[set[str], set[str], list[Undetermined]]:
    """The obligations the granting rules attach on ``request`` (context and terms), the keys
    (and attributes) an unknown one lacks (``lacking_of`` a condition: what its trace says),
    and each unknown one: attached only when its condition holds, an unknown one is said
    (docs/semantics.md, 23 and 48)."""
    ctx, req = request
    obligations: set[str] = set()
    missing: set[str] = set()
    undetermined: list[Undetermined] = []
    for rule in granting:
        for clause in rule.obligations:
            value = True if clause.condition is None else clause.condition(ctx, req)
            if value is True:
                obligations.update(clause.names)
            elif value is None:
                when = rule.logic.obligation_conditions[clause.index]
                assert when is not None
                lacking = set(lacking_of(when))
                missing |= lacking
                undetermined += undetermined_clause(context, rule, clause, lacking)
    return obligations, missing, undetermined


def undetermined_clause(
    context: Mapping[str, object],
    rule: CompiledRule,
    clause: ObligationPlan,
    lacking: Iterable[str],
) -> list[Undetermined]:
    """The obligations of ``clause`` (of the granting ``rule``) whose condition is unknown, with
    what it lacks: the context keys (those ``context`` declares) and the attributes."""
    lacking = set(lacking)
    keys = tuple(sorted(k for k in lacking if k in context))
    unknown = tuple(sorted(lacking.difference(keys)))
    by = rule.logic.origin(clause.index) or rule.id
    return [Undetermined(text, by, keys, unknown) for text in clause.names]


def settled(found: list[Undetermined], attached: set[str]) -> tuple[Undetermined, ...]:
    """Each obligation once per rule (or override) that requires it, sorted, leaving out those
    the allow carries anyway (another clause attaches them)."""
    merged: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    for entry in found:
        if entry.text in attached:
            continue
        keys, unknown = merged.setdefault((entry.text, entry.required_by), (set(), set()))
        keys.update(entry.missing)
        unknown.update(entry.unknown)
    return tuple(
        Undetermined(text, by, tuple(sorted(keys)), tuple(sorted(unknown)))
        for (text, by), (keys, unknown) in sorted(merged.items())
    )
