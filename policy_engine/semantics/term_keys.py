"""Keys of one term (``context recipient: party``) and the attributes of the terms they name.

The parser reads ``recipient.location`` as one name (a dotted context key is written the same
way). It is the attribute ``location`` of the term the key ``recipient`` names when no context key
is called ``recipient.location``, ``recipient`` is a key of one term and its kind has the
attribute; :class:`KeyAttributes` says so, and :func:`rewrite_operand` and
:func:`rewrite_presence` make the nodes of it (:class:`~policy_engine.language.ast.KeyAttributeRef`,
:class:`~policy_engine.language.ast.AttributePresence`), which the resolver puts in the trees the
compiler and the analysis read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..language import ast


class KeyAttributes:
    """Which dotted names are attributes of the term a key names (see the module's docstring).

    ``keys``: context key → its type; ``attributes``: the (kind, name) of every declared
    attribute."""

    def __init__(
        self, keys: Mapping[str, ast.ValueType], attributes: Iterable[tuple[str, str]]
    ) -> None:
        self._keys = keys
        self._attributes = frozenset(attributes)
        self._term_keys: dict[str, ast.TermKind] = {
            name: type_.kind for name, type_ in keys.items() if isinstance(type_, ast.TermType)
        }

    def __bool__(self) -> bool:
        return bool(self._term_keys)

    def split(self, name: str) -> tuple[str, ast.TermKind, str] | None:
        """(key, kind, attribute) when ``name`` reads an attribute of a key's term, else None
        (also when ``name`` is itself a context key). A name that splits two ways (``a.b.c``:
        the key ``a`` with the attribute ``b.c``, or ``a.b`` with ``c``) is read at its last dot
        first."""
        if not self._term_keys or name in self._keys or "." not in name:
            return None
        at = len(name)
        while (at := name.rfind(".", 0, at)) > 0:
            key, attribute = name[:at], name[at + 1 :]
            kind = self._term_keys.get(key)
            if kind is not None and (kind, attribute) in self._attributes:
                return key, kind, attribute
        return None

    def term_key(self, name: str) -> str | None:
        """The kind of terms ``name`` names when it is a key of one term, else None."""
        return self._term_keys.get(name)

    def node(self, name: str, span: object = None) -> ast.KeyAttributeRef | None:
        found = self.split(name)
        if found is None:
            return None
        key, kind, attribute = found
        return ast.KeyAttributeRef(key, kind, attribute, span)  # type: ignore[arg-type]


def rewrite_operand(node: ast.Operand, lookup: KeyAttributes) -> ast.Operand:
    """``node`` with every name that reads a key's term's attribute made a
    :class:`~policy_engine.language.ast.KeyAttributeRef` (``node`` itself when there is none)."""
    if isinstance(node, ast.NameRef):
        return lookup.node(node.name, node.span) or node
    if isinstance(node, ast.Shifted):
        base = rewrite_operand(node.base, lookup)
        return node if base is node.base else ast.Shifted(base, node.sign, node.duration, node.span)
    if isinstance(node, ast.ListLiteral):
        items = tuple(rewrite_operand(item, lookup) for item in node.items)
        if all(a is b for a, b in zip(items, node.items, strict=True)):
            return node
        return ast.ListLiteral(items, node.span)
    return node


def rewrite_test(expr: ast.Expr, lookup: KeyAttributes) -> ast.Expr:
    """A test (a comparison, a membership, a truth, a presence) with its operands rewritten by
    :func:`rewrite_operand`, and ``recipient.location is known`` made an
    :class:`~policy_engine.language.ast.AttributePresence` (``expr`` itself when nothing is)."""
    if isinstance(expr, ast.Presence):
        found = lookup.node(expr.key.value, expr.key.span)
        return expr if found is None else ast.AttributePresence(found, expr.known, expr.span)
    if isinstance(expr, ast.Truth):
        operand = rewrite_operand(expr.operand, lookup)
        return expr if operand is expr.operand else ast.Truth(operand, expr.span)
    if isinstance(expr, ast.Compare):
        left, right = rewrite_operand(expr.left, lookup), rewrite_operand(expr.right, lookup)
        if left is expr.left and right is expr.right:
            return expr
        return ast.Compare(expr.op, left, right, expr.span)
    if isinstance(expr, ast.Member):
        left, right = rewrite_operand(expr.left, lookup), rewrite_operand(expr.right, lookup)
        if left is expr.left and right is expr.right:
            return expr
        return ast.Member(left, right, expr.negated, expr.span)
    return expr
