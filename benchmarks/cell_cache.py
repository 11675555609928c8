"""What the bound on specialized cells costs: a decision whose cell is kept (a hit), one whose
cell must be specialized again (a miss), and the memory a full cache holds.

    .venv/bin/python benchmarks/cell_cache.py [--policy rules/planiso] [--size 4096]

A policy specializes each (party, data, purpose) cell a request names into generated code the
first time, and keeps at most ``cell_cache_size`` cells (``CELL_CACHE_SIZE``, least recently used
first out). Figures of one run are in docs/service-performance.md.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import time
import tracemalloc
from pathlib import Path

import policy_engine
from policy_engine.engine.compiler import CELL_CACHE_SIZE

ROOT = Path(__file__).resolve().parent.parent
#: A context for every cell, of the keys the policy declares among these.
KNOWN = {
    "destination": "US",
    "channel": "email",
    "opted_out_channels": [],
    "consented_purposes": [],
}
CONTEXT: dict[str, object] = {}


def cells(policy: policy_engine.Policy) -> list[tuple[str, str, str]]:
    h = policy.compiled.hierarchies
    return list(itertools.product(h["party"].terms, h["data"].terms, h["purpose"].terms))


def per_decision_us(
    policy: policy_engine.Policy, requests: list[tuple[str, str, str]], passes: int = 5
) -> float:
    """The best of ``passes`` passes over ``requests``, in µs a decision."""
    runs = []
    for _ in range(passes):
        start = time.perf_counter()
        for party, data, purpose in requests:
            policy.decide(party, data, purpose, CONTEXT)
        runs.append((time.perf_counter() - start) / len(requests) * 1e6)
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default=str(ROOT / "rules" / "planiso"))
    parser.add_argument("--size", type=int, default=CELL_CACHE_SIZE)
    args = parser.parse_args()
    gc.disable()

    policy = policy_engine.load_policy(args.policy, cell_cache_size=args.size)
    CONTEXT.update({k: v for k, v in KNOWN.items() if k in policy.compiled.context})
    every = cells(policy)
    hot = [every[len(every) // 2]] * 20_000
    policy.decide(*hot[0], CONTEXT)
    hit = per_decision_us(policy, hot)

    # A cache of one cell, fed cells in turn (2,000 at most, drawn with a fixed seed): each
    # decision specializes its cell again.
    sample = random.Random(1).sample(every, min(len(every), 2000))
    missing = policy_engine.load_policy(args.policy, cell_cache_size=1)
    miss = per_decision_us(missing, sample, passes=3)
    info = missing.compiled.cell_cache_info()
    assert info.hits == 0 and info.misses >= len(sample)

    # The memory of a full cache: a fresh policy, filled with as many cells as it keeps.
    fresh = policy_engine.load_policy(args.policy, cell_cache_size=args.size)
    kept = every[: args.size]
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for party, data, purpose in kept:
        fresh.decide(party, data, purpose, CONTEXT)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(f"policy: {args.policy} ({len(every):,} cells); cache bound: {args.size:,} cells")
    print(f"hit  (cell kept):        {hit:9.2f} µs a decision")
    print(f"miss (cell specialized): {miss:9.2f} µs a decision ({len(sample):,} cells)")
    print(f"a full cache:            {held / 2**20:9.2f} MiB for {len(kept):,} cells", end="")
    print(f" ({held / len(kept):,.0f} bytes a cell)")


if __name__ == "__main__":
    main()
