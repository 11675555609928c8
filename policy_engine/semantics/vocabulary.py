"""Term hierarchies: parties, data categories, purposes and obligations as DAGs.

Edges run parent → child. A parent covers its children; a term covers itself. A term's closure
(itself and every term above it, or below it) is made the first time something asks for it and
kept: a decision asks for the few terms of its request, never for all of them. Making every
closure at load cost time and memory quadratic in the depth of a hierarchy (a chain of 6,000
parties took 50 s and 1.7 GB).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property

import networkx as nx

MAX_KEPT_CLOSURE = 1_000_000
"""The most terms all the closures kept by one :class:`Closure` may hold together; past it a
closure is made again each time it is asked for (so a walk over every closure of a very deep
hierarchy costs time, never memory)."""


class Closure(Mapping[str, frozenset[str]]):
    """term → the term itself and every term reachable from it along ``links`` (its parents, or
    its children), made on first use."""

    def __init__(self, links: Mapping[str, tuple[str, ...]]) -> None:
        self._links = links
        self._kept: dict[str, frozenset[str]] = {}
        self._held = 0

    def __getitem__(self, term: str) -> frozenset[str]:
        found = self._kept.get(term)
        if found is None:
            found = self._walk(term)
        return found

    def _walk(self, term: str) -> frozenset[str]:
        links = self._links
        nexts = links[term]  # KeyError for a term the hierarchy does not have
        seen = {term}
        todo = list(nexts)
        while todo:
            step = todo.pop()
            if step not in seen:
                seen.add(step)
                todo.extend(links[step])
        found = frozenset(seen)
        if self._held + len(found) <= MAX_KEPT_CLOSURE:
            self._kept[term] = found
            self._held += len(found)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._links)

    def __len__(self) -> int:
        return len(self._links)

    def __contains__(self, term: object) -> bool:
        return term in self._links


class Hierarchy:
    """One kind of term (e.g. purposes) with its parent links and closures made on demand.

    The networkx graph is built from the parent links on first use only."""

    def __init__(self, kind: str, parent_links: Mapping[str, tuple[str, ...]]) -> None:
        self.kind = kind
        self.parent_links: Mapping[str, tuple[str, ...]] = parent_links
        """term → its direct parents, sorted."""
        self.ordered: tuple[str, ...] = tuple(sorted(parent_links))
        """Every term, sorted once."""
        children: dict[str, list[str]] = {t: [] for t in self.ordered}
        for term in self.ordered:
            for parent in parent_links[term]:
                children[parent].append(term)
        self.child_links: Mapping[str, tuple[str, ...]] = {t: tuple(c) for t, c in children.items()}
        """term → its direct children, sorted."""
        self.ancestors: Mapping[str, frozenset[str]] = Closure(parent_links)
        """term → the term itself and every term above it."""
        self.descendants: Mapping[str, frozenset[str]] = Closure(self.child_links)
        """term → the term itself and every term below it."""

    def __repr__(self) -> str:
        return f"Hierarchy({self.kind!r}, {len(self.ordered)} terms)"

    @classmethod
    def build(cls, kind: str, terms: Iterable[str], edges: Iterable[tuple[str, str]]) -> Hierarchy:
        """Build from terms and (parent, child) edges. The caller has rejected cycles already."""
        parents: dict[str, set[str]] = {t: set() for t in terms}
        for parent, child in edges:
            parents.setdefault(parent, set())
            parents.setdefault(child, set()).add(parent)
        return cls(kind, {t: tuple(sorted(p)) for t, p in parents.items()})

    @classmethod
    def restore(cls, kind: str, parent_links: Mapping[str, tuple[str, ...]]) -> Hierarchy:
        """Rebuild from stored parent links (no graph walk)."""
        return cls(kind, dict(parent_links))

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The hierarchy as a networkx DAG, edges parent → child."""
        graph = nx.DiGraph()
        graph.add_nodes_from(self.ordered)
        graph.add_edges_from((p, t) for t, ps in self.parent_links.items() for p in ps)
        return graph

    def __contains__(self, term: object) -> bool:
        return term in self.parent_links

    @property
    def terms(self) -> list[str]:
        return list(self.ordered)

    def parents(self, term: str) -> list[str]:
        return list(self.parent_links[term])

    def same_order(self, other: Hierarchy) -> bool:
        """Whether both hierarchies have the same terms, each covering the same terms. The same
        parent links say so at once; only different links need the closures compared."""
        if self.parent_links == other.parent_links:
            return True
        if self.ordered != other.ordered:
            return False
        return all(self.ancestors[t] == other.ancestors[t] for t in self.ordered)

    def above_among(self, named: Iterable[str]) -> Mapping[str, frozenset[str]]:
        """term → those of ``named`` that cover it, for every term. Made in one pass from the
        roots down; a term that is not named and has one parent shares its parent's set, so a
        deep chain under a few named terms costs as little as a flat list."""
        chosen = frozenset(named)
        empty: frozenset[str] = frozenset()
        out: dict[str, frozenset[str]] = {}
        for term in self.top_down():
            found = [out[p] for p in self.parent_links[term]]
            covering = found[0] if len(found) == 1 else empty.union(*found)
            if term in chosen:
                covering = covering | {term}
            out[term] = covering
        return out

    def related_to(self, named: Iterable[str]) -> set[str]:
        """The terms with one of ``named`` above or below them (or that are one), in two passes
        over the hierarchy rather than a closure per term."""
        chosen = set(named)
        order = self.top_down()
        below = set()  # a named term is at or above each of these
        for term in order:
            if term in chosen or any(p in below for p in self.parent_links[term]):
                below.add(term)
        above = set()  # a named term is at or below each of these
        for term in reversed(order):
            if term in chosen or any(c in above for c in self.child_links[term]):
                above.add(term)
        return below | above

    def top_down(self) -> list[str]:
        """Every term, each after all its parents."""
        waiting = {t: len(ps) for t, ps in self.parent_links.items()}
        order = [t for t in self.ordered if waiting[t] == 0]
        for term in order:  # grows as terms become ready
            for child in self.child_links[term]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    order.append(child)
        return order

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
    """A cycle in (parent, child) edges as the list of terms along it, or None. Whether there is
    one is settled first by peeling off terms without parents (linear, and fast on a chain of
    thousands); only then does networkx find the cycle to show."""
    edges = list(edges)
    if not _has_cycle(edges):
        return None
    graph = nx.DiGraph()
    graph.add_edges_from(edges)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return None
    return [str(edge[0]) for edge in cycle] + [str(cycle[0][0])]


def _has_cycle(edges: list[tuple[str, str]]) -> bool:
    children: dict[str, list[str]] = {}
    waiting: dict[str, int] = {}
    for parent, child in edges:
        children.setdefault(parent, []).append(child)
        children.setdefault(child, [])
        waiting[child] = waiting.get(child, 0) + 1
    ready = [t for t in children if t not in waiting]
    done = 0
    while ready:
        term = ready.pop()
        done += 1
        for child in children[term]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return done < len(children)
