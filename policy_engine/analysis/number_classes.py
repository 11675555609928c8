"""The classes of a number key (``integer`` or ``decimal``): its domain cut at the constants of
its group of compared keys.

Conditions only compare numbers, with constants and with each other, so what sets two requests
apart is the order of the group's values among themselves and among the constants. A key of a
group of ``n`` keys therefore takes every constant it can equal and, in each gap between two
consecutive constants (and below the first and above the last), ``n`` distinct values: enough for
any order of the ``n`` keys there. An integer key takes the whole numbers of a gap (there may be
fewer than ``n``: then all of them); a decimal key, compared with integer keys too, must also be
able to equal each of their values and to fall between any two of them, so its cuts are the
integer keys' values as well as the constants. All arithmetic is exact (:data:`EXACT`).
"""

from __future__ import annotations

import decimal
import itertools
import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from ..language.limits import MAX_INTEGER_DIGITS
from ..language.printer import literal_text

Number = int | Decimal
Domain = list[tuple[Any, str]]

EXACT = decimal.Context(prec=2 * MAX_INTEGER_DIGITS + 100, traps=[decimal.Inexact])
"""Room for every sum and difference of two literals (at most ``MAX_INTEGER_DIGITS`` digits each)
and a few more digits: a result that would be rounded raises instead."""


def number_domain(
    key: str, constants: Iterable[Number], per_gap: int, *, whole: bool, whole_peers: bool
) -> Domain:
    """``key``'s classes: (representative, the class in words). ``whole``: an integer key;
    ``whole_peers``: a decimal key compared (directly or not) with integer keys."""
    cuts = sorted(set(constants))
    if whole:
        return _whole_domain(key, cuts, per_gap)
    points = sorted(set(cuts) | set(whole_points(cuts, per_gap) if whole_peers else ()))
    return _decimal_domain(key, points, per_gap, exact_words=per_gap > 1 or whole_peers)


def whole_points(cuts: list[Number], per_gap: int) -> list[int]:
    """The values an integer key of the group takes (see :func:`_whole_domain`)."""
    return [value for value, _ in _whole_domain("", cuts, per_gap)]


def _text(value: Number) -> str:
    return literal_text(value)


def _whole(value: Number) -> bool:
    return value == math.floor(value)


def _whole_domain(key: str, cuts: list[Number], per_gap: int) -> Domain:
    if not cuts:
        return [(i, f"`{key}` is {i}") for i in range(per_gap)]
    out: Domain = []
    first, last = cuts[0], cuts[-1]
    out += [(math.ceil(first) - 1 - i, f"`{key}` < {_text(first)}") for i in range(per_gap)]
    for low, high in itertools.pairwise(cuts):
        if _whole(low):
            out.append((int(low), f"`{key}` = {_text(low)}"))
        inside = list(range(math.floor(low) + 1, math.ceil(high)))[:per_gap]
        out += [(v, f"{_text(low)} < `{key}` < {_text(high)}") for v in inside]
    if _whole(last):
        out.append((int(last), f"`{key}` = {_text(last)}"))
    out += [(math.floor(last) + 1 + i, f"`{key}` > {_text(last)}") for i in range(per_gap)]
    if per_gap > 1:
        # With peers the relation between keys matters: say the exact value.
        out = [(v, f"`{key}` is {v}") for v, _ in out]
    return out


def _decimal_domain(key: str, cuts: list[Number], per_gap: int, *, exact_words: bool) -> Domain:
    if not cuts:
        return [(Decimal(i), f"`{key}` is {i}") for i in range(per_gap)]
    out: Domain = []
    first, last = Decimal(cuts[0]), Decimal(cuts[-1])
    out += [(EXACT.subtract(first, 1 + i), f"`{key}` < {_text(first)}") for i in range(per_gap)]
    for low, high in itertools.pairwise(Decimal(c) for c in cuts):
        out.append((low, f"`{key}` = {_text(low)}"))
        words = f"{_text(low)} < `{key}` < {_text(high)}"
        out += [(v, words) for v in between(low, high, per_gap)]
    out.append((last, f"`{key}` = {_text(last)}"))
    out += [(EXACT.add(last, 1 + i), f"`{key}` > {_text(last)}") for i in range(per_gap)]
    if exact_words:
        out = [(v, f"`{key}` is {_text(v)}") for v, _ in out]
    return out


def between(low: Decimal, high: Decimal, count: int) -> list[Decimal]:
    """``count`` distinct decimals strictly between ``low`` and ``high``, each exact: the interval
    cut in ``2**m > count`` equal parts (a power of two, so that every cut has a finite decimal
    expansion), the first ``count`` cuts inside it."""
    parts = 1 << max(1, count.bit_length())
    step = EXACT.divide(EXACT.subtract(high, low), parts)
    found = [EXACT.add(low, EXACT.multiply(step, k)) for k in range(1, count + 1)]
    if not all(low < v < high for v in found):  # pragma: no cover - arithmetic is exact
        raise ArithmeticError(f"no {count} decimals found between {low} and {high}")
    return found
