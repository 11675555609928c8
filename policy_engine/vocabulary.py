"""Term hierarchies: parties, data categories, purposes and obligations as networkx DAGs.

Edges run parent → child. A parent covers its children; a term covers itself. Ancestor closures are
computed once, at load, so membership tests at decision time are set lookups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx


@dataclass(frozen=True)
class Hierarchy:
    """One kind of term (e.g. purposes) with its parent links and precomputed closures."""

    kind: str
    graph: nx.DiGraph = field(repr=False)
    ancestors: Mapping[str, frozenset[str]] = field(repr=False)
    """term → the term itself and every term above it."""
    descendants: Mapping[str, frozenset[str]] = field(repr=False)
    """term → the term itself and every term below it."""
    ordered: tuple[str, ...] = field(repr=False, default=())
    """Every term, sorted once."""

    @classmethod
    def build(cls, kind: str, terms: Iterable[str], edges: Iterable[tuple[str, str]]) -> Hierarchy:
        """Build from terms and (parent, child) edges. The caller has rejected cycles already."""
        graph = nx.DiGraph()
        graph.add_nodes_from(terms)
        graph.add_edges_from(edges)
        ancestors = {t: frozenset(nx.ancestors(graph, t)) | {t} for t in graph.nodes}
        descendants = {t: frozenset(nx.descendants(graph, t)) | {t} for t in graph.nodes}
        return cls(kind, graph, ancestors, descendants, tuple(sorted(ancestors)))

    def __contains__(self, term: object) -> bool:
        return term in self.ancestors

    @property
    def terms(self) -> list[str]:
        return list(self.ordered)

    def parents(self, term: str) -> list[str]:
        return sorted(self.graph.predecessors(term))

    def path_up(self, term: str) -> list[str]:
        """One chain from ``term`` to a root, for explanations (first parent by name each step)."""
        chain = [term]
        seen = {term}
        while True:
            parents = [p for p in self.parents(chain[-1]) if p not in seen]
            if not parents:
                return chain
            chain.append(parents[0])
            seen.add(parents[0])


def find_cycle(edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """A cycle in (parent, child) edges as the list of terms along it, or None."""
    graph = nx.DiGraph()
    graph.add_edges_from(edges)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    return [str(edge[0]) for edge in cycle] + [str(cycle[0][0])]
