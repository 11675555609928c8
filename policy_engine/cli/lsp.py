"""The ``lsp`` command: the language server editors start (``editors/vscode/`` does), speaking
the Language Server Protocol over standard input and output (the ``lsp`` extra: pygls)."""

from __future__ import annotations

import argparse
import logging
import sys

from .checks import add_budget_arguments, budget_of
from .usage import UsageError


def add_lsp_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lsp = commands.add_parser(
        "lsp",
        help="the language server for editors (diagnostics as you type, hover, go to "
        "definition, completion, formatting), over standard input and output (needs the lsp "
        "extra)",
    )
    lsp.add_argument(
        "--stdio", action="store_true", help="speak over standard input and output (the default)"
    )
    lsp.add_argument(
        "--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug")
    )
    add_budget_arguments(lsp)


def run_lsp(args: argparse.Namespace) -> int:
    """Serve one editor until it says exit; the log goes to standard error."""
    try:
        from ..lsp.server import serve
    except ImportError as exc:
        raise UsageError(
            f"`lsp` needs the lsp extra ({exc.name} is not installed): "
            "pip install 'policy-engine[lsp]'"
        ) from None
    budget = budget_of(args)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    serve(budget)
    return 0
