"""The questions ``check`` asks of one cell, as goals for :class:`~.search.CellSearch`, and the
evaluator's own answer on the witness the search returns.

Each goal values conditions on partly known facts (pending while a fact it reads is not assigned);
each ``confirm_*`` decides the witness with the evaluator. A witness the evaluator does not
confirm is a bug in the analysis: it is raised as :class:`AnalysisDisagreement`, never trusted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..engine.compiler import CellPlan, CompiledPolicy, CompiledRule, compile_condition
from ..engine.evaluator import effect_of, rule_value
from ..language import ast
from .diff_report import ChangeKind
from .search_values import (
    FALSE,
    PENDING,
    TRUE,
    UNKNOWN,
    AnalysisDisagreement,
    Fact,
    Goal,
    Possible,
    Valued,
    Valuer,
    effect,
    every,
    surely,
)


def _holds(possible: Possible) -> Valued:
    """True: false and unknown fail."""
    return surely(possible, TRUE)


def _not_true(possible: Possible) -> Valued:
    """False or unknown: true fails (an unknown exception does not exempt)."""
    return surely(possible, FALSE | UNKNOWN)


def _not_false(possible: Possible) -> Valued:
    return surely(possible, TRUE | UNKNOWN)


def _applies(rule: CompiledRule, valuer: Valuer) -> Valued:
    """A rule applies: an allow when its value is true; a deny also when unknown (it fails
    closed)."""
    return surely(valuer.rule(rule), TRUE | (UNKNOWN if rule.effect == "deny" else 0))


def breaks_invariant(invariant: ast.Invariant, plan: CellPlan) -> Goal:
    """A request in scope where the invariant's ``when`` is true, no ``unless`` is true, and the
    cell's effect is not the one the invariant expects."""
    denies, allows = list(plan.denies), list(plan.allows)

    def parts(valuer: Valuer) -> Iterator[Valued]:
        if invariant.condition is not None:
            yield _holds(valuer.of(invariant.condition))
        for exception in invariant.exceptions:
            yield _not_true(valuer.of(exception))
        effects, need = effect(valuer, denies, allows)
        if invariant.expect not in effects:
            yield True, None
        elif len(effects) == 1:
            yield False, None
        else:
            yield PENDING, need

    return lambda valuer: every(parts(valuer))


def confirm_breaks(
    compiled: CompiledPolicy,
    invariant: ast.Invariant,
    plan: CellPlan,
    cell: tuple[str, str, str],
    context: dict[str, Any],
) -> None:
    condition = invariant.condition
    if condition is not None and compile_condition(compiled, condition)(context, cell) is not True:
        raise AnalysisDisagreement(f"the invariant's condition does not hold on {context}")
    for exception in invariant.exceptions:
        if compile_condition(compiled, exception)(context, cell) is True:
            raise AnalysisDisagreement(f"an exception of the invariant holds on {context}")
    if effect_of(plan, context, cell) == invariant.expect:
        raise AnalysisDisagreement(f"the policy decides {invariant.expect} on {context}")


def rule_applies(rule: CompiledRule) -> Goal:
    return lambda valuer: _applies(rule, valuer)


def confirm_applies(rule: CompiledRule, cell: tuple[str, str, str], ctx: dict[str, Any]) -> None:
    value = rule_value(rule, ctx, cell)
    if not (value is True or (value is None and rule.effect == "deny")):
        raise AnalysisDisagreement(f"rule `{rule.id}` does not apply on {ctx}")


def grants_without(rule: CompiledRule, other: CompiledRule) -> Goal:
    """``rule`` is true where ``other`` is not (so ``other`` does not make it redundant)."""

    def parts(valuer: Valuer) -> Iterator[Valued]:
        yield _holds(valuer.rule(rule))
        yield _not_true(valuer.rule(other))

    return lambda valuer: every(parts(valuer))


