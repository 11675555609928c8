"""The classes of date and instant keys: representatives that realise every combination of
truth values the policy's comparisons of dates can tell apart, so that the analysis stays exact.

Each comparison tests one key against points (:mod:`.time_atoms`): constants, or maps of
another key's value. Keys compared with each other form groups; the comparisons of a group
must form a tree (a pair of keys may be compared several ways). Rooted at one key, the tree is
read twice:

- from the leaves up, each key gets the points ``Q`` that matter below it: its own constants,
  and for each child, where (as a function of this key) the child's points cross the child's own
  ``Q`` (the lower adjoint of the map gives those places exactly);
- from the root down, each key's representatives are one value of each class between its
  points: ``Q`` and, for each representative of its parent, the points that value puts on it.

Any request then has a representative in the product of the keys' representatives that every
comparison decides alike: take the root's class, then each child's class among the points its
parent's representative puts on it, and so on down. That needs one more fact, checked for every
edge: the points a parent puts on a child keep their order whatever the parent's value (``a +
13 months`` and ``a`` are always 13 months apart or so; ``a + 1 month`` and ``a + 30 days`` are
not, and such a pair is refused). Everything the analysis cannot make exact this way is refused
with :class:`~.time_atoms.NotExact`, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..engine.compiler import CompiledPolicy
from ..language import ast
from ..language.time_values import (
    EARLIEST_REQUEST,
    LATEST_REQUEST,
    TimeKind,
    days_from_civil,
    format_time,
    time_value,
)
from ..semantics.attribute_table import Attribute
from .time_atoms import NotExact, TimeAtom, points_of, time_atoms, time_keys
from .time_maps import TimeMap, order

MAX_POINTS = 20_000
"""The most points one key's classes may be cut at (a guard against a tree that multiplies)."""

ANCHOR = days_from_civil(2000, 1, 1)
"""The value of a date key no comparison cuts (an instant: midnight that day, UTC)."""

Interval = tuple[int, int | None, int | None]
"""A representative and the class it stands for: ``[low, high)`` (None: unbounded)."""


@dataclass
class _Group:
    keys: list[str]
    atoms: dict[tuple[str, str], list[TimeAtom]] = field(default_factory=dict)


def _classes(kind: TimeKind, points: Iterable[int]) -> list[Interval]:
    """One value of each class the points cut a key's values into, within what a request can
    say (a class no request can reach is left out)."""
    earliest, latest = EARLIEST_REQUEST[kind], LATEST_REQUEST[kind]
    cuts = sorted(set(points))
    if not cuts:
        anchor = ANCHOR if kind == "date" else ANCHOR * 86_400 * 10**9
        return [(anchor, None, None)]
    out: list[Interval] = []
    if cuts[0] - 1 >= earliest:
        out.append((min(cuts[0] - 1, latest), None, cuts[0]))
    for index, low in enumerate(cuts):
        high = cuts[index + 1] if index + 1 < len(cuts) else None
        value = max(low, earliest)
        if value <= latest and (high is None or value < high):
            out.append((value, low, high))
    return out


