"""A changed cell too large to enumerate class by class, compared leaf by leaf.

The lazy search (:meth:`~.search.CellSearch.leaves`) splits the cell's contexts only until both
versions' outcomes (effect and obligations) are settled. Each leaf is a set of facts; the leaves
partition the cell's context classes, so the classes a leaf stands for are counted from the
keys' domains without being made, and the counts of all leaves must add up to the cell's class
count (checked: a gap would be a bug, reported, never hidden).

A leaf names the rules that decide *every* request of it: for a deny, the denies whose condition
is never false there; for an allow, the allows whose condition is always true there. A change is
described by the leaves' facts, merged where leaves differ in one key only.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from ..engine.compiler import MISSING, CellPlan, CompiledRule
from ..language import ast
from .context_classes import ContextClass, Joint
from .diff_describe import condition_text
from .diff_report import ChangeKey, ChangeKind, Side
from .questions import DIFF, Comparison, Outcome, outcome
from .search import CellSearch, Settle
from .search_values import FALSE, TRUE, AnalysisDisagreement, Fact, Valuer

LEAF_MODE_MIN_CLASSES = 20_000
"""A changed cell with more classes than this is compared leaf by leaf."""

MAX_DESCRIBED_CUBES = 6
"""Past this many alternatives a change is described by its first three and a count."""

Domains = list[tuple[str, list[tuple[Any, str]]]]


def leaf_changes(
    search: CellSearch,
    domains: Domains,
    cell: tuple[str, str, str],
    old: CellPlan,
    new: CellPlan,
    comparison: Comparison = DIFF,
) -> tuple[int, list[tuple[ChangeKey, str, int, ContextClass]]]:
    """The cell's class count, and each change (as ``comparison`` reads changes) with its
    description, count and an example."""
    total = math.prod(len(d) for _, d in domains)
    changed: dict[ChangeKey, list[tuple[dict[Fact, Any], int]]] = defaultdict(list)
    counted = 0
    scalars = _tallies(search, domains)
    for state, (verdict, key), _ in search.leaves(cell, settler(old, new, comparison)):
        count = _count(search, domains, state, scalars)
        counted += count
        if verdict == "changed":
            changed[key].append((state, count))
    if counted != total:
        raise AnalysisDisagreement(
            f"the leaves of cell {cell} stand for {counted} context classes, not {total}"
        )
    found = []
    for key, leaves in changed.items():
        when = _describe(search, domains, cell, [state for state, _ in leaves])
        plainest = min(leaves, key=lambda leaf: search.present(leaf[0]))
        example = search.witness(cell, plainest[0]).klass
        found.append((key, when, sum(count for _, count in leaves), example))
    return total, found


def settler(old: CellPlan, new: CellPlan, comparison: Comparison) -> Settle:
    """Settles a leaf: None and the next fact while an outcome that matters is open; else
    ("same", None) or ("changed", the change key)."""

    def settle(valuer: Valuer) -> tuple[Any, Fact | None]:
        before, need = outcome(valuer, old)
        if before is None:
            return None, need
        if not comparison.second_matters(before):
            return ("same", None), None
        after, need = outcome(valuer, new)
        if after is None:
            return None, need
        kind = comparison.kind(before, after)
        if kind is None:
            return ("same", None), None
        old_side, new_side = _deciding(valuer, old, before), _deciding(valuer, new, after)
        return ("changed", _key(kind, old_side, new_side)), None

    return settle


def _key(kind: ChangeKind, old_ids: Side, new_ids: Side) -> ChangeKey:
    if kind != "obligations":
        return kind, (old_ids[0], (), old_ids[2]), (new_ids[0], (), new_ids[2])
    return kind, old_ids, new_ids


def _deciding(valuer: Valuer, plan: CellPlan, settled: Outcome) -> Side:
    """The side as ``outcome_of`` gives it, with the rules that decide every request of the leaf."""
    effect, obligations = settled
    rules: Iterable[CompiledRule]
    if effect == "deny":
        rules = [r for r in plan.denies if not valuer.rule(r)[0] & FALSE]
    else:
        rules = [r for r in plan.allows if valuer.rule(r)[0] == TRUE]
    return effect, tuple(sorted(obligations)), tuple(r.id for r in rules)


def _tallies(search: CellSearch, domains: Domains) -> dict[str, Counter[tuple[type, Any]]]:
    """For each scalar key (and keys made together), how many of its classes each value is."""
    return {
        key: Counter((type(value), value) for value, _ in domain)
        for key, domain in domains
        if key in search.space.joint_of.values()
        or not isinstance(search.compiled.context[key].decl.type, ast.ListType | ast.TermSetType)
    }


def _count(
    search: CellSearch,
    domains: Domains,
    state: dict[Fact, Any],
    scalars: dict[str, Counter[tuple[type, Any]]],
) -> int:
    """How many of the cell's context classes satisfy the leaf's facts."""
    count = 1
    for key, domain in domains:
        fact = _fact(search, key)
        if fact not in state:
            count *= len(domain)
        elif key in scalars:
            value = state[fact]
            count *= scalars[key][(type(value), value)]
        else:
            count *= sum(1 for value, _ in domain if _agrees(search, key, value, state))
    return count


def _fact(search: CellSearch, key: str) -> Fact:
    """The fact that holds the classes of ``key`` (or of keys made together, by their name)."""
    return ("joint", key) if key in search.space.joint_of.values() else ("key", key)


def _agrees(search: CellSearch, key: str, value: Any, state: dict[Fact, Any]) -> bool:
    """Whether a class's representative ``value`` of ``key`` satisfies the leaf's facts."""
    fact = state[_fact(search, key)]
    if isinstance(fact, Joint):
        return bool(value == fact)
    if fact is MISSING or value is MISSING:
        return fact is value
    declared = search.compiled.context[key].decl.type
    if not isinstance(declared, ast.ListType | ast.TermSetType):
        return bool(value == fact and type(value) is type(fact))
    if isinstance(declared, ast.ListType):
        return all(
            (f[2] in value) == holds
            for f, holds in state.items()
            if f[0] == "member" and f[1] == key
        )
    ancestors = search.compiled.hierarchies[declared.kind].ancestors
    return all(
        (not ancestors[f[2]].isdisjoint(value)) == holds
        for f, holds in state.items()
        if f[0] == "cover" and f[1] == key
    )


def _describe(
    search: CellSearch, domains: Domains, cell: tuple[str, str, str], leaves: list[dict[Fact, Any]]
) -> str:
    """The leaves' facts as a condition: per leaf, the classes each scalar key it assigns may
    take, and the words of its list and set facts; leaves that differ in one scalar key only are
    merged (a key that may then take every class is dropped)."""
    words_of = {key: dict((repr(v), w) for v, w in domain) for key, domain in domains}
    whole = {key: frozenset(repr(v) for v, _ in domain) for key, domain in domains}
    cubes = [_cube(search, cell, state, whole) for state in leaves]
    cubes = _merged(cubes, whole)
    texts = [
        [_literal(words_of[key], values, whole[key]) for key, values in sorted(scalars.items())]
        + list(rest)
        for scalars, rest in cubes
    ]
    if any(not text for text in texts):
        return "in every context"
    if len(texts) > MAX_DESCRIBED_CUBES:
        shown = condition_text(texts[:3])
        return f"when {shown} or {len(texts) - 3} more"
    return "when " + condition_text(texts)


Cube = tuple[dict[str, frozenset[str]], tuple[str, ...]]
"""Scalar keys to the reprs of the classes they may take; the words of list and set facts."""


def _cube(
    search: CellSearch,
    cell: tuple[str, str, str],
    state: dict[Fact, Any],
    whole: dict[str, frozenset[str]],
) -> Cube:
    klass = search.witness(cell, state).klass
    scalars: dict[str, frozenset[str]] = {}
    rest: list[str] = []
    joint_of = search.space.joint_of
    for unit in {joint_of[key] for key, _ in klass.values if key in joint_of}:
        if len(whole.get(unit, ())) > 1:  # keys made together: their class at once
            scalars[unit] = frozenset((repr(state[("joint", unit)]),))
    for (key, _), word in zip(klass.values, klass.words, strict=True):
        if key in joint_of:
            continue
        if len(whole.get(key, ())) == 1:
            continue  # a key with one class (held at one value) says nothing
        declared = search.compiled.context[key].decl.type
        if isinstance(declared, ast.ListType | ast.TermSetType):
            rest.append(word)
            continue
        fact = state[("key", key)]
        if key in whole:
            scalars[key] = frozenset((repr(fact),))
        else:
            rest.append(word)
    return scalars, tuple(rest)


def _merged(cubes: list[Cube], whole: dict[str, frozenset[str]]) -> list[Cube]:
    """Merge cubes that agree everywhere but on one scalar key, until none do."""
    current = list(dict.fromkeys(_frozen(c) for c in cubes))
    changed = True
    while changed:
        changed = False
        keys = sorted({key for scalars, _ in current for key, _ in scalars})
        for key in keys:
            buckets: dict[tuple[Any, Any, bool], list[tuple[Any, ...]]] = defaultdict(list)
            for cube in current:
                scalars, rest = cube
                others = tuple(item for item in scalars if item[0] != key)
                buckets[(others, rest, key in dict(scalars))].append(cube)
            merged = []
            for (others, rest, has_key), members in buckets.items():
                if not has_key or len(members) == 1:
                    merged += members
                    continue
                union = frozenset().union(*(dict(c[0])[key] for c in members))
                changed = True
                scalars = others if union == whole[key] else (*others, (key, union))
                merged.append((tuple(sorted(scalars)), rest))
            current = list(dict.fromkeys(merged))
    return [(dict(scalars), rest) for scalars, rest in current]


def _frozen(cube: Cube) -> tuple[Any, ...]:
    scalars, rest = cube
    return tuple(sorted(scalars.items())), rest


def _literal(words: dict[str, str], values: frozenset[str], whole: frozenset[str]) -> str:
    """The classes a key may take, or those it may not when they are fewer ("not (`country` is
    "CA")" rather than every value no rule names)."""
    said = sorted(words[v] for v in values)
    if len(said) == 1:
        return said[0]
    excluded = sorted(words[v] for v in whole - values)
    if len(excluded) < len(said):
        return "not (" + " or ".join(excluded) + ")"
    return "(" + " or ".join(said) + ")"
