"""Pydantic models at the edges: what a decision and its explanation look like as JSON.

The CLI's ``--format json`` output, ``Decision.model_dump()`` and the HTTP service all use these.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

from ..language.printer import number_text, obligation_text
from .context import ExactFloat


def json_number(value: Decimal) -> float:
    """A ``decimal`` argument as JSON holds it: a number, written exactly by writers that know
    :class:`ExactFloat` (the service's), else as the float nearest to it (exact up to 15
    significant digits)."""
    return ExactFloat(number_text(value))


DecimalArgument = Annotated[
    Decimal,
    PlainSerializer(json_number, return_type=float),
    WithJsonSchema({"type": "number"}),
]
"""A ``decimal`` parameter's argument: exact inside, a JSON number outside."""
ParameterValue = str | int | bool | DecimalArgument
"""An obligation's argument in a model: text, a boolean, a whole number or a decimal."""


def json_arguments(arguments: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """An obligation's arguments as JSON holds them (``model_dump``, the matrix): a decimal as a
    JSON number (:func:`json_number`)."""
    return {k: json_number(v) if type(v) is Decimal else v for k, v in arguments}


class ReasonModel(BaseModel):
    """A rule that decided a request: its id, effect, citation and where it is written."""

    model_config = ConfigDict(frozen=True)

    id: str
    effect: Literal["allow", "deny"]
    citation: str
    description: str | None
    file: str
    line: int
    location: str


class RequestModel(BaseModel):
    party: str
    data: str
    purpose: str
    context: dict[str, Any]


class ObligationModel(BaseModel):
    """An obligation a decision carries, with the arguments its rule gave its parameters."""

    model_config = ConfigDict(frozen=True)

    name: str
    parameters: dict[str, ParameterValue] = {}

    @property
    def text(self) -> str:
        """As a rule requires it: ``retain_for(years = 6)``, or the name alone."""
        return obligation_text(self.name, tuple(self.parameters.items()))


class UndeterminedObligationModel(BaseModel):
    """An obligation an allow may owe but does not carry: the condition of the clause that
    requires it is unknown on this request (docs/semantics.md, 48)."""

    model_config = ConfigDict(frozen=True)

    name: str
    parameters: dict[str, ParameterValue] = {}
    required_by: str
    """The rule whose clause requires it, or the override that adds the clause."""
    missing: list[str] = []
    """The context keys whose absence left its condition unknown (in the decision's ``missing``
    too)."""
    unknown_attributes: list[str] = []
    """The attributes of the request's terms that have no value (``party.location``): no request
    can state them, so they are never in ``missing``."""

    @property
    def text(self) -> str:
        """As a rule requires it: ``retain_for(years = 6)``, or the name alone."""
        return obligation_text(self.name, tuple(self.parameters.items()))


class DecisionModel(BaseModel):
    allowed: bool
    effect: Literal["allow", "deny"]
    obligations: list[str]
    """The names of the obligations that come with an allow, each once, sorted."""
    obligation_details: list[ObligationModel] = []
    """Each obligation with its parameters, sorted; an obligation that two rules require with
    different arguments is listed once for each."""
    undetermined_obligations: list[UndeterminedObligationModel] = []
    """On an allow, each obligation whose condition is unknown and that it does not carry, once
    per rule (or override) that requires it, sorted: what it may owe but could not say."""
    reasons: list[ReasonModel]
    missing: list[str]
    policy_version: str
    request: RequestModel


TruthValue = Literal["true", "false", "unknown"]


class NamedConditionModel(BaseModel):
    """What a trace says of a named condition besides its name and value."""

    citation: str | None = None
    """Its citations, joined with `, `."""
    description: str | None = None


class ConditionTraceModel(BaseModel):
    text: str
    value: TruthValue
    detail: str | None = None
    missing: list[str] = []
    children: list[ConditionTraceModel] = []
    named: NamedConditionModel | None = None
    """For a named condition (``text`` is its name): its citations and description; its one
    child is the condition it names."""


class ObligationTraceModel(BaseModel):
    obligations: list[str]
    condition: ConditionTraceModel | None
    attached: bool


class LiftTraceModel(BaseModel):
    """An override of a deny rule, as the rule's trace shows it: its condition on this request
    and whether it lifted the rule."""

    override: str
    citation: str
    location: str
    condition: ConditionTraceModel
    lifts: bool
    """True when the condition holds and the rule would otherwise apply (it then does not)."""


class RuleTraceModel(BaseModel):
    id: str
    effect: Literal["allow", "deny"]
    citation: str
    description: str | None
    location: str
    value: TruthValue
    outcome: str
    """In words: what this rule did to the decision."""
    condition: ConditionTraceModel | None
    exceptions: list[ConditionTraceModel]
    """Its own ``unless`` (and ``except``) exceptions; the overrides' are in ``overrides``."""
    obligations: list[ObligationTraceModel]
    """Its own obligation clauses (the obligations overrides add are in the trace's
    ``overrides``)."""
    missing: list[str]
    overrides: list[LiftTraceModel] = []
    """For a deny rule: the overrides that lift it."""
    would_apply: TruthValue | None = None
    """For a deny rule that overrides lift: its value without them (``"true"`` or
    ``"unknown"``: it would deny)."""


class OverrideUseModel(BaseModel):
    """An override that lifts a deny rule covering the request: whether it lifted one that would
    otherwise apply, and the obligations it then brings to an allow."""

    id: str
    citation: str
    description: str | None
    location: str
    condition: ConditionTraceModel
    lifted: list[str]
    """The deny rules it lifted on this request (each would otherwise apply)."""
    obligations: list[ObligationTraceModel]
    """Its obligation clauses: attached when the request is allowed, it lifted a deny, and the
    clause's own condition holds."""


class NearMissModel(BaseModel):
    """A rule that covers two of the request's three terms: often the one the author expected."""

    id: str
    effect: Literal["allow", "deny"]
    citation: str
    location: str
    mismatch: list[str]


class TraceModel(BaseModel):
    decision: DecisionModel
    summary: str
    considered: list[RuleTraceModel]
    near_misses: list[NearMissModel]
    rules_total: int
    lineage: dict[str, list[str]]
    """For party, data and purpose: the request's term and its ancestors, nearest first."""
    context_text: dict[str, str] = {}
    """Each context value of the request as written in a rule (terms without quotes)."""
    overrides: list[OverrideUseModel] = []
    """The overrides of the deny rules that cover the request."""
