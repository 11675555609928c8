"""What reading numbers exactly costs the decision endpoints: the scan of a body's bytes for a
fractional number a float would change (``service.exact_json.changed_by_float``), next to
pydantic's parse of the same body, and the exact second reading that a body holding such a
number takes instead. Prints a markdown table; not a test, and CI does not run it.

    .venv/bin/python benchmarks/service_body.py            # about 20 s
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_engine.engine.context import ExactFloat  # noqa: E402
from policy_engine.service.exact_json import changed_by_float  # noqa: E402
from policy_engine.service.models import BatchRequest, DecisionRequest  # noqa: E402


def request(number: int, risk: str | None) -> str:
    """A PLANISO request (a context of four keys), with a decimal ``risk`` written as ``risk``."""
    context = (
        '{"channel": "email", "opted_out_channels": ["sms"], '
        f'"consented_purposes": ["marketing"], "subject_age": {20 + number % 50}'
        + (f', "risk": {risk}' if risk is not None else "")
        + "}"
    )
    return (
        '{"party": "marketing_department", "data": "email", '
        f'"purpose": "marketing_communication", "subject": "org-{number % 50}", '
        f'"context": {context}}}'
    )


def risk_short(number: int) -> str:
    return f"0.{number % 97 + 1:02d}"


def risk_long(number: int) -> str:
    return f"0.{number:05d}00000000000000000000000001"


BODIES: dict[str, bytes] = {
    "1 request, no fraction": request(7, None).encode(),
    "1 request, risk 0.25": request(7, "0.25").encode(),
    "1 request, risk of 30 digits": request(7, risk_long(7)).encode(),
    "1,000 requests, no fraction": (
        '{"requests": [' + ", ".join(request(n, None) for n in range(1000)) + "]}"
    ).encode(),
    "1,000 requests, risk 0.xx": (
        '{"requests": [' + ", ".join(request(n, risk_short(n)) for n in range(1000)) + "]}"
    ).encode(),
    "1,000 requests, risk of 30 digits": (
        '{"requests": [' + ", ".join(request(n, risk_long(n)) for n in range(1000)) + "]}"
    ).encode(),
}


def timed(action: Callable[[], Any], rounds: int = 7) -> float:
    """The fastest of ``rounds`` timings of ``action`` (each repeated until it took 0.2 s), in
    µs: the machine's other work only ever adds time."""
    repeat = 1
    while True:
        start = time.perf_counter()
        for _ in range(repeat):
            action()
        if time.perf_counter() - start > 0.2:
            break
        repeat *= 2
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            action()
        samples.append((time.perf_counter() - start) / repeat * 1e6)
    return min(samples)


def exact(model: type[Any], raw: bytes) -> Any:
    return model.model_validate(json.loads(raw, parse_float=ExactFloat), from_attributes=True)


def main() -> None:
    print("| body | bytes | pydantic parse (µs) | scan (µs) | scan / parse | exact reading (µs) |")
    print("|---|---|---|---|---|---|")
    for name, raw in BODIES.items():
        model: type[Any] = BatchRequest if name.startswith("1,000") else DecisionRequest
        parse = timed(functools.partial(model.model_validate_json, raw))
        scan = timed(functools.partial(changed_by_float, raw))
        slow = timed(functools.partial(exact, model, raw))
        print(
            f"| {name} | {len(raw):,} | {parse:,.1f} | {scan:,.1f} | {scan / parse:.1%} | "
            f"{slow:,.1f} |"
        )


if __name__ == "__main__":
    main()
