"""Dates, instants and `now` in the soundness harness: the comparisons the generator draws, and the
values of date and instant keys in the universe, with why they are enough.

What a policy of the ``time`` theme may contain: a key declared ``is now`` (a date or an
instant), a key ``kd0`` of the same kind compared with `now`, and a key ``kd1`` compared only with
constants. Comparisons of a key (or `now`, moved or not) with a literal (moved or not), any
operator; comparisons of ``kd0`` with `now`, any operator, where one of the two is moved by the
policy's *pair offset* or not moved at all (a translation: days, weeks, hours, minutes; or months,
years), always on the same side. Constants sit around the end of February of a leap year, so that
moving by months clamps.

The universe (values as a request writes them, as whole numbers here):

- every comparison of a key with a constant is true or false depending on where the key stands
  with respect to *thresholds* (moved dates are non-decreasing functions of the key): ``F(x)``
  against ``c`` changes at the least ``x`` with ``F(x) >= c`` and at the least with
  ``F(x) >= c + 1`` (found by bisection, :func:`~.time_reference.first_at_least`); a key's own
  classes are the stretches between its thresholds ``T``, each stood for by its first value (and
  the one before the first threshold);
- for the pair, the key that carries the offset (``first``) is chosen first. For a value ``v`` of
  it, each comparison with the other key (``second``) is a threshold test of ``second`` at
  ``G(v)`` (the least value of ``second`` that makes the compared sides cross, and the one past
  it): ``second`` takes the first value of every stretch between ``T_second`` and those points.
  Those points keep their order whatever ``v`` (they are ``v`` moved by one map, one unit apart,
  or moved by the offset and not, which months or fixed days keep apart), so the stretches of
  ``second`` look alike for every ``v`` in one stretch of ``first`` between ``T_first`` and the
  places where some ``G(v)`` crosses a threshold of ``second`` (and the unit after it);
  ``first`` takes the first value of each of those stretches. Any request is then matched, test
  for test, by one of these: ``first``'s stretch, then ``second``'s stretch for that value;
- a date attribute of a term (``party.since``, ``kk_party.since``), moved or not, compared with a
  key is, for each term, one of the values terms give it: each is a constant as above;
- every key may be missing (dates and instants have no default).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from . import time_reference as tr

DATES = ("2023-12-31", "2024-01-31", "2024-02-28", "2024-02-29", "2024-03-01", "2024-04-30")
INSTANTS = (
    "2024-02-29T23:30:00Z",
    "2024-03-01T00:00:00Z",
    "2024-01-31T12:00:00Z",
    "2024-03-01T01:00:00+01:00",
)
DATE_OFFSETS = ((1, "days"), (2, "days"), (1, "weeks"), (1, "months"), (2, "months"), (1, "years"))
INSTANT_OFFSETS = ((30, "minutes"), (1, "hours"), (1, "days"), (1, "months"))
WINDOW_DAYS = 800
"""How far from a constant a threshold can lie: more than any offset drawn (a year) twice."""


class Chooser(Protocol):
    def number(self, low: int, high: int) -> int: ...


def _pick(c: Chooser, options: Sequence[Any]) -> Any:
    return options[c.number(0, len(options) - 1)]


def constants(kind: str) -> tuple[str, ...]:
    return DATES if kind == "date" else INSTANTS


def offsets(kind: str) -> tuple[tuple[int, str], ...]:
    return DATE_OFFSETS if kind == "date" else INSTANT_OFFSETS


def shifted(c: Chooser, operand: Any, kind: str) -> Any:
    amount, unit = _pick(c, offsets(kind))
    return ("shift", operand, _pick(c, ["+", "-"]), amount, unit)


def const_leaf(c: Chooser, key: str, kind: str, is_now: bool) -> Any:
    """A key (or `now`), maybe moved, compared with a literal, maybe moved."""
    side: Any = ("now", key) if is_now and c.number(0, 1) else ("key", key)
    literal: Any = ("time", kind, _pick(c, constants(kind)))
    what = c.number(0, 5)
    if what <= 2:
        side = shifted(c, side, kind)
    elif what == 3:
        literal = shifted(c, literal, kind)
    if c.number(0, 1):
        side, literal = literal, side
    return ("cmp", _pick(c, ["<", "<=", "=", "!=", ">", ">="]), side, literal)


def pair_leaf(c: Chooser, leaf: str, now_key: str, pair: tuple[str, int, str], kind: str) -> Any:
    """``leaf`` compared with `now`, the pair's offset on its side, or none."""
    side, amount, unit = pair
    first: Any = ("key", leaf)
    second: Any = ("now", now_key) if c.number(0, 2) else ("key", now_key)
    if amount and c.number(0, 2):
        sign = "+" if c.number(0, 1) else "-"
        if side == "leaf":
            first = ("shift", first, sign, amount, unit)
        else:
            second = ("shift", second, sign, amount, unit)
    if c.number(0, 1):
        first, second = second, first
    return ("cmp", _pick(c, ["<", "<=", "=", "!=", ">", ">="]), first, second)


