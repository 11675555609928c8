"""The rules an explanation says nearly apply (all but one of their scopes covers the request),
and how it names a rule's citation and place."""

from __future__ import annotations

from .compiler import CompiledPolicy, CompiledRule
from .models import DecisionModel, NearMissModel

MAX_NEAR_MISSES = 5


def citation_of(rule: CompiledRule) -> str:
    return rule.about.citation


def location_of(rule: CompiledRule) -> str:
    return rule.about.location


def near_misses(compiled: CompiledPolicy, decision: DecisionModel) -> list[NearMissModel]:
    terms = (decision.request.party, decision.request.data, decision.request.purpose)
    out: list[NearMissModel] = []
    for rule in sorted(compiled.rules, key=lambda r: (r.effect != "allow", r.id)):
        mismatch = []
        for kind, term, scope in zip(
            ("party", "data", "purpose"),
            terms,
            (rule.parties, rule.data, rule.purposes),
            strict=True,
        ):
            if scope is not None and scope.isdisjoint(compiled.hierarchies[kind].ancestors[term]):
                listed = ", ".join(f"`{s}`" for s in sorted(scope))
                mismatch.append(f"its {kind} {listed} does not cover `{term}`")
        if len(mismatch) == 1:
            out.append(
                NearMissModel(
                    id=rule.id,
                    effect=rule.effect,
                    citation=citation_of(rule),
                    location=location_of(rule),
                    mismatch=mismatch,
                )
            )
        if len(out) >= MAX_NEAR_MISSES:
            break
    return out
