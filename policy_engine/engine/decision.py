"""The decision object ``Policy.decide`` returns: light to build, rich on demand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .context import json_context
from .explain import build_trace, render_text
from .models import (
    DecisionModel,
    ObligationModel,
    ReasonModel,
    RequestModel,
    TraceModel,
    UndeterminedObligationModel,
)
from .reasons import Obligations, ReasonBook

if TYPE_CHECKING:
    from .compiler import Outcome


class Decision:
    """Allow or deny, with the obligations that come with a yes and the rules that decided it.

    Built without a trace; :meth:`explain` re-evaluates with a tracer when asked. Building one is
    part of every ``decide`` call, so it only keeps what the evaluation produced (an immutable,
    shared outcome) and makes the lists of obligations, reasons and missing keys the first time
    they are read (each is then the same list object on every read).
    """

    __slots__ = (
        "_book",
        "_context",
        "_missing",
        "_obligations",
        "_outcome",
        "_reasons",
        "data",
        "party",
        "purpose",
    )

    def __init__(
        self,
        outcome: Outcome,
        book: ReasonBook,
        terms: tuple[str, str, str],
        context: Mapping[str, Any],
    ) -> None:
        self._outcome = outcome
        self._book = book
        self.party, self.data, self.purpose = terms
        self._context = context
        self._obligations: list[str] | None = None
        self._reasons: list[ReasonModel] | None = None
        self._missing: list[str] | None = None

    @property
    def effect(self) -> str:
        """``"allow"`` or ``"deny"``."""
        return self._outcome.effect

    @property
    def allowed(self) -> bool:
        return self._outcome.effect == "allow"

    def _required(self) -> Obligations:
        return self._book.obligations_of(self._outcome.obligations)

    @property
    def obligations(self) -> list[str]:
        """The names of the obligations that come with an allow (each once, sorted; empty for a
        deny)."""
        found = self._obligations
        if found is None:
            found = self._obligations = list(self._required().names)
        return found

    @property
    def obligation_details(self) -> list[ObligationModel]:
        """Each obligation that comes with an allow with the arguments its rule gave its
        parameters, sorted; one that two rules require with different arguments is there
        twice."""
        return list(self._required().details)

    @property
    def undetermined_obligations(self) -> list[UndeterminedObligationModel]:
        """On an allow, each obligation whose condition is unknown (a context key is missing, or
        the request's term has no value of an attribute the condition reads) and that the allow
        does not carry: what it may owe but could not say (docs/semantics.md, 48)."""
        return list(self._book.undetermined_of(self._outcome.undetermined))

    @property
    def reasons(self) -> list[ReasonModel]:
        """The rules that decided it: id, effect, citation, description and place."""
        found = self._reasons
        if found is None:
            found = self._reasons = list(self._book.reasons_of(self._outcome.deciding))
        return found

    @property
    def missing(self) -> list[str]:
        """Context keys that were needed and absent."""
        found = self._missing
        if found is None:
            found = self._missing = list(self._outcome.missing)
        return found

    @property
    def policy_version(self) -> str:
        """The content hash of the rule files that decided it."""
        return self._book.version

    @property
    def context(self) -> dict[str, Any]:
        """The context as the caller gave it (a :class:`~decimal.Decimal` as the float that
        reads back as it, or its text: JSON has no decimals of its own)."""
        return json_context(self._context)

    def to_model(self) -> DecisionModel:
        return DecisionModel(
            allowed=self.allowed,
            effect=self.effect,  # type: ignore[arg-type]
            obligations=list(self.obligations),
            obligation_details=self.obligation_details,
            undetermined_obligations=self.undetermined_obligations,
            reasons=list(self.reasons),
            missing=list(self.missing),
            policy_version=self.policy_version,
            request=RequestModel(
                party=self.party, data=self.data, purpose=self.purpose, context=self.context
            ),
        )

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        """The decision as a dict, equal to the JSON the CLI prints with ``--format json``.

        Without arguments it is built directly (batch output pays no validation per decision);
        the tests check it equals the pydantic model's dump. Arguments go to pydantic.
        """
        if kwargs:
            return self.to_model().model_dump(mode="json", **kwargs)
        return {
            "allowed": self.allowed,
            "effect": self.effect,
            "obligations": list(self.obligations),
            "obligation_details": [
                {"name": d["name"], "parameters": dict(d["parameters"])}
                for d in self._required().dicts
            ],
            "undetermined_obligations": [
                self._book.undetermined_dict(u)
                for u in self._book.undetermined_of(self._outcome.undetermined)
            ],
            "reasons": [
                dict(reason) for reason in self._book.reason_dicts_of(self._outcome.deciding)
            ],
            "missing": list(self.missing),
            "policy_version": self.policy_version,
            "request": {
                "party": self.party,
                "data": self.data,
                "purpose": self.purpose,
                "context": json_context(self._context),
            },
        }

    def model_dump_json(self, **kwargs: Any) -> str:
        return self.to_model().model_dump_json(**kwargs)

    def trace(self) -> TraceModel:
        """The structured explanation: every candidate rule, its conditions and their values."""
        return build_trace(self._book.compiled, self.to_model(), self._context)

    def explain(self) -> str:
        """A plain-language account of the decision: every rule considered and why it did or did
        not apply, with the actual values its conditions saw."""
        return render_text(self.trace())

    def __repr__(self) -> str:
        return (
            f"Decision(effect={self.effect!r}, obligations={self.obligations!r}, "
            f"reasons={[r.id for r in self.reasons]!r}, missing={self.missing!r})"
        )
