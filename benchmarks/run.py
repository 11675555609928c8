"""The "fast decisions" benchmark: policy-engine against Cedar, Casbin and OPA, and two baselines.

    python benchmarks/run.py [--sizes 10,100,1000,10000] [--requests N] [--quick]

For each policy size it generates the synthetic policy (``generate.py``) and its encodings
(``engines.py``), then

1. checks that every available engine gives policy-engine's effect on the request pool (aborting
   loudly at the first disagreement);
2. measures each engine in its own fresh subprocess, engines interleaved round by round: load
   time, single-decision latency (median, p99), batch throughput, peak RSS growth;
3. times policy-engine loading the same rule file in two successive processes (a compiled cache,
   if the engine keeps one, shows up in the second).

It writes ``benchmarks/RESULTS.md`` and ``benchmarks/results.json`` and prints the tables. This is a
figure-printing program, not a test: it never fails on a number, only on a wrong answer.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from engines import ENGINES, Engine
from generate import generate

HERE = Path(__file__).resolve().parent
UNAVAILABLE = 3  # a worker's exit status when its engine cannot be imported or loaded
MIB = 1024 * 1024


# ==== worker side: one engine, one size, in a fresh process =====================================


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _current_rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _read_inputs(folder: Path, engine: Engine) -> tuple[dict[str, str], list[dict[str, Any]]]:
    sources = {p.name: p.read_text(encoding="utf-8") for p in (folder / engine.name).iterdir()}
    requests = json.loads((folder / "requests.json").read_text(encoding="utf-8"))
    return sources, requests


def _plain(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: r[k] for k in ("party", "data", "purpose", "context")} for r in requests]


def _percentile(sorted_values: list[int], q: float) -> int:
    index = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 1)) - 1))
    return sorted_values[index]


def _timer_overhead_ns() -> int:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(20_000):
        t0 = clock()
        t1 = clock()
        samples.append(t1 - t0)
    return int(statistics.median(samples))


def _estimate_ns(call: Any, natives: list[tuple[Any, ...]], count: int = 5) -> float:
    """Steady cost of one decision: the median of a few calls, timed the second time they are
    made (the first time may pay one-off costs; a single slow call must not shrink a sample)."""
    clock = time.perf_counter_ns
    for native in natives[:count]:
        call(*native)
    times = []
    for native in natives[:count]:
        t0 = clock()
        call(*native)
        times.append(clock() - t0)
    return max(1.0, statistics.median(times))


def worker_probe(engine: Engine) -> dict[str, Any]:
    engine.probe()
    versions = {}
    for dist in engine.distributions:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return {"versions": versions}


def worker_check(engine: Engine, folder: Path, budget_s: float) -> dict[str, Any]:
    sources, requests = _read_inputs(folder, engine)
    engine.probe()
    handle = engine.load(sources)
    call = engine.call(handle)
    natives = [engine.native(handle, r) for r in requests]
    effects: list[str] = []
    deadline = time.perf_counter() + budget_s
    t0 = time.perf_counter()
    for native in natives:  # the whole pool, unless the engine is too slow for the budget
        effects.append(engine.effect(call(*native)))
        if time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - t0
    limit = len(effects)
    result: dict[str, Any] = {
        "effects": effects,
        "checked": len(effects),
        "pool": len(natives),
        "seconds": elapsed,
    }
    # The batch API must agree too (on a shorter head when single calls already took long).
    limit = limit if elapsed < budget_s / 4 else max(20, limit // 10)
    head = natives[:limit]
    batch = [engine.effect(r) for r in engine.batch(handle, _plain(requests[:limit]), head)]
    result["batch_checked"] = limit
    if batch != effects[:limit]:
        first = next(i for i, (a, b) in enumerate(zip(batch, effects, strict=False)) if a != b)
        result["batch_disagrees_at"] = first
    result["batch_api"] = _batch_api(engine, handle)
    return result


def _batch_api(engine: Engine, handle: Any) -> str:
    if engine.name == "policy-engine":
        return "decide_many" if hasattr(handle, "decide_many") else "loop over decide"
    return {
        "cedar": "is_authorized_batch",
        "casbin": "batch_enforce (a loop inside casbin)",
        "opa": "loop over eval_document (no batch API)",
    }.get(engine.name, "loop")


def worker_measure(
    engine: Engine, folder: Path, latency_budget_s: float, batch_budget_s: float, max_latency: int
) -> dict[str, Any]:
    clock = time.perf_counter_ns
    sources, requests = _read_inputs(folder, engine)
    plain = _plain(requests)
    engine.probe()  # imports and native libraries are loaded before the baseline
    overhead = _timer_overhead_ns()
    gc.collect()
    rss0, cur0 = _maxrss_bytes(), _current_rss_bytes()

    t0 = clock()
    handle = engine.load(sources)
    t1 = clock()
    call = engine.call(handle)
    call(*engine.native(handle, requests[0]))
    t2 = clock()
    rss1, cur1 = _maxrss_bytes(), _current_rss_bytes()

    # The same load again in this process: what is left once one-off process costs are paid.
    r0 = clock()
    again = engine.load(sources)
    engine.call(again)(*engine.native(again, requests[0]))
    reload_ns = clock() - r0
    del again
    gc.collect()

    natives = [engine.native(handle, r) for r in requests]
    estimate = _estimate_ns(call, natives)

    # Latency: one warm-up pass over the sample (timed too: "first pass"), then the timed pass.
    # Only a peer is ever sampled: policy-engine and the baselines always do the whole pool.
    capped = engine.kind == "peer"
    n_latency = min(len(natives), max_latency)
    if capped and 2 * estimate * n_latency > latency_budget_s * 1e9:
        n_latency = max(20, int(latency_budget_s * 1e9 / (2 * estimate)))
    sample = natives[:n_latency]
    first_pass = []
    for native in sample:
        a = clock()
        call(*native)
        b = clock()
        first_pass.append(b - a)
    timings = []
    for native in sample:
        a = clock()
        call(*native)
        b = clock()
        timings.append(b - a)
    first_pass.sort()
    timings.sort()

    # Batch throughput over the pool (or its head when one pass would blow the budget).
    n_batch = len(natives)
    if capped and estimate * n_batch > batch_budget_s * 1e9:
        n_batch = max(20, int(batch_budget_s * 1e9 / estimate))
    batch_requests, batch_natives = plain[:n_batch], natives[:n_batch]
    repeats, elapsed = 0, 0
    enough, budget = min(1e9, batch_budget_s * 1e9 / 4), batch_budget_s * 1e9
    b0 = clock()
    while True:  # repeat for at least `enough` ns, never past the budget
        engine.batch(handle, batch_requests, batch_natives)
        repeats += 1
        elapsed = clock() - b0
        if elapsed >= enough or elapsed + elapsed / repeats > budget:
            break
    rss2 = _maxrss_bytes()
    return {
        "load_ns": t1 - t0,
        "first_decision_ns": t2 - t1,
        "ready_ns": t2 - t0,
        "reload_ns": reload_ns,
        "rss_growth_load": rss1 - rss0,
        "current_rss_growth_load": cur1 - cur0,
        "rss_growth_end": rss2 - rss0,
        "rss_before": rss0,
        "latency": {
            "n": len(timings),
            "pool": len(natives),
            "median_ns": statistics.median(timings),
            "p99_ns": _percentile(timings, 0.99),
            "mean_ns": statistics.fmean(timings),
            "min_ns": timings[0],
            "max_ns": timings[-1],
        },
        "first_pass": {
            "median_ns": statistics.median(first_pass),
            "p99_ns": _percentile(first_pass, 0.99),
        },
        "batch": {
            "n": n_batch,
            "repeats": repeats,
            "seconds": elapsed / 1e9,
            "per_s": n_batch * repeats / (elapsed / 1e9),
            "api": _batch_api(engine, handle),
        },
        "timer_overhead_ns": overhead,
    }


def worker_file_load(path: Path) -> dict[str, Any]:
    """policy-engine loading a rule file (the way a service would), in this fresh process."""
    import policy_engine

    request = json.loads((path.parent.parent / "requests.json").read_text(encoding="utf-8"))[0]
    gc.collect()
    rss0 = _maxrss_bytes()
    t0 = time.perf_counter_ns()
    policy = policy_engine.load_policy(path)
    policy.decide(request["party"], request["data"], request["purpose"], request["context"])
    t1 = time.perf_counter_ns()
    rss1 = _maxrss_bytes()
    return {"ready_ns": t1 - t0, "rss_growth": rss1 - rss0, "rules": len(policy.rules)}


def worker_main(args: argparse.Namespace) -> None:
    engine = ENGINES[args.engine] if args.engine else ENGINES["policy-engine"]
    try:
        if args.worker == "probe":
            result = worker_probe(engine)
        elif args.worker == "check":
            result = worker_check(engine, Path(args.dir), args.budget)
        elif args.worker == "measure":
            result = worker_measure(
                engine, Path(args.dir), args.latency_budget, args.batch_budget, args.max_latency
            )
        else:
            result = worker_file_load(Path(args.dir) / "synthetic.policy")
    except (ImportError, OSError) as exc:
        print(json.dumps({"unavailable": f"{type(exc).__name__}: {exc}"}))
        sys.exit(UNAVAILABLE)
    print(json.dumps(result))


# ==== parent side: orchestration, agreement, tables ==============================================


class Aborted(SystemExit):
    pass


def run_worker(
    kind: str, engine: str, folder: Path, extra: list[str], cwd: Path | None = None
) -> dict[str, Any]:
    """Run one worker in a fresh process. Its working folder and XDG cache folder are fresh too
    (unless ``cwd`` is given), so no on-disk cache of an earlier worker can warm a cold load."""
    if cwd is None:
        cwd = Path(tempfile.mkdtemp(prefix=f"{kind}-{engine}-", dir=folder))
    env = dict(os.environ, XDG_CACHE_HOME=str(cwd / ".xdg-cache"))
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind]
    command += ["--engine", engine, "--dir", str(folder), *extra]
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, check=False)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode == UNAVAILABLE:
        return {"unavailable": json.loads(last)["unavailable"]}
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        if kind == "probe":
            return {"unavailable": f"fails to load: {tail.splitlines()[-1] if tail else '?'}"}
        raise Aborted(f"\n*** {engine} worker ({kind}) failed, exit {done.returncode}:\n{tail}")
    return json.loads(last)  # type: ignore[no-any-return]


def machine_info(versions: dict[str, dict[str, str]]) -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    packages: dict[str, str] = {}
    for engine_versions in versions.values():
        packages.update(engine_versions)
    return {
        "policy_engine_source": _source_state(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": dict(sorted(packages.items())),
        "load_average_at_start": os.getloadavg(),
    }


def _source_state() -> str:
    """The commit of the checkout and whether policy_engine/ differs from it (read-only git)."""
    try:
        root = HERE.parent
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "policy_engine"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown (no git)"
    if not commit:
        return "unknown (not a git checkout)"
    return f"commit {commit}" + (", policy_engine/ modified in the working tree" if dirty else "")


def explain_disagreement(folder: Path, index: int, name: str, theirs: str, ours: str) -> str:
    request = json.loads((folder / "requests.json").read_text())[index]
    lines = [
        f"\n*** DISAGREEMENT at request #{index} ({request['aim']}-aimed): "
        f"policy-engine says {ours}, {name} says {theirs}",
        "request: " + json.dumps({k: request[k] for k in ("party", "data", "purpose", "context")}),
    ]
    try:
        import policy_engine

        policy = policy_engine.load_policy(folder / "policy-engine" / "synthetic.policy")
        decision = policy.decide(
            request["party"], request["data"], request["purpose"], request["context"]
        )
        lines.append("policy-engine's explanation:\n" + decision.explain())
    except Exception as exc:  # the explanation is a courtesy; the disagreement is the news
        lines.append(f"(could not explain: {exc!r})")
    return "\n".join(lines)


def best(values: list[float], how: str) -> float:
    return min(values) if how == "min" else max(values)


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Best of the rounds for each figure: the machine is shared, the best round is the least
    disturbed one. Latency figures all come from the round with the lowest median; memory takes
    the largest growth seen (conservative)."""
    by_median = min(rounds, key=lambda r: r["latency"]["median_ns"])
    latency = by_median["latency"]
    return {
        "ready_ms": best([r["ready_ns"] / 1e6 for r in rounds], "min"),
        "load_only_ms": best([r["load_ns"] / 1e6 for r in rounds], "min"),
        "reload_ms": best([r["reload_ns"] / 1e6 for r in rounds], "min"),
        "median_us": latency["median_ns"] / 1e3,
        "p99_us": latency["p99_ns"] / 1e3,
        "max_us": latency["max_ns"] / 1e3,
        "first_pass_median_us": by_median["first_pass"]["median_ns"] / 1e3,
        "first_pass_p99_us": by_median["first_pass"]["p99_ns"] / 1e3,
        "batch_per_s": best([r["batch"]["per_s"] for r in rounds], "max"),
        "batch_api": rounds[0]["batch"]["api"],
        "rss_load_mib": max(r["rss_growth_load"] for r in rounds) / MIB,
        "rss_end_mib": max(r["rss_growth_end"] for r in rounds) / MIB,
        "latency_n": latency["n"],
        "batch_n": min(r["batch"]["n"] for r in rounds),
        "pool": rounds[0]["latency"]["pool"],
        "timer_overhead_ns": min(r["timer_overhead_ns"] for r in rounds),
    }


