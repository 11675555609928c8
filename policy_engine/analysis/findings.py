"""The linter: rules that can never apply, allow rules an unconditional deny shadows everywhere,
redundant rules, unused declarations, and (as information) where a deny overrides an allow.

Everything here enumerates :class:`~policy_engine.analysis.space.RequestSpace` — every cell and
every distinguishable context — so a finding is a fact about all requests. The invariant proofs
live in :mod:`.invariants` (re-exported here).
"""

from __future__ import annotations

from ..engine.compiler import CompiledPolicy, CompiledRule
from ..engine.evaluator import rule_value
from ..language.errors import Diagnostic
from ..semantics.vocabulary import Hierarchy
from .conditions import keys_of
from .context_classes import ContextClass, when_text
from .invariants import invariant_diagnostics, invariant_exprs, policy_invariant_exprs
from .scopes import KINDS, collapse, rule_cells, scope_terms
from .space import RequestSpace
from .unused import unused_declarations

__all__ = ["invariant_diagnostics", "invariant_exprs", "lint"]


def lint(compiled: CompiledPolicy, space: RequestSpace | None = None) -> list[Diagnostic]:
    """Warnings about rules that cannot apply or add nothing, unused declarations, and (as
    information) where a deny overrides an allow."""
    space = space or RequestSpace([compiled], policy_invariant_exprs(compiled))
    found: list[Diagnostic] = []
    never: set[str] = set()
    for rule in compiled.rules:
        problem = _never_applies(compiled, space, rule)
        if problem:
            never.add(rule.id)
            found.append(problem)
    allows = [r for r in compiled.rules if r.effect == "allow" and r.id not in never]
    for rule in allows:
        problem = _redundant(compiled, space, rule, allows)
        if problem:
            found.append(problem)
    found.extend(unused_declarations(compiled))
    found.extend(_overlaps(compiled, space, never))
    return found


def _never_applies(
    compiled: CompiledPolicy, space: RequestSpace, rule: CompiledRule
) -> Diagnostic | None:
    unconditional_denies = [
        r for r in compiled.rules if r.effect == "deny" and r.is_unconditional and r is not rule
    ]
    can_apply = False
    shadowed_everywhere = rule.effect == "allow"
    shadowing: set[str] = set()
    for cell in rule_cells(compiled, rule):
        if shadowed_everywhere:
            plan = compiled.cell(cell)
            blockers = [r.id for r in plan.denies if r in unconditional_denies]
            if blockers:
                shadowing.update(blockers)
            else:
                shadowed_everywhere = False
        if not can_apply:
            for klass in space.classes(cell, [rule]):
                value = rule_value(rule, klass.evaluator_context(), cell)
                # A deny whose condition is unknown denies (fail closed): it applies too.
                if value is True or (value is None and rule.effect == "deny"):
                    can_apply = True
                    break
        if can_apply and not shadowed_everywhere:
            return None
    span = rule.source.id.span
    if not can_apply:
        return Diagnostic(
            "never-applies",
            f"rule `{rule.id}` can never apply: no request makes its condition true and its "
            "exceptions false",
            span,
            "check the comparisons in its `when` and `unless` clauses",
            "warning",
        )
    named = ", ".join(f"`{b}`" for b in sorted(shadowing))
    return Diagnostic(
        "shadowed-by-deny",
        f"allow rule `{rule.id}` can never grant: the unconditional deny {named} covers its "
        "whole scope",
        span,
        "narrow the deny or remove this rule",
        "warning",
    )


def _covers_scope(
    hierarchy: Hierarchy, wide: frozenset[str] | None, narrow: frozenset[str] | None
) -> bool:
    if wide is None:
        return True
    if narrow is None:
        return False
    return all(any(w in hierarchy.ancestors[n] for w in wide) for n in narrow)


def _obligation_key(rule: CompiledRule) -> set[tuple[tuple[str, ...], object]]:
    conditions = rule.logic.obligation_conditions
    return {(o.names, when) for o, when in zip(rule.obligations, conditions, strict=True)}


