"""Which terms a matrix shows, and what each stands for.

A request may name any declared term, not only a leaf, so by default every declared term is a
row (party), a column (data category) or a purpose of its own, standing for the requests that
name it. A selection narrows a hierarchy to the subtrees of some terms (``--party staff``), and a
depth collapses it (``--party-depth 1``): a term at that depth below the selection's top stands
for itself *and every term below it*, and a cell of it combines theirs (:mod:`.combine`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..engine.compiler import CompiledPolicy
from ..engine.request import resolve_term
from ..semantics.vocabulary import Hierarchy


@dataclass(frozen=True)
class Line:
    """A row, a column or a purpose of the matrix."""

    term: str
    members: tuple[str, ...]
    """The terms whose requests it stands for: itself, or (collapsed) its whole subtree."""
    path: tuple[str, ...]
    """One chain from a root of the hierarchy down to the term (the first parent by name at
    each step)."""
    parents: tuple[str, ...]

    @property
    def collapsed(self) -> bool:
        return len(self.members) > 1


def declaration_order(compiled: CompiledPolicy, kind: str) -> list[str]:
    """The terms of one kind in the order the policy declares them."""
    hierarchy = compiled.hierarchies[kind]
    kinds = compiled.symbol_tables[1]  # name → kind, in the order the policy declares them
    named = [n for n, k in kinds.items() if k == kind and n in hierarchy]
    listed = set(named)
    return named + [t for t in hierarchy.ordered if t not in listed]


def select(
    compiled: CompiledPolicy, kind: str, names: Sequence[str], depth: int | None
) -> list[Line]:
    """The lines of one kind: the subtrees of ``names`` (every root when none), top down in
    declaration order, each term once; terms ``depth`` steps below the top stand for their
    subtrees, and the terms below them are not shown on their own."""
    hierarchy = compiled.hierarchies[kind]
    order = declaration_order(compiled, kind)
    rank = {term: i for i, term in enumerate(order)}
    tops = [resolve_term(compiled, kind, name) for name in names]
    if not tops:
        tops = [t for t in order if not hierarchy.parent_links[t]]
    tops = sorted(set(tops), key=rank.__getitem__)
    levels = _levels(hierarchy, tops)
    lines = []
    for term in _top_down(hierarchy, tops, rank):
        level = levels[term]
        if depth is not None and level > depth:
            continue
        below = hierarchy.descendants[term] if depth is not None and level == depth else {term}
        members = (term, *sorted(below - {term}, key=rank.__getitem__))
        path = tuple(reversed(hierarchy.path_up(term)))
        lines.append(Line(term, members, path, tuple(hierarchy.parent_links[term])))
    return lines


def _levels(hierarchy: Hierarchy, tops: list[str]) -> dict[str, int]:
    """Each term of the selection and its fewest steps below a top."""
    levels = dict.fromkeys(tops, 0)
    frontier = list(tops)
    while frontier:
        following = []
        for term in frontier:
            for child in hierarchy.child_links[term]:
                if child not in levels:
                    levels[child] = levels[term] + 1
                    following.append(child)
        frontier = following
    return levels


def _top_down(hierarchy: Hierarchy, tops: list[str], rank: dict[str, int]) -> list[str]:
    """The selection depth first, children in declaration order, each term at its first visit."""
    seen: set[str] = set()
    out: list[str] = []
    stack = list(reversed(tops))
    while stack:
        term = stack.pop()
        if term in seen:
            continue
        seen.add(term)
        out.append(term)
        children = sorted(hierarchy.child_links[term], key=rank.__getitem__)
        stack.extend(reversed(children))
    return out
