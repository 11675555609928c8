"""``obligation-attribute-unknown``: an obligation an allow can leave off because the request's
term has no value of an attribute its condition reads (docs/semantics.md, 48).

An obligation with a condition (``with obligation assess_transfer when party.location !=
"CA-QC"``, or declared ``obligation assess_transfer when …``) is attached only where its condition
is true. Where the request's party has no ``location`` the condition can be unknown, and then the
obligation is not attached; the decision says so (``undetermined_obligations``), but no request
can state an attribute, so every such request of that party is allowed without the obligation.
Attribute values are constants of the policy, so which terms do this is known before any request:
this finding names them.

Definition. For an allow rule R, one of its obligation clauses (its own, or one an override adds
to it) with condition W, and an attribute ``k.a`` that W reads, the term t (of kind k, in R's
scope) is reported when t has no value of ``k.a`` and some request of a cell of R's scope whose
k-term is t is **allowed**, **granted by R**, **without the obligation** (no clause of a granting
rule that requires it holds), and has W **unknown with ``k.a`` among what it lacks**:
following W down through its unknown parts (an ``and``/``or`` that is unknown, a ``not``, a
named condition's body) reaches a test that reads ``k.a`` (exactly the parts the explanation
names as unknown). The witness of each reported term is decided again by the
evaluator, which must agree (:class:`~.search_values.AnalysisDisagreement` otherwise); a question
the budget leaves open is ``analysis-undecided``.

One warning per obligation of a clause (an override's clause is the override's: it comes with
every allow rule that grants where a deny it lifts covers), at its name in the clause, naming each
attribute with its terms.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..engine.compiler import CellPlan, CompiledPolicy, CompiledRule
from ..engine.evaluator import evaluate, trace_condition
from ..language import ast
from ..language.errors import Diagnostic
from ..language.source import Span
from .budget import BudgetExceeded
from .conditions import attributes_read
from .invariants import undecided, undecided_reason
from .scopes import KINDS, rule_cells
from .search import CellSearch
from .search_values import (
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

CODE = "obligation-attribute-unknown"

Cell = tuple[str, str, str]


def unknown_through(valuer: Valuer, expr: ast.Expr, attribute: ast.AttributeRef) -> Valued:
    """``expr`` is unknown and ``attribute`` (which the cell's term has no value of) is among
    what its unknown parts lack: a path of unknown parts down to a test that reads it."""
    if isinstance(expr, ast.NamedCondition):
        return unknown_through(valuer, expr.body, attribute)
    if isinstance(expr, ast.Not):
        return unknown_through(valuer, expr.operand, attribute)
    if isinstance(expr, ast.And | ast.Or):

        def parts() -> Iterator[Valued]:
            yield surely(valuer.of(expr), UNKNOWN)
            yield some(unknown_through(valuer, e, attribute) for e in expr.operands)

        return every(parts())
    reads = any(
        (a.kind, a.name) == (attribute.kind, attribute.name) for a in attributes_read([expr])
    )
    return reads, None  # a test of an attribute without a value is unknown in every context


def left_off(
    rule: CompiledRule, index: int, text: str, attribute: ast.AttributeRef, plan: CellPlan
) -> Goal:
    """A request of the cell that is allowed, that ``rule`` grants, where the condition of its
    clause ``index`` is unknown through ``attribute``, and that does not carry ``text`` anyway
    (no clause of a granting rule that requires it holds)."""
    denies, allows = list(plan.denies), list(plan.allows)
    when = rule.logic.obligation_conditions[index]
    assert when is not None
    others = [
        (other, other.logic.obligation_conditions[i])
        for other in allows
        for i, clause in enumerate(other.obligations)
        if text in clause.names
    ]

    def parts(valuer: Valuer) -> Iterator[Valued]:
        yield surely(valuer.rule(rule), TRUE)
        yield unknown_through(valuer, when, attribute)
        effects, need = effect(valuer, denies, allows)
        if "allow" not in effects:
            yield False, None
        else:
            yield (True, None) if len(effects) == 1 else (PENDING, need)
        for other, condition in others:
            yield _negated(every(_attaches(valuer, other, condition)))

    return lambda valuer: every(parts(valuer))


def _attaches(valuer: Valuer, rule: CompiledRule, condition: ast.Expr | None) -> Iterator[Valued]:
    yield surely(valuer.rule(rule), TRUE)
    if condition is not None:
        yield surely(valuer.of(condition), TRUE)


def _negated(valued: Valued) -> Valued:
    value, need = valued
    return (value, need) if value is PENDING else (not value, None)


def confirm_left_off(
    compiled: CompiledPolicy,
    rule: CompiledRule,
    index: int,
    text: str,
    attribute: ast.AttributeRef,
    cell: Cell,
    ctx: dict[str, Any],
) -> None:
    """The evaluator allows the witness with ``rule`` among the granting rules and without
    ``text``, and finds the clause's condition unknown for want of ``attribute``."""
    outcome = evaluate(compiled, cell, ctx)
    when = rule.logic.obligation_conditions[index]
    assert when is not None
    traced = trace_condition(compiled, when, ctx, cell)
    if not (
        outcome.effect == "allow"
        and rule in outcome.deciding
        and text not in outcome.obligations
        and traced.value is None
        and attribute.text in traced.missing
    ):
        raise AnalysisDisagreement(
            f"`{rule.id}` does not leave `{text}` off for want of `{attribute.text}` on {ctx} in "
            f"{cell}"
        )


Found = dict[tuple[str, int, int], dict[str, set[str]]]
"""(whose clause, which clause, which obligation of it) → attribute → the terms that leave the
obligation off for want of its value."""


def obligation_attribute_findings(search: CellSearch) -> list[Diagnostic]:
    """An ``obligation-attribute-unknown`` warning for each obligation of a clause that some
    term leaves off (see the module's definition)."""
    compiled = search.compiled
    found: Found = {}
    texts: dict[tuple[str, int, int], str] = {}
    problems: list[Diagnostic] = []
    for rule in compiled.rules:
        if rule.effect != "allow":
            continue
        for index, when in enumerate(rule.logic.obligation_conditions):
            if when is None:
                continue
            owner, at = _clause(rule, index)
            for position, text in enumerate(rule.obligations[index].names):
                texts[(owner, at, position)] = text
                for attribute in attributes_read([when]):
                    try:
                        terms = _terms(search, rule, index, text, attribute)
                    except (BudgetExceeded, AnalysisDisagreement) as exc:
                        what = f"whether rule `{rule.id}` leaves an obligation off"
                        span = rule.source.id.span
                        problems.append(undecided(what, undecided_reason(exc), span))
                        continue
                    if terms:
                        into = found.setdefault((owner, at, position), {})
                        into.setdefault(attribute.text, set()).update(terms)
    spans = _spans(compiled)
    for key, by_attribute in sorted(found.items()):
        problems.append(_diagnostic(key[0], texts[key], by_attribute, spans.get(key)))
    return problems


def _clause(rule: CompiledRule, index: int) -> tuple[str, int]:
    """Whose clause this is: the rule's own (its index among them), or the override's (its
    index among the override's clauses, which come in order)."""
    origin = rule.logic.origin(index)
    if origin is None:
        return rule.id, index
    before = sum(1 for i in range(index) if rule.logic.origin(i) == origin)
    return origin, before


def _terms(
    search: CellSearch, rule: CompiledRule, index: int, text: str, attribute: ast.AttributeRef
) -> set[str]:
    """The terms without a value of ``attribute`` for which some cell has a witness."""
    compiled = search.compiled
    values = compiled.attributes[(attribute.kind, attribute.name)].values
    at = KINDS.index(attribute.kind)
    found: set[str] = set()
    seen: set[tuple[object, ...]] = set()
    for cell in rule_cells(compiled, rule):
        term = cell[at]
        if term in values or term in found:
            continue
        plan = compiled.cell(cell)
        signature = search.space.signature(cell, plan.denies + plan.allows)
        if signature in seen:
            continue
        seen.add(signature)
        goal = left_off(rule, index, text, attribute, plan)
        witness = search.find(cell, goal, fewest=False)
        if witness is not None:
            confirm_left_off(compiled, rule, index, text, attribute, cell, witness.context)
            found.add(term)
    return found


def _spans(compiled: CompiledPolicy) -> dict[tuple[str, int, int], Span | None]:
    """Where each obligation of each clause is written: its name in the clause."""
    spans: dict[tuple[str, int, int], Span | None] = {}
    checked = compiled.checked
    owners: list[ast.Rule | ast.Override] = [*checked.rules, *checked.overrides]
    for owner in owners:
        for index, clause in enumerate(owner.obligations):
            for position, name in enumerate(clause.names):
                spans[(owner.id.value, index, position)] = name.span or clause.span
    return spans


def _diagnostic(
    owner: str, text: str, by_attribute: dict[str, set[str]], span: Span | None
) -> Diagnostic:
    parts = "; ".join(
        f"`{attribute}` has no value for " + ", ".join(f"`{t}`" for t in sorted(terms))
        for attribute, terms in sorted(by_attribute.items())
    )
    return Diagnostic(
        CODE,
        f"obligation `{text}` of `{owner}` can be left off an allow: its condition is unknown "
        f"where {parts}",
        span,
        "give these terms a value of the attribute (`with NAME = …`) or the attribute a default, "
        "or write the condition so that a term without a value decides it",
        "warning",
    )