class TimeDomains:
    """The representatives of every date and instant key the policies compare, computed once
    for a request space (all versions of a diff together)."""

    def __init__(
        self,
        policies: Sequence[CompiledPolicy],
        extra: Sequence[ast.Expr],
        context: Mapping[str, ast.ContextDecl],
    ) -> None:
        types = {name: decl.type for name, decl in context.items()}
        self.kinds = time_keys(types)
        self._policies = policies
        self._extra = list(extra)
        self._types = types
        self._domains: dict[str, list[tuple[int, str]]] | None = None
        self._problems: dict[str, NotExact] = {}
        found = {p.now_key for p in policies if p.now_key is not None}
        self.now_key = min(found, default=None)
        problem = _versions_problem(policies, found)
        if problem is not None:
            self._problems = dict.fromkeys(self.kinds, problem)

    def domain(self, key: str) -> list[tuple[int, str]]:
        """The key's representatives (as the evaluator holds them) with the class in words;
        raises :class:`NotExact` for a key whose comparisons cannot be made exact."""
        domains = self._built()
        if key in self._problems:
            raise self._problems[key]
        return list(domains[key])

    def problems(self) -> list[NotExact]:
        """Why some keys' comparisons cannot be made exact (once each, in the order of places)."""
        self._built()
        unique = {id(p): p for p in self._problems.values()}.values()
        return sorted(
            unique,
            key=lambda p: (
                p.span is None,
                str(p.span and p.span.source.name),
                p.span.line if p.span else 0,
            ),
        )

    # ---- the groups and their trees -----------------------------------------------------------
    def _atoms(self) -> list[TimeAtom]:
        exprs: list[ast.Expr] = list(self._extra)
        for policy in self._policies:
            for rule in policy.rules:
                exprs += rule.logic.expressions()  # the overrides' parts included
        types: dict[tuple[str, str], Attribute] = {}
        values: dict[tuple[str, str], set[object]] = {}
        for policy in self._policies:
            for named, attribute in policy.attributes.items():
                types.setdefault(named, attribute)
                values.setdefault(named, set()).update(attribute.values.values())
        return list(time_atoms(exprs, self._types, self.now_key, types, values))

    def _built(self) -> dict[str, list[tuple[int, str]]]:
        if self._domains is None:
            self._domains = self._build()
        return self._domains

    def _build(self) -> dict[str, list[tuple[int, str]]]:
        constants: dict[str, list[int]] = {key: [] for key in self.kinds}
        groups: dict[str, _Group] = {key: _Group([key]) for key in self.kinds}
        refused: dict[str, NotExact] = {}
        for atom in self._atoms() if self.kinds and not self._problems else ():
            left, right = atom.left.key, atom.right.key
            if left is None and right is None:
                continue
            if left is None or right is None:
                key = left or right
                assert key is not None
                own, op, other = atom.oriented(key)
                constants[key] += [p for p in points_of(own, op, other) if isinstance(p, int)]
                continue
            if left == right:
                if not (atom.left.map.is_translation and atom.right.map.is_translation):
                    refused.setdefault(
                        left,
                        NotExact(
                            f"{atom.text()} compares `{left}` moved by months with itself",
                            atom.expr.span,
                        ),
                    )
                continue
            _join(groups, atom)
        domains: dict[str, list[tuple[int, str]]] = {}
        for group in {id(g): g for g in groups.values()}.values():
            problem = next((refused[k] for k in group.keys if k in refused), None)
            try:
                if problem is not None:
                    raise problem
                domains.update(self._group_domains(group, constants))
            except NotExact as exc:
                self._problems.update(dict.fromkeys(group.keys, exc))
        return domains

    def _group_domains(
        self, group: _Group, constants: dict[str, list[int]]
    ) -> dict[str, list[tuple[int, str]]]:
        kind = self.kinds[group.keys[0]]
        if len(group.keys) == 1:
            key = group.keys[0]
            return {
                key: [
                    (time_value(kind, v), _words(key, kind, v, lo, hi))
                    for v, lo, hi in _classes(kind, constants[key])
                ]
            }
        _check_tree(group)
        tree = self._rooted(group)
        found: dict[str, set[int]] = {}
        wanted = _points_below(tree, constants)
        for parent, child, maps in tree.edges:
            if parent is None:
                found[child] = {v for v, _, _ in _classes(kind, wanted[child])}
                continue
            values: set[int] = set()
            for at in found[parent]:
                cuts = [*wanted[child], *(m(at) for m in maps)]
                values |= {v for v, _, _ in _classes(kind, cuts)}
            found[child] = values
        return {
            key: [(time_value(kind, v), f"`{key}` is {format_time(kind, v)}") for v in sorted(vs)]
            for key, vs in found.items()
        }

    def _rooted(self, group: _Group) -> _Tree:
        """The group as a tree whose every edge keeps its points in order (the key of the
        decision's time first as the root, then the others by name)."""
        roots = sorted(group.keys, key=lambda k: (k != self.now_key, k))
        first_problem: NotExact | None = None
        for root in roots:
            try:
                return _Tree.of(group, root)
            except NotExact as problem:
                first_problem = first_problem or problem
        assert first_problem is not None
        raise first_problem


@dataclass
class _Tree:
    """A group rooted at one key: ``edges`` from the root down (the root's own with no parent),
    each with the maps from the parent's value to the points it puts on the child."""

    edges: list[tuple[str | None, str, list[TimeMap]]]

    @classmethod
    def of(cls, group: _Group, root: str) -> _Tree:
        neighbours: dict[str, list[str]] = {key: [] for key in group.keys}
        for a, b in group.atoms:
            neighbours[a].append(b)
            neighbours[b].append(a)
        edges: list[tuple[str | None, str, list[TimeMap]]] = [(None, root, [])]
        seen = {root}
        pending = [root]
        while pending:
            parent = pending.pop(0)
            for child in sorted(neighbours[parent]):
                if child in seen:
                    continue
                seen.add(child)
                pending.append(child)
                atoms = group.atoms[
                    (parent, child) if (parent, child) in group.atoms else (child, parent)
                ]
                edges.append((parent, child, _edge_maps(atoms, parent, child)))
        return cls(edges)


