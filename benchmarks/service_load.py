"""A bounded load test of the decision service (``policy-engine serve``), 127.0.0.1 only.

For each configuration (SQLite, PostgreSQL) x (decision log on, off) it starts its own server on a
free 127.0.0.1 port, drives ``POST /v1/decisions`` from a few client threads over keep-alive
``http.client`` connections (a fixed number of requests, and a time cap), then
``POST /v1/decisions/batch``, stops the server, and cleans up (SQLite: a temporary folder;
PostgreSQL: a schema of its own, dropped afterwards). It prints a markdown table and writes it,
with the machine and the targets (PASS/FAIL), to ``benchmarks/SERVICE_RESULTS.md``, and the same
report into ``benchmarks/RESULTS.md`` between ``<!-- service-load:start -->`` and
``<!-- service-load:end -->`` (``benchmarks/run.py`` keeps that section when it rewrites the file).

    .venv/bin/python benchmarks/service_load.py                   # about a minute
    .venv/bin/python benchmarks/service_load.py --requests 1000 --backends sqlite

"Without the log" is the service with ``log_decisions = false`` in its config file. The library's
``Policy.decide_many`` in-process (no HTTP, no log) is measured as well, as the floor.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLANISO = ROOT / "rules" / "planiso"
DEFAULT_OUT = Path(__file__).resolve().parent / "SERVICE_RESULTS.md"
DEFAULT_RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
# The section of RESULTS.md this script owns; benchmarks/run.py keeps it when it rewrites the file.
SECTION_START = "<!-- service-load:start -->"
SECTION_END = "<!-- service-load:end -->"
DEFAULT_PG = os.environ.get("POLICY_ENGINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

TARGET_LOGGED_RATE = 2_000.0
TARGET_P99_MS = 20.0
TARGET_BATCH_RATE = 50_000.0


# ---- the requests ----------------------------------------------------------------------------


def request_pool(size: int, seed: int) -> list[dict[str, Any]]:
    """Deterministic PLANISO requests over the whole vocabulary, each with a full context."""
    import policy_engine

    policy = policy_engine.load_policy(PLANISO)
    parties, data, purposes = (policy.terms(kind) for kind in ("party", "data", "purpose"))
    rng = random.Random(seed)
    channels = ["email", "sms", "phone"]
    pool = []
    for _ in range(size):
        pool.append(
            {
                "party": rng.choice(parties),
                "data": rng.choice(data),
                "purpose": rng.choice(purposes),
                "context": {
                    "consented_purposes": rng.sample(purposes, rng.randint(0, 4)),
                    "subject_age": rng.randint(10, 80),
                    "channel": rng.choice(channels),
                    "opted_out_channels": rng.sample(channels, rng.randint(0, 2)),
                    "cookies_accepted": rng.random() < 0.5,
                    "profiling_enabled": rng.random() < 0.3,
                    "identity_verified": rng.random() < 0.5,
                    "destination": rng.choice(["CA-QC", "CA-ON", "US", "FR"]),
                    "non_payment": rng.random() < 0.1,
                },
            }
        )
    return pool


# ---- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def start_server(workdir: Path, db_url: str, *, log_decisions: bool, max_batch: int) -> Server:
    config = workdir / "service.toml"
    config.write_text(
        f"[service]\nlog_decisions = {'true' if log_decisions else 'false'}\n"
        f"max_batch = {max_batch}\nmax_body_bytes = {64 * 1024 * 1024}\n",
        encoding="utf-8",
    )
    port = free_port()
    log = workdir / f"server-{port}.log"
    env = {**os.environ, "POLICY_ENGINE_CACHE_DIR": str(workdir / "cache")}
    command = [
        sys.executable,
        "-m",
        "policy_engine",
        "serve",
        str(PLANISO),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--db",
        db_url,
        "--config",
        str(config),
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=out)
    server = Server(process, port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited {process.returncode}:\n{log.read_text()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                return server
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server not ready in 30 s:\n{log.read_text()}")


# ---- the clients -----------------------------------------------------------------------------


@dataclass
class Run:
    sent: int = 0
    errors: int = 0
    decisions: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.decisions / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The q-th percentile of latencies, in milliseconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000


def drive(
    port: int,
    path: str,
    bodies: list[bytes],
    per_body: int,
    total: int,
    threads: int,
    time_cap: float,
) -> Run:
    """``total`` POSTs of ``bodies`` (round robin) from ``threads`` keep-alive connections,
    stopping early at ``time_cap`` seconds. ``per_body`` decisions per request."""
    run = Run()
    lock = threading.Lock()
    counter = iter(range(total))
    start_gate = threading.Barrier(threads + 1)
    deadline_box: list[float] = []
    headers = {"Content-Type": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        errors = 0
        first_error = None
        start_gate.wait()
        deadline = deadline_box[0]
        try:
            while time.perf_counter() < deadline:
                with lock:
                    index = next(counter, None)
                if index is None:
                    break
                body = bodies[index % len(bodies)]
                began = time.perf_counter()
                try:
                    conn.request("POST", path, body, headers)
                    response = conn.getresponse()
                    payload = response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as exc:
                    status, payload = 0, repr(exc).encode()
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                mine.append(time.perf_counter() - began)
                if status != 200:
                    errors += 1
                    first_error = first_error or f"{status}: {payload[:300]!r}"
        finally:
            conn.close()
            with lock:
                run.latencies.extend(mine)
                run.sent += len(mine)
                run.errors += errors
                run.first_error = run.first_error or first_error

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    began = time.perf_counter()
    deadline_box.append(began + time_cap)
    start_gate.wait()
    for thread in pool:
        thread.join()
    run.seconds = time.perf_counter() - began
    run.decisions = (run.sent - run.errors) * per_body
    return run


WRK_SCRIPT = """local bodies = {%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "/v1/decisions", {["Content-Type"] = "application/json"}, bodies[i])
end
"""


@dataclass
class WrkRun:
    rate: float
    p50: float
    p99: float
    errors: int


def wrk_run(
    port: int, bodies: list[bytes], seconds: float, connections: int, workdir: Path
) -> WrkRun:
    """``wrk`` (a C client, far lighter than Python's on a small machine) for ``seconds``."""
    script = workdir / "decisions.lua"
    # JSON strings of ASCII text are valid Lua string literals.
    script.write_text(
        WRK_SCRIPT % ", ".join(json.dumps(b.decode("ascii")) for b in bodies[:200]),
        encoding="utf-8",
    )
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script)]
    out = subprocess.run(
        [*command, f"http://127.0.0.1:{port}/v1/decisions"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    units = {"us": 1e-3, "ms": 1.0, "s": 1000.0}

    def latency(q: str) -> float:
        found = re.search(rf"^\s*{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(found.group(1)) * units[found.group(2)] if found else float("nan")

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    return WrkRun(float(rate.group(1)) if rate else 0.0, latency("50"), latency("99"), errors)


# ---- the configurations ----------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    logged: bool
    single: Run
    batch: Run
    batch_size: int
    log_rows: int | None
    wrk: WrkRun | None = None


def count_log_rows_sqlite(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM decision_log").fetchone()[0])


def measure(
    backend: str, logged: bool, args: argparse.Namespace, singles: list[bytes], batches: list[bytes]
) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix=f"pe-load-{backend}-"))
    admin = None
    schema = None
    try:
        if backend == "sqlite":
            db_path = workdir / "decisions.db"
            db_url = f"sqlite:///{db_path}"
        else:
            import psycopg

            admin = psycopg.connect(args.pg_url, autocommit=True, connect_timeout=5)
            schema = f"pe_load_{uuid.uuid4().hex[:12]}"
            admin.execute(f'CREATE SCHEMA "{schema}"')
            sep = "&" if "?" in args.pg_url else "?"
            db_url = f"{args.pg_url}{sep}options=-csearch_path%3D{schema}"
        server = start_server(workdir, db_url, log_decisions=logged, max_batch=args.batch_size)
        try:
            label = f"{backend}, log {'on' if logged else 'off'}"
            warm = min(200, args.requests)
            drive(server.port, "/v1/decisions", singles, 1, warm, args.threads, args.time_cap)
            print(f"  {label}: {args.requests} x POST /v1/decisions ...", flush=True)
            single = drive(
                server.port,
                "/v1/decisions",
                singles,
                1,
                args.requests,
                args.threads,
                args.time_cap,
            )
            print(f"  {label}: {args.batches} x POST /v1/decisions/batch ...", flush=True)
            batch = drive(
                server.port,
                "/v1/decisions/batch",
                batches,
                args.batch_size,
                args.batches,
                args.batch_threads,
                args.time_cap,
            )
            wrk = None
            if args.wrk > 0 and shutil.which("wrk"):
                print(f"  {label}: wrk for {args.wrk:g} s ...", flush=True)
                wrk = wrk_run(server.port, singles, args.wrk, args.threads, workdir)
        finally:
            server.stop()
        rows = None
        if backend == "sqlite":
            rows = count_log_rows_sqlite(db_path)
        elif admin is not None:
            rows = int(admin.execute(f'SELECT count(*) FROM "{schema}".decision_log').fetchone()[0])
        for name, run in (("single", single), ("batch", batch)):
            if run.errors:
                print(f"  {label} {name}: {run.errors} errors, first {run.first_error}")
        return Result(backend, logged, single, batch, args.batch_size, rows, wrk)
    finally:
        if admin is not None:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.close()
        shutil.rmtree(workdir, ignore_errors=True)


def library_floor(pool: list[dict[str, Any]], repeat: int) -> float:
    """Decisions per second of ``Policy.decide_many`` in-process: no HTTP, no JSON, no log."""
    import policy_engine

    policy = policy_engine.load_policy(PLANISO)
    policy.decide_many(pool)
    best = 0.0
    for _ in range(repeat):
        began = time.perf_counter()
        policy.decide_many(pool)
        best = max(best, len(pool) / (time.perf_counter() - began))
    return best


# ---- the report ------------------------------------------------------------------------------


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for name in (
        "policy_engine",
        "fastapi",
        "uvicorn",
        "httptools",
        "uvloop",
        "pydantic",
        "orjson",
        "psycopg",
        "psycopg_pool",
    ):
        try:
            from importlib.metadata import version

            versions.append(f"{name} {version(name.replace('_', '-'))}")
        except Exception:
            versions.append(f"{name} (not installed)")
    return [
        f"- CPU: {cpu}, {os.cpu_count()} logical cores (client and server share them)",
        f"- {platform.platform()}; Python {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version}",
        "- " + "; ".join(versions),
    ]


def pg_version(url: str) -> str:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])
    except Exception as exc:
        return f"unavailable ({exc})"


def mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(results: list[Result], args: argparse.Namespace, floor: float, notes: list[str]) -> str:
    lines = [
        "# The decision service under load",
        "",
        f"Written by `benchmarks/service_load.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        "(one run; figures move by ±10-20 % between runs). How they came about, and where the "
        "time goes: [docs/service-performance.md](../docs/service-performance.md).",
        "",
        *machine(),
        f"- PostgreSQL {pg_version(args.pg_url)} on 127.0.0.1 (same machine)",
        f"- One server process (`policy-engine serve rules/planiso`), {args.threads} client "
        f"threads for single decisions ({args.requests} requests after 200 warm-up), "
        f"{args.batch_threads} for batches ({args.batches} batches of {args.batch_size}); "
        "keep-alive `http.client` connections; a pool of "
        f"{args.pool} PLANISO requests, each with a full context",
        "- Latency: client-side, from sending the request to reading the whole response; "
        "p50/p99 over every request of the run",
        '- "log off": the service with `log_decisions = false` in its config file',
        "",
        "| backend | decision log | single: decisions/s | p50 ms | p99 ms | errors | "
        "batch: decisions/s | batch p50 ms | batch p99 ms | rows in log |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s, b = r.single, r.batch
        lines.append(
            f"| {r.backend} | {'on' if r.logged else 'off'} | {s.rate:,.0f} | "
            f"{s.percentile(50):.2f} | {s.percentile(99):.2f} | {s.errors + b.errors} | "
            f"{b.rate:,.0f} | {b.percentile(50):.1f} | {b.percentile(99):.1f} | "
            f"{'-' if r.log_rows is None else f'{r.log_rows:,}'} |"
        )
    with_wrk = [r for r in results if r.wrk is not None]
    if with_wrk:
        lines += [
            "",
            f"The same single decisions driven by `wrk` (C client, {args.threads} connections, "
            f"{args.wrk:g} s, the first 200 requests of the pool in turn), which leaves more of "
            "the two cores to the server than the Python client does:",
            "",
            "| backend | decision log | wrk: decisions/s | p50 ms | p99 ms | errors |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in with_wrk:
            w = r.wrk
            assert w is not None
            lines.append(
                f"| {r.backend} | {'on' if r.logged else 'off'} | {w.rate:,.0f} | "
                f"{w.p50:.2f} | {w.p99:.2f} | {w.errors} |"
            )
    lines += [
        "",
        f"In-process floor, `Policy.decide_many` over the pool (no HTTP, no log): "
        f"**{floor:,.0f} decisions/s**.",
        "",
        "## Targets",
        "",
        "| target | backend | measured | result |",
        "|---|---|---|---|",
    ]
    for r in results:
        if not r.logged:
            continue
        s = r.single
        runs = [("Python client", s.rate, s.percentile(99), s.errors)]
        if r.wrk is not None:
            runs.append(("wrk", r.wrk.rate, r.wrk.p99, r.wrk.errors))
        for client, rate, p99, errors in runs:
            lines.append(
                f"| ≥ {TARGET_LOGGED_RATE:,.0f} logged decisions/s, one process | {r.backend}, "
                f"{client} | {rate:,.0f}/s | "
                f"{mark(errors == 0 and rate >= TARGET_LOGGED_RATE)} |"
            )
            lines.append(
                f"| p99 ≤ {TARGET_P99_MS:.0f} ms (logged) | {r.backend}, {client} | "
                f"{p99:.2f} ms | {mark(errors == 0 and p99 <= TARGET_P99_MS)} |"
            )
    for r in results:
        b = r.batch
        lines.append(
            f"| batch endpoint ≥ {TARGET_BATCH_RATE:,.0f} decisions/s | {r.backend}, log "
            f"{'on' if r.logged else 'off'} | {b.rate:,.0f}/s | "
            f"{mark(b.errors == 0 and b.rate >= TARGET_BATCH_RATE)} |"
        )
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"


def write_section(path: Path, report_text: str) -> None:
    """Put the report into ``path`` (RESULTS.md) between the section markers: in place of the
    previous section when there is one, else at the end. Headings go one level down, under the
    file's own title."""
    body = "\n".join(
        "#" + line if line.startswith("#") else line for line in report_text.rstrip().splitlines()
    )
    block = f"{SECTION_START}\n{body}\n{SECTION_END}"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    start, end = old.find(SECTION_START), old.find(SECTION_END)
    if 0 <= start < end:
        new = old[:start] + block + old[end + len(SECTION_END) :]
    else:
        new = old.rstrip() + ("\n\n" if old.strip() else "") + block + "\n"
    path.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="single decisions per run")
    parser.add_argument("--threads", type=int, default=4, help="client threads (single)")
    parser.add_argument("--batches", type=int, default=100, help="batch requests per run")
    parser.add_argument("--batch-size", type=int, default=1000, help="decisions per batch")
    parser.add_argument("--batch-threads", type=int, default=2, help="client threads (batch)")
    parser.add_argument("--time-cap", type=float, default=60.0, help="seconds per phase at most")
    parser.add_argument("--pool", type=int, default=1000, help="distinct requests")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--wrk",
        type=float,
        default=10.0,
        help="seconds of `wrk` on single decisions per run, when wrk is installed (0: skip)",
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--results",
        default=str(DEFAULT_RESULTS),
        help="the RESULTS.md whose service-load section to replace ('' leaves it alone)",
    )
    args = parser.parse_args(argv)

    pool = request_pool(args.pool, args.seed)
    singles = [json.dumps(r).encode() for r in pool]
    rng = random.Random(args.seed)
    batches = [
        json.dumps({"requests": rng.sample(pool, min(args.batch_size, len(pool)))}).encode()
        if args.batch_size <= len(pool)
        else json.dumps({"requests": [rng.choice(pool) for _ in range(args.batch_size)]}).encode()
        for _ in range(4)
    ]
    results: list[Result] = []
    notes: list[str] = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        for logged in (True, False):
            try:
                results.append(measure(backend, logged, args, singles, batches))
            except Exception as exc:
                message = f"- {backend}, log {'on' if logged else 'off'}: not measured ({exc})"
                print(message, file=sys.stderr)
                notes.append(message)
    floor = library_floor(pool, 5)
    text = report(results, args, floor, notes)
    print()
    print(text)
    args.out.write_text(text, encoding="utf-8")
    print(f"written to {args.out}")
    if args.results:
        write_section(Path(args.results), text)
        print(f"and to the service-load section of {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
