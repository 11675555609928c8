"""Explanations: re-evaluate a decision with a tracer, then say in words what happened.

The structured form (:class:`TraceModel`) is what ``explain --format json`` prints; the text form is
for people: the decision in one sentence, the request with its place in each hierarchy, every rule
that covers the request and why it did or did not apply, and, when nothing applied, the rules that
nearly did.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from .compiler import CompiledPolicy
from .context import REQUEST_INDEX
from .evaluator import ConditionTrace, RuleTrace, evaluate, show_key, trace_condition
from .explain_near import citation_of, location_of, near_misses
from .explain_overrides import (
    lift_models,
    lifted_words,
    override_uses,
    summary_words,
    unknown_words,
)
from .explain_undetermined import lacking_words, undetermined_words
from .models import (
    ConditionTraceModel,
    DecisionModel,
    NamedConditionModel,
    ObligationTraceModel,
    OverrideUseModel,
    RuleTraceModel,
    TraceModel,
    TruthValue,
)
from .overrides import CompiledOverride
from .request import flat_context, normalize_context


def _truth(value: bool | None) -> TruthValue:
    return "unknown" if value is None else ("true" if value else "false")


def _condition_model(trace: ConditionTrace) -> ConditionTraceModel:
    named = None
    if trace.named is not None:
        named = NamedConditionModel(citation=trace.named[0], description=trace.named[1])
    return ConditionTraceModel(
        text=trace.text,
        value=_truth(trace.value),
        detail=trace.detail,
        missing=sorted(trace.missing),
        children=[_condition_model(c) for c in trace.children],
        named=named,
    )


def _missing_words(keys: frozenset[str] | list[str], declared: Container[str]) -> str:
    """`a` is missing / `a` and `b` are missing / `party.location` is unknown (an attribute a
    term has no value of, the request's or the one a key names: no context key of ``declared``;
    `party`, `data` and `purpose` start none)."""
    unknown = sorted(k for k in keys if k.partition(".")[0] in REQUEST_INDEX or k not in declared)
    missing = sorted(k for k in keys if k not in unknown)
    said = [_listed(names, word) for names, word in ((missing, "missing"), (unknown, "unknown"))]
    return " and ".join(s for s in said if s)


def _listed(names: list[str], word: str) -> str:
    quoted = [f"`{n}`" for n in names]
    if not quoted:
        return ""
    if len(quoted) == 1:
        return f"{quoted[0]} is {word}"
    return f"{', '.join(quoted[:-1])} and {quoted[-1]} are {word}"


def _outcome(
    trace: RuleTrace,
    decision: DecisionModel,
    overrides: dict[str, CompiledOverride],
    declared: Container[str],
) -> str:
    rule = trace.rule
    why_not = _why_not(trace)
    if rule.effect == "deny":
        if trace.value is True:
            return "applies: denies the request"
        if trace.value is None:
            return (
                "denies (fail closed): it cannot be ruled out because "
                f"{_missing_words(trace.missing, declared)}" + unknown_words(trace, overrides)
            )
        return lifted_words(trace, overrides) or f"does not apply: {why_not}"
    if trace.value is True:
        own = (o for o in trace.obligations if o.origin is None)  # an override's: its own list
        attached = sorted({n for o in own if o.attached for n in o.names})
        if decision.effect == "deny":
            return "applies, but a deny rule overrides it"
        return "applies: grants the request" + (
            f" with obligations {', '.join(attached)}" if attached else ""
        )
    if trace.value is None:
        return (
            "does not grant: its conditions are unknown because "
            f"{_missing_words(trace.missing, declared)}"
        )
    return f"does not apply: {why_not}"


def _why_not(trace: RuleTrace) -> str:
    if trace.condition is not None and trace.condition.value is False:
        return "its `when` condition is false"
    held = [e for e in trace.exceptions if e.value is True]
    if held:
        return f"its exception `unless {held[0].text}` holds"
    return "its conditions do not hold"


def _summary(
    decision: DecisionModel,
    traces: list[RuleTrace],
    overrides: dict[str, CompiledOverride],
    declared: Container[str],
) -> str:
    request = decision.request
    who = f"`{request.party}` {{}} use `{request.data}` for `{request.purpose}`"
    if decision.effect == "allow":
        ids = ", ".join(f"`{r.id}` ({r.citation})" for r in decision.reasons)
        lifted = summary_words(traces, overrides)
        unsaid = "".join(
            "; " + undetermined_words(u, request) for u in decision.undetermined_obligations
        )
        return (
            f"ALLOW: {who.format('may')}, because {ids} applies and no deny rule applies"
            f"{lifted}{unsaid}"
        )
    head = f"DENY: {who.format('may not')}"
    if decision.reasons:
        parts = []
        for reason in decision.reasons:
            trace = next(t for t in traces if t.rule.id == reason.id)
            suffix = (
                f" (fail closed: {_missing_words(trace.missing, declared)})"
                if trace.value is None
                else ""
            )
            parts.append(f"deny rule `{reason.id}` ({reason.citation}) applies{suffix}")
        return f"{head}, because " + "; ".join(parts)
    unknown = [t for t in traces if t.rule.effect == "allow" and t.value is None]
    if unknown:
        return (
            f"{head}: no allow rule grants it for certain (default deny); "
            f"{_missing_words(frozenset().union(*(t.missing for t in unknown)), declared)}"
        )
    if traces:
        return f"{head}: the rules that cover it do not apply (default deny)"
    return f"{head}: no rule covers this party, data and purpose (default deny)"


def build_trace(
    compiled: CompiledPolicy, decision: DecisionModel, given: Mapping[str, Any] | None = None
) -> TraceModel:
    """The explanation of ``decision``; ``given`` is the context as the caller gave it (the
    decision's own is as JSON holds it), read again exactly."""
    ctx = normalize_context(compiled, decision.request.context if given is None else given)
    traces: list[RuleTrace] = []
    terms = (decision.request.party, decision.request.data, decision.request.purpose)
    evaluate(compiled, terms, ctx, traces.append)
    overrides = {o.id: o for o in compiled.overrides}
    considered = [
        RuleTraceModel(
            id=t.rule.id,
            effect=t.rule.effect,
            citation=citation_of(t.rule),
            description=t.rule.about.description,
            location=location_of(t.rule),
            value=_truth(t.value),
            outcome=_outcome(t, decision, overrides, compiled.context),
            condition=_condition_model(t.condition) if t.condition else None,
            exceptions=[_condition_model(e) for e in t.exceptions],
            obligations=[
                ObligationTraceModel(
                    obligations=list(o.names),
                    condition=_condition_model(o.condition) if o.condition else None,
                    attached=o.attached,
                )
                for o in t.obligations
                if o.origin is None
            ],
            missing=sorted(t.missing),
            overrides=lift_models(t, overrides, _condition_model),
            would_apply=_truth(t.own) if t.lifts else None,
        )
        for t in traces
    ]

    def traced(expr: Any) -> ConditionTrace:
        return trace_condition(compiled, expr, ctx, terms)

    lineage = {
        kind: compiled.hierarchies[kind].path_up(term)
        for kind, term in (
            ("party", decision.request.party),
            ("data", decision.request.data),
            ("purpose", decision.request.purpose),
        )
    }
    return TraceModel(
        decision=decision,
        summary=_summary(decision, traces, overrides, compiled.context),
        considered=considered,
        near_misses=near_misses(compiled, decision) if not decision.reasons else [],
        rules_total=len(compiled.rules),
        lineage=lineage,
        context_text=_context_text(compiled, given or decision.request.context),
        overrides=override_uses(compiled.overrides, traces, decision, traced, _condition_model),
    )


def _context_text(compiled: CompiledPolicy, context: Mapping[str, Any]) -> dict[str, str]:
    """Each context value as written in a rule, by key (dotted keys given nested, flat)."""
    flat = flat_context(compiled, context, [])
    return {k: show_key(compiled, k, _plain(v)) for k, v in sorted(flat.items())}


# ---- text -----------------------------------------------------------------------------------


def _shown_children(trace: ConditionTraceModel) -> bool:
    """Whether the parts of a condition get lines of their own: those of `and`, `or`, `not`,
    and what a named condition means."""
    return len(trace.children) > 1 or bool(
        trace.children and (trace.named is not None or trace.text.startswith("not "))
    )


def _condition_lines(label: str, trace: ConditionTraceModel, indent: str) -> list[str]:
    line = f"{indent}{label}{trace.text}  → {trace.value}"
    if trace.detail:
        line += f" ({trace.detail})"
    if trace.named is not None:
        citation, description = trace.named.citation, trace.named.description
        about = " ".join(
            [*([citation] if citation else []), *([f'"{description}"'] * bool(description))]
        )
        line += f"  [named condition{': ' + about if about else ''}]"
    lines = [line]
    if _shown_children(trace):
        child_label = "means " if trace.named is not None else "- "
        for child in trace.children:
            lines.extend(_condition_lines(child_label, child, indent + "    "))
    return lines


def render_text(trace: TraceModel) -> str:
    d = trace.decision
    out = [trace.summary + ".", ""]
    out.append("Request")
    for kind, term in (
        ("party", d.request.party),
        ("data", d.request.data),
        ("purpose", d.request.purpose),
    ):
        above = trace.lineage[kind][1:]
        where = f"  (under {', '.join(above)})" if above else ""
        out.append(f"  {kind:<8} {term}{where}")
    context = ", ".join(f"{k} = {text}" for k, text in trace.context_text.items())
    out.append(f"  {'context':<8} {context or '(none)'}")
    out.append("")
    out += _decision_lines(d)
    out.append(f"Policy version: {d.policy_version}")
    out.append("")
    n = len(trace.considered)
    out.append(
        f"Rules considered: {n} of {trace.rules_total} cover this party, data and purpose"
        + (":" if n else ".")
    )
    for rule in trace.considered:
        marker = {"true": "applies", "false": "does not apply", "unknown": "unknown"}[rule.value]
        out.append("")
        out.append(
            f"  [{marker}] {rule.effect} `{rule.id}`  {rule.citation or '(no citation)'}"
            f"  {rule.location}"
        )
        if rule.description:
            out.append(f'    "{rule.description}"')
        out.append(f"    {rule.outcome}")
        if rule.condition is not None:
            out.extend(_condition_lines("when ", rule.condition, "      "))
        for exception in rule.exceptions:
            out.extend(_condition_lines("unless ", exception, "      "))
        for lift in rule.overrides:
            label = f"lifted by override `{lift.override}` when "
            out.extend(_condition_lines(label, lift.condition, "      "))
            out[-1 - _count_children(lift.condition)] += (
                "  [lifts it]" if lift.lifts else "  [does not lift it]"
            )
        out.extend(_obligation_lines(rule.obligations, "      "))
    out.extend(_override_lines(trace.overrides))
    if trace.near_misses:
        out.append("")
        out.append("Rules that nearly cover this request:")
        for miss in trace.near_misses:
            out.append(
                f"  {miss.effect} `{miss.id}`  {miss.citation or '(no citation)'}  {miss.location}:"
                f" {'; '.join(miss.mismatch)}"
            )
    return "\n".join(out)


def _decision_lines(d: DecisionModel) -> list[str]:
    """The obligations, those not attached for an unknown condition, and the missing keys."""
    required = ", ".join(o.text for o in d.obligation_details)
    out = [f"Obligations: {required or 'none'}"]
    for entry in d.undetermined_obligations:
        out.append(
            f"Not attached, condition unknown: {entry.text} of `{entry.required_by}`, because "
            + lacking_words(entry, d.request)
        )
    out.append(f"Missing context: {', '.join(d.missing) or 'none'}")
    return out


def _obligation_lines(obligations: list[ObligationTraceModel], indent: str) -> list[str]:
    out: list[str] = []
    for ob in obligations:
        state = "attached" if ob.attached else "not attached"
        names = ", ".join(ob.obligations)
        if ob.condition is None:
            out.append(f"{indent}with obligation {names}  → {state}")
        else:
            out.extend(_condition_lines(f"with obligation {names} when ", ob.condition, indent))
            out[-1 - _count_children(ob.condition)] += f"  [{state}]"
    return out


def _override_lines(uses: list[OverrideUseModel]) -> list[str]:
    """The overrides of the deny rules that cover the request, each with what it lifted and the
    obligations it brings."""
    if not uses:
        return []
    out = ["", "Overrides of these deny rules:"]
    for use in uses:
        marker = "lifts" if use.lifted else "does not lift"
        out.append("")
        out.append(
            f"  [{marker}] override `{use.id}`  {use.citation or '(no citation)'}  {use.location}"
        )
        if use.description:
            out.append(f'    "{use.description}"')
        lifted = ", ".join(f"`{r}`" for r in use.lifted)
        said = f"lifts {lifted}, which would otherwise apply" if lifted else "lifts none"
        out.append(f"    {said}")
        out.extend(_condition_lines("when ", use.condition, "      "))
        out.extend(_obligation_lines(use.obligations, "      "))
    return out


def _count_children(trace: ConditionTraceModel) -> int:
    if _shown_children(trace):
        return sum(1 + _count_children(c) for c in trace.children)
    return 0


def _plain(value: object) -> object:
    return frozenset(value) if isinstance(value, list) else value