def run_size(
    size: int,
    args: argparse.Namespace,
    engines: list[Engine],
    unavailable: dict[str, str],
    root: Path,
) -> dict[str, Any]:
    folder = root / f"rules-{size}"
    folder.mkdir()
    started = time.perf_counter()
    synthetic = generate(size, args.seed, args.requests)
    (folder / "requests.json").write_text(json.dumps(synthetic.requests), encoding="utf-8")
    for engine in engines:
        (folder / engine.name).mkdir()
        for name, text in engine.sources(synthetic).items():
            (folder / engine.name / name).write_text(text, encoding="utf-8")
    stats = synthetic.stats()
    print(
        f"\n== {size} rules: {stats['allow_rules']} allow, {stats['deny_rules']} deny "
        f"({stats['overlapping_denies']} overlapping an allow); terms {stats['terms']}; "
        f"{stats['requests']} requests {stats['aims']}",
        flush=True,
    )

    # 1. agreement with policy-engine, engine by engine
    checks: dict[str, dict[str, Any]] = {}
    reference: list[str] | None = None
    active: list[Engine] = []
    for engine in engines:
        if engine.name in unavailable:
            continue
        budget = args.check_budget if engine.kind == "peer" else 1e9
        result = run_worker("check", engine.name, folder, ["--budget", str(budget)])
        if "unavailable" in result:
            unavailable[engine.name] = result["unavailable"]
            print(f"   {engine.name}: UNAVAILABLE ({result['unavailable']})", flush=True)
            continue
        effects = result.pop("effects")
        if "batch_disagrees_at" in result:
            raise Aborted(
                f"\n*** {engine.name}: its batch API disagrees with its single decisions at "
                f"request #{result['batch_disagrees_at']}"
            )
        if reference is None:
            reference = effects
            result["allow_share"] = effects.count("allow") / len(effects)
        else:
            for i, (theirs, ours) in enumerate(zip(effects, reference, strict=False)):
                if theirs != ours:
                    raise Aborted(explain_disagreement(folder, i, engine.name, theirs, ours))
        checks[engine.name] = result
        active.append(engine)
        note = "" if result["checked"] == result["pool"] else " (time cap)"
        print(
            f"   agrees: {engine.name:<14} {result['checked']}/{result['pool']} requests"
            f"{note} in {result['seconds']:.1f}s",
            flush=True,
        )
    assert reference is not None and active and active[0].name == "policy-engine"

    # 2. measurements, interleaved: each round runs every engine once, in a rotated order
    rounds: dict[str, list[dict[str, Any]]] = {e.name: [] for e in active}
    for round_number in range(args.rounds):
        shift = round_number % len(active)
        for engine in active[shift:] + active[:shift]:
            extra = [
                "--latency-budget",
                str(args.latency_budget),
                "--batch-budget",
                str(args.batch_budget),
                "--max-latency",
                str(args.max_latency),
            ]
            result = run_worker("measure", engine.name, folder, extra)
            rounds[engine.name].append(result)
            lat = result["latency"]
            print(
                f"   round {round_number + 1}: {engine.name:<14} ready "
                f"{result['ready_ns'] / 1e6:9.1f} ms  median {lat['median_ns'] / 1e3:9.1f} µs  "
                f"p99 {lat['p99_ns'] / 1e3:9.1f} µs (n={lat['n']})  "
                f"batch {result['batch']['per_s']:12,.0f}/s  "
                f"rss +{result['rss_growth_load'] / MIB:.1f} MiB",
                flush=True,
            )

    # 3. policy-engine from a rule file, in two successive processes sharing a working folder
    cache_folder = folder / "file-load"
    cache_folder.mkdir()
    shutil.copy(folder / "policy-engine" / "synthetic.policy", cache_folder)
    before = set(os.listdir(cache_folder))
    first = run_worker("file-load", "policy-engine", cache_folder, [], cwd=cache_folder)
    created = sorted(set(os.listdir(cache_folder)) - before)
    second = run_worker("file-load", "policy-engine", cache_folder, [], cwd=cache_folder)
    file_load = {
        "first_process_ms": first["ready_ns"] / 1e6,
        "second_process_ms": second["ready_ns"] / 1e6,
        "first_process_rss_mib": first["rss_growth"] / MIB,
        "second_process_rss_mib": second["rss_growth"] / MIB,
        "created_next_to_policy": created,
    }
    print(
        f"   policy-engine load_policy(file): 1st process {file_load['first_process_ms']:.1f} ms,"
        f" 2nd process {file_load['second_process_ms']:.1f} ms; files created: {created or 'none'}",
        flush=True,
    )
    return {
        "size": size,
        "stats": stats,
        "checks": checks,
        "rounds": rounds,
        "summary": {name: summarize(r) for name, r in rounds.items()},
        "file_load": file_load,
        "seconds": time.perf_counter() - started,
    }


