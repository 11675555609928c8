"""The JSON shape of ``policy-engine matrix --format json`` (pydantic), and the words every format
uses for a cell: its condition, obligations, rules and citations.

A large matrix has hundreds of thousands of entries (50 parties × 200 data categories × 40
purposes), more than pydantic can construct one by one in seconds; the JSON is therefore written
from the text :class:`EntryMaker` makes (each verdict's fields are encoded once), in the shape of
this module's :class:`MatrixDocument` (the tests validate the documents they print against it).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from ..engine.compiler import CompiledOverride, CompiledRule
from ..engine.models import ParameterValue, json_arguments
from ..language.printer import expr_text
from .cell_conditions import words
from .matrix import Mixed, Shown
from .selection import Line
from .verdicts import Attached, CellVerdict, Status


class TermLine(BaseModel):
    """A row (party), column (data category) or purpose of the matrix."""

    term: str
    path: list[str] = Field(description="one chain from a root of the hierarchy to the term")
    parents: list[str]
    members: list[str] = Field(
        description="the terms whose requests it stands for: itself, or its whole subtree"
    )
    collapsed: bool


class ObligationEntry(BaseModel):
    obligation: str = Field(description="the obligation's name")
    parameters: dict[str, ParameterValue] = Field(
        default={},
        description="the arguments its rules give its parameters (left out when it has none)",
    )
    condition: str | None = Field(
        description="when an allowed request carries it, in words; null: every allowed request"
    )
    expression: str | None = Field(description="the same condition in the policy's language")
    rules: list[str]
    overrides: list[str] = Field(
        default=[], description="the overrides that bring it where they lift a deny"
    )


class MemberEntry(BaseModel):
    """One member cell of a mixed (collapsed) entry."""

    party: str
    data: str
    purpose: str
    status: Status
    condition: str | None
    expression: str | None
    obligations: list[ObligationEntry]
    rules: list[str]
    citations: list[str]
    overrides: list[str] = []


class MatrixEntry(BaseModel):
    """One (party, data, purpose) of the matrix; fields at their default are left out."""

    party: str
    data: str
    purpose: str
    status: Status
    condition: str | None = Field(
        default=None,
        description="for a conditional entry: allowed exactly when this holds (a test on a key "
        "the request leaves out does not hold); for a mixed one, each member's verdict",
    )
    expression: str | None = Field(
        default=None, description="the condition in the policy's language"
    )
    obligations: list[ObligationEntry] = []
    rules: list[str] = Field(
        default=[], description="the allow rules that grant, then the denies that limit"
    )
    citations: list[str] = Field(
        default=[], description="each rule's citations, in the order of `rules`"
    )
    overrides: list[str] = Field(
        default=[],
        description="the overrides some allowed request owes its allow to (each lifts a deny "
        "that would otherwise refuse it)",
    )
    mixed: bool = False
    members: list[MemberEntry] = []


class MatrixDocument(BaseModel):
    policy: str
    version: str
    parties: list[TermLine]
    data: list[TermLine]
    purposes: list[TermLine]
    counts: dict[Status, int]
    entries: list[MatrixEntry]


# ---- words -------------------------------------------------------------------------------------


def rule_words(rule: CompiledRule | CompiledOverride) -> str:
    named = rule.id if isinstance(rule, CompiledRule) else f"override {rule.id}"
    return f"{named} ({rule.about.citation})" if rule.about.citation else named


def who_words(shown: Shown) -> str:
    """The rules that decide, then the overrides the allow owes something to."""
    named: list[CompiledRule | CompiledOverride] = [*shown.rules, *shown.overrides]
    return ", ".join(rule_words(r) for r in named)


def obligation_words(attached: Attached) -> str:
    said = attached.name
    if attached.condition is not None:
        said += f" when {words(attached.condition)}"
    if attached.overrides:
        said += " (" + ", ".join(f"override {o.id}" for o in attached.overrides) + ")"
    return said


def verdict_words(verdict: CellVerdict) -> str:
    if verdict.status == "conditional" and verdict.condition is not None:
        return f"when {words(verdict.condition)}"
    return verdict.status


def mixed_words(mixed: Mixed, collapsed: tuple[bool, bool, bool]) -> str:
    """Each member's verdict, members alike grouped: ``varies: `a`, `b`: always; `c`: never``."""
    groups: dict[str, list[str]] = {}
    for cell, verdict in mixed.members:
        said = verdict_words(verdict)
        if verdict.obligations:
            said += " (obligations: " + "; ".join(obligation_words(o) for o in verdict.obligations)
            said += ")"
        shown = [t for t, c in zip(cell, collapsed, strict=True) if c]
        groups.setdefault(said, []).append(" · ".join(shown))
    return "varies: " + "; ".join(f"{', '.join(names)}: {said}" for said, names in groups.items())


