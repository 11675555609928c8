"""The context the service decides a request with: the request's own, plus what the service
supplies for the keys the request leaves out, each named in the response's ``context_sources``
and recorded in the decision log with the request (so a logged decision replays exactly):

- the key the policy marks ``from consent ledger``: the subject's consented purposes, when the
  request names a ``subject``;
- the key the policy marks ``is now``: the service's clock at the call, the instant itself for
  an ``instant`` key, today's date in the configured time zone (``time_zone``, UTC by default)
  for a ``date`` key.

A key the request gives, flat (``"record.author"``) or inside nested objects, is the request's,
even ``null`` (which leaves it unknown, as in the library).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .loaded_policy import LoadedPolicy
from .models import DecisionRequest

REQUEST = "request"
CONSENT_LEDGER = "consent-ledger"
SERVICE_CLOCK = "service-clock"


def gives(context: Mapping[str, Any] | None, key: str) -> bool:
    """Whether the request's context gives ``key``, flat or inside nested objects."""
    if context is None:
        return False
    if key in context:
        return True
    head, _, rest = key.partition(".")
    inner = context.get(head)
    return bool(rest) and isinstance(inner, Mapping) and gives(inner, rest)


def clock_value(loaded: LoadedPolicy, moment: str, zone: ZoneInfo) -> str:
    """What the ``is now`` key holds at ``moment`` (the call's time, RFC 3339 in UTC)."""
    if not loaded.now_is_date:
        return moment
    return datetime.fromisoformat(moment).astimezone(zone).date().isoformat()


def supplied_context(
    request: DecisionRequest,
    loaded: LoadedPolicy,
    consents: Callable[[str], list[str]],
    now: str | None,
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The request's context with the ledger's and the clock's keys filled in where it leaves
    them out, and where each filled or marked key came from. ``consents`` reads a subject's
    consented purposes; ``now`` is the ``is now`` key's value at this call (None: no such key)."""
    context = request.context
    sources: dict[str, str] = {}
    key = loaded.consent_key
    if key is not None:
        if gives(context, key):
            sources[key] = REQUEST
        elif request.subject is not None:
            context = {**(context or {}), key: consents(request.subject)}
            sources[key] = CONSENT_LEDGER
    clock = loaded.now_key
    if clock is not None and now is not None:
        if gives(context, clock):
            sources[clock] = REQUEST
        else:
            context = {**(context or {}), clock: now}
            sources[clock] = SERVICE_CLOCK
    return context, sources
