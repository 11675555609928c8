"""Term hierarchies: parties, data categories, purposes and obligations as networkx DAGs.

Edges run parent → child. A parent covers its children; a term covers itself. Ancestor closures are
computed once, at load, so membership tests at decision time are set lookups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx


@dataclass(frozen=True)
class Hierarchy:
    """One kind of term (e.g. purposes) with its parent links and precomputed closures.

    The closures are what decisions use; the networkx graph is rebuilt from the parent links on
    first use, so a policy restored from the compiled cache does not pay for it."""

    kind: str
    parent_links: Mapping[str, tuple[str, ...]] = field(repr=False)
    """term → its direct parents, sorted."""
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
        links = {t: tuple(sorted(graph.predecessors(t))) for t in graph.nodes}
        hierarchy = cls(kind, links, ancestors, descendants, tuple(sorted(ancestors)))
        hierarchy.__dict__["graph"] = graph  # the cached property, already built
        return hierarchy

    @classmethod
    def restore(
        cls,
        kind: str,
        parent_links: Mapping[str, tuple[str, ...]],
        ancestors: Mapping[str, Iterable[str]],
    ) -> Hierarchy:
        """Rebuild from stored parent links and ancestor closures (no graph walk)."""
        above = {t: frozenset(a) for t, a in ancestors.items()}
        below: dict[str, set[str]] = {t: set() for t in above}
        for term, terms_above in above.items():
            for a in terms_above:
                below[a].add(term)
        descendants = {t: frozenset(b) for t, b in below.items()}
        return cls(kind, dict(parent_links), above, descendants, tuple(sorted(above)))

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The hierarchy as a networkx DAG, edges parent → child."""
        graph = nx.DiGraph()
        graph.add_nodes_from(self.ordered)
        graph.add_edges_from((p, t) for t, ps in self.parent_links.items() for p in ps)
        return graph

    def __contains__(self, term: object) -> bool:
        return term in self.ancestors

    @property
    def terms(self) -> list[str]:
        return list(self.ordered)

    def parents(self, term: str) -> list[str]:
        return list(self.parent_links[term])

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
