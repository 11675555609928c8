"""The classes of a key of one term (``context recipient: party``): its values are the terms of
its kind, finitely many, so the analysis can be exact; it groups the terms that every test of
the key answers alike rather than trying each.

A term ``t`` is told apart from another by what the tests read of it:

- the value of each attribute of its term that a condition reads (``recipient.location``), in
  every version;
- for each *anchor* (a term the key is compared with or placed under: ``recipient =
  us_processor``, ``recipient in processors``, ``processors in recipient``, the request's own
  term in ``recipient = party``, and the terms a set key the key is tested in is tested against),
  whether the anchor is at or above ``t`` and whether ``t`` is at or above it (both: ``t`` is the
  anchor), in every version's hierarchy.

Two terms alike in all of that get the same answer from every test that reads the key, except
``recipient in S`` for a set key ``S``; there a term stands for the others of its class because
whether some set covers a term and some others, as a request may have it, depends only on which
of those terms sit below which (a set covering exactly the covered ones does): the class's
representative relates to the anchors as every term of its class does, and the set key's classes
are cut at the representatives (:meth:`TermClasses.representatives`). A key compared with another
key of one term (``recipient = sender``), directly or through a set both are tested in, gets one
class per term: how two keys' terms relate is not a property of either alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..engine.compiler import CompiledPolicy
from ..language import ast
from .conditions import KeyFacts

_KINDS = ("party", "data", "purpose")
_SHOWN = 3
"""How many of a class's terms its words name."""

Domain = list[tuple[Any, str]]


class TermClasses:
    """The classes of the keys of one term, for a request space (all versions of a diff)."""

    def __init__(
        self,
        policies: Sequence[CompiledPolicy],
        context: dict[str, ast.ContextDecl],
        facts: dict[str, KeyFacts],
        default: Callable[[str], Any],
    ) -> None:
        self.policies = policies
        self.context = context
        self.facts = facts
        self.default = default
        """A key's default (MISSING when it has none or the versions differ)."""
        self._memo: dict[tuple[str, tuple[str | None, ...]], Domain] = {}

    def domain(self, key: str, kind: str, terms: tuple[str, str, str]) -> Domain:
        """The key's classes in the cell ``terms`` (without the missing key): a representative
        term and the class in words."""
        facts = self.facts.get(key, KeyFacts())
        kinds = self._cell_kinds(key, facts)
        cell = tuple(t if k in kinds else None for k, t in zip(_KINDS, terms, strict=True))
        found = self._memo.get((key, cell))
        if found is None:
            found = self._memo[(key, cell)] = self._classes(key, kind, facts, terms)
        return list(found)

    def representatives(self, key: str, terms: tuple[str, str, str]) -> list[str]:
        """The terms that stand for the key's classes in the cell."""
        decl = self.context[key].type
        assert isinstance(decl, ast.TermType)
        return [term for term, _ in self.domain(key, decl.kind, terms)]

    def _cell_kinds(self, key: str, facts: KeyFacts) -> set[str]:
        """The kinds of the request's terms this key's classes depend on."""
        kinds = set(facts.request_kinds)
        for peer in self._set_peers(facts):
            kinds |= self.facts.get(peer, KeyFacts()).request_kinds
        return kinds

    def _set_peers(self, facts: KeyFacts) -> list[str]:
        return sorted(p for p in facts.peers if isinstance(self.context[p].type, ast.TermSetType))

    def per_term(self, facts: KeyFacts) -> bool:
        """Whether the key is compared with another key of one term, directly or through a set
        key both are tested in (the peers are closed: a group of keys compared together)."""
        return any(isinstance(self.context[p].type, ast.TermType) for p in facts.peers)

    def _universe(self, kind: str) -> list[str]:
        """The terms every version declares (a request naming another is refused by some)."""
        hierarchies = [p.hierarchies[kind] for p in self.policies]
        shared = set(hierarchies[0].terms).intersection(*(h.terms for h in hierarchies[1:]))
        return sorted(shared)

    def _anchors(self, facts: KeyFacts, terms: tuple[str, str, str]) -> list[str]:
        found = set(facts.term_literals)
        found |= {terms[_KINDS.index(k)] for k in facts.request_kinds}
        for peer in self._set_peers(facts):
            other = self.facts.get(peer, KeyFacts())
            found |= other.term_literals
            found |= {terms[_KINDS.index(k)] for k in other.request_kinds}
        return sorted(found)

    def _classes(self, key: str, kind: str, facts: KeyFacts, terms: tuple[str, str, str]) -> Domain:
        universe = self._universe(kind)
        if self.per_term(facts):
            return [(t, f"`{key}` is `{t}`") for t in universe]
        anchors = self._anchors(facts, terms)
        hierarchies = [p.hierarchies[kind] for p in self.policies]
        tables = [
            p.attributes.get((kind, name))
            for name in sorted(n for k, n in facts.attributes if k == kind)
            for p in self.policies
        ]
        groups: dict[tuple[object, ...], list[str]] = {}
        for term in universe:
            values = tuple(
                None
                if t is None or term not in t.values
                else (type(t.values[term]), t.values[term])
                for t in tables
            )
            places = tuple(
                (a in h.ancestors[term], term in h.ancestors[a])
                for h in hierarchies
                for a in anchors
                if a in h
            )
            groups.setdefault((values, places), []).append(term)
        default = self.default(key)
        out: Domain = []
        for members in groups.values():
            chosen = default if default in members else members[0]
            out.append((chosen, _words(key, chosen, members)))
        return out


def _words(key: str, chosen: str, members: list[str]) -> str:
    if len(members) == 1:
        return f"`{key}` is `{chosen}`"
    others = [m for m in members if m != chosen]
    shown = ", ".join(f"`{m}`" for m in others[:_SHOWN])
    more = f" and {len(others) - _SHOWN:,} more" if len(others) > _SHOWN else ""
    return f"`{key}` is `{chosen}` (or, alike, {shown}{more})"
