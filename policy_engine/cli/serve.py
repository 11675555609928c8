"""The service's commands: ``serve`` (decisions over HTTP, with the ``server`` extra) and
``log verify`` (prove the decision log's hash chain unbroken)."""

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


def add_log_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    log = commands.add_parser("log", help="the decision log: `log verify` proves its hash chain")
    log_commands = log.add_subparsers(dest="log_command", required=True)
    verify = log_commands.add_parser(
        "verify", help="exit 0 when the chain is unbroken, 1 naming the first bad entry"
    )
    verify.add_argument("--db", metavar="URL", help=_DB_HELP)


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
        app = create_app(args.path, args.db, load_config(args.config))
    except (ConfigError, StorageError) as exc:
        raise UsageError(str(exc)) from None
    print(f"policy-engine serving {args.path} on http://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0


def run_log(args: argparse.Namespace) -> int:
    """``log verify``: recompute the decision log's hash chain (exit 0 intact, 1 broken)."""
    from ..service.storage import StorageError, open_storage

    try:
        # The database must be there already: verify never creates or migrates anything.
        storage = open_storage(args.db, existing=True)
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
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
