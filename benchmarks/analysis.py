"""Figures for the CI tooling: check, test and diff on PLANISO (wall time of the real command,
interpreter start included), and the invariant proof and a diff on a generated policy of 1,000
rules over 50 parties, 200 data categories and 40 purposes.

    python benchmarks/analysis.py            # prints a markdown table

Targets: each PLANISO command under 2 s wall; proof and diff at 1,000 rules under 30 s.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import policy_engine
from policy_engine.analysis.diff import diff_policies
from policy_engine.analysis.findings import invariant_diagnostics

ROOT = Path(__file__).resolve().parent.parent
PLANISO = ROOT / "rules" / "planiso"


def vocabulary() -> tuple[str, list[str], list[str], list[str]]:
    """50 parties (2 organisations, 8 teams, 40 agents), 200 data categories (5 domains, 20
    categories, 175 items) and 40 purposes (5 groups of 7 uses)."""
    lines = []
    parties, data, purposes = [], [], []
    for o in range(2):
        lines.append(f"party org{o}")
        parties.append(f"org{o}")
        for t in range(4):
            team = f"org{o}_team{t}"
            lines.append(f"party {team} under org{o}")
            parties.append(team)
            agents = [f"{team}_agent{a}" for a in range(5)]
            lines.append(f"party {', '.join(agents)} under {team}")
            parties += agents
    for d in range(5):
        lines.append(f"data dom{d}")
        data.append(f"dom{d}")
        for c in range(4):
            cat = f"dom{d}_cat{c}"
            lines.append(f"data {cat} under dom{d}")
            data.append(cat)
            items = [f"{cat}_item{i}" for i in range(9 if d * 4 + c < 15 else 8)]
            lines.append(f"data {', '.join(items)} under {cat}")
            data += items
    for g in range(5):
        lines.append(f"purpose pgroup{g}")
        purposes.append(f"pgroup{g}")
        uses = [f"pgroup{g}_use{u}" for u in range(7)]
        lines.append(f"purpose {', '.join(uses)} under pgroup{g}")
        purposes += uses
    lines += [
        "context consented_purposes: set of purpose",
        'context channel: one of "email", "sms", "phone"',
        'context opted_out_channels: list of "email", "sms", "phone"',
        "context subject_age: integer",
    ]
    assert (len(parties), len(data), len(purposes)) == (50, 200, 40)
    return "\n".join(lines), parties, data, purposes


def rules(n: int, seed: int, parties: list[str], data: list[str], purposes: list[str]) -> str:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        p = ", ".join(rng.sample(parties, rng.choice((1, 1, 2))))
        d = ", ".join(rng.sample(data, rng.choice((1, 2, 3))))
        u = ", ".join(rng.sample(purposes, rng.choice((1, 1, 2))))
        if i % 10 == 0:
            out.append(
                f"rule r{i} §1.{i % 9 + 1}\n  deny {p} from using {d} for {u}\n"
                "  when channel in opted_out_channels"
            )
        else:
            extra = f" and subject_age >= {rng.choice((14, 16, 18))}" if i % 7 == 0 else ""
            out.append(
                f"rule r{i} §2.{i % 9 + 1}\n  allow {p} to use {d} for {u}\n"
                f"  when purpose in consented_purposes{extra}"
            )
    return "\n\n".join(out)


def invariants(rng: random.Random, parties: list[str], data: list[str]) -> str:
    """Ten invariants that hold (every allow needs consent; no deny is lifted by one), each
    proven over its whole scope."""
    out = [
        "invariant consent_everywhere §1.1\n  never any party use any data\n"
        "  unless purpose in consented_purposes"
    ]
    for i in range(9):
        party = rng.choice(parties)
        out.append(
            f"invariant consent_{i} §1.{i + 2}\n  never {party} use any data\n"
            "  unless purpose in consented_purposes"
        )
    return "\n\n".join(out)


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    rows = []
    cli = [sys.executable, "-m", "policy_engine"]
    with tempfile.TemporaryDirectory() as tmp:
        changed = Path(tmp) / "planiso"
        shutil.copytree(PLANISO, changed)
        access = changed / "access.policy"
        access.write_text(
            access.read_text().replace(
                "delivery_partners to use postal_address",
                "delivery_partners to use postal_address, phone_number",
            )
        )
        for name, command in (
            ("PLANISO `check` (invariants + lint)", [*cli, "check", str(PLANISO)]),
            ("PLANISO `test` (80 cases)", [*cli, "test", str(PLANISO)]),
            ("PLANISO `diff` against a changed copy", [*cli, "diff", str(PLANISO), str(changed)]),
        ):
            best = min(timed(command) for _ in range(3))
            rows.append((name, best, 2.0))

    vocab, parties, data, purposes = vocabulary()
    rng = random.Random(7)
    body = rules(1000, 1, parties, data, purposes)
    old_text = f"{vocab}\n\n{body}\n\n{invariants(rng, parties, data)}\n"
    new_text = old_text.replace("rule r5 ", "rule r5_changed ").replace(
        "when purpose in consented_purposes and subject_age >= 14",
        "when purpose in consented_purposes",
    )
    start = time.perf_counter()
    old = policy_engine.load_policy_text(old_text, "old.policy")
    new = policy_engine.load_policy_text(new_text, "new.policy")
    load = (time.perf_counter() - start) / 2
    start = time.perf_counter()
    broken, results = invariant_diagnostics(old.compiled, "old.policy")
    proof = time.perf_counter() - start
    proven = sum(r.requests for r in results)
    start = time.perf_counter()
    report = diff_policies(old, new)
    diff = time.perf_counter() - start
    rows.append(("1,000 rules: load (parse, check, compile)", load, None))
    rows.append(
        (
            f"1,000 rules: prove 10 invariants ({proven:,} requests, {len(broken)} broken)",
            proof,
            30.0,
        )
    )
    rows.append(
        (
            f"1,000 rules: diff ({report.requests_compared:,} requests compared, "
            f"{len(report.groups)} groups)",
            diff,
            30.0,
        )
    )
    print("| what | seconds | target |")
    print("|---|---:|---:|")
    for name, seconds, target in rows:
        verdict = (
            "" if target is None else (f"< {target:g} s " + ("✓" if seconds < target else "✗"))
        )
        print(f"| {name} | {seconds:.2f} | {verdict} |")


if __name__ == "__main__":
    main()
