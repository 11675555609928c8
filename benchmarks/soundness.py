"""Soundness of `check` and `diff` against brute force, on many random policies.

    python benchmarks/soundness.py                        # until 100,000 policy/request pairs
    python benchmarks/soundness.py --pairs 1000000 --seed 7
    python benchmarks/soundness.py --layouts              # each policy in package folders

Generates random small policies with the generators of ``tests/test_soundness.py`` (in
``tests/soundness_model.py``, driven here by a ``random.Random``), and for each one compares every
verdict of ``check`` (broken invariants and their counterexamples, rules that can never apply,
shadowed and redundant rules, deny-overrides-allow notes) and of ``diff`` (against a mutation of the
policy) with a brute-force walk over an explicit universe of requests built from the policy text.
With ``--layouts`` each policy (and its mutation) is written as a using policy and one or two
packages in real folders (``tests/soundness_layouts.py``) and compared on that layout, in the
policy's own names. It stops once at least ``--pairs`` policy/request pairs have been compared,
prints every disagreement (the policy, the request, and the seed that regenerates it with
``--replay``), then the counts. Exit code 1 on any disagreement.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.soundness_layouts import LayoutRealisation, gen_layout  # noqa: E402
from tests.soundness_model import (  # noqa: E402 - the checkout's tests folder goes on the path first
    FLAT,
    Disagreement,
    RandomChoices,
    Realisation,
    Spec,
    compare_check,
    compare_diff,
    fitted,
    gen_spec,
    minimise,
    mutate,
    universe_cost,
)


def run_one(
    seed: int,
    limit: int,
    minimising: bool = False,
    tally: Counter[str] | None = None,
    layouts: bool = False,
) -> tuple[int, int, list[Disagreement]] | None:
    """The comparisons for the policy (and its mutation) that ``seed`` generates: (pairs compared
    by check, by diff, disagreements; with ``minimising``, each kind again on a minimised policy);
    None when the policy's universe is too large. With ``layouts``, on package folders."""
    c = RandomChoices(random.Random(seed))
    spec = fitted(gen_spec(c), limit)
    if spec is None:
        return None
    layout = gen_layout(c, spec) if layouts else None

    def realise(*versions: Spec) -> Realisation:
        return FLAT if layout is None else LayoutRealisation(layout, versions)

    checked, found = compare_check(spec, tally, realise(spec))
    if minimising and found:
        found += minimised(found, (spec,), lambda v: compare_check(v[0], None, realise(*v))[1])
    new, change = mutate(c, spec)
    diffed = 0
    if universe_cost([spec, new]) <= limit:
        diffed, more = compare_diff(spec, new, change, tally, realise(spec, new))
        if minimising and more:
            more += minimised(
                more, (spec, new), lambda v: compare_diff(v[0], v[1], "", None, realise(*v))[1]
            )
        found += more
    return checked, diffed, found


def minimised(
    found: list[Disagreement],
    versions: tuple[Spec, ...],
    recheck: Callable[[tuple[Spec, ...]], list[Disagreement]],
) -> list[Disagreement]:
    """The first disagreement of each verdict again, on the smallest policy that still shows it."""
    out = []
    for verdict in sorted({d.verdict for d in found}):

        def still_wrong(v: tuple[Spec, ...], verdict: str = verdict) -> bool:
            return any(d.verdict == verdict for d in recheck(v))

        small = minimise(versions, still_wrong)
        first = next(d for d in recheck(small) if d.verdict == verdict)
        out.append(replace(first, verdict=f"{verdict}, minimised"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pairs", type=int, default=100_000, help="policy/request pairs to compare at least"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the whole run")
    parser.add_argument(
        "--limit",
        type=int,
        default=5_000,
        help="at most this many requests in one policy's universe (rules are dropped to fit)",
    )
    parser.add_argument("--replay", type=int, help="run only the policy of this policy seed")
    parser.add_argument(
        "--layouts",
        action="store_true",
        help="write each policy as a using policy and packages in folders (package layouts)",
    )
    parser.add_argument(
        "--minimise",
        action="store_true",
        help="also show each kind of disagreement on a minimised policy (slower)",
    )
    args = parser.parse_args(argv)
    # Thousands of throwaway policies: keep their parse cache out of the user's.
    cache = None
    if "POLICY_ENGINE_CACHE_DIR" not in os.environ:
        cache = tempfile.TemporaryDirectory(prefix="soundness-cache-")
        os.environ["POLICY_ENGINE_CACHE_DIR"] = cache.name
    rng = random.Random(args.seed)
    started = time.perf_counter()
    policies = diffs = skipped = pairs = 0
    by_verdict: Counter[str] = Counter()
    tally: Counter[str] = Counter()
    while pairs < args.pairs:
        seed = args.replay if args.replay is not None else rng.randrange(2**32)
        try:
            result = run_one(seed, args.limit, args.minimise, tally, args.layouts)
        except Exception:  # a crash of the engine (or of the harness): report it, go on
            by_verdict["crash"] += 1
            print(f"==== crash (policy seed {seed}) ====\n{traceback.format_exc()}", flush=True)
            if args.replay is not None:
                break
            continue
        if result is None:
            skipped += 1
        else:
            checked, diffed, found = result
            policies += 1
            diffs += diffed > 0
            pairs += checked + diffed
            for d in found:
                if not d.verdict.endswith("minimised"):
                    by_verdict[d.verdict] += 1
                print(f"==== disagreement (policy seed {seed}) ====\n{d.render()}", flush=True)
        if args.replay is not None:
            break
    elapsed = time.perf_counter() - started
    print(f"policies: {policies} checked, {diffs} also diffed against a mutation")
    print(f"policies skipped (universe over {args.limit:,} requests even with one rule): {skipped}")
    print(f"policy/request pairs compared: {pairs:,} in {elapsed:.1f} s ({pairs / elapsed:,.0f}/s)")
    print("verdicts compared: " + ", ".join(f"{k} {n}" for k, n in sorted(tally.items())))
    total = sum(by_verdict.values())
    details = ", ".join(f"{v}: {n}" for v, n in sorted(by_verdict.items()))
    print(f"disagreements: {total}" + (f" ({details})" if details else ""))
    if cache is not None:
        cache.cleanup()
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
