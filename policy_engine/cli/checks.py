"""The commands that check a policy before it ships: ``check`` (validate, prove, lint), ``diff``
(what changes between two versions) and ``test`` (run the cases written beside the rules)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from typing import Any

from .._version import __version__
from ..analysis.budget import (
    DEFAULT_MEMORY_MB,
    DEFAULT_SECONDS,
    DEFAULT_STEPS,
    EXIT_UNDECIDED,
    Budget,
    BudgetExceeded,
)
from ..analysis.invariants import undecided_reason
from ..analysis.search_values import AnalysisDisagreement
from ..analysis.summary import CheckReport
from ..api import check_report
from ..reports.diagnostics import render_github, render_json, render_sarif, render_text
from .usage import UsageError


def add_check_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check",
        help="validate a policy, prove its invariants and lint it (exit 1 on errors)",
    )
    check.add_argument("path", help="a .policy file or a folder of them")
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text")
    check.add_argument(
        "--notes",
        action="store_true",
        help="with --format sarif or github, also report the notes (where a deny overrides an "
        "allow); text and json always show them",
    )
    check.add_argument(
        "--summary",
        action="store_true",
        help="with --format json, print an object: the diagnostics and the counts of what was "
        "found and proven (without it, the bare list of diagnostics)",
    )
    add_budget_arguments(check)


def add_diff_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    add_budget_arguments(diff)


def report_undecided(
    what: str,
    exc: BudgetExceeded | AnalysisDisagreement,
    unreported: str,
    always_help: bool = False,
) -> int:
    """An analysis that could not be decided: the reason on stderr and EXIT_UNDECIDED. The help
    line (``unreported``: what is not claimed instead) follows a budget that ran out, and with
    ``always_help`` a disagreement too."""
    print(f"error: {what} could not be decided: {undecided_reason(exc)}", file=sys.stderr)
    if always_help or isinstance(exc, BudgetExceeded):
        print(f"help: {unreported}; raise the budget", file=sys.stderr)
    return EXIT_UNDECIDED


def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--budget-seconds",
        type=_positive(float),
        metavar="S",
        help=f"time the analysis may take (default {DEFAULT_SECONDS:g}, or "
        "$POLICY_ENGINE_ANALYSIS_SECONDS); past it, exit 3 naming what is undecided",
    )
    parser.add_argument(
        "--budget-steps",
        type=_positive(int),
        metavar="N",
        help=f"search steps the analysis may take (default {DEFAULT_STEPS:,}, or "
        "$POLICY_ENGINE_ANALYSIS_STEPS)",
    )
    _add_memory_argument(parser)


def _add_memory_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--budget-memory",
        type=_positive(float),
        metavar="MB",
        help=f"memory the analysis may add, in MiB (default {DEFAULT_MEMORY_MB:g}, or "
        "$POLICY_ENGINE_ANALYSIS_MEMORY_MB)",
    )


def _positive(kind: type[float] | type[int]) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            value = kind(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {raw!r}")
        return value

    return parse


def budget_of(args: argparse.Namespace) -> Budget:
    """The budget the command line asks for, over the environment's, over the defaults."""
    try:
        budget = Budget.from_environment()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Budget(
        seconds=args.budget_seconds or budget.seconds,
        steps=args.budget_steps or budget.steps,
        memory_mb=args.budget_memory or budget.memory_mb,
    )


def _percentage(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 100, got `{raw}`")
    return value


def add_test_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def summary_line(path: str, report: CheckReport) -> str:
    """The last line of ``check``: what it found, then what it proved."""
    found = (
        f"{path}: {_plural(report.errors, 'error')}, {_plural(report.warnings, 'warning')}, "
        f"{_plural(report.notes, 'note')}"
    )
    if report.proven == report.invariants:
        return f"{found}; {_plural(report.invariants, 'invariant')} proven"
    return (
        f"{found}; {report.proven} of {_plural(report.invariants, 'invariant')} proven, "
        f"{report.broken} broken, {report.undecided} undecided"
    )


def run_check(args: argparse.Namespace) -> int:
    """``check``: print the diagnostics in the asked format, then (as text) what was proven;
    exit 1 when any is an error, 3 when the only errors are questions left undecided."""
    report = check_report(args.path, budget=budget_of(args))
    if args.strict:
        strict = tuple(
            dataclasses.replace(d, severity="error") if d.severity == "warning" else d
            for d in report.diagnostics
        )
        report = dataclasses.replace(report, diagnostics=strict)
    diagnostics = list(report.diagnostics)
    # Notes are opt-in where they become annotations or code-scanning alerts.
    shown = [d for d in diagnostics if args.notes or d.severity != "info"]
    if args.format == "json":
        print(render_json(diagnostics, report.summary() if args.summary else None))
    elif args.format == "sarif":
        print(render_sarif(shown, __version__, report.summary()))
    elif args.format == "github":
        if shown:
            print(render_github(shown))
    else:
        if diagnostics:
            print(render_text(diagnostics))
            print()
        print(summary_line(args.path, report))
    undecided = sum(d.code == "analysis-undecided" for d in diagnostics)
    if report.errors > undecided:
        return 1
    return EXIT_UNDECIDED if undecided else 0


def run_diff(args: argparse.Namespace) -> int:
    """``diff``: print the changes; exit 1 when they include what ``--fail-on`` names."""
    from ..analysis.diff import diff_policies, load_version, render_markdown
    from ..analysis.diff import render_text as render_diff_text

    old, new = load_version(args.old), load_version(args.new)
    try:
        report = diff_policies(old, new, args.old, args.new, budget_of(args))
    except (BudgetExceeded, AnalysisDisagreement) as exc:
        return report_undecided("the diff", exc, "nothing is reported as unchanged")
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


def run_test(args: argparse.Namespace) -> int:
    """``test``: run the cases, print the report (and JUnit XML); exit 1 on failures."""
    from ..testing.junit import write_junit
    from ..testing.report import render_report
    from ..testing.runner import run_tests

    report = run_tests(args.path)
    print(render_report(report, coverage=args.coverage, min_coverage=args.min_coverage))
    if args.junit is not None:
        try:
            write_junit(report, args.junit)
        except OSError as exc:
            raise UsageError(f"cannot write `{args.junit}`: {exc.strerror}") from None
    return 0 if report.ok(args.min_coverage) else 1
