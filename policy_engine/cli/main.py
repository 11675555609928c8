"""The ``policy-engine`` command: a thin shell over the library API.

Exit codes: ``decide``/``explain`` 0 allow, 1 deny, 2 error; ``check`` 0 clean, 1 errors, 2 usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..api import check_policy, load_policy
from ..language.errors import Diagnostic, PolicyError
from ..reports.diagnostics import render_github, render_json, render_sarif, render_text

EXIT_ALLOW, EXIT_DENY, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input (exit 2)."""


def _parse_context(raw: str | None) -> dict[str, Any]:
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
        value = json.loads(raw)
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


def _decide(args: argparse.Namespace, explain: bool) -> int:
    if getattr(args, "batch", None) is not None:
        if explain:
            raise UsageError("--batch goes with `decide`, not `explain`")
        return _batch(args)
    missing = [f"--{n}" for n in ("party", "data", "purpose") if getattr(args, n) is None]
    if missing:
        raise UsageError(f"{', '.join(missing)} required (or --batch FILE)")
    policy = load_policy(args.path)
    context = _parse_context(args.context)
    decision = policy.decide(args.party, args.data, args.purpose, context)
    if explain:
        if args.format == "json":
            print(decision.trace().model_dump_json(indent=2))
        else:
            print(decision.explain())
    elif args.format == "json":
        print(json.dumps(decision.model_dump(), indent=2, ensure_ascii=False))
    else:
        print(decision.effect.upper())
        print(f"obligations: {', '.join(decision.obligations) or 'none'}")
        for reason in decision.reasons:
            print(f"reason: {reason.id} ({reason.citation or 'no citation'}) at {reason.location}")
        if not decision.reasons:
            print("reason: no rule grants this request (default deny)")
        print(f"missing: {', '.join(decision.missing) or 'none'}")
        print(f"policy: {decision.policy_version}")
    return EXIT_ALLOW if decision.allowed else EXIT_DENY


def _check(args: argparse.Namespace) -> int:
    diagnostics = check_policy(args.path)
    if args.strict:
        diagnostics = [
            dataclasses.replace(d, severity="error") if d.severity == "warning" else d
            for d in diagnostics
        ]
    count = {s: sum(d.severity == s for d in diagnostics) for s in ("error", "warning", "info")}
    if args.format == "json":
        print(render_json(diagnostics))
    elif args.format == "sarif":
        print(render_sarif(diagnostics, __version__))
    elif args.format == "github":
        if diagnostics:
            print(render_github(diagnostics))
    else:
        if diagnostics:
            print(render_text(diagnostics))
            print()
        print(
            f"{args.path}: {_plural(count['error'], 'error')}, "
            f"{_plural(count['warning'], 'warning')}, {_plural(count['info'], 'note')}"
        )
    return 1 if count["error"] else 0


