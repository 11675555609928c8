"""The questions the matrix asks of one cell, as goals for the analysis' lazy search
(:class:`~policy_engine.analysis.search.CellSearch`), and the evaluator's own answer on each
witness the search returns (a witness the evaluator does not confirm is a bug, raised as
:class:`~policy_engine.analysis.search_values.AnalysisDisagreement`, never trusted).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..analysis.questions import outcome
from ..analysis.search_values import (
    FALSE,
    PENDING,
    TRUE,
    UNKNOWN,
    AnalysisDisagreement,
    Goal,
    Valued,
    Valuer,
    effect,
    every,
    some,
    surely,
)
from ..engine.compiler import CellPlan, CompiledRule
from ..engine.evaluator import effect_of, outcome_of, rule_value
from ..language import ast

Cell = tuple[str, str, str]


def _some_true(valuer: Valuer, rules: Sequence[CompiledRule]) -> Valued:
    """Some rule of ``rules`` is true."""
    return some(surely(valuer.rule(r), TRUE) for r in rules)


def grants(rule: CompiledRule, denies: Sequence[CompiledRule]) -> Goal:
    """A request where the allow ``rule`` is true and every deny is false: the rule grants."""

    def parts(valuer: Valuer) -> Iterator[Valued]:
        yield surely(valuer.rule(rule), TRUE)
        for deny in denies:
            yield surely(valuer.rule(deny), FALSE)

    return lambda valuer: every(parts(valuer))


def grants_alone(
    rule: CompiledRule, others: Sequence[CompiledRule], denies: Sequence[CompiledRule]
) -> Goal:
    """A request the allow ``rule`` grants and none of ``others`` is true."""
    granting = grants(rule, denies)

    def goal(valuer: Valuer) -> Valued:
        value, need = _some_true(valuer, others)
        if value is True:
            return False, None
        verdict, wanted = granting(valuer)
        if verdict is False:
            return False, None
        if value is PENDING:
            return PENDING, need
        return verdict, wanted

    return goal


def confirm_grants(rule: CompiledRule, plan: CellPlan, cell: Cell, ctx: dict[str, Any]) -> None:
    if rule_value(rule, ctx, cell) is not True or effect_of(plan, ctx, cell) != "allow":
        raise AnalysisDisagreement(f"rule `{rule.id}` does not grant {cell} on {ctx}")


def overrides(deny: CompiledRule, allows: Sequence[CompiledRule]) -> Goal:
    """A request where one of ``allows`` is true and ``deny`` is not false (it denies)."""

    def parts(valuer: Valuer) -> Iterator[Valued]:
        yield surely(valuer.rule(deny), TRUE | UNKNOWN)
        yield _some_true(valuer, allows)

    return lambda valuer: every(parts(valuer))


def confirm_overrides(
    deny: CompiledRule, allows: Sequence[CompiledRule], cell: Cell, ctx: dict[str, Any]
) -> None:
    if rule_value(deny, ctx, cell) is False or not any(
        rule_value(a, ctx, cell) is True for a in allows
    ):
        raise AnalysisDisagreement(f"deny `{deny.id}` does not override an allow on {ctx}")


def refused(plan: CellPlan) -> Goal:
    """A request of the cell that is denied."""
    denies, allows = list(plan.denies), list(plan.allows)

    def goal(valuer: Valuer) -> Valued:
        effects, need = effect(valuer, denies, allows)
        if "deny" not in effects:
            return False, None
        return (True, None) if len(effects) == 1 else (PENDING, need)

    return goal


def confirm_refused(plan: CellPlan, cell: Cell, ctx: dict[str, Any]) -> None:
    if effect_of(plan, ctx, cell) != "deny":
        raise AnalysisDisagreement(f"{cell} is not denied on {ctx}")


Attached = Sequence[tuple[str, ast.Expr | None]]
"""Each obligation of a cell with the condition under which an allowed request carries it
(None: every allowed request does)."""


def misstated(plan: CellPlan, condition: ast.Expr | None, attached: Attached) -> Goal:
    """A request where the cell's stated condition (None: always) is true and the cell denies,
    or is not true and the cell allows; or an allowed request whose obligations are not the
    ones the stated obligation conditions give. The search finding none proves the statement."""

    def goal(valuer: Valuer) -> Valued:
        # The stated condition first: while it is open the outcome usually is too, and it is
        # the cheaper of the two to value.
        mask, need = (TRUE, None) if condition is None else valuer.of(condition)
        if mask != TRUE and mask & TRUE:
            return PENDING, need
        settled, need = outcome(valuer, plan)
        if settled is None:
            return PENDING, need
        if (settled[0] == "allow") != (mask == TRUE):
            return True, None
        if settled[0] == "deny":
            return False, None
        for name, when in attached:
            mask, need = (TRUE, None) if when is None else valuer.of(when)
            if mask != TRUE and mask & TRUE:
                return PENDING, need
            if (name in settled[1]) != (mask == TRUE):
                return True, None
        return False, None

    return goal


def misstated_on(plan: CellPlan, cell: Cell, ctx: dict[str, Any]) -> AnalysisDisagreement:
    """The error for a request on which the stated condition and the policy disagree."""
    effect_, obligations, _ = outcome_of(plan, ctx, cell)
    return AnalysisDisagreement(
        f"the matrix's condition for {cell} disagrees with the policy on {ctx} "
        f"(the policy gives {effect_}, obligations {list(obligations)})"
    )