def pair_offset(c: Chooser, kind: str) -> tuple[str, int, str]:
    if c.number(0, 3) == 0:
        return ("leaf", 0, "days")
    amount, unit = _pick(c, offsets(kind))
    return (_pick(c, ["leaf", "now"]), amount, unit)


# ---- the universe -----------------------------------------------------------------------------


def base_key(node: Any) -> str | None:
    """The key a time operand reads (through moves and `now`), None for a literal."""
    while node[0] == "shift":
        node = node[1]
    return str(node[1]) if node[0] in ("key", "now") else None


def base_attribute(node: Any) -> str | None:
    """The attribute a time operand reads (through moves), None for a key or a literal."""
    while node[0] == "shift":
        node = node[1]
    return str(node[-1]) if node[0] in ("attr", "kattr") else None


def side_function(node: Any, kind: str) -> Any:
    """The operand's value as a function of its key's value (or a constant's value)."""
    if node[0] == "shift":
        inner = side_function(node[1], kind)
        sign, amount, unit = node[2:]
        return lambda x: tr.moved(kind, inner(x), sign, amount, unit)
    if node[0] == "time":
        value = tr.number(node[1], node[2])
        return lambda x: value
    return lambda x: x


@dataclass
class PairAtom:
    first_side: Any
    second_side: Any


