"""The consent ledger's meaning: which purposes a subject consents to now, from its events.

Events apply in the order they took effect (their ``timestamp``, then the order they were
recorded). A grant adds purposes; a withdrawal removes the purposes it names and everything below
them. Withdrawing part of a granted purpose (``advertising`` out of a grant of ``marketing``)
replaces the grant by the rest of it (``marketing_communication``, ``market_research``), so that
``purpose in consented_purposes`` stays true exactly where consent still holds. Grants whose
``expires_at`` has passed are left out of the current state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..semantics.vocabulary import Hierarchy


def consent_state(
    events: Iterable[Mapping[str, Any]], purposes: Hierarchy | None, now: str
) -> dict[str, dict[str, Any]]:
    """Purpose → the grant that covers it now (``purpose``, ``granted_at``, ``expires_at``,
    ``recorded_by``, ``source``, ``seq``). ``now`` is a time in the storage's text format."""
    state: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["event"] == "grant":
            for purpose in event["purposes"]:
                state[purpose] = {
                    "purpose": purpose,
                    "granted_at": event["timestamp"],
                    "expires_at": event.get("expires_at"),
                    "recorded_by": event["recorded_by"],
                    "source": event["source"],
                    "seq": event["seq"],
                }
        else:
            for withdrawn in event["purposes"]:
                _withdraw(state, withdrawn, purposes)
    return {
        purpose: grant
        for purpose, grant in sorted(state.items())
        if grant["expires_at"] is None or grant["expires_at"] > now
    }


def _withdraw(state: dict[str, dict[str, Any]], withdrawn: str, purposes: Hierarchy | None) -> None:
    if purposes is None or withdrawn not in purposes:
        state.pop(withdrawn, None)
        return
    below = purposes.descendants[withdrawn]
    above = purposes.ancestors[withdrawn]
    for granted in list(state):
        if granted not in purposes:
            continue
        if granted in below:
            del state[granted]
        elif granted in above:
            grant = state.pop(granted)
            for rest in sorted(purposes.descendants[granted] - above - below):
                state.setdefault(rest, {**grant, "purpose": rest})
