"""The exact request space of a policy: every (party, data, purpose) cell and, for each cell, every
distinguishable context.

A context key's domain is cut into classes at the constants and terms the rules compare it with:
an integer compared with 14 has the classes < 14, = 14 and > 14; a string compared with "CA-QC" is
either "CA-QC" or something else; a list of literals is one of the subsets of its literals; a set of
purposes is characterised by which of the terms tested against it (in this cell) it covers; a
missing key is a class of its own unless the key has a default. Two contexts in the same class get
the same decision from every rule, so deciding one representative of each class decides them all:
the proofs (invariants), the linter and the semantic diff are exact, not sampled.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..engine.compiler import MISSING, CompiledPolicy, CompiledRule
from ..engine.evaluator import show
from ..language import ast

MAX_LITERAL_SUBSETS = 8
"""A list of literals with more values than this is partitioned by the values rules test."""


@dataclass
class _KeyFacts:
    """What the rules do with one context key."""

    ints: set[int] = field(default_factory=set)
    strings: set[str] = field(default_factory=set)
    term_literals: set[str] = field(default_factory=set)
    request_kinds: set[str] = field(default_factory=set)
    peers: set[str] = field(default_factory=set)


def expressions_of(rule: ast.Rule) -> list[ast.Expr]:
    exprs = [rule.condition] if rule.condition is not None else []
    exprs += list(rule.exceptions)
    exprs += [c.condition for c in rule.obligations if c.condition is not None]
    return exprs


def _operands(expr: ast.Expr) -> Iterator[tuple[ast.Operand, ast.Operand | None, ast.Expr]]:
    if isinstance(expr, ast.And | ast.Or):
        for operand in expr.operands:
            yield from _operands(operand)
    elif isinstance(expr, ast.Not):
        yield from _operands(expr.operand)
    elif isinstance(expr, ast.Compare | ast.Member):
        yield expr.left, expr.right, expr
    elif isinstance(expr, ast.Truth):
        yield expr.operand, None, expr


def keys_of(expr: ast.Expr, context: Iterable[str]) -> set[str]:
    """The context keys a condition reads."""
    declared = set(context)
    found: set[str] = set()

    def walk(e: ast.Expr) -> None:
        if isinstance(e, ast.And | ast.Or):
            for operand in e.operands:
                walk(operand)
        elif isinstance(e, ast.Not):
            walk(e.operand)
        elif isinstance(e, ast.Presence):
            found.add(e.key.value)
        else:
            nodes = (e.operand,) if isinstance(e, ast.Truth) else (e.left, e.right)
            found.update(n.name for n in nodes if isinstance(n, ast.NameRef) and n.name in declared)

    walk(expr)
    return found


def _collect(exprs: Iterable[ast.Expr], context: dict[str, Any]) -> dict[str, _KeyFacts]:
    facts: dict[str, _KeyFacts] = {}

    def fact(name: str) -> _KeyFacts:
        return facts.setdefault(name, _KeyFacts())

    def constant(node: ast.Operand, into: _KeyFacts) -> None:
        if isinstance(node, ast.Literal_):
            if isinstance(node.value, bool):
                return
            if isinstance(node.value, int):
                into.ints.add(node.value)
            else:
                into.strings.add(node.value)
        elif isinstance(node, ast.NameRef) and node.name not in context:
            into.term_literals.add(node.name)
        elif isinstance(node, ast.RequestRef):
            into.request_kinds.add(node.kind)
        elif isinstance(node, ast.ListLiteral):
            for item in node.items:
                constant(item, into)

    for expr in exprs:
        for left, right, _ in _operands(expr):
            sides = [left] if right is None else [left, right]
            keys = [n.name for n in sides if isinstance(n, ast.NameRef) and n.name in context]
            for key in keys:
                fact(key)
            if right is None:
                continue
            if len(keys) == 2:
                fact(keys[0]).peers.add(keys[1])
                fact(keys[1]).peers.add(keys[0])
            for key in keys:
                for other in sides:
                    if not (isinstance(other, ast.NameRef) and other.name == key):
                        constant(other, fact(key))
    return facts


def _default_of(policy: CompiledPolicy, name: str) -> tuple[type, Any]:
    """A key's declared default with its type (``true`` is not ``1``), MISSING when none."""
    default = policy.context[name].decl.default
    return (type(None), MISSING) if default is None else (type(default.value), default.value)


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
        """The representative as JSON-ready request context (sets become sorted lists)."""
        out: dict[str, Any] = {}
        for key, value in self.values:
            if value is MISSING:
                continue
            out[key] = sorted(value) if isinstance(value, frozenset) else value
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


