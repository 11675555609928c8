"""What ``diff`` makes of the terms' attribute values (``party us_processor … with location =
"US"``), which two versions may give differently.

An attribute of the request's term is a constant of each cell, each version its own: a cell whose
rules are written alike in both versions is unchanged exactly when every attribute those rules
read has the same value for the cell's terms in both (:func:`same_attributes_here`), so a value
changed for one term leaves the cells of the others to the shortcut that counts them. Where the
values differ, a test of the attribute means one thing in each version; the change is described
with each version's test written with its value (``dest = "CA-QC"`` before, ``dest = "US"``
after: :func:`valued_here`), never with one text standing for both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..engine.compiler import CompiledPolicy, CompiledRule
from ..language import ast
from ..language.printer import literal_text
from .conditions import attributes_in
from .scopes import KINDS

Cell = tuple[str, str, str]

_MIRRORED: dict[str, ast.CompareOp] = {
    "=": "=",
    "!=": "!=",
    "<": ">",
    "<=": ">=",
    ">": "<",
    ">=": "<=",
}
"""The operator that says the same with its operands swapped."""


def attribute_changes(a: CompiledPolicy, b: CompiledPolicy) -> list[str]:
    """What changed in the terms' attributes from ``a`` to ``b``: attributes added or removed,
    a type changed, and each term whose value changed (terms both versions declare)."""
    out: list[str] = []
    for key in sorted(a.attributes.keys() | b.attributes.keys()):
        old, new = a.attributes.get(key), b.attributes.get(key)
        text = f"{key[0]}.{key[1]}"
        if old is None or new is None:
            what = "added" if old is None else "removed"
            out.append(f"attribute `{text}` {what}")
            continue
        if old.type != new.type:
            out.append(f"attribute `{text}`: {old.type.describe()} → {new.type.describe()}")
        shared = sorted(set(a.hierarchies[key[0]].terms) & set(b.hierarchies[key[0]].terms))
        for term in shared:
            before, after = _shown_value(old.values, term), _shown_value(new.values, term)
            if before != after:
                out.append(f"attribute `{text}` of `{term}`: {before} → {after}")
    return out


def _shown_value(values: Mapping[str, object], term: str) -> str:
    return literal_text(values[term]) if term in values else "unknown"  # type: ignore[arg-type]


def value_here(policy: CompiledPolicy, cell: Cell, kind: str, name: str) -> tuple[object, ...]:
    """An attribute's value for the cell's term, with its type and the attribute's (``()``: the
    version has no such attribute; ``(type,)``: the term has no value)."""
    attribute = policy.attributes.get((kind, name))
    if attribute is None:
        return ()
    term = cell[KINDS.index(kind)]
    if term not in attribute.values:
        return (attribute.type,)
    value = attribute.values[term]
    return (attribute.type, type(value), value)


def differs_here(
    a: CompiledPolicy, b: CompiledPolicy, cell: Cell, node: ast.AnyAttributeRef
) -> bool:
    """Whether the two versions give the cell's term different values of ``node``'s attribute
    (or one gives none); for an attribute of the term a key names, whether they give any term
    both declare different values (the key may name any of them)."""
    if isinstance(node, ast.KeyAttributeRef):
        return keyed_differs(a, b, node)
    return value_here(a, cell, node.kind, node.name) != value_here(b, cell, node.kind, node.name)


def keyed_differs(a: CompiledPolicy, b: CompiledPolicy, node: ast.AnyAttributeRef) -> bool:
    """Whether the versions give some term both declare different values of the attribute."""
    shared = set(a.hierarchies[node.kind].terms) & set(b.hierarchies[node.kind].terms)
    return any(
        value_here(a, (t, t, t), node.kind, node.name)
        != value_here(b, (t, t, t), node.kind, node.name)
        for t in shared
    )


def same_attributes_here(
    a: CompiledPolicy, b: CompiledPolicy, cell: Cell, rules: Iterable[CompiledRule]
) -> bool:
    """Whether every attribute ``rules`` read (or test the presence of) has the same value for
    the cell's terms in both versions, and for every term a key may name (then rules written
    alike decide the cell alike)."""
    exprs = [e for rule in rules for e in rule.logic.expressions()]
    return not any(differs_here(a, b, cell, node) for node in attributes_in(exprs))


def keyed_differ(a: CompiledPolicy, b: CompiledPolicy, rules: Iterable[CompiledRule]) -> bool:
    """Whether ``rules`` read an attribute of a key's term that the versions give some term
    differently: no test of it then reads the same in both (its value is per request, not per
    cell), so a change is described by its context classes."""
    exprs = [e for rule in rules for e in rule.logic.expressions()]
    return any(
        keyed_differs(a, b, node)
        for node in attributes_in(exprs)
        if isinstance(node, ast.KeyAttributeRef)
    )


def reads_differing(a: CompiledPolicy, b: CompiledPolicy, cell: Cell, expr: ast.Expr) -> bool:
    """Whether ``expr`` reads an attribute the versions give the cell's term differently."""
    return any(differs_here(a, b, cell, node) for node in attributes_in([expr]))


def valued_here(
    owner: CompiledPolicy, cell: Cell, test: ast.Expr, differing: set[tuple[str, str]]
) -> ast.Expr:
    """``test`` (a comparison, membership or truth test) with each attribute of ``differing``
    written as ``owner``'s value for the cell's term (``party.location = dest`` reads ``dest =
    "US"``: the key first, as people write it); an attribute the term has no value of is kept
    (the test is then unknown in every context of the cell)."""
    if not isinstance(test, ast.Compare | ast.Member | ast.Truth):
        return test

    def valued(node: ast.Operand) -> ast.Operand:
        if isinstance(node, ast.Shifted):  # `party.since - 1 week`: the value, moved
            return ast.Shifted(valued(node.base), node.sign, node.duration, node.span)
        if not isinstance(node, ast.AttributeRef) or (node.kind, node.name) not in differing:
            return node
        values = owner.attributes[(node.kind, node.name)].values
        term = cell[KINDS.index(node.kind)]
        return ast.Literal_(values[term]) if term in values else node  # type: ignore[arg-type]

    if isinstance(test, ast.Truth):
        return ast.Truth(valued(test.operand))
    left, right = valued(test.left), valued(test.right)
    if isinstance(test, ast.Member):
        return ast.Member(left, right, test.negated)
    if isinstance(left, ast.Literal_) and not isinstance(right, ast.Literal_):
        return ast.Compare(_MIRRORED[test.op], right, left)
    return ast.Compare(test.op, left, right)