def _edge_maps(atoms: list[TimeAtom], parent: str, child: str) -> list[TimeMap]:
    """The maps from ``parent``'s value to the points the comparisons put on ``child``; refused
    when two of them may change order as the parent's value changes."""
    found: list[tuple[TimeMap, TimeAtom]] = []
    for atom in atoms:
        own, op, other = atom.oriented(child)
        found += [(p, atom) for p in points_of(own, op, other) if isinstance(p, TimeMap)]
    for index, (first, first_atom) in enumerate(found):
        for second, second_atom in found[index + 1 :]:
            if order(first, second) is None:
                both = (
                    first_atom.text()
                    if first_atom is second_atom
                    else f"{first_atom.text()} and {second_atom.text()}"
                )
                raise NotExact(
                    f"{both} compare `{child}` with `{parent}` at places whose order changes "
                    "with the calendar (a month is 28 to 31 days): compare with the same "
                    "offset and operator, or with offsets months apart",
                    second_atom.expr.span,
                )
    unique: dict[tuple[object, ...], TimeMap] = {m.steps: m for m, _ in found}
    return list(unique.values())


def _points_below(tree: _Tree, constants: dict[str, list[int]]) -> dict[str, list[int]]:
    """``Q`` of every key: its constants, and where its children's ``Q`` are crossed."""
    wanted: dict[str, list[int]] = {child: list(constants[child]) for _, child, _ in tree.edges}
    for parent, child, maps in reversed(tree.edges):
        if parent is None:
            continue
        below = sorted(set(wanted[child]))
        for point_map in maps:
            crossing = point_map.lower()
            for point in below:
                wanted[parent] += [crossing(point), crossing(point + 1)]
        if len(wanted[parent]) > MAX_POINTS:
            raise NotExact(
                f"the comparisons of `{parent}` with other dates cut it at more than "
                f"{MAX_POINTS:,} points"
            )
    return wanted


def _check_tree(group: _Group) -> None:
    """The pairs of keys compared must form a tree: a cycle of comparisons is refused."""
    linked: dict[str, str] = {key: key for key in group.keys}

    def root(key: str) -> str:
        while linked[key] != key:
            key = linked[key]
        return key

    for (a, b), atoms in group.atoms.items():
        if root(a) == root(b):
            keys = ", ".join(f"`{k}`" for k in sorted(group.keys))
            raise NotExact(
                f"{atoms[0].text()} closes a cycle of comparisons among {keys}: comparisons "
                "of dates between keys are analysed exactly when they form a tree",
                atoms[0].expr.span,
            )
        linked[root(a)] = root(b)


def _join(groups: dict[str, _Group], atom: TimeAtom) -> None:
    a, b = sorted((atom.left.key or "", atom.right.key or ""))
    first, second = groups[a], groups[b]
    if first is not second:
        first.keys += second.keys
        first.atoms.update(second.atoms)
        for key in second.keys:
            groups[key] = first
    first.atoms.setdefault((a, b), []).append(atom)


def _versions_problem(policies: Sequence[CompiledPolicy], now_keys: set[str]) -> NotExact | None:
    """Versions of a diff that read `now` from different keys, or declare a key a date in one
    and something else in another, are not compared on dates."""
    if len(now_keys) > 1:
        names = " and ".join(f"`{k}`" for k in sorted(now_keys))
        return NotExact(f"the versions read `now` from different keys ({names})")
    declared: dict[str, set[str]] = {}
    for policy in policies:
        for name, key in policy.context.items():
            declared.setdefault(name, set()).add(key.decl.type.describe())
    for name, types in sorted(declared.items()):
        if len(types) > 1 and types & {"date", "instant"}:
            return NotExact(f"the versions declare `{name}` as {' and as '.join(sorted(types))}")
    return None


def _words(key: str, kind: TimeKind, value: int, low: int | None, high: int | None) -> str:
    shown = format_time(kind, value)
    if low is None and high is None:
        return f"`{key}` is any {kind}"
    if high is not None and (low is None or high - low > 1):
        upper = format_time(kind, high)
        if low is None:
            return f"`{key}` < {upper}"
        return f"{format_time(kind, low)} ≤ `{key}` < {upper}"
    if low is not None and high is None:
        return f"`{key}` ≥ {format_time(kind, low)}"
    return f"`{key}` is {shown}"
