"""What explanations say of an obligation an allow may owe but does not carry (docs/semantics.md,
48): which one, who requires it, and why its condition is unknown, an attribute of the request's
term named with the term that has no value of it."""

from __future__ import annotations

from .context import REQUEST_INDEX
from .models import RequestModel, UndeterminedObligationModel


def lacking_words(entry: UndeterminedObligationModel, request: RequestModel) -> str:
    """`` `destination` is missing`` and/or `` `party.location` is unknown (`new_processor` has
    no `location`)``."""
    terms = (request.party, request.data, request.purpose)
    said = [f"`{key}` is missing" for key in entry.missing]
    for attribute in entry.unknown_attributes:
        kind, _, name = attribute.partition(".")
        term = terms[REQUEST_INDEX[kind]]
        said.append(f"`{attribute}` is unknown (`{term}` has no `{name}`)")
    return " and ".join(said)


def undetermined_words(entry: UndeterminedObligationModel, request: RequestModel) -> str:
    """`` obligation `assess_transfer` of `hosting` is not attached: `party.location` is unknown
    (`new_processor` has no `location`)``."""
    return f"obligation `{entry.text}` of `{entry.required_by}` is not attached: " + lacking_words(
        entry, request
    )
