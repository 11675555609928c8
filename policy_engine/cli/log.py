"""``log verify`` (prove the decision log unchanged: its hash chain, its entries' MACs with the
log key, and the anchors it must still reach) and ``log anchor`` (print the log's head, to keep
outside the database). Neither writes to the database."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from .log_disclosures import add_disclosures_parser, bounds, render_disclosures

if TYPE_CHECKING:
    from ..service.log_anchor import Anchor
    from ..service.log_chain import VerifyResult
    from ..service.log_mac import LogKey
    from ..service.storage import Storage

_DB_HELP = "sqlite:///FILE (default sqlite:///policy-engine.db) or postgresql://…"
_KEY_HELP = (
    "a service config file whose `log_key_file` names the log key (POLICY_ENGINE_LOG_KEY and "
    "POLICY_ENGINE_LOG_KEY_FILE in the environment take precedence)"
)


class _Failed(Exception):
    """A log command cannot go on: its message is printed, and it exits 1."""


def add_log_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    log = commands.add_parser(
        "log", help="the decision log: `log verify` proves it unchanged, `log anchor` its head"
    )
    log_commands = log.add_subparsers(dest="log_command", required=True)
    verify = log_commands.add_parser(
        "verify",
        help="exit 0 when the chain is unbroken, every MAC right and every anchor reached; "
        "1 naming the first problem",
    )
    verify.add_argument("--db", metavar="URL", help=_DB_HELP)
    verify.add_argument(
        "--anchor",
        metavar="FILE",
        action="append",
        default=[],
        help="anchors the log must still reach: a file of one or many (one JSON per line), or "
        "a folder of such files; may be given again",
    )
    verify.add_argument("--config", metavar="FILE", help=_KEY_HELP)
    anchor = log_commands.add_parser(
        "anchor",
        help="print the log's head as one line of JSON (signed with the log key when there is "
        "one), to keep outside the database",
    )
    anchor.add_argument("--db", metavar="URL", help=_DB_HELP)
    anchor.add_argument("--config", metavar="FILE", help=_KEY_HELP)
    add_disclosures_parser(log_commands, _DB_HELP, _KEY_HELP)


def run_log(args: argparse.Namespace) -> int:
    """``log verify`` (exit 0 intact, 1 not), ``log anchor`` or ``log disclosures`` (exit 0, 1
    on an error)."""
    from ..service.disclosures import LogIntegrityError
    from ..service.storage import StorageError

    try:
        if args.log_command == "anchor":
            return _anchor(args)
        if args.log_command == "disclosures":
            return _disclosures(args)
        return _verify(args)
    except (_Failed, LogIntegrityError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _log_key(args: argparse.Namespace) -> LogKey | None:
    from ..service.log_mac import LogKeyError, load_log_key

    key_file = None
    if args.config is not None:
        from ..service.config import ConfigError, load_config

        try:
            key_file = load_config(args.config).log_key_file
        except ConfigError as exc:
            raise _Failed(str(exc)) from None
    try:
        return load_log_key(key_file)
    except LogKeyError as exc:
        raise _Failed(str(exc)) from None


def _open(args: argparse.Namespace, key: LogKey | None) -> Storage:
    from ..service.storage import open_storage

    # The database must be there already: nothing is created or migrated.
    storage = open_storage(args.db, existing=True, log_key=key)
    for warning in storage.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return storage


def _anchor(args: argparse.Namespace) -> int:
    from ..service.log_anchor import make_anchor
    from ..service.storage import now_text

    key = _log_key(args)
    storage = _open(args, key)
    try:
        head = storage.log_head()
    finally:
        storage.close()
    print(json.dumps(make_anchor(head, storage.url, now_text(), key), separators=(",", ":")))
    return 0


def _disclosures(args: argparse.Namespace) -> int:
    since, until = bounds(args)
    key = _log_key(args)
    storage = _open(args, key)
    try:
        rows = storage.allowed_for_subject(args.subject, since, until)
    finally:
        storage.close()
    print(render_disclosures(args, rows, key), end="")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ..service.log_anchor import (
        AnchorError,
        ForgedAnchorError,
        check_signatures,
        read_anchors,
    )

    key = _log_key(args)
    left_out: list[str] = []
    try:
        anchors = read_anchors(args.anchor, left_out)
        signed, unsigned = check_signatures(anchors, key)
    except ForgedAnchorError as exc:
        print(f"decision log not verified: {exc}")
        return 1
    except AnchorError as exc:
        raise _Failed(str(exc)) from None
    storage = _open(args, key)
    try:
        result = storage.verify_log(anchors=anchors)
    finally:
        storage.close()
    if not result.ok:
        where = (
            f" at entry {result.entries} (seq {result.bad_seq}, id {result.bad_id})"
            if result.bad_seq is not None
            else ""
        )
        print(f"decision log broken{where}: {result.problem}")
        return 1
    _report(result, storage.url, key, anchors, (signed, unsigned))
    for warning in left_out:
        print(f"warning: {warning}")
    return 0


def _report(
    result: VerifyResult,
    url: str,
    key: LogKey | None,
    anchors: list[Anchor],
    signatures: tuple[int, int],
) -> None:
    count = result.entries
    print(
        f"decision log intact: {count} {'entry' if count == 1 else 'entries'} in {url}, "
        f"last hash {result.last_hash}"
    )
    if result.maced and key is not None:
        print(f"{result.maced} MACs checked with the log key (key id {key.key_id})")
    if result.unmaced:
        print(f"{result.unmaced} entries carry no MAC (written before a log key was configured)")
    if result.unchecked:
        print(
            f"{result.unchecked} entries carry a MAC that was not checked: no log key (set "
            "POLICY_ENGINE_LOG_KEY or POLICY_ENGINE_LOG_KEY_FILE)"
        )
    if anchors:
        signed, other = signatures
        latest = max(a.head.last_seq for a in anchors)
        print(
            f"{len(anchors)} {'anchor' if len(anchors) == 1 else 'anchors'} checked, the latest "
            f"at seq {latest}: {signed} signed and checked, {other} "
            f"{'unsigned' if key is not None else 'unsigned or not checked (no log key)'}"
        )