# ---- dictionaries in the shape of the models ---------------------------------------------------


def _obligation(attached: Attached) -> dict[str, Any]:
    condition = attached.condition
    parameters = {"parameters": json_arguments(attached.parameters)} if attached.parameters else {}
    found = {
        "obligation": attached.obligation,
        **parameters,
        "condition": None if condition is None else words(condition),
        "expression": None if condition is None else expr_text(condition),
        "rules": [r.id for r in attached.rules],
    }
    if attached.overrides:
        found["overrides"] = [o.id for o in attached.overrides]
    return found


def verdict_fields(verdict: CellVerdict) -> dict[str, Any]:
    condition = verdict.condition
    found = {
        "status": verdict.status,
        "condition": None if condition is None else words(condition),
        "expression": None if condition is None else expr_text(condition),
        "obligations": [_obligation(o) for o in verdict.obligations],
        "rules": [r.id for r in verdict.rules],
        "citations": [r.about.citation for r in verdict.rules],
    }
    if verdict.overrides:
        found["overrides"] = [o.id for o in verdict.overrides]
    return found


def term_line(line: Line) -> dict[str, Any]:
    return TermLine(
        term=line.term,
        path=list(line.path),
        parents=list(line.parents),
        members=list(line.members),
        collapsed=line.collapsed,
    ).model_dump()


class EntryMaker:
    """Entries as JSON text, the fields at their default (null, [], false) left out; the fields
    of a verdict (shared by many cells) are encoded once, and so is each term."""

    def __init__(self) -> None:
        self._fields: dict[int, tuple[Shown, str]] = {}
        self._terms: dict[str, str] = {}

    def fields(self, shown: Shown, collapsed: tuple[bool, bool, bool]) -> str:
        found = self._fields.get(id(shown))
        if found is None:
            if isinstance(shown, Mixed):
                made: dict[str, Any] = {
                    "status": shown.status,
                    "condition": mixed_words(shown, collapsed),
                    "rules": [r.id for r in shown.rules],
                    "citations": [r.about.citation for r in shown.rules],
                    "overrides": [o.id for o in shown.overrides],
                    "mixed": True,
                    "members": [
                        {"party": c[0], "data": c[1], "purpose": c[2], **verdict_fields(v)}
                        for c, v in shown.members
                    ],
                }
            else:
                made = verdict_fields(shown)
            shown_fields = {k: v for k, v in made.items() if v not in (None, [], False)}
            text = json.dumps(shown_fields, ensure_ascii=False)[1:-1]
            found = self._fields[id(shown)] = (shown, text)
        return found[1]

    def term(self, term: str) -> str:
        found = self._terms.get(term)
        if found is None:
            found = self._terms[term] = json.dumps(term, ensure_ascii=False)
        return found

    def entry(self, party: Line, data: Line, purpose: Line, shown: Shown) -> str:
        """One entry of :class:`MatrixEntry`, as JSON text."""
        collapsed = (party.collapsed, data.collapsed, purpose.collapsed)
        return (
            f'{{"party": {self.term(party.term)}, "data": {self.term(data.term)}, '
            f'"purpose": {self.term(purpose.term)}, {self.fields(shown, collapsed)}}}'
        )
