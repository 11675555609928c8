"""Scopes over the hierarchies: the request terms a scope covers, the cells a rule covers, and the
highest terms that together cover a set of terms (how findings and the diff name a set)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..engine.compiler import CompiledPolicy, CompiledRule
from ..semantics.vocabulary import Hierarchy

KINDS = ("party", "data", "purpose")


def collapse_exact(hierarchy: Hierarchy, terms: Iterable[str]) -> tuple[list[str], list[str]]:
    """Like :func:`collapse`, for sets that need not be whole subtrees: the highest whole
    subtrees, and the remaining terms that stand only for themselves (a request naming a parent
    category exactly, without its children)."""
    chosen = set(terms)
    whole = collapse(hierarchy, chosen)
    below = set().union(*(hierarchy.descendants[t] for t in whole)) if whole else set()
    return whole, sorted(chosen - below)


def collapse(hierarchy: Hierarchy, terms: Iterable[str]) -> list[str]:
    """The highest terms that together cover exactly ``terms``: each returned term's whole subtree
    is in the set, and no returned term sits below another."""
    chosen = set(terms)
    whole = {t for t in chosen if hierarchy.descendants[t] <= chosen}
    return sorted(t for t in whole if not any(a in whole for a in hierarchy.ancestors[t] if a != t))


def scope_terms(
    hierarchy: Hierarchy, names: Iterable[str] | None, excepts: Iterable[str] = ()
) -> list[str]:
    """The request terms a scope covers: everything below ``names`` (all terms for *any*), minus
    everything below ``excepts``."""
    if names is None:
        covered = set(hierarchy.terms)
    else:
        covered = set().union(*(hierarchy.descendants[n] for n in names))
    for name in excepts:
        covered -= hierarchy.descendants[name]
    return sorted(covered)


def rule_cells(compiled: CompiledPolicy, rule: CompiledRule) -> Iterator[tuple[str, str, str]]:
    h = compiled.hierarchies
    for party in scope_terms(h["party"], rule.parties):
        for data in scope_terms(h["data"], rule.data):
            for purpose in scope_terms(h["purpose"], rule.purposes):
                yield (party, data, purpose)
