"""The register of processing activities (Québec's Law 25 and GDPR Art. 30 keep one), generated
from the rules through the disclosure matrix, so it cannot drift from what is enforced.

One activity per purpose that some party may ever use personal information for: the parties
(always, or under which conditions, for which categories), the legal grounds the granting rules
name (``ground §1.4 "…"``; a rule that names none but reads the key filled from the consent
ledger relies on consent; otherwise none is stated), the recipients outside the organisation (the
parties not at or below its term), the obligations that come with the communications (for
transfers outside the home jurisdiction) with their conditions, and the citations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from ..analysis.budget import Budget
from ..analysis.conditions import keys_of
from ..analysis.scopes import collapse_exact
from ..engine.compiler import CompiledOverride, CompiledPolicy, CompiledRule
from ..engine.models import ParameterValue
from ..engine.policy import Policy
from ..engine.request import resolve_term
from ..semantics.vocabulary import Hierarchy
from .matrix import build_matrix
from .matrix_models import obligation_words, verdict_words
from .selection import declaration_order
from .verdicts import Attached, CellVerdict

Basis = Literal["stated", "consent", "not stated"]


class Ground(BaseModel):
    ground: str = Field(description='the ground the rules name, "consent", or "not stated"')
    basis: Basis
    citations: list[str] = Field(description="the ground's own citations")
    rules: list[str]


class Categories(BaseModel):
    data: list[str] = Field(description="every data category, in declaration order")
    highest: list[str] = Field(
        description="the highest categories listed with everything below them"
    )
    only: list[str] = Field(description="the other categories listed, not below those")


class Use(BaseModel):
    """What one condition lets a party use for the purpose."""

    when: str = Field(description='"always", or "when …" the condition in words')
    categories: Categories


class PartyUses(BaseModel):
    party: str
    inside: bool = Field(description="at or below the organisation's term")
    uses: list[Use]


class Obligation(BaseModel):
    obligation: str = Field(description="the obligation's name")
    parameters: dict[str, ParameterValue] = Field(
        default={},
        description="the arguments its rules give its parameters (left out when it has none)",
    )
    description: str | None
    when: str = Field(description="the obligation and its condition in words")
    rules: list[str]

    @model_serializer(mode="wrap")
    def _without_empty_parameters(self, dump: SerializerFunctionWrapHandler) -> dict[str, Any]:
        found: dict[str, Any] = dump(self)
        if not found.get("parameters"):
            found.pop("parameters", None)
        return found


class Activity(BaseModel):
    purpose: str
    path: list[str]
    description: str | None
    parties: list[PartyUses]
    categories: Categories
    grounds: list[Ground]
    recipients_outside: list[str]
    obligations: list[Obligation]
    rules: list[str]
    citations: list[str]


class Register(BaseModel):
    policy: str
    version: str
    organisation: str | None = Field(description="null when the policy declares no party")
    activities: list[Activity]
    never_allowed: list[str] = Field(
        description="purposes no party may ever use personal information for"
    )


def build_register(
    policy: Policy,
    name: str,
    organisation: str | None = None,
    budget: Budget | None = None,
    *,
    prove: bool = False,
) -> Register:
    """The register of ``policy``, from its matrix over every declared term. Raises like
    :func:`~.matrix.build_matrix` (an unknown ``organisation`` is an unknown party)."""
    compiled = policy.compiled
    parties = declaration_order(compiled, "party")
    org = parties[0] if parties else None  # a policy may declare no party: it allows nothing
    if organisation is not None:
        org = resolve_term(compiled, "party", organisation)
    matrix = build_matrix(policy, name, budget=budget, prove=prove)
    by_purpose: dict[str, list[tuple[str, str, CellVerdict]]] = {}
    for (party, data, purpose), verdict in matrix.verdicts.items():
        by_purpose.setdefault(purpose, []).append((party, data, verdict))
    inside = compiled.hierarchies["party"].descendants[org] if org else frozenset()
    activities = [
        _activity(compiled, line.term, line.path, by_purpose[line.term], inside)
        for line in matrix.purposes
        if line.term in by_purpose
    ]
    never = [line.term for line in matrix.purposes if line.term not in by_purpose]
    return Register(
        policy=name,
        version=policy.version,
        organisation=org,
        activities=activities,
        never_allowed=never,
    )


def _activity(
    compiled: CompiledPolicy,
    purpose: str,
    path: Sequence[str],
    uses: list[tuple[str, str, CellVerdict]],
    inside: frozenset[str],
) -> Activity:
    order = {kind: declaration_order(compiled, kind) for kind in ("party", "data")}
    rank = {kind: {t: i for i, t in enumerate(terms)} for kind, terms in order.items()}
    uses = sorted(uses, key=lambda u: (rank["party"][u[0]], rank["data"][u[1]]))
    data_hierarchy = compiled.hierarchies["data"]
    parties: dict[str, dict[str, list[str]]] = {}
    for party, data, verdict in uses:
        parties.setdefault(party, {}).setdefault(verdict_words(verdict), []).append(data)
    rules = _rules(r for *_, v in uses for r in v.rules)
    allows = _rules(r for *_, v in uses for r in v.allows)
    categories = sorted({d for _, d, _ in uses}, key=rank["data"].__getitem__)
    decl = compiled.checked.term_decls.get(purpose)
    return Activity(
        purpose=purpose,
        path=list(path),
        description=decl.description if decl is not None else None,
        parties=[
            PartyUses(
                party=party,
                inside=party in inside,
                uses=[
                    Use(when=when, categories=_categories(data_hierarchy, data))
                    for when, data in groups.items()
                ],
            )
            for party, groups in parties.items()
        ],
        categories=_categories(data_hierarchy, categories),
        grounds=_grounds(compiled, allows),
        recipients_outside=[p for p in parties if p not in inside],
        obligations=_obligations(compiled, [v for *_, v in uses]),
        rules=[r.id for r in rules],
        citations=_citations(rules, [o for *_, v in uses for o in v.overrides]),
    )


def _categories(hierarchy: Hierarchy, data: list[str]) -> Categories:
    """The categories, and the same as the highest whole subtrees and the terms left over."""
    whole, only = collapse_exact(hierarchy, data)
    rank = {t: i for i, t in enumerate(data)}
    highest = [t for t in whole if len(hierarchy.descendants[t]) > 1]
    only = sorted(only + [t for t in whole if t not in highest], key=rank.__getitem__)
    return Categories(data=data, highest=sorted(highest, key=rank.__getitem__), only=only)


def _rules(found: Iterable[CompiledRule]) -> list[CompiledRule]:
    return sorted(set(found), key=lambda r: r.position)


def ground_of(compiled: CompiledPolicy, rule: CompiledRule) -> tuple[str, Basis, list[str]]:
    """The ground a rule names; else consent when its conditions read the key the consent
    ledger fills; else not stated."""
    stated = rule.source.ground
    if stated is not None:
        return stated.text, "stated", [c.text for c in stated.citations]
    ledger = [n for n, k in compiled.context.items() if k.decl.source == "consent ledger"]
    logic = rule.logic
    conditions = [logic.condition] if logic.condition is not None else []
    conditions += list(logic.exceptions)
    if ledger and any(
        ledger[0] in keys_of(e, compiled.context, compiled.now_key) for e in conditions
    ):
        return "consent", "consent", []
    return "not stated", "not stated", []


def _grounds(compiled: CompiledPolicy, allows: list[CompiledRule]) -> list[Ground]:
    found: dict[tuple[str, Basis, tuple[str, ...]], list[str]] = {}
    for rule in allows:
        text, basis, citations = ground_of(compiled, rule)
        found.setdefault((text, basis, tuple(citations)), []).append(rule.id)
    return [
        Ground(ground=text, basis=basis, citations=list(citations), rules=rules)
        for (text, basis, citations), rules in found.items()
    ]


def _obligations(compiled: CompiledPolicy, verdicts: list[CellVerdict]) -> list[Obligation]:
    found: dict[tuple[str, str], tuple[Attached, list[CompiledRule]]] = {}
    for verdict in dict.fromkeys(verdicts):
        for attached in verdict.obligations:
            key = (attached.name, obligation_words(attached))
            rules = found.setdefault(key, (attached, []))[1]
            rules += [r for r in attached.rules if r not in rules]
    out = []
    for (_, when), (attached, rules) in found.items():
        decl = compiled.checked.term_decls.get(attached.obligation)
        out.append(
            Obligation(
                obligation=attached.obligation,
                parameters=dict(attached.parameters),
                description=decl.description if decl is not None else None,
                when=when,
                rules=[r.id for r in sorted(rules, key=lambda r: r.position)],
            )
        )
    return out


def _citations(rules: Sequence[CompiledRule], lifting: Sequence[CompiledOverride]) -> list[str]:
    """The rules' citations and grounds', then those of the overrides the uses owe an allow to."""
    found: dict[str, None] = {}
    for rule in rules:
        found.update(dict.fromkeys(c.text for c in rule.source.citations))
        ground = rule.source.ground
        if ground is not None:
            found.update(dict.fromkeys(c.text for c in ground.citations))
    for override in dict.fromkeys(lifting):
        cited = override.about.citation
        found.update(dict.fromkeys(c for c in cited.split(", ") if c))
    return list(found)
