"""The memo of specialized cells is bounded: requests choose their (party, data, purpose) cell,
so without a bound a client could make a policy keep generated code for every cell it names."""

from __future__ import annotations

import itertools

import pytest

import policy_engine
from policy_engine.engine.compiler import CELL_CACHE_SIZE

from .conftest import PLANISO

CONTEXT = {"destination": "US", "channel": "email", "opted_out_channels": []}


def cells(policy: policy_engine.Policy) -> list[tuple[str, str, str]]:
    h = policy.compiled.hierarchies
    return list(itertools.product(h["party"].terms, h["data"].terms, h["purpose"].terms))


def test_the_cells_kept_are_bounded_and_decisions_do_not_change() -> None:
    bounded = policy_engine.load_policy(PLANISO, cell_cache_size=16)
    every = cells(bounded)[::7]
    assert len(every) > 1000
    unbounded = policy_engine.load_policy(PLANISO, cell_cache_size=len(every))
    for _ in range(2):
        for party, data, purpose in every:
            mine = bounded.decide(party, data, purpose, CONTEXT).model_dump()
            assert mine == unbounded.decide(party, data, purpose, CONTEXT).model_dump()
    info = bounded.compiled.cell_cache_info()
    assert (info.maxsize, info.currsize) == (16, 16)
    assert info.misses == 2 * len(every)  # each cell came back after 15 others: evicted
    assert bounded.compiled._cells.cache_info().currsize == 16
    assert unbounded.compiled.cell_cache_info().currsize == len(every)


def test_the_least_recently_used_cell_goes_first() -> None:
    policy = policy_engine.load_policy(PLANISO, cell_cache_size=4)
    hot, *others = cells(policy)[:40]
    for cell in others:
        policy.decide(*hot, CONTEXT)
        policy.decide(*cell, CONTEXT)
    info = policy.compiled.cell_cache_info()
    assert info.misses == 1 + len(others)  # the hot cell, used every other time, stayed
    assert info.currsize == 4


def test_the_default_bound_and_a_bad_bound() -> None:
    policy = policy_engine.load_policy_text(
        "party p\ndata d\npurpose u\nrule r\n  allow p to use d for u\n"
    )
    assert policy.compiled.cell_cache_info().maxsize == CELL_CACHE_SIZE == 4096
    with pytest.raises(ValueError, match="a cell cache holds at least 1 cell, got 0"):
        policy_engine.load_policy(PLANISO, cell_cache_size=0)
