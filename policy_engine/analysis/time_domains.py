"""The classes of date and instant keys: representatives that realise every combination of
truth values the policy's comparisons of dates can tell apart, so that the analysis stays exact.

Each comparison tests one key against points (:mod:`.time_atoms`): constants, or maps of
another key's value. A key compared only with constants has a class between each two of its
points. Keys compared with each other form groups, and the blocks of a group's comparisons form
a tree (:mod:`.time_trees`): a pair of keys compared alone (in one way or several), or keys
compared in a cycle, which :mod:`.time_cycles` reads as difference constraints (each comparison
on it must then move its keys by fixed lengths only). Rooted at one key, the tree is read twice:

- from the leaves up, each key gets the points ``Q`` that matter below it: its own constants,
  and for each child, where (as a function of this key) the child's points cross the child's own
  ``Q`` (the lower adjoint of the map gives those places exactly); for each cycle it enters,
  where the combinations the cycle can realise change;
- from the root down, requests are made: the root takes one value of each class between its
  points, a child, for each value of its parent, one value of each class between its ``Q`` and
  the points that value puts on it, and a cycle's keys one request for each combination it can
  realise.

Any request then has one of these that every comparison decides alike: take the root's class,
then each child's class among the points its parent's value puts on it (or the cycle's
combination), and so on down. That needs one more fact, checked for every pair: the points a
parent puts on a child keep their order whatever the parent's value (``a + 13 months`` and
``a`` are always 13 months apart or so; ``a + 1 month`` and ``a + 30 days`` are not, and such a
pair is refused). The group's classes are then made together (:mod:`.time_joint`). Everything
the analysis cannot make exact this way is refused with :class:`~.time_atoms.NotExact`, never
guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..engine.compiler import CompiledPolicy
from ..language import ast
from ..language.time_values import TimeKind, format_time, time_value
from ..semantics.attribute_table import Attribute
from .context_classes import Joint
from .time_atoms import NotExact, TimeAtom, points_of, time_atoms, time_keys
from .time_joint import joint_classes
from .time_trees import Group, Rooted, classes, on_cycles

JOINED = " & "
"""Between the names of keys whose classes are made together (:meth:`TimeDomains.joint_of`)."""


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
        self._joints: dict[str, list[Joint]] = {}
        self._constant_atoms: dict[str, list[TimeAtom]] = {}
        self._joint_words: dict[str, list[tuple[Joint, str]]] = {}
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

    def joint_of(self) -> dict[str, str]:
        """The keys of every group of keys compared with each other, each to the name of the
        group's :meth:`joint_domain` (its classes are made together: :mod:`.time_joint`)."""
        self._built()
        return {key: unit for unit in self._joints for key in unit.split(JOINED)}

    def joint_domain(self, unit: str) -> list[tuple[Joint, str]]:
        """The classes of keys that vary only together, each in words, fewest keys first."""
        self._built()
        found = self._joint_words.get(unit)
        if found is None:
            found = [(joint, " and ".join(joint.words())) for joint in self._joints[unit]]
            self._joint_words[unit] = found
        return found

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
        self._constant_atoms = {key: [] for key in self.kinds}
        groups: dict[str, Group] = {key: Group([key]) for key in self.kinds}
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
                self._constant_atoms[key].append(atom)
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
        self, group: Group, constants: dict[str, list[int]]
    ) -> dict[str, list[tuple[int, str]]]:
        kind = self.kinds[group.keys[0]]
        if len(group.keys) == 1:
            key = group.keys[0]
            return {
                key: [
                    (time_value(kind, v), _words(key, kind, v, lo, hi))
                    for v, lo, hi in classes(kind, constants[key])
                ]
            }
        rooted = self._rooted(group)
        atoms = [a for pair in group.atoms.values() for a in pair]
        atoms += [a for key in group.keys for a in self._constant_atoms[key]]
        requests = rooted.requests(rooted.points_below(constants), atoms)
        joint = joint_classes(kind, group.keys, atoms, requests)
        self._joints[JOINED.join(sorted(group.keys))] = joint
        return {
            key: [
                (time_value(kind, v), f"`{key}` is {format_time(kind, v)}")
                for v in sorted({request[key] for request in requests})
            ]
            for key in group.keys
        }

    def _rooted(self, group: Group) -> Rooted:
        """The group as a tree of blocks whose every edge keeps its points in order (a key on
        a cycle first as the root, so that the cycle's keys are made together; the key of the
        decision's time first among those, then the others by name)."""
        kind = self.kinds[group.keys[0]]
        cyclic = on_cycles(group)
        roots = sorted(group.keys, key=lambda k: (k not in cyclic, k != self.now_key, k))
        first_problem: NotExact | None = None
        for root in roots:
            try:
                return Rooted.of(kind, group, root)
            except NotExact as problem:
                first_problem = first_problem or problem
        assert first_problem is not None
        raise first_problem


def _join(groups: dict[str, Group], atom: TimeAtom) -> None:
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
