"""Typing what keys of one term bring to conditions: ``recipient.location`` (the attribute of the
term a key names), ``party.location is known`` and ``recipient.location is known``.

:class:`~.condition_types.Typer` hands these to this module: a dotted name no key or term has,
whose start is a key of one term, is read as that term's attribute (or refused as an attribute
its kind does not have, with a did-you-mean); ``is known`` and ``is missing`` test a key or an
attribute of a term, nothing else.
"""

from __future__ import annotations

from ..language import ast
from .attributes import unknown_attribute
from .check_state import CheckState, article, kind_word
from .term_keys import KeyAttributes


def key_attributes(state: CheckState) -> KeyAttributes:
    return KeyAttributes({n: d.type for n, d in state.context.items()}, state.attribute_decls)


def key_attribute_decl(
    state: CheckState, keyed: KeyAttributes, node: ast.NameRef
) -> ast.AttributeDecl | bool | None:
    """For a name that no key or term has: the declaration of the attribute it reads of a key's
    term; False after reporting an attribute the key's kind does not have; None when the name's
    start is no key of one term (the caller reports the unknown name)."""
    found = keyed.split(node.name)
    if found is not None:
        _, kind, attribute = found
        return state.attribute_decls[(kind, attribute)]
    at = len(node.name)
    while (at := node.name.rfind(".", 0, at)) > 0:
        of = keyed.term_key(node.name[:at])
        if of is not None:
            unknown_attribute(state, of, ast.Name(node.name[at + 1 :], node.span))
            return False
    return None


def check_presence(state: CheckState, keyed: KeyAttributes, expr: ast.Presence) -> None:
    """``NAME is known``: NAME is a context key, or an attribute of the term a key names."""
    name = expr.key.value
    symbol = state.symbols.get(name)
    if symbol is not None and symbol.kind == "context":
        return
    if symbol is None:
        found = key_attribute_decl(state, keyed, ast.NameRef(name, expr.key.span))
        if found is not None:
            return  # an attribute of a key's term (or an error said why not)
    what = (
        f"`{name}` is {article(kind_word(symbol.kind))} {kind_word(symbol.kind)}, not a context key"
        if symbol
        else f"unknown context key `{name}`"
    )
    state.error(
        "not-a-context-key",
        what,
        expr.key.span,
        state.suggest(name, "context")
        or "`is known` and `is missing` test context keys and attributes of terms",
    )


def check_attribute_presence(state: CheckState, expr: ast.AttributePresence) -> None:
    """``party.location is known``: the request's kind has the attribute."""
    node = expr.attribute
    if (node.kind, node.name) not in state.attribute_decls:
        unknown_attribute(state, node.kind, ast.Name(node.name, node.span))


def is_term_key(state: CheckState, node: ast.Operand) -> bool:
    """Whether ``node`` names a key of one term (which a list of terms cannot hold)."""
    if not isinstance(node, ast.NameRef):
        return False
    decl = state.context.get(node.name)
    return decl is not None and isinstance(decl.type, ast.TermType)
