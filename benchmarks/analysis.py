"""Figures for the CI tooling: ``check`` and ``diff`` on PLANISO, on policies built to be hard
for an analysis that enumerates every combination of classes, on a generated policy of 1,000
rules and on a generated policy shaped like a real regulation; ``conforms`` of PLANISO to
Québec's Act (``rules/planiso-law25`` against the package ``law25``), and the matrix and register of
that same policy (PLANISO placed under the Act: 53,540 cells). Each figure is the median wall time
of three runs of the real command in a fresh process (interpreter start included), the median
processor time (user + system: what the command itself cost, on a machine other work may share)
and the largest peak memory (RSS) of those runs.

    python benchmarks/analysis.py            # prints a markdown table
    python benchmarks/analysis.py conforms   # only the cases whose name has that word

The targets are those of the analysis issue: each case's seconds and 500 MB of peak memory.
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
PLANISO_LAW25 = ROOT / "rules" / "planiso-law25"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from analysis_policies import (  # noqa: E402
    authorization,
    booleans,
    diff_in_one_cell,
    large,
    purposes_set,
    regulation,
)

MEMORY_TARGET_MB = 500
RUNS = 3


def run(command: list[str]) -> tuple[float, float, float, int]:
    """Wall seconds, processor seconds, peak RSS in MB and exit code of one run of ``command``."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def measure(command: list[str]) -> tuple[float, float, float, set[int]]:
    runs = [run(command) for _ in range(RUNS)]
    return (
        statistics.median(r[0] for r in runs),
        statistics.median(r[1] for r in runs),
        max(r[2] for r in runs),
        {r[3] for r in runs},
    )


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def cases(folder: Path) -> list[tuple[str, list[str], float]]:
    """(what, command, target seconds)."""
    cli = [sys.executable, "-m", "policy_engine"]
    changed = folder / "planiso"
    shutil.copytree(PLANISO, changed)
    access = changed / "access.policy"
    access.write_text(
        access.read_text().replace(
            "delivery_partners to use postal_address",
            "delivery_partners to use postal_address, phone_number",
        )
    )
    old12, new12 = diff_in_one_cell(12)
    big_old, big_new = large()
    reg_old, reg_new = regulation()
    prove = (
        "import sys, policy_engine;"
        "from policy_engine.analysis.findings import invariant_diagnostics;"
        "p = policy_engine.load_policy(sys.argv[1]);"
        "found, results = invariant_diagnostics(p.compiled, sys.argv[1]);"
        "sys.exit(1 if found or len(results) != 10 else 0)"
    )

    def one(name: str, text: str) -> str:
        return write(folder, name, text)

    check, diff = [*cli, "check"], [*cli, "diff"]
    return [
        ("PLANISO `check`", [*check, str(PLANISO)], 1.0),
        ("PLANISO `diff` against a changed copy", [*diff, str(PLANISO), str(changed)], 1.0),
        (
            "PLANISO `conforms` to Québec's Act (`rules/planiso-law25 --to law25`)",
            [*cli, "conforms", str(PLANISO_LAW25), "--to", "law25"],
            5.0,
        ),
        (
            "PLANISO under Québec's Act: `matrix rules/planiso-law25` (53,540 cells)",
            [*cli, "matrix", str(PLANISO_LAW25)],
            30.0,
        ),
        (
            "PLANISO under Québec's Act: `register rules/planiso-law25`",
            [*cli, "register", str(PLANISO_LAW25)],
            30.0,
        ),
        (
            "`check`: one rule reading 14 booleans, an invariant over it",
            [*check, one("b14.policy", booleans(14))],
            2.0,
        ),
        ("`check`: one rule reading 24 booleans", [*check, one("b24.policy", booleans(24))], 5.0),
        (
            "`check`: a set-of-purposes key tested against 40 purposes",
            [*check, one("set40.policy", purposes_set(40))],
            2.0,
        ),
        (
            "`check`: three `set of` keys in one rule, 60-term vocabulary",
            [*check, one("auth.policy", authorization(20))],
            5.0,
        ),
        (
            "`diff`: 12 rules in one cell",
            [*diff, one("d12a.policy", old12), one("d12b.policy", new12)],
            5.0,
        ),
        (
            "1,000 rules: prove 10 invariants",
            [sys.executable, "-c", prove, one("big.policy", big_old)],
            10.0,
        ),
        (
            "1,000 rules: `diff`",
            [*diff, one("big_old.policy", big_old), one("big_new.policy", big_new)],
            10.0,
        ),
        (
            "regulation-shaped (80 rules, 8 invariants, 17 keys): `check`",
            [*check, one("reg.policy", reg_old)],
            5.0,
        ),
        (
            "regulation-shaped: `diff` against a changed copy",
            [*diff, one("reg_old.policy", reg_old), one("reg_new.policy", reg_new)],
            5.0,
        ),
    ]


def main() -> None:
    wanted = sys.argv[1:]
    print("| what | seconds (median of 3) | processor s | peak MB | exit | target |")
    print("|---|---:|---:|---:|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for what, command, target in cases(Path(tmp)):
            if wanted and not any(word in what for word in wanted):
                continue
            seconds, cpu, peak, codes = measure(command)
            undecided = 3 in codes
            met = seconds <= target and peak <= MEMORY_TARGET_MB and not undecided
            verdict = f"≤ {target:g} s, ≤ {MEMORY_TARGET_MB} MB " + ("✓" if met else "✗")
            exits = ", ".join(str(c) for c in sorted(codes))
            if undecided:
                exits += " (undecided: budget)"
            print(
                f"| {what} | {seconds:.2f} | {cpu:.2f} | {peak:.0f} | {exits} | {verdict} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
