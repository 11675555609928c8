"""The ``decide`` and ``explain`` commands: one request decided from the command line (or, with
``decide --batch``, a file of JSON lines), printed as text or JSON; exit 0 allow, 1 deny."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..api import load_policy
from ..engine.context import ExactFloat
from ..engine.decision import Decision
from .usage import EXIT_ALLOW, EXIT_DENY, UsageError


def add_decide_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``decide`` and ``explain`` subcommands, which share their request options."""
    for name, help_text in (
        ("decide", "decide one request (exit 0 allow, 1 deny, 2 error)"),
        ("explain", "decide one request and print the full trace"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("path", help="a .policy file or a folder of them")
        sub.add_argument("--party", help="who receives or uses the data")
        sub.add_argument("--data", help="the data category")
        sub.add_argument("--purpose", help="what it is used for")
        if name == "decide":
            sub.add_argument(
                "--batch",
                metavar="FILE",
                help="decide every JSON line of FILE ('-' for standard input), one JSON line out "
                "each; exit 0 when every line was decided, 2 when any was an error",
            )
        sub.add_argument(
            "--context", help="context as a JSON object, or @file.json to read it from a file"
        )
        sub.add_argument("--format", choices=("text", "json"), default="text")


def parse_context(raw: str | None) -> dict[str, Any]:
    """The ``--context`` JSON object, given inline or as ``@file.json``."""
    if raw is None:
        return {}
    origin = "--context"
    if raw.startswith("@"):
        path = Path(raw[1:])
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read context file `{path}`: {exc.strerror}") from None
        origin = str(path)
    try:
        value = json.loads(raw, parse_float=ExactFloat)  # a decimal key reads the text as written
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{origin} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(value, dict):
        raise UsageError(f"{origin} must be a JSON object such as '{{\"subject_age\": 30}}'")
    return value


def _batch(args: argparse.Namespace) -> int:
    """One JSON line out per request line in: the decision, or ``{"line": n, "error": …}``."""
    from .batch import run_batch

    policy = load_policy(args.path)
    return run_batch(policy, args.batch, sys.stdout, sys.stderr)


def _print_text(decision: Decision) -> None:
    """``decide``'s text output: the effect, obligations, reasons, missing context, version."""
    print(decision.effect.upper())
    required = ", ".join(o.text for o in decision.obligation_details)
    print(f"obligations: {required or 'none'}")
    for entry in decision.undetermined_obligations:
        why = ", ".join([*entry.missing, *entry.unknown_attributes])
        print(f"not attached: {entry.text} of {entry.required_by} (condition unknown: {why})")
    for reason in decision.reasons:
        print(f"reason: {reason.id} ({reason.citation or 'no citation'}) at {reason.location}")
    if not decision.reasons:
        print("reason: no rule grants this request (default deny)")
    print(f"missing: {', '.join(decision.missing) or 'none'}")
    print(f"policy: {decision.policy_version}")


def run_decide(args: argparse.Namespace, explain: bool) -> int:
    """``decide`` (or ``explain`` when ``explain``): exit 0 allow, 1 deny."""
    if getattr(args, "batch", None) is not None:
        if explain:
            raise UsageError("--batch goes with `decide`, not `explain`")
        return _batch(args)
    missing = [f"--{n}" for n in ("party", "data", "purpose") if getattr(args, n) is None]
    if missing:
        raise UsageError(f"{', '.join(missing)} required (or --batch FILE)")
    policy = load_policy(args.path)
    context = parse_context(args.context)
    decision = policy.decide(args.party, args.data, args.purpose, context)
    if explain:
        if args.format == "json":
            print(decision.trace().model_dump_json(indent=2))
        else:
            print(decision.explain())
    elif args.format == "json":
        print(json.dumps(decision.model_dump(), indent=2, ensure_ascii=False))
    else:
        _print_text(decision)
    return EXIT_ALLOW if decision.allowed else EXIT_DENY
