"""A subject's disclosures, from the decision log: to whom their information was communicated
(Québec's Act s. 27; GDPR Art. 15(1)(c)). Every *allowed* decision logged for the subject,
grouped by recipient party, with the data, purposes, dates, policy versions, rules and
obligations; the context as it was logged (masked keys stay masked).

Each entry read is checked against its own stored hash (and its MAC, with the log key) before it
is reported: an entry changed in place is an error, never part of an answer. The whole chain is
``log verify``'s.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from .log_chain import check_row
from .log_mac import LogKey


class LogIntegrityError(Exception):
    """A logged entry does not match its own hash or MAC: it cannot be reported."""


class DisclosedDecision(BaseModel):
    id: str
    seq: int
    time: str
    data: str
    purpose: str
    obligations: list[str]
    rules: list[str]
    policy_version: str
    context: dict[str, Any]


class RecipientDisclosures(BaseModel):
    party: str
    decisions: int
    data: list[str]
    purposes: list[str]
    first: str
    last: str
    policy_versions: list[str]
    rules: list[str]
    obligations: list[str]
    entries: list[DisclosedDecision]


class DisclosureReport(BaseModel):
    subject: str
    since: str | None
    until: str | None
    decisions: int
    recipients: list[RecipientDisclosures]


def checked_entries(rows: Sequence[Sequence[Any]], key: LogKey | None) -> list[dict[str, Any]]:
    """The entries of ``rows`` (``VERIFY_COLUMNS``), each checked against its own hash and MAC."""
    entries = []
    for row in rows:
        problem = check_row(row, row[8])
        mac = row[10]
        if (
            problem is None
            and key is not None
            and mac is not None
            and not key.entry_mac_ok(row[9], mac)
        ):
            problem = "its MAC does not match (the entry was changed)"
        if problem is not None:
            raise LogIntegrityError(
                f"decision log entry {row[1]} (seq {row[0]}) cannot be reported: {problem}; "
                "run `policy-engine log verify`"
            )
        entry = json.loads(row[7])
        entry["seq"] = int(row[0])
        entries.append(entry)
    return entries


def _decision(entry: dict[str, Any]) -> DisclosedDecision:
    request = entry.get("request") or {}
    return DisclosedDecision(
        id=str(entry["id"]),
        seq=entry["seq"],
        time=str(entry["time"]),
        data=str(entry.get("data", "")),
        purpose=str(entry.get("purpose", "")),
        obligations=[str(o) for o in entry.get("obligations") or []],
        rules=[str(r) for r in entry.get("reasons") or []],
        policy_version=str(entry.get("policy_version", "")),
        context=dict(request.get("context") or {}) if isinstance(request, dict) else {},
    )


def _ordered(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def disclosure_report(
    subject: str, entries: list[dict[str, Any]], since: str | None, until: str | None
) -> DisclosureReport:
    """The allowed decisions among ``entries`` (the subject's, oldest first), by recipient."""
    by_party: dict[str, list[DisclosedDecision]] = {}
    for entry in entries:
        if entry.get("effect") == "allow":
            by_party.setdefault(str(entry["party"]), []).append(_decision(entry))
    recipients = [
        RecipientDisclosures(
            party=party,
            decisions=len(found),
            data=_ordered([d.data for d in found]),
            purposes=_ordered([d.purpose for d in found]),
            first=found[0].time,
            last=found[-1].time,
            policy_versions=_ordered([d.policy_version for d in found]),
            rules=_ordered([r for d in found for r in d.rules]),
            obligations=_ordered([o for d in found for o in d.obligations]),
            entries=found,
        )
        for party, found in sorted(by_party.items())
    ]
    return DisclosureReport(
        subject=subject,
        since=since,
        until=until,
        decisions=sum(r.decisions for r in recipients),
        recipients=recipients,
    )


def disclosures_csv(report: DisclosureReport) -> str:
    """One row per disclosed decision."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["party", "time", "data", "purpose", "obligations", "rules", "policy_version", "id"]
    )
    for recipient in report.recipients:
        for d in recipient.entries:
            writer.writerow(
                [
                    recipient.party,
                    d.time,
                    d.data,
                    d.purpose,
                    ";".join(d.obligations),
                    ";".join(d.rules),
                    d.policy_version,
                    d.id,
                ]
            )
    return out.getvalue()


def disclosures_markdown(report: DisclosureReport) -> str:
    window = f" from {report.since or 'the start'} to {report.until or 'now'}"
    out = [
        f"# Disclosures of `{report.subject}`",
        "",
        f"{report.decisions} allowed decision(s){window}, "
        f"to {len(report.recipients)} recipient(s).",
        "",
    ]
    for r in report.recipients:
        out += [
            f"## `{r.party}`: {r.decisions} decision(s), {r.first} to {r.last}",
            "",
            f"- data: {', '.join(f'`{d}`' for d in r.data)}",
            f"- purposes: {', '.join(f'`{p}`' for p in r.purposes)}",
            f"- rules: {', '.join(f'`{x}`' for x in r.rules) or 'none'}",
            f"- obligations: {', '.join(f'`{o}`' for o in r.obligations) or 'none'}",
            f"- policy versions: {', '.join(v[:12] for v in r.policy_versions)}",
            "",
        ]
    return "\n".join(out).rstrip() + "\n"
