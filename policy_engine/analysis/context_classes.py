"""Context classes: a class of contexts that every rule decides alike, with a representative and
the class in words; and how one context key's domain is cut into classes.

A context key's domain is cut at the constants and terms the rules compare it with: an integer
(or a decimal) compared with 14 has the classes < 14, = 14 and > 14 (:mod:`.number_classes`); a
string compared with "CA-QC" is either "CA-QC" or something else; a list of literals is one of
the subsets of its literals; a set of purposes is characterised by which of the terms tested
against it (in this cell) it covers; a missing key is a class of its own unless the key has a
default.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..engine.compiler import MISSING, CompiledPolicy
from ..engine.context import plain_value
from ..engine.evaluator import show
from ..language import ast
from ..language.time_values import TimeValue
from ..semantics.vocabulary import Hierarchy
from .budget import BudgetExceeded
from .conditions import KeyFacts
from .number_classes import number_domain
from .term_classes import TermClasses

MAX_LITERAL_SUBSETS = 8
"""A list of literals with more values than this is partitioned by the values rules test."""

MAX_TESTED_TERMS = 16
"""The most terms a set key tested with keys of one term (``recipient in consented``) may be
tested against: its classes are every combination of them."""

Domain = list[tuple[Any, str]]
"""A key's classes: (representative value, the class in words)."""


@dataclass(frozen=True)
class ContextClass:
    """One class of contexts: a representative (what the evaluator sees, and what a request would
    send) and the class in words."""

    values: tuple[tuple[str, Any], ...]
    words: tuple[str, ...]
    _context: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_context", {k: v for k, v in self.values if v is not MISSING})

    def evaluator_context(self) -> dict[str, Any]:
        """The representative as the evaluator sees it (shared: callers must not change it)."""
        return self._context

    def request_context(self) -> dict[str, Any]:
        """The representative as JSON-ready request context (sets become sorted lists, dates and
        instants their text, decimals floats that read back exactly:
        :func:`~policy_engine.engine.context.plain_value`)."""
        out: dict[str, Any] = {}
        for key, value in self.values:
            if value is MISSING:
                continue
            if isinstance(value, TimeValue):
                value = value.isoformat()
            out[key] = plain_value(value)
        return out

    def describe(self, keys: Iterable[str] | None = None) -> str:
        """The class in words, optionally only for some keys (``words`` align with ``values``)."""
        wanted = None if keys is None else set(keys)
        parts = [
            w
            for (k, _), w in zip(self.values, self.words, strict=True)
            if w and (wanted is None or k in wanted)
        ]
        return " and ".join(parts) if parts else "in every context"


@dataclass(frozen=True)
class Joint:
    """A class of several keys at once, for keys whose classes only the values of the others
    tell apart (the keys of a cycle of comparisons of dates, :mod:`.time_cycles`): each key's
    representative, or MISSING when a request leaves it out."""

    values: tuple[tuple[str, Any], ...]

    @functools.cached_property
    def _by_key(self) -> dict[str, Any]:
        return dict(self.values)

    def get(self, key: str) -> Any:
        return self._by_key[key]

    def present(self) -> int:
        return sum(value is not MISSING for _, value in self.values)

    def words(self) -> tuple[str, ...]:
        return tuple(
            f"`{key}` is missing" if value is MISSING else f"`{key}` is {value}"
            for key, value in self.values
        )


def when_text(klass: ContextClass, keys: Iterable[str] | None = None) -> str:
    """``when <the class in words>``, or ``in every context`` when the class says nothing."""
    described = klass.describe(keys)
    return described if described == "in every context" else f"when {described}"


