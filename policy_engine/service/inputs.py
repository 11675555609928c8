"""Checks and conversions of what clients send beyond the request models: naive datetimes read
as UTC, text that is Unicode without NUL (:mod:`.text`), a subject's length, and a consent event
checked against the policy's purposes and the clock before it goes to the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ..language.errors import UnknownTermError, did_you_mean
from .errors import ServiceError
from .models import ConsentEventIn
from .storage import format_time
from .text import HELP, bad_text, describe

#: How far in the future a consent event's ``timestamp`` may be (the clients' clocks drift).
CLOCK_SKEW = timedelta(minutes=5)

#: The instants the ledger accepts: a consent recorded before 1970 or lapsing after 9999 is a
#: mistake (a year 999 grant used to sort after 2026 and outlive a later withdrawal).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def aware(moment: datetime) -> datetime:
    """``moment``, read as UTC when it is naive."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def check_text(value: Any, where: str = "") -> None:
    """A 400 ``bad-text`` naming the first string in ``value`` (walked through dicts, their keys
    and lists) that holds a NUL or a lone surrogate; ``where`` names ``value`` itself."""
    found = bad_text(value, where)
    if found is not None:
        raise ServiceError(400, "bad-text", describe(found), HELP)


def check_subject(subject: str) -> None:
    check_text(subject, "subject")
    if not 1 <= len(subject) <= 200:
        raise ServiceError(422, "bad-request", "a subject is 1 to 200 characters long")


def consent_row(event: ConsentEventIn, known: Any) -> dict[str, Any]:
    """The ledger row for ``event``, once its purposes are among ``known`` (the policy's purpose
    hierarchy), its timestamp not in the future, and an expiry only on a grant."""
    check_text(event.model_dump(include={"purposes", "recorded_by", "source"}))
    for purpose in event.purposes:
        if purpose not in known:
            raise UnknownTermError(
                "purpose",
                purpose,
                did_you_mean(purpose, known.terms),
                f"unknown purpose `{purpose}`",
            )
    now = datetime.now(UTC)
    moment = aware(event.timestamp) if event.timestamp else now
    for field, value in (("timestamp", moment), ("expires_at", event.expires_at)):
        if value is not None and not EARLIEST <= aware(value) <= LATEST:
            raise ServiceError(
                400,
                "timestamp-out-of-range",
                f"`{field}` {format_time(aware(value))} is outside 1970-01-01 to 9999-12-30",
                "send the instant in ISO 8601 with a four-digit year, e.g. 2026-12-06T10:00:00Z",
            )
    if moment > now + CLOCK_SKEW:
        raise ServiceError(
            422,
            "timestamp-in-future",
            f"`timestamp` {format_time(moment)} is in the future",
            "record an event when it happens; use `expires_at` for a consent that lapses",
        )
    if event.event == "withdraw" and event.expires_at is not None:
        raise ServiceError(422, "bad-request", "`expires_at` goes with a grant, not a withdraw")
    expires = format_time(aware(event.expires_at)) if event.expires_at else None
    return {
        "event": event.event,
        "purposes": list(dict.fromkeys(event.purposes)),
        "recorded_by": event.recorded_by,
        "source": event.source,
        "timestamp": format_time(moment),
        "expires_at": expires,
    }
