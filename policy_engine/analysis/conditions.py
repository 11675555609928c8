"""What conditions read and what they compare with: the context keys and
request terms a condition reads, and, for each context key, the constants, terms and other keys the
rules compare it with (the facts the request space cuts a key's domain at)."""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..language import ast
from ..language.ast_expressions import names_read


@dataclass
class KeyFacts:
    """What the rules do with one context key."""

    ints: set[int | Decimal] = field(default_factory=set)
    """The numbers the key is compared with: whole numbers and decimals."""
    strings: set[str] = field(default_factory=set)
    term_literals: set[str] = field(default_factory=set)
    request_kinds: set[str] = field(default_factory=set)
    peers: set[str] = field(default_factory=set)
    attributes: set[tuple[str, str]] = field(default_factory=set)
    """For a key of one term: the attributes of its term that conditions read
    (``recipient.location``: ``("party", "location")``)."""


def operand_pairs(expr: ast.Expr) -> Iterator[tuple[ast.Operand, ast.Operand | None, ast.Expr]]:
    """Every test of a condition (a comparison, a membership, a bare operand) with its operands:
    (left, right or None, the test)."""
    if isinstance(expr, ast.And | ast.Or):
        for operand in expr.operands:
            yield from operand_pairs(operand)
    elif isinstance(expr, ast.Not):
        yield from operand_pairs(expr.operand)
    elif isinstance(expr, ast.NamedCondition):
        yield from operand_pairs(expr.body)
    elif isinstance(expr, ast.Compare | ast.Member):
        yield expr.left, expr.right, expr
    elif isinstance(expr, ast.Truth):
        yield expr.operand, None, expr


def operand_keys(node: ast.Operand, declared: Container[str], now_key: str | None) -> list[str]:
    """The context keys an operand reads (list items, the key a moved date starts from, and the
    key ``now`` reads)."""
    found: list[str] = []
    for name in names_read(node):
        if isinstance(name, ast.Now):
            if now_key is not None:
                found.append(now_key)
        elif name.name in declared:
            found.append(name.name)
    return found


def keys_of(expr: ast.Expr, context: Iterable[str], now_key: str | None = None) -> set[str]:
    """The context keys a condition reads (``now_key``: the key ``now`` reads)."""
    declared = set(context)
    found: set[str] = set()

    def walk(e: ast.Expr) -> None:
        if isinstance(e, ast.And | ast.Or):
            for operand in e.operands:
                walk(operand)
        elif isinstance(e, ast.Not):
            walk(e.operand)
        elif isinstance(e, ast.NamedCondition):
            walk(e.body)
        elif isinstance(e, ast.Presence):
            found.add(e.key.value)
        elif isinstance(e, ast.AttributePresence):
            if isinstance(e.attribute, ast.KeyAttributeRef):
                found.add(e.attribute.key)
        else:
            nodes = (e.operand,) if isinstance(e, ast.Truth) else (e.left, e.right)
            for node in nodes:
                found.update(operand_keys(node, declared, now_key))

    walk(expr)
    return found


def request_kinds_of(expr: ast.Expr) -> set[str]:
    """Which of the request's own terms (party, data, purpose) a condition reads."""
    if isinstance(expr, ast.And | ast.Or):
        return set().union(*(request_kinds_of(e) for e in expr.operands))
    if isinstance(expr, ast.Not):
        return request_kinds_of(expr.operand)
    if isinstance(expr, ast.NamedCondition):
        return request_kinds_of(expr.body)
    if isinstance(expr, ast.Presence):
        return set()
    if isinstance(expr, ast.AttributePresence):
        attribute = expr.attribute
        return {attribute.kind} if isinstance(attribute, ast.AttributeRef) else set()
    nodes = (expr.operand,) if isinstance(expr, ast.Truth) else (expr.left, expr.right)
    found: set[str] = set()
    for node in nodes:
        while isinstance(node, ast.Shifted):
            node = node.base
        items = node.items if isinstance(node, ast.ListLiteral) else (node,)
        # An attribute's value is the request's term's: cells with other terms differ by it.
        found |= {i.kind for i in items if isinstance(i, ast.RequestRef | ast.AttributeRef)}
    return found


def attributes_read(exprs: Iterable[ast.Expr]) -> list[ast.AttributeRef]:
    """The attributes of the request's terms that conditions read (``party.location``, a date
    one moved too: ``party.founded + 5 years``), inside the named conditions they use too: once
    each, in the order first read."""
    found: dict[tuple[str, str], ast.AttributeRef] = {}
    for node in attributes_in(exprs, presence=False):
        if isinstance(node, ast.AttributeRef):
            found.setdefault((node.kind, node.name), node)
    return list(found.values())


