"""Cycles of comparisons between dates (docs/analysis.md#dates-and-instants): keys compared in
rings by fixed lengths are analysed exactly, as difference constraints.

- random policies whose date (or instant) keys form rings (``soundness_cycles``): every verdict
  of ``check``, every change ``diff`` finds against a mutation, and every cell of the matrix,
  against a brute force over a universe made of solutions of the rings' comparisons;
- that universe itself against every combination of days of a window (its solver is the
  harness's own, so it is checked against plain enumeration too);
- the analysis's classes against every combination of days of a window, for rings entered at
  their root and from another key, in the middle of the calendar and at its end;
- what stays refused (a month on a cycle) is refused at its place.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from policy_engine.language import time_values as tv

from . import soundness_cycles as sc
from . import time_reference as tr
from .soundness_model import (
    RandomChoices,
    Spec,
    compare_check,
    compare_diff,
    fitted,
    gen_spec,
    mutate,
    replace,
    spec_text,
    universe_cost,
)
from .test_matrix import check_every_request
from .test_properties import expr_text
from .test_time import HEAD, check, realised, rule

LIMIT = 1200
"""At most this many requests per policy (each one decided by the engine and the reference)."""


def ring_spec(seed: int) -> tuple[RandomChoices, Spec] | None:
    c = RandomChoices(random.Random(seed))
    spec = fitted(gen_spec(c, (0, 2), theme="cycles"), LIMIT)
    return None if spec is None else (c, spec)


def agree(seed: int, say: Callable[[str], None] = print) -> None:
    """check, diff against a mutation and the matrix of one ring policy, against brute force."""
    drawn = ring_spec(seed)
    if drawn is None:
        return
    c, spec = drawn
    say(spec_text(spec))
    _, found = compare_check(spec)
    bare = replace(spec, invariants=())
    new, change = mutate(c, bare)
    if universe_cost([bare, new]) <= LIMIT:
        found += compare_diff(bare, new, change)[1]
    assert not found, "\n".join(f"{d.verdict}: {d.message} {d.request}" for d in found)
    check_every_request(bare)


@settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(st.integers(0, 2**32 - 1))
def test_rings_of_dates_agree_with_brute_force(seed: int) -> None:
    agree(seed, note)


@pytest.mark.parametrize("seed", [4, 9, 2, 16, 7014])
def test_rings_of_fixed_seeds(seed: int) -> None:
    """The same few ring policies on every run, whatever hypothesis draws: a ring of dates
    through `now`; a ring of dates `now` touches, a key hanging off `now`; two rings of
    instants sharing a key; a ring of instants through `now`, a key hanging off it; and one
    (7014) where reading a strict `<` as `<=` on the ring makes `check` call a rule that
    applies unable to apply."""
    agree(seed)


# ---- the harness's universe against plain enumeration -------------------------------------

NEAR = ("2024-02-20", "2024-02-22", "2024-02-23", "2024-02-26")


def _ring_leaves(c: RandomChoices, links: list[tuple[str, str]]) -> list[Any]:
    keys = sorted({k for link in links for k in link})
    found: list[Any] = [sc.ring_leaf(c, link, "date") for link in links]
    for _ in range(c.number(1, 3)):
        key = keys[c.number(0, len(keys) - 1)]
        side: Any = ("key", key)
        if c.number(0, 1):
            side = ("shift", side, "+" if c.number(0, 1) else "-", c.number(1, 2), "days")
        literal = ("time", "date", NEAR[c.number(0, len(NEAR) - 1)])
        found.append(("cmp", ["<", "<=", "=", "!=", ">", ">="][c.number(0, 5)], side, literal))
    return found


def _vectors(leaves: list[Any], contexts: Any) -> set[tuple[Any, ...]]:
    kinds = {k: "date" for k in ("kn", "kd0", "kd1", "kd2")}
    valued = [sc._Leaf(leaf, kinds) for leaf in leaves]
    return {tuple(leaf.value(ctx) for leaf in valued) for ctx in contexts}


@pytest.mark.parametrize("seed", range(4))
def test_the_ring_universe_realises_every_combination_a_window_does(seed: int) -> None:
    """Every truth vector of a ring's comparisons that some three days of a window give is
    given by a context of :class:`~.soundness_cycles.RingUniverse` too (its solutions are found
    by its own Bellman–Ford: here they are checked against enumeration)."""
    c = RandomChoices(random.Random(seed))
    links = [("kn", "kd0"), ("kd0", "kd1"), ("kd1", "kn")]
    leaves = _ring_leaves(c, links)
    kinds = {k: "date" for k in ("kn", "kd0", "kd1")}
    universe = sc.RingUniverse(kinds, ["kn", "kd0", "kd1"], None, leaves)
    ours = _vectors(
        leaves,
        [{k: tr.date_number(v) for k, v in ctx.items()} for ctx in universe.contexts(kinds)],
    )
    first = tr.date_number("2024-02-10")
    days = range(first, first + 26)
    brute = _vectors(
        leaves,
        [dict(zip(kinds, combo, strict=True)) for combo in itertools.product(days, repeat=3)],
    )
    assert brute <= ours


# ---- the analysis's classes against plain enumeration -------------------------------------


def ring_text(declarations: str, conditions: list[str]) -> str:
    return HEAD + declarations + "".join(rule(c, f"r{i}") for i, c in enumerate(conditions))


@pytest.mark.parametrize("seed", range(6))
def test_rings_realise_every_combination_a_window_does(seed: int) -> None:
    """Random comparisons of a ring `now – a – b` (fixed lengths, every operator) and of its
    keys with constants, over every three days of a window: every combination of truth values
    is one the analysis's representatives realise too."""
    c = RandomChoices(random.Random(seed))
    links = [("kn", "kd0"), ("kd0", "kd1"), ("kd1", "kn")]
    texts = [expr_text(leaf) for leaf in _ring_leaves(c, links)]
    conditions = [t.replace("kn", "n").replace("kd0", "a").replace("kd1", "b") for t in texts]
    text = ring_text("context a: date\ncontext b: date\ncontext n: date is now\n", conditions)
    first = tv.parse_date("2024-02-12")
    brute, engine = realised(text, ["n", "a", "b"], list(range(first, first + 22)))
    assert brute <= engine, text