class KeyDomains:
    """Cuts each context key's domain into classes, from what the rules compare it with (shared
    with the request space that owns them: ``facts``, ``defaults`` and ``disputed_defaults``)."""

    def __init__(
        self,
        policies: Sequence[CompiledPolicy],
        context: dict[str, ast.ContextDecl],
        facts: dict[str, KeyFacts],
        defaults: dict[str, Any],
        disputed_defaults: set[str],
        time_domain: Callable[[str], Domain] | None = None,
    ) -> None:
        self.time_domain = time_domain
        """A date or instant key's classes (:mod:`.time_domains`)."""
        self.policies = policies
        self.context = context
        self.facts = facts
        self.defaults = defaults
        self.disputed_defaults = disputed_defaults
        self.held: dict[str, Any] = {}
        """Keys held at one value (missing, or their default) in every request: one class."""
        self.term_classes = TermClasses(
            policies, context, facts, lambda key: defaults.get(key, MISSING)
        )
        """The classes of keys of one term (:mod:`.term_classes`)."""

    def domain(self, key: str, terms: tuple[str, str, str]) -> Domain:
        """The classes of one key in one cell, with the missing key (or its default) said."""
        if key in self.held:
            value = self.held[key]
            if value is MISSING:
                return [(MISSING, f"`{key}` is missing")]
            return [(value, f"`{key}` is {show(value)} (the default)")]
        decl = self.context[key]
        facts = self.facts.get(key, KeyFacts())
        type_ = decl.type
        values: Domain
        if isinstance(type_, ast.BoolType):
            values = [(True, f"`{key}` is true"), (False, f"`{key}` is false")]
        elif isinstance(type_, ast.IntType | ast.DecimalType):
            values = self._number_domain(key, type_, facts)
        elif isinstance(type_, ast.OneOfType):
            values = [(v, f"`{key}` is {show(v)}") for v in type_.literals]
        elif isinstance(type_, ast.StrType):
            values = self._str_domain(key, facts)
        elif isinstance(type_, ast.ListType):
            values = self._list_domain(key, type_, facts)
        elif isinstance(type_, ast.DateType | ast.InstantType):
            assert self.time_domain is not None
            values = self.time_domain(key)
        elif isinstance(type_, ast.TermType):
            values = self.term_classes.domain(key, type_.kind, terms)
        else:
            values = self._termset_domain(key, type_.kind, facts, terms)
        if key in self.disputed_defaults:
            values.append((MISSING, f"`{key}` is not sent"))
        elif self.defaults[key] is MISSING:
            values.append((MISSING, f"`{key}` is missing"))
        else:
            default = self.defaults[key]
            # Absent means the default: the class that holds the default says so.
            values = [
                (v, f"{w} (the default)" if v == default and type(v) is type(default) else w)
                for v, w in values
            ]
        return values

    def _peer_count(self, facts: KeyFacts) -> int:
        return 1 + len(facts.peers)

    def _number_domain(
        self, key: str, type_: ast.IntType | ast.DecimalType, facts: KeyFacts
    ) -> Domain:
        """Cut at every numeric constant of the key's group (:mod:`.number_classes`)."""
        constants = facts.ints | {c for p in facts.peers for c in self.facts[p].ints}
        whole_peers = any(isinstance(self.context[p].type, ast.IntType) for p in facts.peers)
        return number_domain(
            key,
            constants,
            self._peer_count(facts),
            whole=isinstance(type_, ast.IntType),
            whole_peers=whole_peers,
        )

    def _str_constants(self, facts: KeyFacts) -> set[str]:
        found = set(facts.strings)
        for peer in facts.peers:
            found |= self.facts[peer].strings
            peer_type = self.context[peer].type
            if isinstance(peer_type, ast.OneOfType | ast.ListType) and peer_type.literals:
                found |= set(peer_type.literals)
        return found

    def _named(self, key: str, facts: KeyFacts) -> set[str]:
        """Every string the key's group names: its fresh values avoid them all, so that every
        key of the group picks its fresh values from the same names."""
        own = self.context[key].type
        literals = own.literals if isinstance(own, ast.OneOfType | ast.ListType) else None
        return self._str_constants(facts) | set(literals or ())

    def _str_domain(self, key: str, facts: KeyFacts) -> Domain:
        constants = sorted(self._str_constants(facts))
        named = self._named(key, facts)
        out: Domain = [(c, f"`{key}` is {show(c)}") for c in constants]
        others = ", ".join(show(c) for c in constants)
        for i in range(self._peer_count(facts)):
            fresh = _fresh(named, i)
            words = f"`{key}` is none of {others}" if constants else f"`{key}` is any text"
            if self._peer_count(facts) > 1:
                words = f"`{key}` is {show(fresh)}"
            out.append((fresh, words))
        return out

    def _list_domain(self, key: str, type_: ast.ListType, facts: KeyFacts) -> Domain:
        if type_.literals is not None and len(type_.literals) <= MAX_LITERAL_SUBSETS:
            universe = list(type_.literals)
        else:
            relevant = sorted(self._str_constants(facts))
            # One value the rules never name for each key of the group: every key compared
            # with this list may hold a value of its own that no rule mentions.
            count = self._peer_count(facts)
            if type_.literals is not None:
                relevant = [v for v in relevant if v in type_.literals]
                spare = [v for v in type_.literals if v not in relevant][:count]
            else:
                spare = [_fresh(self._named(key, facts), i) for i in range(count)]
            universe = relevant + spare
        out: Domain = []
        for size in range(len(universe) + 1):
            for subset in itertools.combinations(universe, size):
                value = frozenset(subset)
                out.append((value, f"`{key}` is {show(value)}"))
        return out

    def _termset_domain(
        self, key: str, kind: str, facts: KeyFacts, terms: tuple[str, str, str]
    ) -> Domain:
        tested = set(facts.term_literals)
        for request_kind in facts.request_kinds:
            tested.add(terms[("party", "data", "purpose").index(request_kind)])
        hierarchies = [p.hierarchies[kind] for p in self.policies]
        tested = {t for t in tested if any(t in h for h in hierarchies)}
        # A key of one term tested in the set (`recipient in key`): its classes' terms.
        keyed = [p for p in sorted(facts.peers) if isinstance(self.context[p].type, ast.TermType)]
        for peer in keyed:
            tested |= set(self.term_classes.representatives(peer, terms))
        if keyed and len(tested) > MAX_TESTED_TERMS:
            span = self.context[key].name.span
            where = f" ({span.source.name}:{span.line}:{span.column})" if span else ""
            raise BudgetExceeded(
                f"cannot analyse exactly: `{key}` is tested against {len(tested):,} terms (those "
                f"of {', '.join(f'`{p}`' for p in keyed)} among them), more than the "
                f"{MAX_TESTED_TERMS} whose every combination the analysis tries{where}"
            )
        ordered = sorted(tested)
        agree, lineage, members = _termset_members(ordered, hierarchies)
        out: Domain = []
        seen: set[tuple[bool, ...]] = set()
        for size in range(len(members) + 1):
            for subset in itertools.combinations(members, size):
                chosen = frozenset(subset)
                covers = tuple(not h.ancestors[t].isdisjoint(chosen) for h, t in lineage)
                if covers in seen:
                    continue
                seen.add(covers)
                if not agree:
                    out.append((chosen, f"`{key}` is {show(chosen)}"))
                    continue
                parts = [
                    f"`{key}` {'covers' if c else 'does not cover'} `{t}`"
                    for t, c in zip(ordered, covers, strict=True)
                ]
                out.append((chosen, " and ".join(parts) if parts else f"`{key}` is given"))
        return out


