"""``log disclosures``: to whom a subject's information was communicated, from the decision log
(every allowed decision for the subject, by recipient). Reads the database, never writes it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .usage import UsageError

if TYPE_CHECKING:
    from ..service.log_mac import LogKey

FORMATS = ("json", "csv", "markdown")


def add_disclosures_parser(
    log_commands: argparse._SubParsersAction[argparse.ArgumentParser], db_help: str, key_help: str
) -> None:
    found = log_commands.add_parser(
        "disclosures",
        help="every allowed decision logged for a subject, grouped by recipient party "
        "(Law 25 s. 27, GDPR Art. 15(1)(c))",
    )
    found.add_argument("--db", metavar="URL", help=db_help)
    found.add_argument("--subject", required=True, help="the person the information is about")
    found.add_argument("--since", metavar="INSTANT", help="ISO 8601, UTC when naive")
    found.add_argument("--until", metavar="INSTANT", help="ISO 8601, UTC when naive")
    found.add_argument("--format", choices=FORMATS, default="json")
    found.add_argument("--config", metavar="FILE", help=key_help)


def _instant(raw: str | None, name: str) -> str | None:
    from ..service.storage import format_time

    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError(f"--{name} must be an ISO 8601 instant, got `{raw}`") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_time(moment)


def render_disclosures(
    args: argparse.Namespace, rows: Sequence[Sequence[Any]], key: LogKey | None
) -> str:
    """The report of ``rows`` (the subject's allowed decisions) in ``args.format``."""
    from ..service.disclosures import (
        checked_entries,
        disclosure_report,
        disclosures_csv,
        disclosures_markdown,
    )

    entries = checked_entries(rows, key)
    report = disclosure_report(args.subject, entries, args.since, args.until)
    if args.format == "csv":
        return disclosures_csv(report)
    if args.format == "markdown":
        return disclosures_markdown(report)
    return report.model_dump_json(indent=2) + "\n"


def bounds(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """``--since`` and ``--until`` as stored instants (a usage error when not ISO 8601)."""
    args.since = _instant(args.since, "since")
    args.until = _instant(args.until, "until")
    return args.since, args.until