BOWTIE = (
    "context n: date is now\ncontext a: date\ncontext b: date\ncontext c: date\ncontext d: date\n"
)
BOWTIE_CONDITIONS = [
    "n < a + 2 days",
    "a <= b",
    "b + 1 day != n",
    "b < c - 1 day",
    "c <= d + 1 day",
    "d >= b",
]


@pytest.mark.parametrize(
    ("start", "extra"),
    [
        ("2024-02-20", ['d = date "2024-02-25"', 'c > date "2024-02-23"']),
        ("9999-12-24", []),
        ("9999-12-24", ['d >= date "9999-12-29"']),
        ("0000-01-01", ['a < date "0000-01-05"']),
    ],
)
def test_two_rings_sharing_a_key_realise_every_combination(start: str, extra: list[str]) -> None:
    """Two rings through `b` (one is entered from `b`, whose values it follows), over every
    five days of a window: in the middle of the calendar, at its end (where a ring's keys have
    fewer places to be, and where no constant is near it the analysis leaves those places out),
    and with constants near an end (where it keeps them)."""
    text = ring_text(BOWTIE, [*BOWTIE_CONDITIONS, *extra])
    first = tv.parse_date(start)
    days = list(range(first, min(first + 8, tv.LATEST_REQUEST["date"] + 1)))
    brute, engine = realised(text, ["n", "a", "b", "c", "d"], days)
    assert brute <= engine


# ---- what stays refused --------------------------------------------------------------------


def test_a_month_on_a_cycle_is_refused_at_its_comparison() -> None:
    text = ring_text(
        "context a: date\ncontext b: date\ncontext n: date is now\n",
        ["a < b", "b <= now", "now < a + 13 months"],
    )
    found = check(text)
    [refused] = [d for d in found if d.message.startswith("cannot analyse exactly")]
    assert refused.message.startswith("cannot analyse exactly: `now < a + 13 months` moves")
    assert refused.code == "analysis-undecided" and refused.severity == "error"
    assert not any(d.code == "never-applies" for d in found)
    assert "on a cycle of comparisons among `a`, `b`, `n`" in refused.message
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "13 months" in t)
    assert refused.span is not None and refused.span.line == line