def _diff(args: argparse.Namespace) -> int:
    from ..analysis.diff import diff_policies, load_version, render_markdown
    from ..analysis.diff import render_text as render_diff_text

    report = diff_policies(load_version(args.old), load_version(args.new), args.old, args.new)
    if args.format == "json":
        print(report.model_dump_json(indent=2))
    elif args.format == "markdown":
        print(render_markdown(report))
    else:
        print(render_diff_text(report))
    kinds = report.kinds()
    failing = {"widen": {"widened"}, "narrow": {"narrowed"}, "any": set(kinds)}
    if args.fail_on and kinds & failing[args.fail_on]:
        return 1
    if args.fail_on == "any" and (
        report.terms_added or report.terms_removed or report.context_changes
    ):
        return 1
    return 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _percentage(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 100, got `{raw}`")
    return value


def _test(args: argparse.Namespace) -> int:
    from ..testing.runner import render_report, run_tests, write_junit

    report = run_tests(args.path)
    print(render_report(report, coverage=args.coverage, min_coverage=args.min_coverage))
    if args.junit is not None:
        try:
            write_junit(report, args.junit)
        except OSError as exc:
            raise UsageError(f"cannot write `{args.junit}`: {exc.strerror}") from None
    return 0 if report.ok(args.min_coverage) else 1


def _fmt(args: argparse.Namespace) -> int:
    from ..language.errors import PolicySyntaxError
    from ..language.formatter import FormatError, format_source

    root = Path(args.path)
    if root.is_dir():
        files = sorted(p for p in root.rglob("*.policy") if p.is_file())
        if not files:
            raise UsageError(f"no `.policy` files in `{args.path}`")
    elif root.is_file():
        files = [root]
    else:
        raise UsageError(f"no such file or directory: `{args.path}`")
    changed = failed = 0
    for file in files:
        try:
            old = file.read_bytes().decode("utf-8")
            new = format_source(old, str(file))
        except PolicySyntaxError as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
            continue
        except (OSError, UnicodeError, FormatError) as exc:
            print(Diagnostic("fmt", f"cannot format `{file}`: {exc}").render(), file=sys.stderr)
            failed += 1
            continue
        if new == old:
            continue
        changed += 1
        if args.diff:
            sys.stdout.writelines(
                difflib.unified_diff(_diff_lines(old), _diff_lines(new), str(file), str(file))
            )
        elif args.check:
            print(f"would reformat {file}")
        else:
            file.write_bytes(new.encode("utf-8"))
            print(f"reformatted {file}")
    if not args.diff:
        same = len(files) - changed - failed
        print(
            f"{changed} file{'s' * (changed != 1)} "
            + ("would be reformatted" if args.check else "reformatted")
            + f", {same} file{'s' * (same != 1)} "
            + ("already formatted" if args.check else "left unchanged")
            + (f", {failed} could not be formatted" if failed else "")
        )
    if failed:
        return EXIT_ERROR
    return 1 if changed and (args.check or args.diff) else 0


def _diff_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` for difflib; a missing final newline is shown as diff shows it."""
    lines = [line + "\n" for line in text.split("\n")]
    last = lines.pop()[:-1]
    if last:
        lines.append(last + "\n\\ No newline at end of file\n")
    return lines


def _serve(args: argparse.Namespace) -> int:
    """Run the HTTP service until interrupted (the ``server`` extra)."""
    try:
        import uvicorn

        from ..service import create_app, load_config
        from ..service.config import ConfigError
        from ..service.storage import StorageError
    except ImportError as exc:
        raise UsageError(
            f"`serve` needs the server extra ({exc.name} is not installed): "
            "pip install 'policy-engine[server]'"
        ) from None
    try:
        app = create_app(args.path, args.db, load_config(args.config))
    except (ConfigError, StorageError) as exc:
        raise UsageError(str(exc)) from None
    print(f"policy-engine serving {args.path} on http://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0


def _log(args: argparse.Namespace) -> int:
    """``log verify``: recompute the decision log's hash chain (exit 0 intact, 1 broken)."""
    from ..service.storage import StorageError, open_storage

    try:
        storage = open_storage(args.db)
    except StorageError as exc:
        raise UsageError(str(exc)) from None
    try:
        result = storage.verify_log()
    except StorageError as exc:
        raise UsageError(str(exc)) from None
    finally:
        storage.close()
    if result.ok:
        print(
            f"decision log intact: {result.entries} "
            f"{'entry' if result.entries == 1 else 'entries'} in {storage.url}, "
            f"last hash {result.last_hash}"
        )
        return 0
    print(
        f"decision log broken at entry {result.entries} (seq {result.bad_seq}, "
        f"id {result.bad_id}): {result.problem}"
    )
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policy-engine",
        description="Privacy disclosure decisions from policy rule files.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
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
    check = commands.add_parser(
        "check",
        help="validate a policy, prove its invariants and lint it (exit 1 on errors)",
    )
    check.add_argument("path", help="a .policy file or a folder of them")
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text")
    diff = commands.add_parser(
        "diff",
        help="the requests whose decision or obligations change between two versions",
    )
    diff.add_argument("old", help="a path, or git:REV:path read from the repository")
    diff.add_argument("new", help="a path, or git:REV:path read from the repository")
    diff.add_argument(
        "--fail-on",
        choices=("widen", "narrow", "any"),
        help="exit 1 when the change widens access, narrows it, or changes anything",
    )
    diff.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    test = commands.add_parser(
        "test",
        help="run the *.tests.toml cases beside a policy (exit 0 all pass, 1 failures, 2 errors)",
    )
    test.add_argument("path", help="a .policy file or a folder of them, with their tests")
    test.add_argument(
        "--coverage",
        action="store_true",
        help="print which rules the cases exercised and which condition outcomes they saw",
    )
    test.add_argument(
        "--min-coverage",
        type=_percentage,
        metavar="N",
        help="fail (exit 1) when fewer than N percent of the rules are exercised",
    )
    test.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML")
    fmt = commands.add_parser(
        "fmt",
        help="rewrite .policy files in the canonical layout, comments kept",
    )
    fmt.add_argument("path", help="a .policy file or a folder of them")
    fmt.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a file would change (and list them)",
    )
    fmt.add_argument(
        "--diff",
        action="store_true",
        help="write nothing; print a unified diff of the changes (exit 1 if any)",
    )
    serve = commands.add_parser(
        "serve",
        help="serve decisions over HTTP with a consent ledger and a decision log "
        "(needs the server extra)",
    )
    serve.add_argument("path", help="a .policy file or a folder of them")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8181, help="port (default 8181)")
    serve.add_argument(
        "--db",
        metavar="URL",
        help="sqlite:///FILE (default sqlite:///policy-engine.db) or postgresql://…",
    )
    serve.add_argument("--config", metavar="FILE", help="a TOML file of service settings")
    serve.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug")
    )
    log = commands.add_parser("log", help="the decision log: `log verify` proves its hash chain")
    log_commands = log.add_subparsers(dest="log_command", required=True)
    verify = log_commands.add_parser(
        "verify", help="exit 0 when the chain is unbroken, 1 naming the first bad entry"
    )
    verify.add_argument(
        "--db",
        metavar="URL",
        help="sqlite:///FILE (default sqlite:///policy-engine.db) or postgresql://…",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "fmt":
            return _fmt(args)
        if args.command == "check":
            return _check(args)
        if args.command == "diff":
            return _diff(args)
        if args.command == "test":
            return _test(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "log":
            return _log(args)
        return _decide(args, explain=args.command == "explain")
    except UsageError as exc:
        print(Diagnostic("usage", str(exc)).render(), file=sys.stderr)
        return EXIT_ERROR
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader went away (`… | head`): stop quietly, and keep Python from complaining
        # about the closed pipe when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
