"""The decision object ``Policy.decide`` returns: light to build, rich on demand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .models import DecisionModel, ReasonModel, RequestModel, TraceModel

if TYPE_CHECKING:
    from .compiler import CompiledPolicy


class Decision:
    """Allow or deny, with the obligations that come with a yes and the rules that decided it.

    Built without a trace; :meth:`explain` re-evaluates with a tracer when asked.
    """

    __slots__ = (
        "_compiled",
        "_context",
        "allowed",
        "data",
        "effect",
        "missing",
        "obligations",
        "party",
        "policy_version",
        "purpose",
        "reasons",
    )

    def __init__(
        self,
        effect: str,
        obligations: list[str],
        reasons: list[ReasonModel],
        missing: list[str],
        policy_version: str,
        terms: tuple[str, str, str],
        context: Mapping[str, Any],
        compiled: CompiledPolicy,
    ) -> None:
        self.effect = effect
        self.allowed = effect == "allow"
        self.obligations = obligations
        self.reasons = reasons
        self.missing = missing
        self.policy_version = policy_version
        self.party, self.data, self.purpose = terms
        self._context = context
        self._compiled = compiled

    @property
    def context(self) -> dict[str, Any]:
        """The context as the caller gave it."""
        return dict(self._context)

    def to_model(self) -> DecisionModel:
        return DecisionModel(
            allowed=self.allowed,
            effect=self.effect,  # type: ignore[arg-type]
            obligations=list(self.obligations),
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
            "reasons": [dict(reason) for reason in self.reasons],
            "missing": list(self.missing),
            "policy_version": self.policy_version,
            "request": {
                "party": self.party,
                "data": self.data,
                "purpose": self.purpose,
                "context": dict(self._context),
            },
        }

    def model_dump_json(self, **kwargs: Any) -> str:
        return self.to_model().model_dump_json(**kwargs)

    def trace(self) -> TraceModel:
        """The structured explanation: every candidate rule, its conditions and their values."""
        from .explain import build_trace

        return build_trace(self._compiled, self)

    def explain(self) -> str:
        """A plain-language account of the decision: every rule considered and why it did or did
        not apply, with the actual values its conditions saw."""
        from .explain import render_text

        return render_text(self.trace())

    def __repr__(self) -> str:
        return (
            f"Decision(effect={self.effect!r}, obligations={self.obligations!r}, "
            f"reasons={[r.id for r in self.reasons]!r}, missing={self.missing!r})"
        )
