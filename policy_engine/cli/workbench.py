"""The ``workbench`` command: the web pages where compliance staff read, try and propose changes
to a policy, served on 127.0.0.1 for one person (no database; the ``server`` extra)."""

from __future__ import annotations

import argparse
import sys
import threading

from .usage import UsageError

DEFAULT_PORT = 8182
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def add_workbench_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    workbench = commands.add_parser(
        "workbench",
        help="serve the workbench (the policy beside its text, the matrix, a playground, "
        "proposed changes) on 127.0.0.1 (needs the server extra)",
    )
    workbench.add_argument("path", help="a .policy file or a folder of them")
    workbench.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    workbench.add_argument(
        "--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug")
    )


def run_workbench(args: argparse.Namespace) -> int:
    """Serve the workbench until interrupted. The policy loads first: one that does not load is
    an error before anything is served."""
    try:
        import uvicorn

        from ..workbench import FolderSource, create_workbench
    except ImportError as exc:
        raise UsageError(
            f"`workbench` needs the server extra ({exc.name} is not installed): "
            "pip install 'policy-engine[server]'"
        ) from None
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be from 1 to 65535, got {args.port}")
    app = create_workbench(FolderSource(args.path), allowed_hosts=LOCAL_HOSTS)
    # The matrix of a large policy takes seconds: start on it before anyone asks.
    threading.Thread(target=app.state.workbench.warm, daemon=True).start()
    url = f"http://127.0.0.1:{args.port}/"
    print(f"policy-engine workbench for {args.path}: {url}", file=sys.stderr)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level=args.log_level)
    return 0