def confirm_grants_without(
    rule: CompiledRule, other: CompiledRule, cell: tuple[str, str, str], ctx: dict[str, Any]
) -> None:
    if not (rule_value(rule, ctx, cell) is True and rule_value(other, ctx, cell) is not True):
        raise AnalysisDisagreement(f"`{rule.id}` without `{other.id}` does not hold on {ctx}")


def both_apply(deny: CompiledRule, allow: CompiledRule, *, surely: bool) -> Goal:
    """A request where the allow is true and the deny is not false (``surely``: true, so the
    example shows the deny's condition holding rather than failing closed)."""

    def parts(valuer: Valuer) -> Iterator[Valued]:
        yield _holds(valuer.rule(deny)) if surely else _not_false(valuer.rule(deny))
        yield _holds(valuer.rule(allow))

    return lambda valuer: every(parts(valuer))


def confirm_both_apply(
    deny: CompiledRule, allow: CompiledRule, cell: tuple[str, str, str], ctx: dict[str, Any]
) -> None:
    if not (rule_value(deny, ctx, cell) is not False and rule_value(allow, ctx, cell) is True):
        raise AnalysisDisagreement(f"`{deny.id}` and `{allow.id}` do not both apply on {ctx}")


Outcome = tuple[str, frozenset[str]]
"""Effect and obligations: what a diff compares."""


def outcome(valuer: Valuer, plan: CellPlan) -> tuple[Outcome | None, Fact | None]:
    """The cell's effect and obligations, as ``outcome_of``, or None (with the fact to assign
    next) while they are not settled."""
    effects, need = effect(valuer, list(plan.denies), list(plan.allows))
    if len(effects) > 1:
        return None, need
    if "deny" in effects:
        return ("deny", frozenset()), None
    obligations: set[str] = set()
    for rule in plan.allows:
        if not rule.obligations:
            continue  # whether it grants too changes nothing the outcome holds
        mask, wanted = valuer.rule(rule)
        if mask & TRUE and mask != TRUE:
            return None, wanted
        if mask != TRUE:
            continue
        for clause, when in zip(rule.obligations, rule.logic.obligation_conditions, strict=True):
            if when is None:
                obligations.update(clause.names)
                continue
            clause_mask, wanted = valuer.of(when)
            if clause_mask & TRUE and clause_mask != TRUE:
                return None, wanted
            if clause_mask == TRUE:
                obligations.update(clause.names)
    return ("allow", frozenset(obligations)), None


def diff_kind(before: Outcome, after: Outcome) -> ChangeKind | None:
    """How a diff reads a pair of outcomes: no change, obligations changed, widened (deny →
    allow) or narrowed (allow → deny)."""
    if before == after:
        return None
    if before[0] == after[0]:
        return "obligations"
    return "widened" if after[0] == "allow" else "narrowed"


def _always(_: Outcome) -> bool:
    return True


@dataclass(frozen=True)
class Comparison:
    """How the outcomes of two sides of a request are compared: ``kind`` says which change a
    pair is (None: none worth reporting), and ``second_matters`` whether, given the first side,
    the second can make a change at all (when it cannot, the second side is not settled)."""

    kind: Callable[[Outcome, Outcome], ChangeKind | None]
    second_matters: Callable[[Outcome], bool] = _always


DIFF = Comparison(diff_kind)
"""``diff``: every difference of effect or obligations."""


def outcomes_differ(old: CellPlan, new: CellPlan, comparison: Comparison = DIFF) -> Goal:
    """A request the two sides decide differently (effect or obligations), in the way
    ``comparison`` reports."""

    def goal(valuer: Valuer) -> Valued:
        before, need = outcome(valuer, old)
        if before is None:
            return PENDING, need
        if not comparison.second_matters(before):
            return False, None
        after, need = outcome(valuer, new)
        if after is None:
            return PENDING, need
        return comparison.kind(before, after) is not None, None

    return goal
