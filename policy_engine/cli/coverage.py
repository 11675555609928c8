"""``policy-engine coverage``: which sections of the policy's source documents its rules,
invariants, declarations and tests cite, which carry no decision and why, and which are
uncovered (exit 0; 1 below ``--min-coverage`` or when a test cites no section; 2 errors)."""

from __future__ import annotations

import argparse

from ..traceability.coverage import coverage_of
from ..traceability.coverage_render import RENDERERS
from .checks import _percentage
from .usage import EXIT_ALLOW, EXIT_DENY


def add_coverage_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    coverage = commands.add_parser(
        "coverage",
        help="show which sections of the policy's source documents the rules cover "
        "(exit 0; 1 below --min-coverage; 2 errors)",
    )
    coverage.add_argument("path", help="a .policy file or a folder of them")
    coverage.add_argument(
        "--min-coverage",
        type=_percentage,
        metavar="N",
        help="fail (exit 1) when fewer than N percent of the sections are covered",
    )
    coverage.add_argument("--format", choices=tuple(RENDERERS), default="text")


def run_coverage(args: argparse.Namespace) -> int:
    report = coverage_of(args.path)
    print(RENDERERS[args.format](report), end="")
    below = args.min_coverage is not None and report.percent + 1e-9 < args.min_coverage
    return EXIT_DENY if below or report.unresolved else EXIT_ALLOW
