"""The ``serve`` command: decisions over HTTP, with the ``server`` extra. (The decision log's
commands, ``log verify`` and ``log anchor``, are in :mod:`.log`.)"""

from __future__ import annotations

import argparse
import sys

from .usage import UsageError

_DB_HELP = "sqlite:///FILE (default sqlite:///policy-engine.db) or postgresql://…"


def add_serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve decisions over HTTP with a consent ledger and a decision log "
        "(needs the server extra)",
    )
    serve.add_argument("path", help="a .policy file or a folder of them")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8181, help="port (default 8181)")
    serve.add_argument("--db", metavar="URL", help=_DB_HELP)
    serve.add_argument("--config", metavar="FILE", help="a TOML file of service settings")
    serve.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug")
    )
    serve.add_argument(
        "--anchor-path",
        metavar="PATH",
        help="keep anchors of the decision log's head here, outside the database: a folder (a "
        "file per anchor) or a file (a JSON line per anchor); the config's `anchor_path`",
    )
    serve.add_argument(
        "--anchor-interval",
        metavar="SECONDS",
        type=_seconds,
        help="seconds between anchors (0: only at shutdown); the config's `anchor_interval`, "
        "default 60",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # NaN too
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more, got {text!r}")
    return value


def run_serve(args: argparse.Namespace) -> int:
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
        config = load_config(args.config)
        flags = {"anchor_path": args.anchor_path, "anchor_interval": args.anchor_interval}
        given = {name: value for name, value in flags.items() if value is not None}
        config = config.model_copy(update=given)
        app = create_app(args.path, args.db, config)
    except (ConfigError, StorageError) as exc:
        raise UsageError(str(exc)) from None
    print(f"policy-engine serving {args.path} on http://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0
