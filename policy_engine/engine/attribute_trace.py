"""What explanations say of an attribute of the request's term (``party.location``): its value
and where it comes from, or that the term has none."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..language import ast
from ..language.printer import literal_text
from ..semantics.attribute_table import DEFAULT, Attribute
from .context import MISSING, REQUEST_INDEX, RequestTerms

Attributes = Mapping[tuple[str, str], Attribute]


def attribute_value(
    attributes: Attributes, node: ast.AttributeRef, req: RequestTerms
) -> tuple[Any, str]:
    """An attribute of the request's term (MISSING when the term has none), and where its value
    comes from: `` `party.location` is "US" (from `us_processor`)``."""
    attribute = attributes[(node.kind, node.name)]
    term = req[REQUEST_INDEX[node.kind]]
    if term not in attribute.values:
        return MISSING, f"`{node.text}` is unknown: `{term}` has no `{node.name}`"
    origin = attribute.origins[term]
    source = "the default" if origin == DEFAULT else f"from `{origin}`"
    value = attribute.values[term]
    return value, f"`{node.text}` is {literal_text(value)} ({source})"  # type: ignore[arg-type]


def unknown_attributes(
    attributes: Attributes, nodes: Iterable[ast.Operand], req: RequestTerms
) -> set[str]:
    """The attributes among ``nodes`` that the request's terms have no value of, by their text
    (``party.location``): the unknown parts of a condition no request can state."""
    return {
        n.text
        for n in nodes
        if isinstance(n, ast.AttributeRef)
        and req[REQUEST_INDEX[n.kind]] not in attributes[(n.kind, n.name)].values
    }
