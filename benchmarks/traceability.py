"""Figures for ``policy-engine matrix`` and ``policy-engine register``: on PLANISO, on PLANISO
with an added rule, and on the generated policy of 1,000 rules (``analysis_policies.large``: 50
parties, 200 data categories, 40 purposes: 400,000 cells). Each figure is the median of three
runs of the real command in a fresh process (interpreter start included): wall time, processor
time (user + system: what the command itself cost, on a machine other work may share) and the
largest peak memory (RSS).

    python benchmarks/traceability.py            # prints a markdown table

The targets are those of the traceability issue: PLANISO ≤ 1 s, the 1,000-rule policy ≤ 10 s.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLANISO = ROOT / "rules" / "planiso"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from analysis_policies import large  # noqa: E402

RUNS = 3

ADDED = """
rule delivery_partners_name §5.1
  "Delivery partners receive the recipient's name with the address"
  allow delivery_partners to use name for order_delivery
  when purpose in consented_purposes
"""


def run(command: list[str]) -> tuple[float, float, float, int]:
    """Wall seconds, processor seconds, peak RSS in MB and exit code of one run."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def measure(command: list[str]) -> tuple[float, float, float, set[int]]:
    run(command)  # the first run fills the compiled cache, as any later use of the policy finds it
    runs = [run(command) for _ in range(RUNS)]
    return (
        statistics.median(r[0] for r in runs),
        statistics.median(r[1] for r in runs),
        max(r[2] for r in runs),
        {r[3] for r in runs},
    )


def cases(folder: Path) -> list[tuple[str, list[str], float]]:
    cli = [sys.executable, "-m", "policy_engine"]
    copy = folder / "planiso"
    shutil.copytree(PLANISO, copy)
    (copy / "added.policy").write_text(ADDED, encoding="utf-8")
    big = folder / "large.policy"
    big.write_text(large()[0], encoding="utf-8")
    matrix, register = [*cli, "matrix"], [*cli, "register"]
    out = []
    for what, path, target in (
        ("PLANISO", PLANISO, 1.0),
        ("PLANISO + a rule", copy, 1.0),
        ("1,000 rules", big, 10.0),
    ):
        for form in ("text", "json", "csv", "markdown", "html"):
            out.append(
                (
                    f"{what}: `matrix --format {form}`",
                    [*matrix, str(path), "--format", form],
                    target,
                )
            )
        out.append((f"{what}: `matrix --prove`", [*matrix, str(path), "--prove"], target))
        out.append((f"{what}: `register`", [*register, str(path)], target))
        out.append(
            (
                f"{what}: `register --format json`",
                [*register, str(path), "--format", "json"],
                target,
            )
        )
    return out


def main() -> None:
    print("| what | wall s (median of 3) | processor s | peak MB | exit | target |")
    print("|---|---:|---:|---:|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for what, command, target in cases(Path(tmp)):
            wall, cpu, peak, codes = measure(command)
            met = wall <= target and codes == {0}
            verdict = f"≤ {target:g} s " + ("✓" if met else "✗")
            exits = ", ".join(str(c) for c in sorted(codes))
            print(
                f"| {what} | {wall:.2f} | {cpu:.2f} | {peak:.0f} | {exits} | {verdict} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
