"""A group of date (or instant) keys compared with each other, rooted at one key and read twice
(:mod:`.time_domains` says why that is exact).

The keys and the pairs compared form a graph; its *blocks* (biconnected components) form a tree.
A block of one pair is an *edge*: its comparisons may move either key by any duration, months
too, provided the points they put on the child keep their order whatever the parent's value. A
block that holds a cycle is a :class:`~.time_cycles.CycleBlock`: every comparison in it must be a
translation (days, weeks, hours, minutes), or the group is refused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import networkx as nx

from ..language.time_values import (
    EARLIEST_REQUEST,
    LATEST_REQUEST,
    NANOS_PER_DAY,
    TimeKind,
    days_from_civil,
)
from .time_atoms import NotExact, TimeAtom, points_of
from .time_cycles import CycleBlock
from .time_maps import TimeMap, order

MAX_REQUESTS = 50_000
"""The most requests a group's keys may need to stand for every way they can hold."""

MAX_POINTS = 20_000
"""The most points one key's classes may be cut at (a guard against a tree that multiplies)."""

ANCHOR = days_from_civil(2000, 1, 1)
"""The value of a date key no comparison cuts (an instant: midnight that day, UTC)."""

Interval = tuple[int, int | None, int | None]
"""A representative and the class it stands for: ``[low, high)`` (None: unbounded)."""


@dataclass
class Group:
    """Keys compared with each other (closed transitively), with the comparisons of each pair."""

    keys: list[str]
    atoms: dict[tuple[str, str], list[TimeAtom]] = field(default_factory=dict)


def classes(kind: TimeKind, points: Iterable[int]) -> list[Interval]:
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


@dataclass
class Edge:
    """A pair compared alone (a bridge): the maps from the parent's value to the points the
    comparisons put on the child."""

    parent: str
    child: str
    maps: list[TimeMap]


Step = Edge | CycleBlock


