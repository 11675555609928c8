"""Batch decisions for the command line: JSON lines in, JSON lines out, streaming."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import IO, Any

from ..api import Policy
from ..engine.context import ExactFloat
from ..language.errors import PolicyError

PROGRESS_MIN_BYTES = 1 << 20
"""Show progress on a terminal only for inputs at least this large (or of unknown size)."""


def _error(line: int, code: str, message: str, help: str | None = None) -> str:
    return json.dumps(
        {"line": line, "error": {"code": code, "message": message, "help": help}},
        ensure_ascii=False,
    )


def decide_line(policy: Policy, number: int, text: str) -> tuple[str, bool]:
    """The output line for one input line, and whether it was decided."""
    try:
        request: Any = json.loads(text, parse_float=ExactFloat)  # decimals read as written
    except json.JSONDecodeError as exc:
        return _error(number, "bad-json", f"not valid JSON: {exc.msg} at column {exc.colno}"), False
    except ValueError:  # Python reads no integer of over 4,300 digits
        return _error(number, "bad-json", "not valid JSON here: a number is too long"), False
    if not isinstance(request, dict):
        return _error(number, "bad-request", "each line must be a JSON object"), False
    unknown = set(request) - {"party", "data", "purpose", "context"}
    absent = [k for k in ("party", "data", "purpose") if k not in request]
    if unknown or absent:
        what = (
            f"unknown field `{sorted(unknown)[0]}`" if unknown else f"missing field `{absent[0]}`"
        )
        return _error(
            number, "bad-request", what, "a request has `party`, `data`, `purpose`, `context`"
        ), False
    try:
        decision = policy.decide(
            request["party"], request["data"], request["purpose"], request.get("context")
        )
    except PolicyError as exc:
        first = exc.diagnostics[0]
        message = "; ".join(d.message for d in exc.diagnostics)
        return _error(number, first.code, message, first.help), False
    return json.dumps(decision.model_dump(), ensure_ascii=False), True


def run_batch(policy: Policy, path: str, out: IO[str], err: IO[str]) -> int:
    source: IO[str]
    if path == "-":
        source, size = sys.stdin, None
    else:
        try:
            source = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
            size = os.fstat(source.fileno()).st_size
        except OSError as exc:
            print(f"error: cannot read `{path}`: {exc.strerror}", file=err)
            return 2
    show = err.isatty() and (size is None or size >= PROGRESS_MIN_BYTES)
    failures = 0
    done = 0
    started = last = time.monotonic()
    read = 0
    try:
        for number, text in enumerate(source, start=1):
            read += len(text)
            if not text.strip():
                continue
            line, ok = decide_line(policy, number, text)
            out.write(line + "\n")
            done += 1
            failures += not ok
            if show and done % 1000 == 0:
                now = time.monotonic()
                if now - last >= 0.2:
                    last = now
                    rate = done / max(now - started, 1e-9)
                    share = f" ({100 * read / size:.0f}%)" if size else ""
                    err.write(f"\rdecided {done:,} requests{share}, {rate:,.0f}/s")
                    err.flush()
    finally:
        if source is not sys.stdin:
            source.close()
    if show:
        elapsed = max(time.monotonic() - started, 1e-9)
        err.write(f"\rdecided {done:,} requests in {elapsed:.1f}s, {failures} errors\n")
    return 2 if failures else 0
