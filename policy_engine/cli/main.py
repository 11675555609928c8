"""The ``policy-engine`` command: a thin shell over the library API. This module owns the entry
point and the argument parser, assembled from each command module's own subparser.

Exit codes: ``decide``/``explain`` 0 allow, 1 deny, 2 error; ``check`` 0 clean, 1 errors, 2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..language.errors import Diagnostic, PolicyError
from .checks import (
    add_check_parser,
    add_diff_parser,
    add_test_parser,
    run_check,
    run_diff,
    run_test,
)
from .conforms import add_conforms_parser, run_conforms
from .coverage import add_coverage_parser, run_coverage
from .decide import add_decide_parsers, run_decide
from .fmt import add_fmt_parser, run_fmt
from .log import add_log_parser, run_log
from .lsp import add_lsp_parser, run_lsp
from .serve import add_serve_parser, run_serve
from .traceability import add_matrix_parser, add_register_parser, run_matrix, run_register
from .usage import EXIT_ERROR, UsageError
from .workbench import add_workbench_parser, run_workbench


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policy-engine",
        description="Privacy disclosure decisions from policy rule files.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_decide_parsers(commands)
    add_check_parser(commands)
    add_diff_parser(commands)
    add_conforms_parser(commands)
    add_test_parser(commands)
    add_fmt_parser(commands)
    add_coverage_parser(commands)
    add_matrix_parser(commands)
    add_register_parser(commands)
    add_serve_parser(commands)
    add_log_parser(commands)
    add_workbench_parser(commands)
    add_lsp_parser(commands)
    return parser


def _run(args: argparse.Namespace) -> int:
    """Run the command ``args`` names."""
    if args.command == "fmt":
        return run_fmt(args)
    if args.command == "check":
        return run_check(args)
    if args.command == "diff":
        return run_diff(args)
    if args.command == "conforms":
        return run_conforms(args)
    if args.command == "test":
        return run_test(args)
    if args.command == "serve":
        return run_serve(args)
    if args.command == "log":
        return run_log(args)
    if args.command == "coverage":
        return run_coverage(args)
    if args.command == "matrix":
        return run_matrix(args)
    if args.command == "register":
        return run_register(args)
    if args.command == "workbench":
        return run_workbench(args)
    if args.command == "lsp":
        return run_lsp(args)
    return run_decide(args, explain=args.command == "explain")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
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