def _redundant(
    compiled: CompiledPolicy,
    space: RequestSpace,
    rule: CompiledRule,
    allows: list[CompiledRule],
) -> Diagnostic | None:
    h = compiled.hierarchies
    for other in allows:
        if other is rule:
            continue
        if not all(
            _covers_scope(h[k], getattr(other, a), getattr(rule, a))
            for k, a in zip(KINDS, ("parties", "data", "purposes"), strict=True)
        ):
            continue
        if not _obligation_key(rule) <= _obligation_key(other):
            continue
        weaker = True
        for cell in rule_cells(compiled, rule):
            for klass in space.classes(cell, [rule, other]):
                ctx = klass.evaluator_context()
                if rule_value(rule, ctx, cell) is True and rule_value(other, ctx, cell) is not True:
                    weaker = False
                    break
            if not weaker:
                break
        if not weaker:
            continue
        # Two rules that make each other redundant: report only the later id.
        if _mutual(compiled, space, other, rule) and other.id > rule.id:
            continue
        return Diagnostic(
            "redundant-rule",
            f"rule `{rule.id}` is redundant: `{other.id}` allows its whole scope whenever it does",
            rule.source.id.span,
            f"remove it, or narrow `{other.id}`",
            "warning",
        )
    return None


def _mutual(
    compiled: CompiledPolicy, space: RequestSpace, a: CompiledRule, b: CompiledRule
) -> bool:
    h = compiled.hierarchies
    if not all(
        _covers_scope(h[k], getattr(b, f), getattr(a, f))
        for k, f in zip(KINDS, ("parties", "data", "purposes"), strict=True)
    ):
        return False
    for cell in rule_cells(compiled, a):
        for klass in space.classes(cell, [a, b]):
            ctx = klass.evaluator_context()
            if rule_value(a, ctx, cell) is True and rule_value(b, ctx, cell) is not True:
                return False
    return True


def _overlaps(compiled: CompiledPolicy, space: RequestSpace, never: set[str]) -> list[Diagnostic]:
    h = compiled.hierarchies
    found = []
    denies = [r for r in compiled.rules if r.effect == "deny" and r.id not in never]
    allows = [r for r in compiled.rules if r.effect == "allow" and r.id not in never]
    for deny in denies:
        for allow in allows:
            shared = []
            for kind, field_ in zip(KINDS, ("parties", "data", "purposes"), strict=True):
                a = set(scope_terms(h[kind], getattr(deny, field_)))
                b = set(scope_terms(h[kind], getattr(allow, field_)))
                shared.append(a & b)
            if not all(shared):
                continue
            example = _both_apply(compiled, space, deny, allow, shared)
            if example is None:
                continue
            where = " using ".join(
                ", ".join(f"`{t}`" for t in collapse(h[k], s))
                for k, s in zip(KINDS[:2], shared[:2], strict=True)
            )
            purposes = ", ".join(f"`{t}`" for t in collapse(h["purpose"], shared[2]))
            found.append(
                Diagnostic(
                    "deny-overrides-allow",
                    f"deny `{deny.id}` overrides allow `{allow.id}` for {where} for {purposes} "
                    "when both apply, e.g. "
                    + when_text(example, _condition_keys(compiled, deny, allow)),
                    allow.source.id.span,
                    None,
                    "info",
                    notes=((f"deny `{deny.id}` is here", deny.source.id.span),)
                    if deny.source.id.span
                    else (),
                )
            )
    return found


def _condition_keys(compiled: CompiledPolicy, *rules: CompiledRule) -> set[str]:
    keys: set[str] = set()
    for rule in rules:
        source = rule.source
        for expr in ([source.condition] if source.condition else []) + list(source.exceptions):
            keys |= keys_of(expr, compiled.context)
    return keys


def _both_apply(
    compiled: CompiledPolicy,
    space: RequestSpace,
    deny: CompiledRule,
    allow: CompiledRule,
    shared: list[set[str]],
) -> ContextClass | None:
    for party in sorted(shared[0]):
        for data in sorted(shared[1]):
            for purpose in sorted(shared[2]):
                cell = (party, data, purpose)
                for klass in space.classes(cell, [deny, allow]):
                    ctx = klass.evaluator_context()
                    if rule_value(deny, ctx, cell) is not False and rule_value(allow, ctx, cell):
                        return klass
    return None
