"""Findings about overrides (docs/semantics.md, 37–40), each a search of the cells of the deny
rules an override lifts, every witness decided again by the evaluator:

- ``override-never-lifts``: no request where the override's condition is true and a deny rule it
  lifts covers the request and would otherwise apply (its own condition and exceptions are not
  false). The override changes nothing: its condition never meets the rules it names.
- ``override-changes-nothing``: it lifts somewhere, but every request where it does is still
  denied (by another deny, or because no allow rule grants it), so no decision, and no
  obligation, is its doing.

Also the goals the matrix asks of a cell (:func:`lifts`, :func:`lifts_and_allowed`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..engine.compiler import (
    CellPlan,
    CompiledOverride,
    CompiledPolicy,
    CompiledRule,
    compile_condition,
)
from ..engine.evaluator import effect_of, own_value
from ..language.errors import Diagnostic
from .budget import BudgetExceeded
from .invariants import undecided, undecided_reason
from .scopes import rule_cells
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

Cell = tuple[str, str, str]


def _some_would_apply(valuer: Valuer, denies: Sequence[CompiledRule]) -> Valued:
    """Some deny of ``denies`` is not false by its own condition and exceptions."""
    return some(surely(valuer.own(d), TRUE | UNKNOWN) for d in denies)


def lifted_here(override: CompiledOverride, plan: CellPlan) -> list[CompiledRule]:
    """The deny rules of the cell the override lifts."""
    return [d for d in plan.denies if d.id in override.lifts]


def lifts(override: CompiledOverride, plan: CellPlan) -> Goal:
    """A request of the cell where the override lifts a deny that would otherwise apply."""
    denies = lifted_here(override, plan)

    def parts(valuer: Valuer) -> Iterator[Valued]:
        yield surely(valuer.of(override.condition), TRUE)
        yield _some_would_apply(valuer, denies)

    return lambda valuer: every(parts(valuer))


def lifts_and_allowed(override: CompiledOverride, plan: CellPlan) -> Goal:
    """A request of the cell where the override lifts a deny and the request is allowed: the
    decision is the override's doing (and its obligations come with it)."""
    lifting = lifts(override, plan)
    denies, allows = list(plan.denies), list(plan.allows)

    def allowed(valuer: Valuer) -> Valued:
        effects, need = effect(valuer, denies, allows)
        if "allow" not in effects:
            return False, None
        return (True, None) if len(effects) == 1 else (PENDING, need)

    return lambda valuer: every(iter((lifting(valuer), allowed(valuer))))


def confirm_lifts(
    compiled: CompiledPolicy,
    override: CompiledOverride,
    cell: Cell,
    ctx: dict[str, Any],
    allowed: bool,
) -> None:
    """The evaluator agrees that the override lifts a deny on ``ctx`` (and, with ``allowed``,
    that the request is allowed)."""
    plan = compiled.cell(cell)
    held = compile_condition(compiled, override.condition)(ctx, cell)
    would = any(own_value(d, ctx, cell) is not False for d in lifted_here(override, plan))
    if held is not True or not would:
        raise AnalysisDisagreement(f"override `{override.id}` lifts nothing on {ctx} in {cell}")
    if allowed and effect_of(plan, ctx, cell) != "allow":
        raise AnalysisDisagreement(f"{cell} is not allowed on {ctx}")


def override_findings(search: CellSearch) -> list[Diagnostic]:
    """``override-never-lifts`` and ``override-changes-nothing`` for each override."""
    compiled = search.compiled
    spans = {o.id.value: o.id.span for o in compiled.checked.overrides}
    found: list[Diagnostic] = []
    for override in compiled.overrides:
        span = spans.get(override.id)
        try:
            if _witness(search, override, allowed=False) is None:
                found.append(_never_lifts(override, span))
            elif _witness(search, override, allowed=True) is None:
                found.append(_changes_nothing(override, span))
        except (BudgetExceeded, AnalysisDisagreement) as exc:
            what = f"whether override `{override.id}` lifts a deny"
            found.append(undecided(what, undecided_reason(exc), span))
    return found


def _witness(search: CellSearch, override: CompiledOverride, *, allowed: bool) -> Cell | None:
    """The first cell of the lifted rules' scopes with a request where the override lifts a
    deny (and the request is allowed), confirmed by the evaluator; cells the rules cannot tell
    apart are searched once."""
    compiled = search.compiled
    seen: set[tuple[object, ...]] = set()
    lifted = [r for r in compiled.rules if r.id in override.lifts]
    for rule in lifted:
        for cell in rule_cells(compiled, rule):
            plan = compiled.cell(cell)
            signature = search.space.signature(cell, plan.denies + plan.allows)
            if signature in seen:
                continue
            seen.add(signature)
            goal = lifts_and_allowed(override, plan) if allowed else lifts(override, plan)
            witness = search.find(cell, goal, fewest=False)
            if witness is not None:
                confirm_lifts(compiled, override, cell, witness.context, allowed)
                return cell
    return None


def _never_lifts(override: CompiledOverride, span: Any) -> Diagnostic:
    named = ", ".join(f"`{r}`" for r in override.lifts)
    return Diagnostic(
        "override-never-lifts",
        f"override `{override.id}` never lifts anything: no request where its condition holds "
        f"is one that {named} would otherwise refuse",
        span,
        "check its `when` against the conditions and scopes of the rules it lifts",
        "warning",
    )


def _changes_nothing(override: CompiledOverride, span: Any) -> Diagnostic:
    return Diagnostic(
        "override-changes-nothing",
        f"override `{override.id}` changes no decision: every request it lifts a deny for is "
        "still refused (by another deny, or because no allow rule grants it)",
        span,
        "write the allow rule it is meant to let through, or lift the other denies as well",
        "warning",
    )