# ---- report ------------------------------------------------------------------------------------


def _fmt_us(v: float) -> str:
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:,.0f}"


def _fmt_ms(v: float) -> str:
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:,.0f}"


def _fmt_rate(v: float) -> str:
    return f"{v:,.0f}"


def _fmt_mib(v: float) -> str:
    return f"{v:.1f}"


METRICS = [
    (
        "ready_ms",
        "Load time, cold (ms)",
        "Source text in memory → first decision answered, in a fresh process (includes one-off "
        "process costs such as building a parser).",
        _fmt_ms,
    ),
    (
        "reload_ms",
        "Load time, again in the same process (ms)",
        "The same load repeated in the same process: one-off process costs already paid.",
        _fmt_ms,
    ),
    (
        "median_us",
        "Single decision, median latency (µs)",
        "`time.perf_counter_ns()` around each call, after one warm-up pass over the same requests.",
        _fmt_us,
    ),
    (
        "p99_us",
        "Single decision, p99 latency (µs)",
        "99th percentile of the same timings.",
        _fmt_us,
    ),
    (
        "first_pass_median_us",
        "Single decision, median latency of the first pass (µs)",
        "The warm-up pass itself: every (party, data, purpose) cell seen for the first time.",
        _fmt_us,
    ),
    (
        "batch_per_s",
        "Batch throughput (decisions/s)",
        "Decisions per second over the request pool through the engine's batch API, or a loop of "
        "single calls where it has none.",
        _fmt_rate,
    ),
    (
        "rss_load_mib",
        "Peak RSS growth at load (MiB)",
        "`ru_maxrss` after load minus before (imports and native libraries already loaded).",
        _fmt_mib,
    ),
    (
        "rss_end_mib",
        "Peak RSS growth by the end of the run (MiB)",
        "`ru_maxrss` at the end (after every decision: memos, caches) minus before load.",
        _fmt_mib,
    ),
]