def attributes_in(
    exprs: Iterable[ast.Expr], presence: bool = True
) -> Iterator[ast.AnyAttributeRef]:
    """Every attribute of a term the conditions mention: of the request's terms and of the terms
    keys name (``recipient.location``), moved dates included, and (``presence``) those whose
    presence they test (``party.location is known``)."""
    for expr in exprs:
        if presence:
            yield from (p.attribute for p in _presences(expr))
        for left, right, _ in operand_pairs(expr):
            for node in (left, right):
                while isinstance(node, ast.Shifted):
                    node = node.base
                if isinstance(node, ast.AttributeRef | ast.KeyAttributeRef):
                    yield node


AttributeValues = Mapping[tuple[str, str], Iterable[object]]
"""(kind, attribute) → every value some term has."""


def _add_value(value: object, into: KeyFacts) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int | Decimal):
        into.ints.add(value)
    elif isinstance(value, str):
        into.strings.add(value)


def _add_constant(
    node: ast.Operand, into: KeyFacts, context: dict[str, Any], attributes: AttributeValues
) -> None:
    """Record what a key is compared with: an integer, decimal or string literal, a term, a
    request term, or a term's attribute: within a cell a constant, one of the values terms have
    (all of them are constants of the key: a finer cut is still exact)."""
    if isinstance(node, ast.Literal_):
        _add_value(node.value, into)
    elif isinstance(node, ast.AttributeRef | ast.KeyAttributeRef):
        for value in attributes.get((node.kind, node.name), ()):
            _add_value(value, into)
    elif isinstance(node, ast.NameRef) and node.name not in context:
        into.term_literals.add(node.name)
    elif isinstance(node, ast.RequestRef):
        into.request_kinds.add(node.kind)
    elif isinstance(node, ast.ListLiteral):
        for item in node.items:
            _add_constant(item, into, context, attributes)


def collect_facts(
    exprs: Iterable[ast.Expr],
    context: dict[str, Any],
    now_key: str | None = None,
    attributes: AttributeValues | None = None,
) -> dict[str, KeyFacts]:
    """For each context key the conditions read, what they compare it with (keys compared with
    each other are each other's peers; what dates are compared with is :mod:`.time_atoms`';
    ``attributes``: the values of the terms' attributes, for keys compared with one)."""
    attributes = attributes or {}
    facts: dict[str, KeyFacts] = {}

    def fact(name: str) -> KeyFacts:
        return facts.setdefault(name, KeyFacts())

    for expr in exprs:
        for presence in _presences(expr):
            if isinstance(presence.attribute, ast.KeyAttributeRef):
                attribute = presence.attribute
                fact(attribute.key).attributes.add((attribute.kind, attribute.name))
        for left, right, _ in operand_pairs(expr):
            sides = [left] if right is None else [left, right]
            for side in sides:
                base = side
                while isinstance(base, ast.Shifted):
                    base = base.base
                if isinstance(base, ast.KeyAttributeRef):
                    fact(base.key).attributes.add((base.kind, base.name))
            # The keys whose values the test compares (an attribute of a key's term is one of
            # finitely many constants, not the key's value: it makes no peers).
            keys = [
                k
                for n in sides
                if not isinstance(n, ast.ListLiteral) and not _reads_attribute(n)
                for k in operand_keys(n, context, now_key)
            ]
            for key in keys:
                fact(key)
            if right is None:
                continue
            if len(keys) == 2:
                fact(keys[0]).peers.add(keys[1])
                fact(keys[1]).peers.add(keys[0])
            for key in keys:
                for other in sides:
                    if not (isinstance(other, ast.NameRef) and other.name == key):
                        _add_constant(other, fact(key), context, attributes)
    _close_peers(facts)
    return facts


def _reads_attribute(node: ast.Operand) -> bool:
    while isinstance(node, ast.Shifted):
        node = node.base
    return isinstance(node, ast.KeyAttributeRef)


def _presences(expr: ast.Expr) -> Iterator[ast.AttributePresence]:
    if isinstance(expr, ast.And | ast.Or):
        for operand in expr.operands:
            yield from _presences(operand)
    elif isinstance(expr, ast.Not):
        yield from _presences(expr.operand)
    elif isinstance(expr, ast.NamedCondition):
        yield from _presences(expr.body)
    elif isinstance(expr, ast.AttributePresence):
        yield expr


def _close_peers(facts: dict[str, KeyFacts]) -> None:
    """Make ``peers`` the whole group of keys compared with each other, directly or through
    other keys. ``a < b and b < c`` relates `a` and `c`; `channel in consented and channel in
    enabled` relates the two lists through `channel`: each key's classes must allow for every
    constant of the group and for as many distinct fresh values as the group has keys, or an
    order or a coincidence of values that some request has would never be tried."""
    seen: set[str] = set()
    for start in facts:
        if start in seen or not facts[start].peers:
            continue
        group = {start}
        pending = [start]
        while pending:
            for peer in facts[pending.pop()].peers:
                if peer not in group:
                    group.add(peer)
                    pending.append(peer)
        seen |= group
        for key in group:
            facts[key].peers = group - {key}