def _termset_members(
    ordered: list[str], hierarchies: list[Hierarchy]
) -> tuple[bool, list[tuple[Hierarchy, str]], list[str]]:
    """Whether every version gives the tested terms the same ancestors, the (hierarchy, tested
    term) pairs a set's coverage is read at, and the terms a representative set is made of.

    A set is characterised by which tested terms it covers, in each version. When every version
    gives the tested terms the same ancestors, subsets of the tested terms realise every
    combination. Otherwise (a diff where a term moved in the hierarchy, or a term one version
    lacks) a set may cover a term in one version and not in the other through an ancestor: the
    members are then every ancestor of a tested term that all versions declare (a request naming
    another term would be rejected by some version)."""
    hierarchy = hierarchies[0]
    agree = all(
        t in h and h.ancestors[t] == hierarchy.ancestors[t] for t in ordered for h in hierarchies
    )
    lineage = [(h, t) for h in (hierarchies[:1] if agree else hierarchies) for t in ordered]
    lineage = [(h, t) for h, t in lineage if t in h]
    if agree:
        members = ordered
    else:
        declared = set(hierarchy.terms).intersection(*(h.terms for h in hierarchies[1:]))
        members = sorted({a for h, t in lineage for a in h.ancestors[t]} & declared)
    return agree, lineage, members


def _fresh(taken: Iterable[str], index: int) -> str:
    """The ``index``-th of "other", "other-1", "other-2", … that is not ``taken``: distinct
    indexes give distinct values (a rule naming "other" must not make two fresh values one)."""
    taken = set(taken)
    n = 0
    while True:
        candidate = "other" if n == 0 else f"other-{n}"
        if candidate not in taken:
            if index == 0:
                return candidate
            index -= 1
        n += 1
