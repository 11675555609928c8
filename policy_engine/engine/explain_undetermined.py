"""What explanations say of an obligation an allow may owe but does not carry (docs/semantics.md,
48): which one, who requires it, and why its condition is unknown, an attribute of the request's
term named with the term that has no value of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .context import REQUEST_INDEX
from .models import RequestModel, UndeterminedObligationModel


def lacking_words(entry: UndeterminedObligationModel, request: RequestModel) -> str:
    """`` `destination` is missing`` and/or `` `party.location` is unknown (`new_processor` has
    no `location`)``."""
    terms = (request.party, request.data, request.purpose)
    said = [f"`{key}` is missing" for key in entry.missing]
    for attribute in entry.unknown_attributes:
        kind, _, name = attribute.partition(".")
        if kind in REQUEST_INDEX:
            said.append(
                f"`{attribute}` is unknown (`{terms[REQUEST_INDEX[kind]]}` has no `{name}`)"
            )
            continue
        # an attribute of the term a key names (`recipient.location`): that term has none
        key, term = _named_term(attribute, request.context or {})
        if term is None:
            said.append(f"`{attribute}` is unknown (the term its key names has no value)")
        else:
            rest = attribute[len(key) + 1 :]
            said.append(f"`{attribute}` is unknown (`{key}` is `{term}`, which has no `{rest}`)")
    return " and ".join(said)


def _named_term(attribute: str, context: Mapping[str, Any]) -> tuple[str, str | None]:
    """The key whose term an attribute of a key's term reads, and the term the request gives it
    (the longest start of the attribute's name that the request states: flat or nested)."""
    at = len(attribute)
    while (at := attribute.rfind(".", 0, at)) > 0:
        key = attribute[:at]
        value: Any = context.get(key)
        if value is None:
            value = context
            for part in key.split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str):
            return key, value
    return attribute, None


def undetermined_words(entry: UndeterminedObligationModel, request: RequestModel) -> str:
    """`` obligation `assess_transfer` of `hosting` is not attached: `party.location` is unknown
    (`new_processor` has no `location`)``."""
    return f"obligation `{entry.text}` of `{entry.required_by}` is not attached: " + lacking_words(
        entry, request
    )
