"""The exact request space of a policy: every (party, data, purpose) cell and, for each cell, every
distinguishable context.

A context key's domain is cut into classes at the constants and terms the rules compare it with
(:mod:`.context_classes`). Two contexts in the same class get the same decision from every rule,
so deciding one representative of each class decides them all: the proofs (invariants), the
linter and the semantic diff are exact, not sampled.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from ..engine.compiler import MISSING, CompiledPolicy, CompiledRule
from ..language import ast
from .budget import BudgetExceeded, Meter
from .conditions import KeyFacts, collect_facts, keys_of, request_kinds_of
from .context_classes import ContextClass, Joint, KeyDomains
from .time_domains import TimeDomains

_KINDS = ("party", "data", "purpose")

MAX_CELL_CLASSES = 100_000
"""The most context classes one cell may need (a few hundred bytes each, held at once)."""

MAX_HELD_CLASSES = 200_000
"""The most classes kept for reuse across cells; past it the cache starts again."""


def _default_of(policy: CompiledPolicy, name: str) -> tuple[type, Any]:
    """A key's declared default with its type (``true`` is not ``1``), MISSING when none."""
    decl = policy.context[name].decl
    if decl.default is None:
        return (type(None), MISSING)
    value = decl.default_value
    return (type(value), value)


class RequestSpace:
    """Cells and context classes for one or more policies that share a request space (OLD and NEW
    of a diff use the union of their constants)."""

    def __init__(
        self,
        policies: Sequence[CompiledPolicy],
        extra: Iterable[ast.Expr] = (),
        meter: Meter | None = None,
        absent: Iterable[str] = (),
    ) -> None:
        """``absent`` names keys that no request of the space sends (``conforms``: the
        package's keys that the using policy does not supply): each holds its default, or is
        missing, in every request."""
        self.policies = list(policies)
        self.meter = meter or Meter()
        self.context: dict[str, ast.ContextDecl] = {}
        exprs: list[ast.Expr] = list(extra)
        for policy in self.policies:
            for name, key in policy.context.items():
                self.context.setdefault(name, key.decl)
            for rule in policy.rules:
                exprs.extend(rule.logic.expressions())
        self.defaults: dict[str, Any] = {}
        self.disputed_defaults: set[str] = set()
        self._settle_defaults()
        self.held: dict[str, Any] = {name: self.defaults[name] for name in absent}
        """Keys held at one value in every request: missing, or their default."""
        self.time = TimeDomains(self.policies, list(extra), self.context)
        self.now_key = self.time.now_key
        self.joint_of = self.time.joint_of()
        self._joint_classes: dict[str, list[tuple[Any, str]]] = {}
        """Keys whose classes are made together, each to the name of the one domain of them
        all (:meth:`key_classes`; searched as one ``("joint", name)`` fact)."""
        attributes: dict[tuple[str, str], set[object]] = {}
        for policy in self.policies:
            for named, attribute in policy.attributes.items():
                attributes.setdefault(named, set()).update(attribute.values.values())
        self.facts = collect_facts(exprs, self.context, self.now_key, attributes)
        self._default_constants()
        self._domains = KeyDomains(
            self.policies,
            self.context,
            self.facts,
            self.defaults,
            self.disputed_defaults,
            self.time.domain,
        )
        self._domains.held = self.held
        self._cache: dict[tuple[object, ...], list[ContextClass]] = {}
        self._held = 0
        self._reads: dict[int, tuple[set[str], frozenset[str]]] = {}

    def _default_constants(self) -> None:
        """A key whose default differs between versions is, when a request leaves it out, each
        version's default: those values are constants of its group like the rules' own (in
        `b > a` with `a` defaulting to 2 in one version only, `b` must be able to exceed 2).
        So is the default of a key held absent (it is then always that value)."""
        for name in self.disputed_defaults | set(self.held):
            facts = self.facts.get(name)
            if facts is None:
                continue
            for policy in self.policies:
                value = policy.context[name].decl.default_value if name in policy.context else None
                if isinstance(value, bool) or value is None:
                    continue
                if isinstance(self.context[name].type, ast.TermType):
                    continue  # a term: the key's classes are the terms
                if isinstance(value, int | Decimal):
                    facts.ints.add(value)
                elif isinstance(value, str):
                    facts.strings.add(value)
                elif not isinstance(self.context[name].type, ast.TermSetType):
                    # A list's strings: a string key compared with the list may be one of them.
                    facts.strings.update(str(v) for v in value)  # type: ignore[attr-defined]

    def _settle_defaults(self) -> None:
        """A key's default, when every policy that declares it has the same one. When they differ
        (OLD and NEW of a diff), a request that leaves the key out means something different to
        each: it is a class of its own, which each policy decides with its own default."""
        for name in self.context:
            found = {
                _default_of(policy, name) for policy in self.policies if name in policy.context
            }
            if len(found) == 1:
                self.defaults[name] = next(iter(found))[1]
            else:
                self.defaults[name] = MISSING
                self.disputed_defaults.add(name)

    def reads(self, rule: CompiledRule) -> tuple[set[str], frozenset[str]]:
        """The context keys and the request terms (party/data/purpose) a rule's conditions read."""
        cached = self._reads.get(id(rule))
        if cached is None:
            keys: set[str] = set()
            kinds: set[str] = set()
            for expr in rule.logic.expressions():
                keys |= keys_of(expr, self.context, self.now_key)
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
                kinds |= self.facts.get(key, KeyFacts()).request_kinds
        projection = tuple(t if k in kinds else None for k, t in zip(_KINDS, terms, strict=True))
        return (tuple(id(r) for r in rules), projection)

    # ---- cells ----------------------------------------------------------------------------------
    def cells(self, policy: CompiledPolicy) -> Iterator[tuple[str, str, str]]:
        h = policy.hierarchies
        for party in h["party"].ordered:
            for data in h["data"].ordered:
                for purpose in h["purpose"].ordered:
                    yield (party, data, purpose)

    def key_classes(self, key: str, terms: tuple[str, str, str]) -> list[tuple[Any, str]]:
        """One key's classes in one cell: (representative, the class in words); for the name
        of keys made together (:attr:`joint_of`), their :class:`Joint` classes."""
        if key in self._joint_classes:
            return list(self._joint_classes[key])
        if key in self.joint_of.values():
            found = [
                (joint, words)
                for joint, words in self.time.joint_domain(key)
                if all(v is MISSING for k, v in joint.values if k in self.held)
            ]
            self._joint_classes[key] = found
            return list(found)
        return self._domains.domain(key, terms)

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
            keys |= keys_of(expr, self.context, self.now_key)
        wanted_kinds = {k for key in keys for k in self.facts.get(key, KeyFacts()).request_kinds}
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

    def class_count(self, terms: tuple[str, str, str], rules: Iterable[CompiledRule]) -> int:
        """How many classes :meth:`classes` would make, without making them."""
        return math.prod(len(d) for _, d in self.rule_domains(terms, rules))

    def rule_domains(
        self, terms: tuple[str, str, str], rules: Iterable[CompiledRule]
    ) -> list[tuple[str, list[tuple[Any, str]]]]:
        """The classes of every key the rules read (and the keys compared with them), by key:
        :meth:`classes` makes their product."""
        keys: set[str] = set()
        for rule in rules:
            keys |= self.reads(rule)[0]
        return self._keyed_domains(keys, terms)

    def _keyed_domains(
        self, keys: set[str], terms: tuple[str, str, str]
    ) -> list[tuple[str, list[tuple[Any, str]]]]:
        """Each key's classes, with the keys compared with them (which vary together)."""
        keys = set(keys)
        for key in list(keys):
            keys |= self.facts.get(key, KeyFacts()).peers
        units = {self.joint_of.get(key, key) for key in keys}
        return [(unit, self.key_classes(unit, terms)) for unit in sorted(units)]

    def _classes(self, keys: set[str], terms: tuple[str, str, str]) -> list[ContextClass]:
        keyed = self._keyed_domains(keys, terms)
        ordered = [key for key, _ in keyed]
        domains = [domain for _, domain in keyed]
        size = math.prod(len(d) for d in domains)
        if size > MAX_CELL_CLASSES:
            raise BudgetExceeded(
                f"one cell needs {size:,} context classes ({', '.join(ordered)}), more than "
                f"the {MAX_CELL_CLASSES:,} one cell may hold in memory"
            )
        self.meter.afford(size)
        self.meter.spend(size)
        self._held += size
        if self._held > MAX_HELD_CLASSES:
            self._cache.clear()
            self._held = size
        out = []
        for combo in itertools.product(*domains):
            values: list[tuple[str, Any]] = []
            words: list[str] = []
            for key, (value, word) in zip(ordered, combo, strict=True):
                if isinstance(value, Joint):  # keys made together: each key as itself
                    values += value.values
                    words += value.words()
                else:
                    values.append((key, value))
                    words.append(word)
            out.append(ContextClass(tuple(values), tuple(words)))
        return out