class RequestSpace:
    """Cells and context classes for one or more policies that share a request space (OLD and NEW
    of a diff use the union of their constants)."""

    def __init__(self, policies: Sequence[CompiledPolicy], extra: Iterable[ast.Expr] = ()) -> None:
        self.policies = list(policies)
        self.context: dict[str, ast.ContextDecl] = {}
        exprs: list[ast.Expr] = list(extra)
        for policy in self.policies:
            for name, key in policy.context.items():
                self.context.setdefault(name, key.decl)
            for rule in policy.rules:
                exprs.extend(expressions_of(rule.source))
        # A key's default, when every policy that declares it has the same one. When they differ
        # (OLD and NEW of a diff), a request that leaves the key out means something different
        # to each: it is a class of its own, which each policy decides with its own default.
        self.defaults: dict[str, Any] = {}
        self.disputed_defaults: set[str] = set()
        for name in self.context:
            found = {
                _default_of(policy, name) for policy in self.policies if name in policy.context
            }
            if len(found) == 1:
                self.defaults[name] = next(iter(found))[1]
            else:
                self.defaults[name] = MISSING
                self.disputed_defaults.add(name)
        self.facts = _collect(exprs, self.context)
        self._cache: dict[tuple[object, ...], list[ContextClass]] = {}
        self._reads: dict[int, tuple[set[str], frozenset[str]]] = {}

    def reads(self, rule: CompiledRule) -> tuple[set[str], frozenset[str]]:
        """The context keys and the request terms (party/data/purpose) a rule's conditions read."""
        cached = self._reads.get(id(rule))
        if cached is None:
            keys: set[str] = set()
            kinds: set[str] = set()
            for expr in expressions_of(rule.source):
                keys |= keys_of(expr, self.context)
                kinds |= request_kinds_of(expr)
            cached = (keys, frozenset(kinds))
            self._reads[id(rule)] = cached
        return cached

    def signature(
        self, terms: tuple[str, str, str], rules: Sequence[CompiledRule]
    ) -> tuple[object, ...]:
        """Two cells with the same signature get the same decisions in every context class:
        the same candidate rules, which read the same request terms."""
        kinds: set[str] = set()
        for rule in rules:
            kinds |= self.reads(rule)[1]
            for key in self.reads(rule)[0]:
                kinds |= self.facts.get(key, _KeyFacts()).request_kinds
        projection = tuple(t if k in kinds else None for k, t in zip(_KINDS, terms, strict=True))
        return (tuple(id(r) for r in rules), projection)

    # ---- cells ----------------------------------------------------------------------------------
    def cells(self, policy: CompiledPolicy) -> Iterator[tuple[str, str, str]]:
        h = policy.hierarchies
        for party in h["party"].ordered:
            for data in h["data"].ordered:
                for purpose in h["purpose"].ordered:
                    yield (party, data, purpose)

    # ---- classes --------------------------------------------------------------------------------
    def classes(
        self,
        terms: tuple[str, str, str],
        rules: Iterable[CompiledRule],
        extra: Iterable[ast.Expr] = (),
    ) -> list[ContextClass]:
        """Every class of contexts the given rules (and extra conditions) can tell apart."""
        rules = list(rules)
        extra = list(extra)
        keys: set[str] = set()
        for rule in rules:
            keys |= self.reads(rule)[0]
        for expr in extra:
            keys |= keys_of(expr, self.context)
        wanted_kinds = {k for key in keys for k in self.facts.get(key, _KeyFacts()).request_kinds}
        cache_key = (
            frozenset(keys),
            tuple(t if k in wanted_kinds else None for k, t in zip(_KINDS, terms, strict=True)),
        )
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        result = self._classes(keys, terms)
        self._cache[cache_key] = result
        return result

    def _classes(self, keys: set[str], terms: tuple[str, str, str]) -> list[ContextClass]:
        # Keys compared with each other must be varied together.
        pending = list(keys)
        while pending:
            for peer in self.facts.get(pending.pop(), _KeyFacts()).peers:
                if peer not in keys:
                    keys.add(peer)
                    pending.append(peer)
        ordered = sorted(keys)
        domains = [self._domain(key, terms) for key in ordered]
        out = []
        for combo in itertools.product(*domains):
            values = tuple((key, value) for key, (value, _) in zip(ordered, combo, strict=True))
            words = tuple(w for _, w in combo)
            out.append(ContextClass(values, words))
        return out

    def _domain(self, key: str, terms: tuple[str, str, str]) -> list[tuple[Any, str]]:
        decl = self.context[key]
        facts = self.facts.get(key, _KeyFacts())
        type_ = decl.type
        values: list[tuple[Any, str]]
        if isinstance(type_, ast.BoolType):
            values = [(True, f"`{key}` is true"), (False, f"`{key}` is false")]
        elif isinstance(type_, ast.IntType):
            values = self._int_domain(key, facts)
        elif isinstance(type_, ast.OneOfType):
            values = [(v, f"`{key}` is {show(v)}") for v in type_.literals]
        elif isinstance(type_, ast.StrType):
            values = self._str_domain(key, facts)
        elif isinstance(type_, ast.ListType):
            values = self._list_domain(key, type_, facts)
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

    def _peer_count(self, facts: _KeyFacts) -> int:
        return 1 + len(facts.peers)

    def _int_domain(self, key: str, facts: _KeyFacts) -> list[tuple[Any, str]]:
        per_gap = self._peer_count(facts)
        constants = sorted(facts.ints | {c for p in facts.peers for c in self.facts[p].ints})
        if not constants:
            return [(i, f"`{key}` is {i}") for i in range(per_gap)]
        out: list[tuple[Any, str]] = []
        first, last = constants[0], constants[-1]
        out += [(first - 1 - i, f"`{key}` < {first}") for i in range(per_gap)]
        for low, high in itertools.pairwise(constants):
            out.append((low, f"`{key}` = {low}"))
            inside = list(range(low + 1, high))[:per_gap]
            out += [(v, f"{low} < `{key}` < {high}") for v in inside]
        out.append((last, f"`{key}` = {last}"))
        out += [(last + 1 + i, f"`{key}` > {last}") for i in range(per_gap)]
        if per_gap > 1:
            # With peers the relation between keys matters: say the exact value.
            out = [(v, f"`{key}` is {v}") for v, _ in out]
        return out

    def _str_constants(self, facts: _KeyFacts) -> set[str]:
        found = set(facts.strings)
        for peer in facts.peers:
            found |= self.facts[peer].strings
            peer_type = self.context[peer].type
            if isinstance(peer_type, ast.OneOfType | ast.ListType) and peer_type.literals:
                found |= set(peer_type.literals)
        return found

    def _str_domain(self, key: str, facts: _KeyFacts) -> list[tuple[Any, str]]:
        constants = sorted(self._str_constants(facts))
        out: list[tuple[Any, str]] = [(c, f"`{key}` is {show(c)}") for c in constants]
        others = ", ".join(show(c) for c in constants)
        for i in range(self._peer_count(facts)):
            fresh = _fresh(constants, i)
            words = f"`{key}` is none of {others}" if constants else f"`{key}` is any text"
            if self._peer_count(facts) > 1:
                words = f"`{key}` is {show(fresh)}"
            out.append((fresh, words))
        return out

    def _list_domain(
        self, key: str, type_: ast.ListType, facts: _KeyFacts
    ) -> list[tuple[Any, str]]:
        if type_.literals is not None and len(type_.literals) <= MAX_LITERAL_SUBSETS:
            universe = list(type_.literals)
        else:
            relevant = sorted(self._str_constants(facts))
            if type_.literals is not None:
                relevant = [v for v in relevant if v in type_.literals]
                spare = [v for v in type_.literals if v not in relevant][:1]
            else:
                spare = [_fresh(relevant, 0)]
            universe = relevant + spare
        out: list[tuple[Any, str]] = []
        for size in range(len(universe) + 1):
            for subset in itertools.combinations(universe, size):
                value = frozenset(subset)
                out.append((value, f"`{key}` is {show(value)}"))
        return out

    def _termset_domain(
        self, key: str, kind: str, facts: _KeyFacts, terms: tuple[str, str, str]
    ) -> list[tuple[Any, str]]:
        tested = set(facts.term_literals)
        for request_kind in facts.request_kinds:
            tested.add(terms[("party", "data", "purpose").index(request_kind)])
        hierarchies = [p.hierarchies[kind] for p in self.policies]
        hierarchy = hierarchies[0]
        tested = {t for t in tested if any(t in h for h in hierarchies)}
        ordered = sorted(tested)
        # A set is characterised by which tested terms it covers, in each version. When every
        # version gives the tested terms the same ancestors, subsets of the tested terms realise
        # every combination. Otherwise (a diff where a term moved in the hierarchy, or a term one
        # version lacks) a set may cover a term in one version and not in the other through an
        # ancestor: the members are then every ancestor of a tested term that all versions declare
        # (a request naming another term would be rejected by some version).
        agree = all(
            t in h and h.ancestors[t] == hierarchy.ancestors[t]
            for t in ordered
            for h in hierarchies
        )
        lineage = [(h, t) for h in (hierarchies[:1] if agree else hierarchies) for t in ordered]
        lineage = [(h, t) for h, t in lineage if t in h]
        if agree:
            members = ordered
        else:
            declared = set(hierarchy.terms).intersection(*(h.terms for h in hierarchies[1:]))
            members = sorted({a for h, t in lineage for a in h.ancestors[t]} & declared)
        out: list[tuple[Any, str]] = []
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


_KINDS = ("party", "data", "purpose")


def request_kinds_of(expr: ast.Expr) -> set[str]:
    """Which of the request's own terms (party, data, purpose) a condition reads."""
    if isinstance(expr, ast.And | ast.Or):
        return set().union(*(request_kinds_of(e) for e in expr.operands))
    if isinstance(expr, ast.Not):
        return request_kinds_of(expr.operand)
    if isinstance(expr, ast.Presence):
        return set()
    nodes = (expr.operand,) if isinstance(expr, ast.Truth) else (expr.left, expr.right)
    found: set[str] = set()
    for node in nodes:
        items = node.items if isinstance(node, ast.ListLiteral) else (node,)
        found |= {i.kind for i in items if isinstance(i, ast.RequestRef)}
    return found


def _fresh(taken: Iterable[str], index: int) -> str:
    taken = set(taken)
    n = index
    while True:
        candidate = "other" if n == 0 else f"other-{n}"
        if candidate not in taken:
            return candidate
        n += 1
