"""The result of a semantic diff: groups of requests that change the same way, the terms and
context keys that changed, and how many requests were compared and changed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

ChangeKind = Literal["widened", "narrowed", "obligations"]

Side = tuple[str, tuple[str, ...], tuple[str, ...]]
"""(effect, obligations, deciding rule ids)"""
ChangeKey = tuple[ChangeKind, Side, Side]


class ChangeGroup(BaseModel):
    kind: ChangeKind
    parties: list[str]
    data: list[str]
    purposes: list[str]
    exact: list[str]
    """Terms in the lists above that stand only for themselves, not for the terms below them."""
    when: str
    """The contexts in which the decision changes, in words."""
    before: str
    after: str
    old_rules: list[str]
    new_rules: list[str]
    old_citations: list[str] = []
    """The citations of ``old_rules``, in the same order ("" for a rule that cites nothing)."""
    new_citations: list[str] = []
    """The citations of ``new_rules``, in the same order."""
    old_obligations: list[str]
    new_obligations: list[str]
    requests: int
    """How many (cell, context class) requests of the space this group stands for."""
    example: dict[str, object]
    """One concrete request that changes: party, data, purpose and context."""


class DiffReport(BaseModel):
    old: str
    new: str
    old_version: str
    new_version: str
    groups: list[ChangeGroup]
    terms_added: dict[str, list[str]]
    terms_removed: dict[str, list[str]]
    context_changes: list[str] = []
    """Changes to the context keys callers send: added, removed, retyped, a new default, the
    consent ledger's mark (which key the decision service fills). A removed key makes every
    request that still sends it an error."""
    requests_compared: int
    requests_changed: int

    def kinds(self) -> set[str]:
        return {g.kind for g in self.groups}
