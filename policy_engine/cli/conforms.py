"""``conforms``: does a policy stay within a package it uses? Every request its own rules allow
that the package's rules do not, and every obligation of the package its decision lacks."""

from __future__ import annotations

import argparse

from ..analysis.budget import BudgetExceeded
from ..analysis.search_values import AnalysisDisagreement
from .checks import add_budget_arguments, budget_of, report_undecided


def add_conforms_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    conforms = commands.add_parser(
        "conforms",
        help="the requests a policy allows that a package it uses does not, and the package's "
        "obligations its decisions lack (exit 1 when there is any)",
    )
    conforms.add_argument(
        "policy",
        help="a policy folder (or file) that uses the package, or git:REV:path read from the "
        "repository (its packages from the same revision)",
    )
    conforms.add_argument(
        "--to",
        required=True,
        metavar="PACKAGE",
        help="the package: its namespace in the policy (`law25`) or its folder",
    )
    conforms.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    add_budget_arguments(conforms)


def run_conforms(args: argparse.Namespace) -> int:
    """``conforms``: print the findings; exit 1 when there is any, 0 when none, 3 when the
    budget ran out (2, through ``main``, for a bad policy or package)."""
    from ..analysis.conformance_render import render_markdown, render_text
    from ..analysis.conformance_target import conforms
    from ..analysis.versions import load_version

    policy = load_version(args.policy)
    try:
        report = conforms(policy, args.to, args.policy, budget_of(args))
    except (BudgetExceeded, AnalysisDisagreement) as exc:
        return report_undecided("conformance", exc, "nothing is reported as conforming")
    if args.format == "json":
        print(report.model_dump_json(indent=2))
    elif args.format == "markdown":
        print(render_markdown(report))
    else:
        print(render_text(report))
    return 0 if report.conforms else 1
