"""What explanations say of an attribute of a term: of the request's own (``party.location``) or
of the one a key names (``recipient.location``): its value and where it comes from, or why it is
unknown."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..language import ast
from ..language.printer import literal_text
from ..semantics.attribute_table import DEFAULT, Attribute
from .context import MISSING, REQUEST_INDEX, Context, RequestTerms

Attributes = Mapping[tuple[str, str], Attribute]


def term_of(node: ast.AnyAttributeRef, ctx: Context, req: RequestTerms) -> Any:
    """The term whose attribute ``node`` reads: the request's own, or the one its key names
    (MISSING when the key is)."""
    if isinstance(node, ast.KeyAttributeRef):
        return ctx.get(node.key, MISSING)
    return req[REQUEST_INDEX[node.kind]]


def attribute_value(
    attributes: Attributes, node: ast.AnyAttributeRef, ctx: Context, req: RequestTerms
) -> tuple[Any, str]:
    """An attribute of a term (MISSING when the term has none, or the key naming it is missing),
    and where its value comes from: `` `party.location` is "US" (from `us_processor`)``."""
    attribute = attributes[(node.kind, node.name)]
    term = term_of(node, ctx, req)
    if term is MISSING:
        assert isinstance(node, ast.KeyAttributeRef)
        return MISSING, f"`{node.key}` is missing"
    named = f"`{node.key}` is `{term}`; " if isinstance(node, ast.KeyAttributeRef) else ""
    if term not in attribute.values:
        return MISSING, f"{named}`{node.text}` is unknown: `{term}` has no `{node.name}`"
    origin = attribute.origins[term]
    source = "the default" if origin == DEFAULT else f"from `{origin}`"
    value = attribute.values[term]
    shown = literal_text(value)  # type: ignore[arg-type]  # an attribute's value is a literal's
    return value, f"{named}`{node.text}` is {shown} ({source})"


def unknown_attributes(
    attributes: Attributes, nodes: Iterable[ast.Operand], ctx: Context, req: RequestTerms
) -> set[str]:
    """What makes the attributes among ``nodes`` unknown: the key that names the term when it is
    missing (a request can state it), else the attribute by its text (``party.location``) when
    the term has no value of it (no request can)."""
    found: set[str] = set()
    for node in nodes:
        while isinstance(node, ast.Shifted):
            node = node.base
        if not isinstance(node, ast.AttributeRef | ast.KeyAttributeRef):
            continue
        term = term_of(node, ctx, req)
        if term is MISSING:
            found.add(node.key)  # type: ignore[union-attr]
        elif term not in attributes[(node.kind, node.name)].values:
            found.add(node.text)
    return found


def attribute_reader(attributes: Attributes, node: ast.AnyAttributeRef) -> Any:
    """``(ctx, req) → value`` of the attribute (MISSING when unknown), for compiled conditions."""
    table = attributes[(node.kind, node.name)].values
    if isinstance(node, ast.KeyAttributeRef):
        key = node.key

        def of_key(ctx: Context, req: RequestTerms) -> Any:
            term = ctx.get(key, MISSING)
            return MISSING if term is MISSING else table.get(term, MISSING)

        return of_key
    at = REQUEST_INDEX[node.kind]
    return lambda ctx, req: table.get(req[at], MISSING)
