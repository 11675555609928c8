"""Cycles of comparisons between date (or instant) keys that only *translate* them (days and
weeks; for instants also hours and minutes): difference constraints.

``a + c₁ < b + c₂`` holds exactly when ``a - b <= c₂ - c₁ - 1`` (whole numbers: days, or
nanoseconds), so what such a comparison says depends only on where the difference of two keys
stands with respect to a *cut*; a key against the points of its classes is its difference with a
*zero* that is always 0. A set of facts "``x_j - x_i <= w``" can all hold exactly when the graph
with an edge ``i → j`` of weight ``w`` for each of them has no cycle of negative weight
(Bellman–Ford): then ``x_k = d(zero, k)`` meets them all, and ``x_j - x_i`` can take every whole
value from ``-d(j, i)`` to ``d(i, j)``. The distances of every pair are kept closed as facts are
added (Floyd–Warshall's step for one new edge), so a fact that would make a negative cycle is
seen at once. Every key also lies within what a request can write (years 0000 to 9999): two more
facts each, against zero.

A *block* (a biconnected component of the group's comparisons that holds a cycle) is read by
:mod:`.time_trees` as it reads a pair of keys. A *combination* is, for each pair of keys the
block compares, the stretch their difference is in between the cuts of its comparisons, and for
each key, its stretch between the points that matter to it; the combinations that can hold are
enumerated breadth first (a stretch that meets a difference's span can always be added, so
nothing is tried in vain), and each gets one request, each key as near the value of the entry
as the combination allows (or at a value already taken, when it allows one):

- a block that holds the group's root is enumerated with the root's own stretches
  (:meth:`CycleBlock.joint_values`): one request per combination, the root included;
- a block entered from another key, the *entry*, puts points on it, from the leaves up
  (:meth:`CycleBlock.entry_points`): the entry's values a combination allows are one interval
  ``[lo, hi]`` (the projection of the facts onto one key), so the combinations possible change
  only at each ``lo`` and ``hi + 1``; then, from the root down, for each value of the entry, one
  request per combination possible with it (:meth:`CycleBlock.witnesses`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence

from ..language.time_values import (
    EARLIEST_REQUEST,
    LATEST_REQUEST,
    NANOS_PER_DAY,
    TimeKind,
    days_from_civil,
)
from .time_atoms import NotExact, TimeAtom

MAX_COMBINATIONS = 50_000
"""The most combinations one block may realise, over every value of its entry."""

_CUTS = {"<": (-1,), ">=": (-1,), "<=": (0,), ">": (0,), "=": (-1, 0), "!=": (-1, 0)}
"""``x op d`` over whole numbers is decided by ``x <= d + u`` for each ``u`` listed."""


class Distances:
    """Facts ``x_j - x_i <= w`` among nodes ``0 … n-1`` (node 0 is zero), closed: ``d[i][j]``
    is the greatest ``x_j - x_i`` can be."""

    def __init__(self, rows: list[list[int]]) -> None:
        self.d = rows

    @classmethod
    def within(cls, kind: TimeKind, keys: int) -> Distances:
        """Zero and ``keys`` keys, each within what a request can write."""
        low, high = EARLIEST_REQUEST[kind], LATEST_REQUEST[kind]
        size = keys + 1
        rows = [[high - low] * size for _ in range(size)]
        for k in range(size):
            rows[0][k], rows[k][0], rows[k][k] = high, -low, 0
        return cls(rows)

    def copy(self) -> Distances:
        return Distances([row[:] for row in self.d])

    def span(self, i: int, j: int) -> tuple[int, int]:
        """The least and the greatest ``x_j - x_i`` can be."""
        return -self.d[j][i], self.d[i][j]

    def limit(self, i: int, j: int, w: int) -> bool:
        """Adds ``x_j - x_i <= w``; False (and nothing added) when the facts cannot hold then."""
        d = self.d
        if w + d[j][i] < 0:
            return False
        if w >= d[i][j]:
            return True
        into_i = [row[i] + w for row in d]
        from_j = d[j]
        for k, row in enumerate(d):
            before = into_i[k]
            for m, after in enumerate(from_j):
                if before + after < row[m]:
                    row[m] = before + after
        return True

    def fix(self, k: int, value: int) -> None:
        """``x_k = value`` (a value within :meth:`span` of ``(0, k)``)."""
        assert self.limit(0, k, value) and self.limit(k, 0, -value)


class _Test:
    """Where ``x_j - x_i`` stands among ``cuts``: the ``r``-th stretch holds the differences
    above cut ``r - 1`` and at most cut ``r``."""

    def __init__(self, i: int, j: int, cuts: Sequence[int]) -> None:
        self.i, self.j, self.cuts = i, j, sorted(set(cuts))

    def stretches(self, facts: Distances) -> Iterator[Distances]:
        """The facts with each stretch the difference can be in (every one that meets the
        difference's span can: a difference takes every value of its span)."""
        low, high = facts.span(self.i, self.j)
        cuts = self.cuts
        for index in range(bisect_left(cuts, low), bisect_left(cuts, high) + 1):
            found = facts.copy()
            if index < len(cuts):
                assert found.limit(self.i, self.j, cuts[index])
            if index > 0:
                assert found.limit(self.j, self.i, -cuts[index - 1] - 1)
            yield found


class CycleBlock:
    """Keys compared in cycles by translations only, entered from ``entry``; ``others`` are
    the block's other keys (nodes ``2 …``; the entry is node 1, zero node 0)."""

    def __init__(
        self, kind: TimeKind, entry: str, others: Sequence[str], atoms: Sequence[TimeAtom]
    ) -> None:
        self.kind = kind
        self.entry = entry
        self.others = list(others)
        self.atoms = list(atoms)
        self.node = {key: index + 1 for index, key in enumerate([entry, *self.others])}
        cuts: dict[tuple[int, int], list[int]] = {}
        for atom in atoms:
            i, j = self.node[atom.right.key or ""], self.node[atom.left.key or ""]
            # left - right  op  (right's offset - left's offset): a fact about x_j - x_i
            gap = atom.right.map(0) - atom.left.map(0)
            found = [gap + u for u in _CUTS[atom.op]]
            if i > j:  # x_j - x_i <= t  iff not  x_i - x_j <= -t - 1
                i, j, found = j, i, [-t - 1 for t in found]
            cuts.setdefault((i, j), []).extend(found)
        self._pairs = [_Test(i, j, c) for (i, j), c in sorted(cuts.items())]
        self._made = 0

    def _combinations(
        self, start: Distances, wanted: Mapping[str, list[int]], keys: Sequence[str]
    ) -> list[Distances]:
        """The facts of every combination that can hold from ``start``: the pairs the block
        compares, then the stretch of each of ``keys`` among its ``wanted`` points."""
        tests = [
            *self._pairs,
            *(_Test(0, self.node[k], [p - 1 for p in wanted[k]]) for k in keys),
        ]
        level = [start]
        for test in tests:
            level = [found for facts in level for found in test.stretches(facts)]
            self._made += len(level)
            if self._made > MAX_COMBINATIONS:
                raise NotExact(
                    f"the comparisons of dates among {self._names()} realise more than "
                    f"{MAX_COMBINATIONS:,} combinations",
                    self.atoms[0].expr.span,
                )
        return level

    def _names(self) -> str:
        return ", ".join(f"`{k}`" for k in sorted([self.entry, *self.others]))

    def entry_points(self, wanted: Mapping[str, list[int]], trim: int | None) -> list[int]:
        """Where, as the entry's value moves, the combinations the block can realise change.

        ``trim``: leave out the points within ``trim`` of the calendar's ends (the caller has
        made sure that only the ends put points there, and that nothing else cuts the entry
        there: :meth:`.time_trees.Rooted.points_below`)."""
        start = Distances.within(self.kind, len(self.node))
        points: set[int] = set()
        for facts in self._combinations(start, wanted, self.others):
            low, high = facts.span(0, 1)
            points |= {low, high + 1}
        # A point at the first value a request can write, or past the last, cuts nothing.
        earliest, latest = EARLIEST_REQUEST[self.kind], LATEST_REQUEST[self.kind]
        if trim is not None:
            earliest, latest = earliest + trim, latest - trim
        return sorted(p for p in points if earliest < p <= latest)

    def witnesses(
        self, at: int, wanted: Mapping[str, list[int]], found: Mapping[str, list[int]]
    ) -> list[dict[str, int]]:
        """With the entry at ``at``: values of the other keys for every combination that can
        hold, each added to ``found`` (sorted): one already there when the combination allows
        it, else the nearest to ``at`` it allows."""
        start = Distances.within(self.kind, len(self.node))
        start.fix(1, at)
        return [self._witness(f, at, found) for f in self._combinations(start, wanted, self.others)]

    def joint_values(
        self, wanted: Mapping[str, list[int]], found: Mapping[str, list[int]]
    ) -> list[dict[str, int]]:
        """For a block that holds the group's root: a value of every key of the block, the
        entry too, for every combination of the entry's stretch among its ``wanted`` points
        and the block's that can hold (one request per combination: no point of the entry need
        be found first), each added to ``found``; the requests, one per combination. The entry
        takes the first value of its stretch (the last when the stretch has no first), or the
        value nearest it that the combination allows, or one already taken."""
        start = Distances.within(self.kind, len(self.node))
        cuts = sorted(set(wanted[self.entry]))
        requests: list[dict[str, int]] = []
        for facts in self._combinations(start, wanted, [self.entry, *self.others]):
            low, high = facts.span(0, 1)
            index = bisect_right(cuts, low)  # the entry's stretch: from cuts[index - 1] on
            first = cuts[index - 1] if index > 0 else None
            target = first if first is not None else cuts[0] - 1 if cuts else _anchor(self.kind)
            at = _nearest(found[self.entry], target, low, high)
            facts.fix(1, at)
            _take(found[self.entry], at)
            requests.append({self.entry: at, **self._witness(facts, at, found)})
        return requests

    def _witness(self, facts: Distances, at: int, found: Mapping[str, list[int]]) -> dict[str, int]:
        taken: dict[str, int] = {}
        for key in self.others:
            k = self.node[key]
            low, high = facts.span(0, k)
            taken[key] = value = _nearest(found[key], at, low, high)
            facts.fix(k, value)
            _take(found[key], value)
        return taken


def _anchor(kind: TimeKind) -> int:
    day = days_from_civil(2000, 1, 1)
    return day if kind == "date" else day * NANOS_PER_DAY


def _nearest(taken: list[int], target: int, low: int, high: int) -> int:
    """The value of ``taken`` (sorted) in ``[low, high]`` nearest ``target``, else the value of
    ``[low, high]`` nearest ``target``."""
    target = min(max(target, low), high)
    index = bisect_left(taken, target)
    near = [v for v in taken[max(index - 1, 0) : index + 1] if low <= v <= high]
    return min(near, key=lambda v: (abs(v - target), v)) if near else target


def _take(taken: list[int], value: int) -> None:
    index = bisect_left(taken, value)
    if index == len(taken) or taken[index] != value:
        taken.insert(index, value)
