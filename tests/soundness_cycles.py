"""Cycles of comparisons between date (or instant) keys in the soundness harness: what the
generator draws, and a universe built from solutions of the comparisons, with why it is enough.

What a policy of a *ring* may contain (the ``time`` theme, a third of the time, and the
``cycles`` theme always): the key declared ``is now`` (``kn``) and two or three more keys of the
same kind (``kd0``, ``kd1``, ``kd2``) compared in a ring ``kn – kd0 – kd1 (– kd2) – kn``,
sometimes with a chord, or in a ring ``kd0 – kd1 – kd2`` that `now` is compared with through
``kd0`` alone; each side of a comparison moved or not by a fixed length (days and weeks;
for instants also minutes and hours), with every operator; a pattern puts one comparison of each
link in one condition, so the ring is a cycle the analysis must read whole. Any ring key (and
`now`) is also compared with constants, moved by any duration (months and years too). Sometimes a
key ``kd3`` hangs off `now` as the ``time`` theme's pair does (its offset may be months).

The universe (values as a request writes them):

- each key's *thresholds* are where its comparisons with constants change (as in
  :mod:`.soundness_time`), and `now`'s also where a point the hanging key's comparisons put on
  ``kd3`` crosses one of ``kd3``'s thresholds (:meth:`.soundness_time.TimeUniverse._first_points`);
- a comparison of two ring keys moved by fixed lengths, ``a + f op b + g``, is decided by where
  ``a - b`` stands against ``g - f`` (below, equal, above). A *combination* picks, for each ring
  key, its stretch between its thresholds, and for each comparison of two ring keys one of the
  three; it is a set of facts ``x_j - x_i <= w`` (a node *zero* stands for constants). Such facts
  hold together for some whole numbers exactly when the graph of their weights has no negative
  cycle, and then Bellman–Ford's distances are a solution (this module's own search, which never
  uses the engine's). Every combination that can hold is found by a depth-first search that drops
  a partial combination as soon as it cannot hold; its solution is checked against the facts
  with the reference's own arithmetic before it is used;
- solutions are looked for between the lowest threshold (or constant) less ``2 *
  WINDOW_DAYS`` and the highest plus as much: a solution of difference constraints can always be
  one whose every value is a bound plus the weights of a path without repeated keys (the
  shortest paths), and such paths here add up to a few weeks at most;
- for each solution, ``kd3`` takes the first value of every stretch between its thresholds and
  the points `now`'s value puts on it (as the ``time`` theme's pair does);
- every key may also be missing: the contexts are every solution with any keys left out, one per
  combination of presence and truth values of the comparisons (a comparison with a date
  attribute of a term, ``party.since``, counted once for each value terms give it: which one a
  request meets depends on its terms) (two contexts every comparison
  decides alike are the same to every rule). A key left out of a request is any value to the
  others: a request with ``a`` missing is matched, leaf for leaf, by a solution with ``a`` at
  any value and ``a`` then left out.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from . import soundness_time as st
from . import time_reference as tr

DATE_FIXED = ((1, "days"), (2, "days"), (1, "weeks"))
INSTANT_FIXED = ((30, "minutes"), (1, "hours"), (1, "days"), (1, "weeks"))


def fixed_offsets(kind: str) -> tuple[tuple[int, str], ...]:
    return DATE_FIXED if kind == "date" else INSTANT_FIXED


# ---- the generator --------------------------------------------------------------------------


def ring_links(c: st.Chooser) -> list[tuple[str, str]]:
    """The ring's links: ``kn – kd0 – kd1 (– kd2) – kn``, sometimes with a chord; or a ring
    ``kd0 – kd1 – kd2 – kd0`` that `now` only touches (``kn – kd0``); or two rings that share
    ``kd1`` (``kn – kd0 – kd1 – kn`` and ``kd1 – kd2 – kd4 – kd1``), so that the analysis enters
    one of them from a key whose values it must follow."""
    shape = c.number(0, 5)
    if shape == 0:
        return [("kd0", "kd1"), ("kd1", "kd2"), ("kd0", "kd2"), ("kn", "kd0")]
    if shape == 1:  # two rings through ``kd1``: one is entered from a key its values follow
        first = [("kn", "kd0"), ("kd0", "kd1"), ("kd1", "kn")]
        return [*first, ("kd1", "kd2"), ("kd2", "kd4"), ("kd4", "kd1")]
    names = ["kn", "kd0", "kd1"] + (["kd2"] if c.number(0, 2) == 0 else [])
    links = list(itertools.pairwise([*names, names[0]]))
    if len(names) == 4 and c.number(0, 1):
        links.append(("kn", "kd1"))
    return links


def ring_side(c: st.Chooser, key: str, kind: str) -> Any:
    """A ring key (``kn`` sometimes as `now`), moved by a fixed length or not."""
    side: Any = ("now", key) if key == "kn" and c.number(0, 1) else ("key", key)
    if c.number(0, 1):
        amount, unit = st._pick(c, fixed_offsets(kind))
        side = ("shift", side, st._pick(c, ["+", "-"]), amount, unit)
    return side


def ring_leaf(c: st.Chooser, link: tuple[str, str], kind: str) -> Any:
    first, second = ring_side(c, link[0], kind), ring_side(c, link[1], kind)
    if c.number(0, 1):
        first, second = second, first
    return ("cmp", st._pick(c, ["<", "<=", "=", "!=", ">", ">="]), first, second)


def ring_pattern(c: st.Chooser, links: Sequence[tuple[str, str]], kind: str) -> Any:
    """One comparison of every link, and-ed (mostly) or or-ed, one of them sometimes negated."""
    parts: list[Any] = [ring_leaf(c, link, kind) for link in links]
    if c.number(0, 3) == 0:
        index = c.number(0, len(parts) - 1)
        parts[index] = ("not", parts[index])
    return ("or" if c.number(0, 4) == 0 else "and", tuple(parts))


# ---- the universe ---------------------------------------------------------------------------


class _Leaf:
    """A comparison of time operands, valued on whole numbers (None: a key it reads is missing);
    a side that is a date attribute of a term takes each value terms give it (``dates``), so the
    value is then one truth per attribute value."""

    def __init__(
        self, leaf: Any, kinds: dict[str, str], dates: dict[str, list[Any]] | None = None
    ) -> None:
        self.op, self.sides = leaf[1], (leaf[2], leaf[3])
        self.keys = [st.base_key(side) for side in self.sides]
        kind = next(kinds[k] for k in self.keys if k is not None)
        self.functions = [st.side_function(side, kind) for side in self.sides]
        attributes = [st.base_attribute(side) for side in self.sides]
        self.starts = [
            [0] if a is None else [tr.number(kind, v.text) for v in (dates or {}).get(a, [])]
            for a in attributes
        ]

    def value(self, ctx: dict[str, int]) -> Any:
        if any(k is not None and k not in ctx for k in self.keys):
            return None
        sides = [
            [f(ctx[k])] if k is not None else [f(start) for start in starts]
            for f, k, starts in zip(self.functions, self.keys, self.starts, strict=True)
        ]
        compare = {
            "<": operator.lt,
            "<=": operator.le,
            "=": operator.eq,
            "!=": operator.ne,
            ">": operator.gt,
            ">=": operator.ge,
        }[self.op]
        truths = tuple(compare(left, right) for left in sides[0] for right in sides[1])
        return truths[0] if len(truths) == 1 and self.starts == [[0], [0]] else truths


MAX_SEARCHED = 20_000
"""The most partial combinations a ring's universe is searched for (past it the universe is too
large for a brute force anyway: the harness drops rules until it is not)."""


class TooLarge(Exception):
    """A ring with more combinations than a brute force can walk."""


def solve(
    nodes: int, facts: Sequence[tuple[int, int, int]], start: Sequence[int] | None = None
) -> list[int] | None:
    """Whole numbers ``x`` with ``x[0] = 0`` and ``x[j] - x[i] <= w`` for every ``(i, j, w)``,
    by Bellman–Ford from a source with an edge of weight ``start[k]`` (0 when not given) to every
    node ``k``; None when a cycle of negative weight makes that impossible. (From any ``start``,
    the distances settle within ``nodes`` rounds when there is no such cycle: a shortest path
    from the source has at most ``nodes`` edges.)"""
    dist = list(start) if start is not None else [0] * nodes
    for _ in range(nodes + 1):
        changed = False
        for i, j, w in facts:
            if dist[i] + w < dist[j]:
                dist[j] = dist[i] + w
                changed = True
        if not changed:
            return [d - dist[0] for d in dist]
    return None


class RingUniverse:
    """The values of the time keys of a policy with a ring (see the module's docstring)."""

    def __init__(
        self,
        kinds: dict[str, str],
        ring: Sequence[str],
        hanging: tuple[str, str] | None,
        leaves: Iterable[Any],
        dates: dict[str, list[Any]] | None = None,
    ) -> None:
        """``ring``: the ring's keys; ``hanging``: (`now`'s key, the key hanging off it);
        ``leaves``: every comparison the versions make; ``dates``: date attribute → every value
        terms give it (as :class:`.soundness_time.TimeUniverse` takes them)."""
        self.kinds = kinds
        self.ring = sorted(ring)
        self.hanging = hanging
        time_leaves = [
            leaf
            for leaf in leaves
            if leaf[0] == "cmp" and any(st.base_key(s) in kinds for s in leaf[2:4])
        ]
        self.leaves = [_Leaf(leaf, kinds, dates) for leaf in time_leaves]
        linked = [
            leaf for leaf in self.leaves if all(k in self.ring for k in leaf.keys)
        ]  # two ring keys (a ring key with itself is a constant: left to the reference)
        self.links = [leaf for leaf in linked if leaf.keys[0] != leaf.keys[1]]
        others = [leaf for leaf, o in zip(time_leaves, self.leaves, strict=True) if o not in linked]
        self.base = st.TimeUniverse(kinds, hanging, others, dates)
        self._crossings = self.base._first_points() if hanging is not None else set()
        self.alone = sorted(set(kinds) - set(self.ring) - set(hanging or ()))
        self.too_large = False
        """Too many combinations to walk: :meth:`contexts` is then empty, and the policy is
        too large for a brute force (:meth:`.soundness_model.SoundUniverse.size`)."""
        try:
            self._full = self._contexts()
        except TooLarge:
            self.too_large, self._full = True, []
        self._cache: dict[frozenset[str], list[dict[str, str]]] = {}

    # -- the ring's solutions
    def _thresholds(self, key: str) -> list[int]:
        found = set(self.base.thresholds[key])
        if self.hanging is not None and key == self.hanging[0]:
            found |= self._crossings
        return sorted(found)

    def _questions(self) -> list[list[list[tuple[int, int, int]]]]:
        """For each question (a pair's stretch, a key's stretch), the facts of each answer."""
        node = {key: index + 1 for index, key in enumerate(self.ring)}
        questions: list[list[list[tuple[int, int, int]]]] = self._pair_questions(node)
        for key in self.ring:
            k, cuts = node[key], self._thresholds(key)
            answers = [[(0, k, cuts[0] - 1)]] if cuts else [[]]
            answers += [
                [(k, 0, -low)] + ([(0, k, high - 1)] if high is not None else [])
                for low, high in itertools.zip_longest(cuts, cuts[1:])
            ]
            questions.append(answers)
        return questions

    def _pair_questions(self, node: dict[str, int]) -> list[list[list[tuple[int, int, int]]]]:
        """The links of each pair of ring keys as one question: where ``a - b`` stands among
        their cuts (below, at or above each link's gap)."""
        cuts: dict[tuple[str, str], set[int]] = {}
        for link in self.links:
            (a, b), (f, g) = link.keys, (fn(0) for fn in link.functions)
            assert a is not None and b is not None
            assert all(fn(10**6) == fn(0) + 10**6 for fn in link.functions), "a translation"
            gap = g - f  # a + f op b + g: a - b against the gap (below, at, above)
            if a > b:
                a, b, gap = b, a, -gap
            cuts.setdefault((a, b), set()).update((gap - 1, gap))
        questions = []
        for (a, b), found in sorted(cuts.items()):
            i, j, ordered = node[b], node[a], sorted(found)  # facts about x_j - x_i = a - b
            answers = [[(i, j, ordered[0])]]
            answers += [
                [(j, i, -low - 1)] + ([(i, j, high)] if high is not None else [])
                for low, high in itertools.zip_longest(ordered, ordered[1:])
            ]
            questions.append(answers)
        return questions

    def _bounds(self) -> list[tuple[int, int, int]]:
        unit = 1 if self.kinds[self.ring[0]] == "date" else tr.DAY_NANOS
        points = [p for key in self.ring for p in self._thresholds(key)]
        kind = self.kinds[self.ring[0]]
        points += [tr.number(kind, st.constants(kind)[0])]
        low, high = min(points) - 2 * st.WINDOW_DAYS * unit, max(points) + 2 * st.WINDOW_DAYS * unit
        return [f for k in range(1, len(self.ring) + 1) for f in ((0, k, high), (k, 0, -low))]

    def solutions(self) -> Iterator[dict[str, int]]:
        """One solution of every combination that can hold (depth first, pruned); stops with
        :class:`TooLarge` past ``MAX_SEARCHED`` partial combinations."""
        questions, nodes = self._questions(), len(self.ring) + 1
        first = self._bounds()
        pending: list[tuple[int, list[tuple[int, int, int]], list[int] | None]] = [
            (0, first, solve(nodes, first))
        ]
        searched = 0
        while pending:
            searched += 1
            if searched > MAX_SEARCHED:
                raise TooLarge
            depth, facts, values = pending.pop()
            if values is None:
                continue
            if depth == len(questions):
                assert all(values[j] - values[i] <= w for i, j, w in facts)
                yield {key: values[index + 1] for index, key in enumerate(self.ring)}
                continue
            for answer in questions[depth]:
                # The parent's solution, when it meets the answer too; else solved again from it.
                met = all(values[j] - values[i] <= w for i, j, w in answer)
                more = facts + answer
                pending.append((depth + 1, more, values if met else solve(nodes, more, values)))

    # -- the contexts
    def _contexts(self) -> list[dict[str, int]]:
        """Every solution, with the hanging key's values, and every key sometimes missing: one
        context per combination of presence and truth values."""
        whole: list[dict[str, int]] = []
        for solution in self.solutions():
            whole.append(solution)
            if self.hanging is not None:
                now, hanging = self.hanging
                points = self.base.thresholds[hanging] | self.base._points_on_second(solution[now])
                kind = self.kinds[hanging]
                for text in self.base.values(hanging, points):
                    whole.append({**solution, hanging: tr.number(kind, text)})
        keys = [*self.ring, *(self.hanging[1:] if self.hanging else ())]
        return _distinct(self.leaves, whole, keys)

    def contexts(self, keys: Iterable[str]) -> list[dict[str, str]]:
        """Every combination of values (or absence) of the time keys among ``keys``."""
        wanted = frozenset(k for k in keys if k in self.kinds)
        if wanted not in self._cache:
            tied = [k for k in wanted if k not in self.alone]
            found = [
                {k: tr.text(self.kinds[k], v) for k, v in ctx.items()}
                for ctx in _restricted(self.leaves, self._full, tied)
            ]
            choices = [
                [{}] + [{k: v} for v in self.base.values(k, self.base.thresholds[k])]
                for k in sorted(wanted)
                if k in self.alone
            ]
            self._cache[wanted] = [
                dict(itertools.chain(base.items(), *(d.items() for d in combo)))
                for base in found
                for combo in itertools.product(*choices)
            ]
        return self._cache[wanted]


def _distinct(
    leaves: Sequence[_Leaf], contexts: Iterable[dict[str, int]], keys: Sequence[str]
) -> list[dict[str, int]]:
    """The contexts restricted to ``keys``, each with any of them left out, one per combination
    of the keys present and the comparisons' values (a comparison that reads a key left out is
    unknown, whatever the key's value was)."""
    whole: dict[tuple[Any, ...], dict[str, int]] = {}
    for ctx in contexts:
        part = {k: ctx[k] for k in keys if k in ctx}
        whole.setdefault((frozenset(part), tuple(leaf.value(part) for leaf in leaves)), part)
    reads = [set(k for k in leaf.keys if k is not None) for leaf in leaves]
    seen: dict[tuple[Any, ...], dict[str, int]] = {}
    for (_, values), ctx in whole.items():
        present = sorted(ctx)
        for kept in itertools.product((True, False), repeat=len(present)):
            keep = {k for k, chosen in zip(present, kept, strict=True) if chosen}
            signature = (
                frozenset(keep),
                tuple(v if read <= keep else None for v, read in zip(values, reads, strict=True)),
            )
            seen.setdefault(signature, {k: ctx[k] for k in keep})
    return list(seen.values())


def _restricted(
    leaves: Sequence[_Leaf], contexts: Iterable[dict[str, int]], keys: Iterable[str]
) -> list[dict[str, int]]:
    """The contexts restricted to ``keys`` (every presence is among them already), one per
    combination of the keys present and the comparisons' values."""
    wanted = set(keys)
    seen: dict[tuple[Any, ...], dict[str, int]] = {}
    for ctx in contexts:
        part = {k: v for k, v in ctx.items() if k in wanted}
        signature = (frozenset(part), tuple(leaf.value(part) for leaf in leaves))
        seen.setdefault(signature, part)
    return list(seen.values())
