"""The reasons a decision gives: each deciding rule as a :class:`ReasonModel`, built the first
time the rule decides something and shared by every later decision. A :class:`Decision` keeps
the book of the policy that made it, never the policy itself."""

from __future__ import annotations

from typing import Any

from ..language.printer import obligation_name
from .compiled import requirement_order
from .compiler import CompiledPolicy, CompiledRule, Undetermined
from .models import ObligationModel, ReasonModel, UndeterminedObligationModel, json_arguments


class ReasonBook:
    """The reasons of one compiled policy, with the policy's version."""

    __slots__ = ("_dict_lists", "_lists", "_obligations", "_reasons", "compiled", "version")

    def __init__(self, compiled: CompiledPolicy, version: str) -> None:
        self.compiled = compiled
        self.version = version
        self._reasons: dict[str, ReasonModel] = {}
        self._lists: dict[tuple[CompiledRule, ...], tuple[ReasonModel, ...]] = {}
        self._dict_lists: dict[tuple[CompiledRule, ...], tuple[dict[str, Any], ...]] = {}
        self._obligations: dict[tuple[str, ...], Obligations] = {}

    def obligations_of(self, texts: tuple[str, ...]) -> Obligations:
        """The obligations a decision carries (``texts``: :func:`~.compiled.requirements`), by
        name and in detail; built once per distinct tuple."""
        found = self._obligations.get(texts)
        if found is None:
            found = self._obligations[texts] = Obligations.of(texts, self.compiled)
        return found

    def undetermined_of(
        self, found: tuple[Undetermined, ...]
    ) -> tuple[UndeterminedObligationModel, ...]:
        """The obligations a decision may owe but does not carry, as models, in the order of
        ``obligation_details`` (:func:`~.compiled.requirement_order`), then by who requires
        them."""
        forms = self.compiled.obligation_forms
        out = []
        for entry in found:
            name, arguments = forms.get(entry.text, (obligation_name(entry.text), ()))
            model = UndeterminedObligationModel(
                name=name,
                parameters=dict(arguments),
                required_by=entry.required_by,
                missing=list(entry.missing),
                unknown_attributes=list(entry.unknown),
            )
            out.append(((requirement_order(name, arguments), entry.required_by), model))
        return tuple(model for _, model in sorted(out, key=lambda pair: pair[0]))

    @staticmethod
    def undetermined_dict(model: UndeterminedObligationModel) -> dict[str, Any]:
        """One of them as ``model_dump`` gives it (a decimal argument a JSON number)."""
        return {
            "name": model.name,
            "parameters": json_arguments(model.parameters.items()),
            "required_by": model.required_by,
            "missing": list(model.missing),
            "unknown_attributes": list(model.unknown_attributes),
        }

    def reason(self, rule: CompiledRule) -> ReasonModel:
        found = self._reasons.get(rule.id)
        if found is None:
            found = self._reasons[rule.id] = reason_of(rule)
        return found

    def reasons_of(self, deciding: tuple[CompiledRule, ...]) -> tuple[ReasonModel, ...]:
        """The reasons for a set of deciding rules, built once per distinct set (rules hash by
        identity; large policies often decide with many rules at once)."""
        if not deciding:
            return ()
        found = self._lists.get(deciding)
        if found is None:
            found = self._lists[deciding] = tuple(self.reason(r) for r in deciding)
        return found

    def reason_dicts_of(self, deciding: tuple[CompiledRule, ...]) -> tuple[dict[str, Any], ...]:
        """:meth:`reasons_of` as dicts (``dict(reason)``), built once per distinct set, for
        ``Decision.model_dump``, which copies them (a batch dumps thousands of decisions, and
        ``dict()`` of a pydantic model costs several times a dict's copy)."""
        found = self._dict_lists.get(deciding)
        if found is None:
            found = tuple(dict(reason) for reason in self.reasons_of(deciding))
            self._dict_lists[deciding] = found
        return found


class Obligations:
    """A decision's obligations: their names (each once, sorted) and each as required, with its
    arguments (as models and as plain dicts for ``model_dump``)."""

    __slots__ = ("details", "dicts", "names")

    def __init__(
        self,
        names: tuple[str, ...],
        details: tuple[ObligationModel, ...],
    ) -> None:
        self.names = names
        self.details = details
        self.dicts: tuple[dict[str, Any], ...] = tuple(
            {"name": d.name, "parameters": json_arguments(d.parameters.items())} for d in details
        )

    @classmethod
    def of(cls, texts: tuple[str, ...], compiled: CompiledPolicy) -> Obligations:
        """The obligations required as ``texts``, in :func:`~.compiled.requirement_order`."""
        forms = compiled.obligation_forms
        required = sorted(
            (forms.get(text, (obligation_name(text), ())) for text in texts),
            key=lambda form: requirement_order(*form),
        )
        details = tuple(
            ObligationModel(name=name, parameters=dict(arguments)) for name, arguments in required
        )
        return cls(tuple(sorted({d.name for d in details})), details)


def reason_of(rule: CompiledRule) -> ReasonModel:
    about = rule.about
    return ReasonModel(
        id=rule.id,
        effect=rule.effect,
        citation=about.citation,
        description=about.description,
        file=about.file,
        line=about.line,
        location=f"{about.file}:{about.line}",
    )
