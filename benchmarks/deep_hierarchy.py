"""Figures for a deep hierarchy (issue #12, rule files as untrusted input): a chain of parties
``party p1``, ``party p2 under p1``, … ``party pN under pN-1`` and one rule about ``p1``. Each
depth runs in a fresh process with the compiled cache off (a cold load, the grammar's tables
already built): the seconds of ``load_policy_text``, of one ``decide`` for the deepest party, of
``check_report`` (the API's check: it loads the file again, then the analysis), and the process's
peak memory (RSS).

    python benchmarks/deep_hierarchy.py               # depths 1,000, 6,000 and 20,000
    python benchmarks/deep_hierarchy.py 6000 50000    # other depths

Before closures were made on demand, 6,000 took some 50 s and 1.7 GB to load.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEPTHS = (1000, 6000, 20000)


def chain(depth: int) -> str:
    parties = "".join(f"party p{i} under p{i - 1}\n" for i in range(2, depth + 1))
    return f"party p1\n{parties}data d\npurpose u\nrule r §1\n  allow p1 to use d for u\n"


def measure(depth: int) -> dict[str, float]:
    """One depth, in this process (run by :func:`main` in a fresh one)."""
    import policy_engine

    policy_engine.load_policy_text("party a\ndata d\npurpose u\n")  # the grammar's tables
    text = chain(depth)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chain.policy"
        path.write_text(text)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        policy = policy_engine.load_policy_text(text)
        loaded = time.perf_counter()
        decision = policy.decide(f"p{depth}", "d", "u")
        decided = time.perf_counter()
        report = policy_engine.check_report(path)
        checked = time.perf_counter()
    assert decision.allowed and not report.diagnostics
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "load": loaded - start,
        "decide": decided - loaded,
        "check": checked - decided,
        "rss_mb": peak / 1024,
        "growth_mb": (peak - before) / 1024,
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure(int(sys.argv[2]))))
        return
    depths = [int(a) for a in sys.argv[1:]] or list(DEPTHS)
    environment = dict(os.environ, POLICY_ENGINE_CACHE="off")
    print("| depth | load (s) | decide (ms) | check (s) | all three (s) | peak RSS (MB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for depth in depths:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(depth)],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        f = json.loads(out.stdout)
        total = f["load"] + f["decide"] + f["check"]
        print(
            f"| {depth:,} | {f['load']:.2f} | {f['decide'] * 1000:.1f} | {f['check']:.2f} "
            f"| {total:.2f} | {f['rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