SAMPLED_METRICS = {"median_us", "p99_us", "first_pass_median_us", "batch_per_s"}


def _cell(size_result: dict[str, Any], name: str, key: str, fmt: Any, notes: list[str]) -> str:
    summary = size_result["summary"].get(name)
    if summary is None:
        return "n/a"
    text = fmt(summary[key])
    if name == "precomputed" and key in {"ready_ms", "reload_ms"}:
        text += "¹"
    if key in SAMPLED_METRICS:
        n = summary["latency_n"] if key != "batch_per_s" else summary["batch_n"]
        if n < summary["pool"]:
            mark = f"†{n}"
            text += f" ({mark})"
            note = (
                f"({mark}) at {size_result['size']} rules, {name}: timed over {n} of the "
                f"{summary['pool']} requests (too slow for the whole pool within the time budget)"
            )
            if note not in notes:
                notes.append(note)
    return text


def targets(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The targets of the "fast decisions" issue against the figures measured here."""
    sizes = sorted(results["sizes"], key=int)
    rows: list[tuple[str, str, str]] = []

    def ours(size: str) -> dict[str, Any]:
        return results["sizes"][size]["summary"]["policy-engine"]  # type: ignore[no-any-return]

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "**FAIL**"

    medians = {s: ours(s)["median_us"] for s in sizes}
    rows.append(
        (
            "median ≤ 3 µs at every size (full decision object)",
            ", ".join(f"{s}: {_fmt_us(v)}" for s, v in medians.items()),
            verdict(all(v <= 3 for v in medians.values())),
        )
    )
    ratios = {}
    for s in sizes:
        peers = [
            v["median_us"]
            for name, v in results["sizes"][s]["summary"].items()
            if ENGINES[name].kind == "peer"
        ]
        if peers:
            ratios[s] = min(peers) / medians[s]
    rows.append(
        (
            "≥ 20× faster than the fastest peer (median)",
            ", ".join(f"{s}: {r:.1f}×" for s, r in ratios.items()) or "no peer available",
            verdict(bool(ratios) and all(r >= 20 for r in ratios.values())),
        )
    )
    p99s = {s: ours(s)["p99_us"] for s in sizes}
    rows.append(
        (
            "p99 ≤ 10 µs",
            ", ".join(f"{s}: {_fmt_us(v)}" for s, v in p99s.items()),
            verdict(all(v <= 10 for v in p99s.values())),
        )
    )
    if "10" in medians and "10000" in medians:
        growth = medians["10000"] / medians["10"]
        rows.append(
            ("median at 10,000 rules ≤ 2× median at 10", f"{growth:.2f}×", verdict(growth <= 2))
        )
    if "1000" in sizes:
        rate = ours("1000")["batch_per_s"]
        rows.append(
            (
                "batch ≥ 300,000 decisions/s at 1,000 rules",
                f"{_fmt_rate(rate)}/s ({ours('1000')['batch_api']})",
                verdict(rate >= 300_000),
            )
        )
    if "10000" in sizes:
        file_load = results["sizes"]["10000"]["file_load"]
        cached = file_load["second_process_ms"]
        rows.append(
            (
                "load at 10,000 rules from the compiled cache ≤ 75 ms",
                f"{_fmt_ms(cached)} ms (2nd process; "
                + (
                    "files created: " + ", ".join(file_load["created_next_to_policy"])
                    if file_load["created_next_to_policy"]
                    else "no cache file appeared next to the policy"
                )
                + ")",
                verdict(cached <= 75),
            )
        )
        cold = ours("10000")["ready_ms"]
        rows.append(
            ("load at 10,000 rules, cold ≤ 2 s", f"{_fmt_ms(cold)} ms", verdict(cold <= 2000))
        )
    biggest = sizes[-1]
    memory = ours(biggest)["rss_load_mib"]
    end = ours(biggest)["rss_end_mib"]
    cached_memory = results["sizes"][biggest]["file_load"]["second_process_rss_mib"]
    rows.append(
        (
            "memory growth ≤ 30 MiB (cold load)",
            f"{_fmt_mib(memory)} MiB at load ({biggest} rules; by the end of the run, with the "
            f"memos of every cell the pool used: {_fmt_mib(end)} MiB, not part of the target)",
            verdict(memory <= 30),
        )
    )
    rows.append(
        (
            "memory growth ≤ 30 MiB (load from the compiled cache)",
            f"{_fmt_mib(cached_memory)} MiB ({biggest} rules, 2nd process, with a first decision)",
            verdict(cached_memory <= 30),
        )
    )
    return rows


def render(results: dict[str, Any]) -> str:
    names = list(results["engines"])
    labels = {n: ENGINES[n].label for n in names}
    sizes = sorted(results["sizes"], key=int)
    out = ["# Fast decisions: benchmark results", ""]
    out.append(
        f"Generated by `{('python benchmarks/run.py ' + results['config']['argv']).strip()}` on "
        f"{results['finished']}. Seed {results['config']['seed']}, "
        f"{results['config']['requests']} requests per size, {results['config']['rounds']} "
        "interleaved round(s); each figure is the best round (memory: the largest growth). "
        "See `benchmarks/README.md` for what each figure means."
    )
    out += ["", "## Machine", ""]
    machine = results["machine"]
    out.append(f"- policy-engine source: {machine['policy_engine_source']}")
    out.append(f"- CPU: {machine['cpu']}, {machine['cores']} cores, {machine['memory']} memory")
    out.append(f"- Python {machine['python']} ({machine['implementation']}), {machine['platform']}")
    out.append(
        "- Packages: " + ", ".join(f"{k} {v}" for k, v in machine["packages"].items()) + "; "
        "OPA is the Go library inside opa-golib-python-bindings"
    )
    start = ", ".join(f"{x:.2f}" for x in machine["load_average_at_start"])
    end = ", ".join(f"{x:.2f}" for x in results["load_average_at_end"])
    out.append(
        f"- Load average at start {start}, at end {end} (a shared machine: other work ran "
        "alongside; the interleaved rounds spread that over all engines)"
    )
    out.append(
        f"- perf_counter_ns overhead (back-to-back calls): {results['timer_overhead_ns']} ns"
    )
    out.append(f"- Whole run: {results['seconds']:.0f} s")

    out += ["", "## Engines", ""]
    for name in names:
        engine = ENGINES[name]
        if name in results["unavailable"]:
            out.append(f"- **{engine.label}**: UNAVAILABLE: {results['unavailable'][name]}")
        else:
            out.append(f"- **{engine.label}**: {engine.idiom}")

    out += ["", "## Agreement with policy-engine", ""]
    out.append(
        "Effect per request compared with policy-engine's before any timing; the run aborts at "
        "the first disagreement."
    )
    out.append("")
    header = "| rules | allow share | " + " | ".join(labels[n] for n in names) + " |"
    out += [header, "|" + "---|" * (len(names) + 2)]
    for size in sizes:
        checks = results["sizes"][size]["checks"]
        row = [size, f"{checks['policy-engine']['allow_share']:.0%}"]
        for name in names:
            if name in results["unavailable"] and name not in checks:
                row.append("unavailable")
                continue
            check = checks.get(name)
            if check is None:
                row.append("n/a")
            elif check["checked"] == check["pool"]:
                row.append(f"{check['checked']}/{check['pool']} agree")
            else:
                row.append(f"{check['checked']}/{check['pool']} agree (time cap)")
        out.append("| " + " | ".join(row) + " |")

    notes: list[str] = []
    for key, title, meaning, fmt in METRICS:
        out += ["", f"## {title}", "", meaning, ""]
        out += ["| rules | " + " | ".join(labels[n] for n in names) + " |"]
        out += ["|---:|" + "---:|" * len(names)]
        for size in sizes:
            size_result = results["sizes"][size]
            cells = []
            for name in names:
                if name in results["unavailable"] and name not in size_result["summary"]:
                    cells.append("unavailable")
                else:
                    cells.append(_cell(size_result, name, key, fmt, notes))
            out.append(f"| {size} | " + " | ".join(cells) + " |")
        if key == "batch_per_s":
            apis = {
                n: results["sizes"][sizes[0]]["summary"][n]["batch_api"]
                for n in names
                if n in results["sizes"][sizes[0]]["summary"]
            }
            out += [
                "",
                "Batch API used: " + "; ".join(f"{labels[n]}: {a}" for n, a in apis.items()),
            ]

    out += ["", "## policy-engine loading a rule file in two successive processes", ""]
    out.append(
        "`policy_engine.load_policy(path)` in a fresh process, then again in a second fresh "
        "process with the same working folder: a compiled cache, if the engine keeps one, serves "
        "the second."
    )
    out += [
        "",
        "| rules | 1st process (ms) | 2nd process (ms) | 1st: peak RSS growth (MiB) "
        "| 2nd: peak RSS growth (MiB) | files created |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for size in sizes:
        fl = results["sizes"][size]["file_load"]
        created = ", ".join(fl["created_next_to_policy"]) or "none"
        out.append(
            f"| {size} | {_fmt_ms(fl['first_process_ms'])} | {_fmt_ms(fl['second_process_ms'])} "
            f"| {_fmt_mib(fl['first_process_rss_mib'])} | {_fmt_mib(fl['second_process_rss_mib'])} "
            f"| {created} |"
        )

    out += ["", "## Targets of policy-engine", ""]
    out += ["| target | measured | verdict |", "|---|---|---|"]
    for target, measured, verdict in results["targets"]:
        out.append(f"| {target} | {measured} | {verdict} |")

    out += ["", "## Notes", ""]
    out.append(
        "- ¹ The precomputed baseline's load is the precomputation of every answer of the pool "
        "(with the hand-written evaluator); it is not comparable with the engines' loads."
    )
    out.append(
        "- The baselines return only the effect; policy-engine returns its full Decision object "
        "(effect, obligations, reasons, missing keys, policy version)."
    )
    for note in notes:
        out.append(f"- {note}")
    return "\n".join(out) + "\n"


def parent_main(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    selected = [ENGINES[n] for n in ENGINES if not args.engines or n in args.engines.split(",")]
    if selected[0].name != "policy-engine":
        selected.insert(0, ENGINES["policy-engine"])
    unavailable: dict[str, str] = {}
    versions: dict[str, dict[str, str]] = {}
    root = Path(tempfile.mkdtemp(prefix="pe-bench-"))
    print(f"working folder {root}", flush=True)
    for engine in selected:
        result = run_worker("probe", engine.name, root, [])
        if "unavailable" in result:
            unavailable[engine.name] = result["unavailable"]
            print(f"{engine.label}: UNAVAILABLE: {result['unavailable']}", flush=True)
        else:
            versions[engine.name] = result["versions"]
            shown = ", ".join(f"{k} {v}" for k, v in result["versions"].items()) or "-"
            print(f"{engine.label}: available ({shown})", flush=True)
    if "policy-engine" in unavailable:
        raise Aborted(f"policy-engine itself cannot load: {unavailable['policy-engine']}")
    machine = machine_info(versions)
    results: dict[str, Any] = {
        "config": {
            "argv": " ".join(sys.argv[1:]),
            "sizes": sizes,
            "requests": args.requests,
            "seed": args.seed,
            "rounds": args.rounds,
            "check_budget_s": args.check_budget,
            "latency_budget_s": args.latency_budget,
            "batch_budget_s": args.batch_budget,
            "max_latency_sample": args.max_latency,
        },
        "machine": machine,
        "engines": {e.name: {"label": e.label, "kind": e.kind, "idiom": e.idiom} for e in selected},
        "sizes": {},
    }
    try:
        for size in sizes:
            results["sizes"][str(size)] = run_size(size, args, selected, unavailable, root)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    results["unavailable"] = unavailable
    results["load_average_at_end"] = os.getloadavg()
    results["timer_overhead_ns"] = min(
        s["summary"]["policy-engine"]["timer_overhead_ns"] for s in results["sizes"].values()
    )
    results["targets"] = targets(results)
    results["seconds"] = time.perf_counter() - started
    results["finished"] = time.strftime("%Y-%m-%d %H:%M %Z")
    markdown = render(results)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    # benchmarks/service_load.py keeps its figures in a marked section of RESULTS.md: keep it.
    results_md = out_dir / "RESULTS.md"
    previous = results_md.read_text(encoding="utf-8") if results_md.exists() else ""
    start = previous.find("<!-- service-load:start -->")
    end = previous.find("<!-- service-load:end -->")
    written = markdown
    if 0 <= start < end:
        kept = previous[start : end + len("<!-- service-load:end -->")]
        written = markdown.rstrip("\n") + "\n\n" + kept + "\n"
    results_md.write_text(written, encoding="utf-8")
    print("\n" + markdown)
    print(f"wrote {out_dir / 'RESULTS.md'} and {out_dir / 'results.json'}")


FULL_DEFAULTS: dict[str, Any] = {
    "sizes": "10,100,1000,10000",
    "requests": 4000,
    "rounds": 2,
    "check_budget": 30.0,
    "latency_budget": 6.0,
    "batch_budget": 3.0,
}
QUICK_DEFAULTS: dict[str, Any] = {
    "sizes": "10,100",
    "requests": 500,
    "rounds": 1,
    "check_budget": 10.0,
    "latency_budget": 2.0,
    "batch_budget": 1.0,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="rule counts, comma-separated (10,100,1000,10000)")
    parser.add_argument("--requests", type=int, help="request pool per size (4000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, help="interleaved measurement rounds (2)")
    parser.add_argument("--engines", default="", help="only these engines (comma-separated)")
    parser.add_argument(
        "--quick", action="store_true", help="sizes 10,100, 500 requests, one round, small budgets"
    )
    parser.add_argument("--check-budget", type=float, help="s per peer per size (30)")
    parser.add_argument("--latency-budget", type=float, help="s per measurement (6)")
    parser.add_argument("--batch-budget", type=float, help="s per measurement (3)")
    parser.add_argument("--max-latency", type=int, default=4000, help="latency sample cap")
    parser.add_argument("--out-dir", default=str(HERE), help="where RESULTS.md/results.json go")
    parser.add_argument("--keep", action="store_true", help="keep the generated working folder")
    parser.add_argument("--worker", choices=["probe", "check", "measure", "file-load"])
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--budget", type=float, default=40.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return
    # --quick changes the defaults only: options given on the command line win.
    for key, value in (QUICK_DEFAULTS if args.quick else FULL_DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    parent_main(args)


if __name__ == "__main__":
    main()
