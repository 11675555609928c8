"""``policy-engine matrix`` (who may use which data for what: always, under which condition, or
never) and ``policy-engine register`` (the register of processing activities), both computed
exactly from the rules (exit 0; 2 errors; 3 when the analysis budget ran out before the answer
was exact)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ..analysis.budget import BudgetExceeded
from ..analysis.search_values import AnalysisDisagreement
from ..engine.policy import load_policy
from ..traceability import matrix_render, matrix_tables
from ..traceability.matrix import Matrix, Selection, build_matrix
from ..traceability.register import build_register
from ..traceability.register_render import RENDERERS as REGISTER_RENDERERS
from .checks import add_budget_arguments, budget_of, report_undecided
from .usage import EXIT_ALLOW

MATRIX_RENDERERS: dict[str, Callable[[Matrix], str]] = {
    "text": matrix_render.render_text,
    "json": matrix_render.render_json,
    "csv": matrix_render.render_csv,
    "markdown": matrix_tables.render_markdown,
    "html": matrix_tables.render_html,
}


def _depth(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0, got `{raw}`")
    return value


def add_matrix_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    matrix = commands.add_parser(
        "matrix",
        help="who may use which data for which purpose: always, under which condition, or "
        "never (exact, from the rules)",
    )
    matrix.add_argument("path", help="a .policy file or a folder of them")
    for kind, plural in (
        ("party", "parties"),
        ("data", "data categories"),
        ("purpose", "purposes"),
    ):
        matrix.add_argument(
            f"--{kind}",
            action="append",
            default=[],
            metavar="TERM",
            help=f"show only this term's subtree of {plural} (repeatable)",
        )
        matrix.add_argument(
            f"--{kind}-depth",
            type=_depth,
            metavar="N",
            help=f"show {plural} down to N levels below the top; a term at level N stands for "
            "itself and everything below it",
        )
    matrix.add_argument("--format", choices=tuple(MATRIX_RENDERERS), default="text")
    _add_prove_argument(matrix)
    add_budget_arguments(matrix)


def add_register_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    register = commands.add_parser(
        "register",
        help="the register of processing activities, one per purpose, derived from the rules",
    )
    register.add_argument("path", help="a .policy file or a folder of them")
    register.add_argument(
        "--organisation",
        metavar="PARTY",
        help="the party that is the organisation: parties not at or below it are recipients "
        "outside it (default: the first party the policy declares)",
    )
    register.add_argument("--format", choices=tuple(REGISTER_RENDERERS), default="markdown")
    _add_prove_argument(register)
    add_budget_arguments(register)


def _add_prove_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prove",
        action="store_true",
        help="also prove each condition and its obligations against the policy, with one more "
        "search per cell (exact either way; slower)",
    )


def _undecided(what: str, exc: BudgetExceeded | AnalysisDisagreement) -> int:
    return report_undecided(
        f"the {what}", exc, "nothing is reported rather than a guess", always_help=True
    )


def run_matrix(args: argparse.Namespace) -> int:
    policy = load_policy(args.path)
    selection = Selection(
        args.party, args.data, args.purpose, args.party_depth, args.data_depth, args.purpose_depth
    )
    try:
        shown = MATRIX_RENDERERS[args.format](
            build_matrix(policy, args.path, selection, budget_of(args), prove=args.prove)
        )
    except (BudgetExceeded, AnalysisDisagreement) as exc:
        return _undecided("matrix", exc)
    print(shown)
    return EXIT_ALLOW


def run_register(args: argparse.Namespace) -> int:
    policy = load_policy(args.path)
    try:
        register = build_register(
            policy, args.path, args.organisation, budget_of(args), prove=args.prove
        )
    except (BudgetExceeded, AnalysisDisagreement) as exc:
        return _undecided("register", exc)
    print(REGISTER_RENDERERS[args.format](register))
    return EXIT_ALLOW
