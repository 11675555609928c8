"""What explanations say of overrides (docs/semantics.md, 37–40): "deny `R` would apply; lifted by
override `O` (citation) because C", each override of a deny rule that covers the request with its
condition's value, the rules it lifted and the obligations it brings to an allow.

The obligations an override adds are in the allow rules' logic (:mod:`.overrides`); here they are
said again from the override's own parts (its condition, the lifted rules' values without it, the
clauses' own conditions), which the tests hold equal to the decision's obligations."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .evaluator import ConditionTrace, RuleTrace
from .models import (
    ConditionTraceModel,
    DecisionModel,
    LiftTraceModel,
    ObligationTraceModel,
    OverrideUseModel,
)
from .overrides import CompiledOverride

ConditionModel = Callable[[ConditionTrace], ConditionTraceModel]
Trace = Callable[..., ConditionTrace]


def would_apply(trace: RuleTrace) -> bool:
    """A deny rule that, without its overrides, is true or unknown (it would deny)."""
    return trace.rule.effect == "deny" and trace.own is not False


def lifted_by(trace: RuleTrace, overrides: dict[str, CompiledOverride]) -> list[CompiledOverride]:
    """The overrides that lifted this deny rule: their conditions hold and it would apply."""
    if not would_apply(trace):
        return []
    ids = trace.rule.logic.lifted_by
    return [overrides[i] for i, t in zip(ids, trace.lifts, strict=True) if t.value is True]


def because(override: CompiledOverride, condition: ConditionTrace) -> str:
    """``override `O` (§x) because C``."""
    cited = f" ({override.about.citation})" if override.about.citation else ""
    return f"override `{override.id}`{cited} because {condition.text}"


def lifted_words(trace: RuleTrace, overrides: dict[str, CompiledOverride]) -> str | None:
    """The outcome of a deny rule an override lifted: "would apply; lifted by override …"."""
    lifting = lifted_by(trace, overrides)
    if not lifting:
        return None
    conditions = dict(zip(trace.rule.logic.lifted_by, trace.lifts, strict=True))
    head = "would apply" if trace.own is True else "would deny (fail closed)"
    said = " and ".join(because(o, conditions[o.id]) for o in lifting)
    return f"{head}; lifted by {said}"


def unknown_words(trace: RuleTrace, overrides: dict[str, CompiledOverride]) -> str:
    """For a deny that fails closed: the overrides that could not lift it, and why."""
    said = [
        f"override `{i}` lifts it only when {t.text}"
        for i, t in zip(trace.rule.logic.lifted_by, trace.lifts, strict=True)
        if t.value is None and i in overrides
    ]
    return ("; " + "; ".join(said)) if said else ""


def summary_words(traces: Sequence[RuleTrace], overrides: dict[str, CompiledOverride]) -> str:
    """What an allow owes to overrides: "; deny `R` would apply; lifted by override …"."""
    parts = []
    for trace in traces:
        words = lifted_words(trace, overrides)
        if words is not None:
            parts.append(f"deny `{trace.rule.id}` {words}")
    return "".join(f"; {p}" for p in parts)


def lift_models(
    trace: RuleTrace, overrides: dict[str, CompiledOverride], model: ConditionModel
) -> list[LiftTraceModel]:
    """A deny rule's overrides as its trace shows them."""
    found = []
    for override_id, condition in zip(trace.rule.logic.lifted_by, trace.lifts, strict=True):
        override = overrides[override_id]
        found.append(
            LiftTraceModel(
                override=override_id,
                citation=override.about.citation,
                location=override.about.location,
                condition=model(condition),
                lifts=condition.value is True and would_apply(trace),
            )
        )
    return found


def override_uses(
    overrides: Sequence[CompiledOverride],
    traces: Sequence[RuleTrace],
    decision: DecisionModel,
    trace_condition: Callable[..., ConditionTrace],
    model: ConditionModel,
) -> list[OverrideUseModel]:
    """Every override of a deny rule that covers the request (``trace_condition(expr)`` traces
    a condition on the request)."""
    by_id = {o.id: o for o in overrides}
    covering = {t.rule.id: t for t in traces if t.rule.effect == "deny"}
    found = []
    for override in overrides:
        mine = [covering[i] for i in override.lifts if i in covering]
        if not mine:
            continue
        lifted = [t.rule.id for t in mine if override in lifted_by(t, by_id)]
        clauses = []
        for names, when in override.obligations:
            traced = trace_condition(when) if when is not None else None
            attached = (
                decision.effect == "allow"
                and bool(lifted)
                and (traced is None or traced.value is True)
            )
            clauses.append(
                ObligationTraceModel(
                    obligations=list(names),
                    condition=model(traced) if traced is not None else None,
                    attached=attached,
                )
            )
        found.append(
            OverrideUseModel(
                id=override.id,
                citation=override.about.citation,
                description=override.about.description,
                location=override.about.location,
                condition=model(trace_condition(override.condition)),
                lifted=lifted,
                obligations=clauses,
            )
        )
    return found
