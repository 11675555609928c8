"""What the log key costs: chaining entries with and without their HMAC-SHA256, and appending
groups of them to SQLite and PostgreSQL, with and without the key. Prints a markdown table; not
a test, and CI does not run it.

    .venv/bin/python benchmarks/log_mac.py                      # about 30 s
    .venv/bin/python benchmarks/log_mac.py --backends sqlite --entries 20000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_engine.service.log_chain import GENESIS, PlainEntry, chain_rows  # noqa: E402
from policy_engine.service.log_mac import LogKey  # noqa: E402
from policy_engine.service.storage import open_storage  # noqa: E402

DEFAULT_PG = os.environ.get("POLICY_ENGINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
KEY = LogKey(b"benchmark-log-key-0123456789abcdef")


def entry(number: int) -> PlainEntry:
    """An entry the size of the service's (planiso, a context of four keys)."""
    return PlainEntry(
        id=str(uuid.uuid4()),
        time="2026-12-06T10:00:00.000000Z",
        subject=f"org-{number % 50}",
        party="marketing_department",
        data="email",
        purpose="marketing_communication",
        request={
            "party": "marketing_department",
            "data": "email",
            "purpose": "marketing_communication",
            "context": {
                "channel": "email",
                "opted_out_channels": ["sms"],
                "consented_purposes": ["marketing"],
                "subject_age": "***",
            },
        },
        context_sources={"consented_purposes": "consent-ledger"},
        effect="allow",
        obligations=["honour_opt_out"],
        reasons=["marketing_with_consent"],
        missing=[],
        policy_version="54fd" * 16,
    )


def best_of(rounds: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(rounds))


def chaining(entries: list[PlainEntry], key: LogKey | None) -> float:
    """Microseconds per entry to chain (serialize, hash and, with a key, MAC) the entries."""
    started = time.perf_counter()
    chain_rows(GENESIS, entries, key)
    return (time.perf_counter() - started) / len(entries) * 1e6


def appending(url: str, count: int, group: int, key: LogKey | None) -> float:
    """Entries a second appended in groups of ``group`` to a fresh log at ``url``."""
    storage = open_storage(url, log_key=key)
    entries = [entry(n) for n in range(count)]
    try:
        started = time.perf_counter()
        for start in range(0, count, group):
            storage.append_decisions(entries[start : start + group])
        elapsed = time.perf_counter() - started
        result = storage.verify_log()
        assert result.ok and result.entries == count and result.maced == (count if key else 0)
    finally:
        storage.close()
    return count / elapsed


def sqlite_url(folder: str) -> Callable[[], str]:
    def fresh() -> str:
        return f"sqlite:///{Path(folder) / f'{uuid.uuid4().hex}.db'}"

    return fresh


def postgres_url(base: str, schemas: list[str]) -> Callable[[], str]:
    import psycopg

    def fresh() -> str:
        schema = f"pe_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        return f"{base}?options=-csearch_path%3D{schema}"

    return fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg", default=DEFAULT_PG)
    args = parser.parse_args()
    sample = [entry(n) for n in range(args.entries)]
    rows: list[tuple[str, Any, Any]] = []
    plain = best_of(args.rounds, lambda: chaining(sample, None))
    keyed = best_of(args.rounds, lambda: chaining(sample, KEY))
    rows.append(("chain an entry (µs)", f"{plain:.2f}", f"{keyed:.2f} (+{keyed - plain:.2f})"))
    schemas: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            fresh = sqlite_url(folder) if backend == "sqlite" else postgres_url(args.pg, schemas)
            for group in (1, 256, 1000):
                count = min(args.entries, 2000) if group == 1 else args.entries
                samples: dict[bool, list[float]] = {False: [], True: []}
                for _ in range(args.rounds):  # interleaved, so that a busy moment hits both
                    for key in (None, KEY):
                        samples[key is not None].append(appending(fresh(), count, group, key))
                rates = {keyed: statistics.median(found) for keyed, found in samples.items()}
                change = (rates[True] / rates[False] - 1) * 100
                rows.append(
                    (
                        f"{backend}, groups of {group} (entries/s)",
                        f"{rates[False]:,.0f}",
                        f"{rates[True]:,.0f} ({change:+.1f} %)",
                    )
                )
    if schemas:
        import psycopg

        with psycopg.connect(args.pg, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(f"| {args.entries:,} entries, best/median of {args.rounds} | no key | log key |")
    print("|---|---:|---:|")
    for name, without, with_key in rows:
        print(f"| {name} | {without} | {with_key} |")


if __name__ == "__main__":
    main()