class TimeUniverse:
    """The values of the date and instant keys (see the module's docstring)."""

    def __init__(
        self,
        kinds: dict[str, str],
        pair: tuple[str, str] | None,
        leaves: Iterable[Any],
        dates: dict[str, list[Any]] | None = None,
    ):
        """``kinds``: time key → kind; ``pair``: (the key carrying the pair's offset, the other);
        ``leaves``: every comparison the versions make; ``dates``: date attribute → every value
        terms give it (in any version, defaults too: ``DateValue``s)."""
        dates = dates or {}
        self.kinds = kinds
        self.pair = pair
        self.unit = {k: 1 if kind == "date" else tr.DAY_NANOS for k, kind in kinds.items()}
        self.thresholds: dict[str, set[int]] = {k: set() for k in kinds}
        self.pair_atoms: list[PairAtom] = []
        for leaf in leaves:
            if leaf[0] != "cmp":
                continue
            left, right = leaf[2], leaf[3]
            keys = [base_key(side) for side in (left, right)]
            if not any(k in kinds for k in keys if k is not None):
                continue
            if keys[0] is not None and keys[1] is not None:
                assert pair is not None and {keys[0], keys[1]} == set(pair), leaf
                first, second = (left, right) if keys[0] == pair[0] else (right, left)
                self.pair_atoms.append(PairAtom(first, second))
                continue
            key_side, constant = (left, right) if keys[0] is not None else (right, left)
            key = base_key(key_side)
            assert key is not None
            kind = kinds[key]
            attribute = base_attribute(constant)
            starts = (
                [0]
                if attribute is None
                else [tr.number(kind, v.text) for v in dates.get(attribute, [])]
            )
            for start in starts:
                value = side_function(constant, kind)(start)
                self._cross(key, side_function(key_side, kind), value)

    def _cross(self, key: str, function: Any, target: int) -> None:
        """The thresholds where ``function(key)`` crosses ``target`` and the unit after it."""
        reach = WINDOW_DAYS * self.unit[key]
        for goal in (target, target + 1):
            found = tr.first_at_least(function, goal, goal - reach, goal + reach)
            assert found is not None, (key, goal)
            self.thresholds[key].add(found)

    def _points_on_second(self, value: int) -> set[int]:
        """The thresholds the pair's comparisons put on its second key when the first is
        ``value``."""
        assert self.pair is not None
        second = self.pair[1]
        kind = self.kinds[second]
        reach = WINDOW_DAYS * self.unit[second]
        found: set[int] = set()
        for atom in self.pair_atoms:
            at = side_function(atom.first_side, kind)(value)
            moved = side_function(atom.second_side, kind)
            for goal in (at, at + 1):
                point = tr.first_at_least(moved, goal, goal - reach, goal + reach)
                assert point is not None
                found.add(point)
        return found

    def _first_points(self) -> set[int]:
        """Where a point the pair puts on its second key crosses one of that key's thresholds
        (or the unit after it), as the first key moves."""
        assert self.pair is not None
        first, second = self.pair
        reach = 2 * WINDOW_DAYS * self.unit[first]
        found: set[int] = set()
        for atom in self.pair_atoms:
            for extra in (0, 1):

                def point(value: int, atom: PairAtom = atom, extra: int = extra) -> int:
                    kind = self.kinds[second]
                    at = side_function(atom.first_side, kind)(value) + extra
                    moved = side_function(atom.second_side, kind)
                    span = WINDOW_DAYS * self.unit[second]
                    found_at = tr.first_at_least(moved, at, at - span, at + span)
                    assert found_at is not None
                    return found_at

                for threshold in self.thresholds[second]:
                    for goal in (threshold, threshold + 1):
                        x = tr.first_at_least(point, goal, goal - reach, goal + reach)
                        if x is not None:
                            found.add(x)
        return found

    def values(self, key: str, points: Iterable[int]) -> list[str]:
        """The first value of each stretch between ``points`` (and one before them), as text."""
        kind = self.kinds[key]
        cut = sorted(set(points))
        if not cut:
            return [tr.text(kind, tr.number(kind, constants(kind)[0]))]
        return [tr.text(kind, v) for v in sorted({p for p in cut} | {cut[0] - 1})]

    def contexts(self, keys: Iterable[str]) -> list[dict[str, str]]:
        """Every combination of values (or absence) of the time keys among ``keys``."""
        wanted = sorted(k for k in keys if k in self.kinds)
        paired = self.pair is not None and set(self.pair) <= set(wanted)
        alone = [k for k in wanted if not (paired and self.pair is not None and k in self.pair)]
        choices: list[list[dict[str, str]]] = [
            [{}] + [{k: v} for v in self.values(k, self.thresholds[k])] for k in alone
        ]
        if paired:
            choices.append(list(self._pairs()))
        return [
            dict(itertools.chain.from_iterable(d.items() for d in combo))
            for combo in itertools.product(*choices)
        ]

    def _pairs(self) -> Iterator[dict[str, str]]:
        assert self.pair is not None
        first, second = self.pair
        kind = self.kinds[first]
        alone = self.values(second, self.thresholds[second])
        yield {}
        yield from ({second: v} for v in alone)
        for text in self.values(first, self.thresholds[first] | self._first_points()):
            yield {first: text}
            value = tr.number(kind, text)
            points = self.thresholds[second] | self._points_on_second(value)
            for other in self.values(second, points):
                yield {first: text, second: other}