@dataclass
class Rooted:
    """A group rooted at one key: its blocks from the root down."""

    kind: TimeKind
    root: str
    steps: list[Step]
    _atoms: list[TimeAtom] = field(default_factory=list)
    _all_atoms: list[TimeAtom] = field(default_factory=list)

    @classmethod
    def of(cls, kind: TimeKind, group: Group, root: str) -> Rooted:
        graph: nx.Graph = nx.Graph()
        graph.add_nodes_from(group.keys)
        graph.add_edges_from(group.atoms)
        blocks = [sorted({k for edge in edges for k in edge}) for edges in _blocks(graph)]
        steps: list[Step] = []
        seen, pending = {root}, [root]
        while pending:
            parent = pending.pop(0)
            entered = [b for b in blocks if parent in b and not seen.intersection(b) - {parent}]
            for block in sorted(entered, key=lambda b: [k for k in b if k != parent]):
                others = [k for k in block if k != parent]
                seen.update(others)
                pending += others
                steps.append(_step(kind, group, parent, others))
        return cls(kind, root, steps, [a for atoms in group.atoms.values() for a in atoms])

    def points_below(self, constants: Mapping[str, list[int]]) -> dict[str, list[int]]:
        """``Q`` of every key: its constants, and the points where what its children can do
        changes (for an edge, where its points cross the child's ``Q``; for a block, where
        the combinations it can realise change)."""
        wanted = {key: list(points) for key, points in constants.items()}
        trim = self._trim(constants)
        for step in reversed(self.steps):
            if step is self.joint_block():
                continue  # read whole, with the root (:meth:`values`)
            if isinstance(step, CycleBlock):
                wanted[step.entry] += step.entry_points(wanted, trim)
                parent = step.entry
            else:
                parent = step.parent
                below = sorted(set(wanted[step.child]))
                for point_map in step.maps:
                    crossing = point_map.lower()
                    for point in below:
                        wanted[parent] += [crossing(point), crossing(point + 1)]
            if len(wanted[parent]) > MAX_POINTS:
                raise NotExact(
                    f"the comparisons of `{parent}` with other dates cut it at more than "
                    f"{MAX_POINTS:,} points"
                )
        return wanted

    def _trim(self, constants: Mapping[str, list[int]]) -> int | None:
        """How near the calendar's ends the points that only the ends make lie, when no
        constant of the group is near them (None: some is, and every point is kept).

        A block's keys can stand only so far apart: within ``reach``, the sum of what every
        comparison of the group moves its sides by (a unit more for each). So where a block's
        combinations change because a key would leave the calendar, the entry is within
        ``reach`` of an end; every other point of the group is a constant moved by at most
        ``reach``. With no constant within ``3 * reach`` of an end, a request whose entry lies
        near an end can do only a part of what one with the entry at the first point past them
        (the value a class below every point stands for) can do — keys near an end have fewer
        places to be — so those points are left out and no representative sits near an end."""
        steps = [atom.left.map for atom in self._atoms] + [atom.right.map for atom in self._atoms]
        unit = 1 if self.kind == "date" else NANOS_PER_DAY
        reach = sum(max(abs(low), abs(high)) + unit for low, high in (m.spread() for m in steps))
        earliest, latest = EARLIEST_REQUEST[self.kind], LATEST_REQUEST[self.kind]
        points = [p for key in self._keys() for p in constants[key]]
        if all(earliest + 3 * reach <= p <= latest - 3 * reach for p in points):
            return reach
        return None

    def joint_block(self) -> CycleBlock | None:
        """The block that holds the root, if any: its keys and the root take one value per
        combination that can hold, found together."""
        first = self.steps[0] if self.steps else None
        return first if isinstance(first, CycleBlock) and first.entry == self.root else None

    def requests(
        self, wanted: Mapping[str, list[int]], atoms: list[TimeAtom]
    ) -> list[dict[str, int]]:
        """Values of every key, from the root down, one request for each way the keys can stand:
        the root takes one value of every class between its ``Q``; a child, for each value of
        its parent, one of every class between its ``Q`` and the points that value puts on it;
        a block's keys, for each value of the key that enters it, one request per combination
        it can realise then (a block that holds the root: one per combination with the
        root's classes). ``atoms``: every comparison of the group's keys, with each other and
        with constants (requests they cannot tell apart are kept once)."""
        self._all_atoms = atoms
        found: dict[str, list[int]] = defaultdict(list)  # values taken, shared where they can be
        joint = self.joint_block()
        if joint is not None:
            made = joint.joint_values(wanted, found)
        else:
            made = [{self.root: v} for v, _, _ in classes(self.kind, wanted[self.root])]
        for index, step in enumerate(self.steps):
            if step is not joint:
                made = self._below(step, made, wanted, found)
            made = self._distinct(made, self.steps[index + 1 :])
            if len(made) > MAX_REQUESTS:
                names = ", ".join(f"`{k}`" for k in sorted(self._keys()))
                raise NotExact(
                    f"the comparisons of dates among {names} need more than "
                    f"{MAX_REQUESTS:,} requests to stand for every way they can hold"
                )
        return made

    def _below(
        self,
        step: Step,
        made: list[dict[str, int]],
        wanted: Mapping[str, list[int]],
        found: dict[str, list[int]],
    ) -> list[dict[str, int]]:
        """``made`` with the keys ``step`` adds, each way they can stand."""
        after: dict[int, list[dict[str, int]]] = {}
        out: list[dict[str, int]] = []
        for request in made:
            at = request[step.entry if isinstance(step, CycleBlock) else step.parent]
            if at not in after:
                if isinstance(step, CycleBlock):
                    after[at] = step.witnesses(at, wanted, found)
                else:
                    cuts = [*wanted[step.child], *(m(at) for m in step.maps)]
                    after[at] = [{step.child: v} for v, _, _ in classes(self.kind, cuts)]
            out += [{**request, **more} for more in after[at]]
        return out

    def _distinct(self, made: list[dict[str, int]], rest: list[Step]) -> list[dict[str, int]]:
        """One of the requests made so far that the steps still to come cannot tell apart: the
        same truth values of the comparisons among the keys made, and the same value of each
        key made that the rest starts from (a later key is compared with earlier keys only
        through its block's entry, and its values follow that key's value alone)."""
        if not made:
            return made
        keys = set(made[0])
        atoms = [a for a in self._all_atoms if {s.key for s in (a.left, a.right) if s.key} <= keys]
        starts = sorted({s.entry if isinstance(s, CycleBlock) else s.parent for s in rest} & keys)
        kept: dict[tuple[object, ...], dict[str, int]] = {}
        for request in made:
            signature = (
                tuple(atom.outcomes(request) for atom in atoms),
                tuple(request[k] for k in starts),
            )
            kept.setdefault(signature, request)
        return list(kept.values())

    def _keys(self) -> set[str]:
        return {self.root} | {k for a in self._atoms for k in (a.left.key, a.right.key) if k}


def _blocks(graph: nx.Graph) -> list[list[tuple[str, str]]]:
    return [list(edges) for edges in nx.biconnected_component_edges(graph)]


def on_cycles(group: Group) -> set[str]:
    """The keys of the group that lie on a cycle of comparisons."""
    graph: nx.Graph = nx.Graph()
    graph.add_edges_from(group.atoms)
    return {k for edges in _blocks(graph) if len(edges) > 1 for edge in edges for k in edge}


def _step(kind: TimeKind, group: Group, parent: str, others: list[str]) -> Step:
    keys = {parent, *others}
    pairs = [pair for pair in group.atoms if set(pair) <= keys]
    if len(pairs) == 1:
        return Edge(parent, others[0], edge_maps(group.atoms[pairs[0]], parent, others[0]))
    atoms = [atom for pair in sorted(pairs) for atom in group.atoms[pair]]
    for atom in atoms:
        if not (atom.left.map.is_translation and atom.right.map.is_translation):
            names = ", ".join(f"`{k}`" for k in sorted(keys))
            fixed = "days or weeks" if kind == "date" else "days, weeks, hours or minutes"
            raise NotExact(
                f"{atom.text()} moves a date by months on a cycle of comparisons among {names}: "
                f"a cycle of comparisons between keys is analysed exactly only when each of "
                f"them moves by {fixed}",
                atom.expr.span,
            )
    return CycleBlock(kind, parent, others, atoms)


def edge_maps(atoms: list[TimeAtom], parent: str, child: str) -> list[TimeMap]:
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
