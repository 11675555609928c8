"""The linter: rules that can never apply, allow rules an unconditional deny shadows everywhere,
redundant rules, unused declarations, overrides that lift nothing or change nothing
(:mod:`.override_findings`), obligations an allow leaves off for want of an attribute's value
(:mod:`.obligation_findings`), and (as information) where a deny overrides an allow.

Every question is a search of the cells in question (:mod:`.search`) over every distinguishable
context, so a finding is a fact about all requests. The invariant proofs
live in :mod:`.invariants` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable

from ..engine.compiler import CompiledPolicy, CompiledRule
from ..language import ast
from ..language.errors import Diagnostic
from ..semantics.vocabulary import Hierarchy
from .budget import BudgetExceeded, Meter
from .conditions import keys_of
from .context_classes import ContextClass, when_text
from .invariants import (
    invariant_diagnostics,
    invariant_exprs,
    policy_invariant_exprs,
    undecided,
    undecided_reason,
)
from .missing_keys import denies_on_missing_keys
from .obligation_findings import obligation_attribute_findings
from .override_findings import override_findings
from .questions import (
    both_apply,
    confirm_applies,
    confirm_both_apply,
    confirm_grants_without,
    grants_without,
    rule_applies,
)
from .scopes import KINDS, collapse, rule_cells, scope_terms
from .search import CellSearch
from .search_values import AnalysisDisagreement
from .space import RequestSpace
from .unused import unused_declarations

__all__ = ["invariant_diagnostics", "invariant_exprs", "lint"]


def lint(
    compiled: CompiledPolicy, space: RequestSpace | None = None, meter: Meter | None = None
) -> list[Diagnostic]:
    """Warnings about rules that cannot apply or add nothing, unused declarations, and (as
    information) where a deny overrides an allow. A question the budget leaves open is an
    ``analysis-undecided`` error, and the rule is then taken as one that can apply."""
    space = space or RequestSpace([compiled], policy_invariant_exprs(compiled))
    search = CellSearch(compiled, space, meter or space.meter)
    found: list[Diagnostic] = []
    never: set[str] = set()
    for rule in compiled.rules:
        problem = _asked(_never_applies, search, rule, f"whether rule `{rule.id}` can apply")
        if problem is not None and problem.code != "analysis-undecided":
            never.add(rule.id)
        found += [problem] if problem is not None else []
    found.extend(denies_on_missing_keys(search, skip=never))
    allows = [r for r in compiled.rules if r.effect == "allow" and r.id not in never]
    for rule in allows:
        what = f"whether rule `{rule.id}` is redundant"
        problem = _asked(lambda s, r: _redundant(s, r, allows), search, rule, what)
        found += [problem] if problem is not None else []
    found.extend(unused_declarations(compiled))
    found.extend(override_findings(search))
    found.extend(obligation_attribute_findings(search))
    found.extend(_overlaps(search, never))
    return found


def _asked(
    question: Callable[[CellSearch, CompiledRule], Diagnostic | None],
    search: CellSearch,
    rule: CompiledRule,
    what: str,
) -> Diagnostic | None:
    """The finding about ``rule``, or why it could not be decided."""
    try:
        return question(search, rule)
    except (BudgetExceeded, AnalysisDisagreement) as exc:
        return undecided(what, undecided_reason(exc), rule.source.id.span)


def _never_applies(search: CellSearch, rule: CompiledRule) -> Diagnostic | None:
    compiled = search.compiled
    unconditional_denies = [
        r for r in compiled.rules if r.effect == "deny" and r.is_unconditional and r is not rule
    ]
    shadowed_everywhere = rule.effect == "allow"
    shadowing: set[str] = set()
    for cell in rule_cells(compiled, rule):
        plan = compiled.cell(cell)
        blockers = [r.id for r in plan.denies if r in unconditional_denies]
        if not blockers:
            shadowed_everywhere = False
            break
        shadowing.update(blockers)
    # A deny whose condition is unknown denies (fail closed): it applies too.
    found = search.first([rule], rule_cells(compiled, rule), rule_applies(rule))
    if found is not None:
        confirm_applies(rule, found[0], found[1].context)
    can_apply = found is not None
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
    return {
        (o.names, None if when is None else _spelled_out(when))
        for o, when in zip(rule.obligations, conditions, strict=True)
    }


def _spelled_out(expr: ast.Expr) -> ast.Expr:
    """``expr`` with each named condition replaced by its body (its value is exactly its
    body's), so that clauses saying the same thing with and without a name compare equal."""
    if isinstance(expr, ast.NamedCondition):
        return _spelled_out(expr.body)
    if isinstance(expr, ast.And | ast.Or):
        return type(expr)(tuple(_spelled_out(e) for e in expr.operands))
    if isinstance(expr, ast.Not):
        return ast.Not(_spelled_out(expr.operand))
    return expr


def _redundant(
    search: CellSearch, rule: CompiledRule, allows: list[CompiledRule]
) -> Diagnostic | None:
    compiled = search.compiled
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
        if _grants_without(search, rule, other):
            continue
        # Two rules that make each other redundant: report only the later id.
        if _mutual(search, other, rule) and other.id > rule.id:
            continue
        return Diagnostic(
            "redundant-rule",
            f"rule `{rule.id}` is redundant: `{other.id}` allows its whole scope whenever it does",
            rule.source.id.span,
            f"remove it, or narrow `{other.id}`",
            "warning",
        )
    return None


def _grants_without(search: CellSearch, rule: CompiledRule, other: CompiledRule) -> bool:
    """Some request of ``rule``'s scope makes it true and ``other`` not."""
    cells = rule_cells(search.compiled, rule)
    found = search.first([rule, other], cells, grants_without(rule, other))
    if found is not None:
        confirm_grants_without(rule, other, found[0], found[1].context)
    return found is not None


def _mutual(search: CellSearch, a: CompiledRule, b: CompiledRule) -> bool:
    h = search.compiled.hierarchies
    if not all(
        _covers_scope(h[k], getattr(b, f), getattr(a, f))
        for k, f in zip(KINDS, ("parties", "data", "purposes"), strict=True)
    ):
        return False
    return not _grants_without(search, a, b)


def _overlaps(search: CellSearch, never: set[str]) -> list[Diagnostic]:
    compiled = search.compiled
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
            try:
                example = _both_apply(search, deny, allow, shared)
            except (BudgetExceeded, AnalysisDisagreement) as exc:
                what = f"whether `{deny.id}` and `{allow.id}` overlap"
                found.append(undecided(what, undecided_reason(exc), allow.source.id.span))
                continue
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
        logic = rule.logic  # the overrides' conditions included: they decide when a deny applies
        for expr in ([logic.condition] if logic.condition else []) + list(logic.exceptions):
            keys |= keys_of(expr, compiled.context, compiled.now_key)
    return keys


def _both_apply(
    search: CellSearch, deny: CompiledRule, allow: CompiledRule, shared: list[set[str]]
) -> ContextClass | None:
    cells = [
        (party, data, purpose)
        for party in sorted(shared[0])
        for data in sorted(shared[1])
        for purpose in sorted(shared[2])
    ]
    found = search.first([deny, allow], cells, both_apply(deny, allow, surely=True))
    if found is None:
        found = search.first([deny, allow], cells, both_apply(deny, allow, surely=False))
    if found is None:
        return None
    confirm_both_apply(deny, allow, found[0], found[1].context)
    return found[1].klass
