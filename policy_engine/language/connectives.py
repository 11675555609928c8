"""``and``, ``or`` and ``not`` of conditions while they are being built or simplified: a part may
be a constant (True, False) once it is settled, and constants are settled at once."""

from __future__ import annotations

from collections.abc import Iterable

from . import ast

Node = ast.Expr | bool
"""A condition being built: an expression, or a constant once it is settled."""


def negation(node: Node) -> Node:
    return (not node) if isinstance(node, bool) else ast.Not(node)


def both(*parts: Node) -> Node:
    """``and`` of the parts, constants settled."""
    return _junction(parts, ast.And, absorbing=False)


def either(parts: Iterable[Node]) -> Node:
    """``or`` of the parts, constants settled."""
    return _junction(parts, ast.Or, absorbing=True)


def _junction(parts: Iterable[Node], kind: type[ast.And | ast.Or], absorbing: bool) -> Node:
    """``kind`` of the parts: a part equal to ``absorbing`` settles the whole, one equal to its
    opposite drops out."""
    kept: list[ast.Expr] = []
    for part in parts:
        if part is absorbing:
            return absorbing
        if part is not (not absorbing):
            kept.append(part)  # type: ignore[arg-type]
    if not kept:
        return not absorbing
    return kept[0] if len(kept) == 1 else kind(tuple(kept))
