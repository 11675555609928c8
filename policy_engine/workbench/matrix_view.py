"""The Matrix page: the disclosure matrix (:func:`~policy_engine.traceability.matrix.build_matrix`,
computed once per policy over every term) shown as parties × data categories, each axis opened
term by term along its hierarchy, for one purpose and the purposes below it (or all of them).

A line that is not opened stands for its whole subtree, and its cells combine their members as
the matrix does for a collapsed line: *always* only when every member request is always allowed,
*never* only when none ever is, otherwise *conditional*. A cell opens to its purposes, each with
its condition in words, its obligations and the rules that decide it with their citations
(:func:`~policy_engine.traceability.matrix.combine`,
:mod:`~policy_engine.traceability.matrix_models`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..analysis.budget import Budget
from ..engine.compiler import CompiledPolicy
from ..engine.policy import Policy
from ..engine.request import resolve_term
from ..traceability.matrix import Matrix, Mixed, Shown, build_matrix, combine
from ..traceability.matrix_models import mixed_words, obligation_words, verdict_fields
from ..traceability.matrix_render import render_csv
from ..traceability.selection import declaration_order, select
from ..traceability.verdicts import NEVER, CellVerdict
from .rules_view import rule_ref

MAX_LINES = 2000
"""The most rows (or columns) a view opens; past it, further lines stay closed."""

MAX_MEMBERS_SHOWN = 200
"""The most member cells a mixed entry of a cell's details lists."""


@dataclass
class FullMatrix:
    """The matrix over every declared term, and its allowed cells by (party, data)."""

    matrix: Matrix
    by_pair: dict[tuple[str, str], list[tuple[str, CellVerdict]]]


def full_matrix(policy: Policy, name: str, budget: Budget | None = None) -> FullMatrix:
    matrix = build_matrix(policy, name, budget=budget)
    by_pair: dict[tuple[str, str], list[tuple[str, CellVerdict]]] = {}
    for (party, data, purpose), verdict in matrix.verdicts.items():
        by_pair.setdefault((party, data), []).append((purpose, verdict))
    return FullMatrix(matrix, by_pair)


@dataclass(frozen=True)
class AxisLine:
    term: str
    depth: int
    members: tuple[str, ...]
    """The terms it stands for: itself, or (not opened) its whole subtree."""
    expandable: bool
    expanded: bool


def axis(compiled: CompiledPolicy, kind: str, opened: Iterable[str]) -> list[AxisLine]:
    """The lines of one axis, top down in declaration order: every root, and the children of
    each opened term (a term with several opened parents is shown under each)."""
    hierarchy = compiled.hierarchies[kind]
    order = declaration_order(compiled, kind)
    rank = {t: i for i, t in enumerate(order)}
    chosen = set(opened)
    lines: list[AxisLine] = []
    stack = [(t, 0) for t in reversed(order) if not hierarchy.parent_links[t]]
    while stack:
        term, depth = stack.pop()
        children = sorted(hierarchy.child_links[term], key=rank.__getitem__)
        opening = bool(children) and term in chosen and len(lines) < MAX_LINES
        if opening:
            members: tuple[str, ...] = (term,)
            stack.extend((c, depth + 1) for c in reversed(children))
        else:
            below = hierarchy.descendants[term]
            members = (term, *sorted(below - {term}, key=rank.__getitem__))
        lines.append(AxisLine(term, depth, members, bool(children), opening))
    return lines


def _purposes(compiled: CompiledPolicy, purpose: str | None) -> list[str]:
    order = declaration_order(compiled, "purpose")
    if purpose is None:
        return order
    below = compiled.hierarchies["purpose"].descendants[resolve_term(compiled, "purpose", purpose)]
    return [p for p in order if p in below]


def _status(full: FullMatrix, rows: Sequence[str], cols: Sequence[str], chosen: set[str]) -> str:
    allowed = always = 0
    by_pair = full.by_pair
    for r in rows:
        for c in cols:
            for p, verdict in by_pair.get((r, c), ()):
                if p in chosen:
                    allowed += 1
                    always += verdict.status == "always"
    if allowed == 0:
        return "never"
    return "always" if always == len(rows) * len(cols) * len(chosen) else "conditional"


def _line(line: AxisLine) -> dict[str, Any]:
    return {
        "term": line.term,
        "depth": line.depth,
        "whole": len(line.members) > 1,
        "members": len(line.members),
        "expandable": line.expandable,
        "expanded": line.expanded,
    }


def matrix_view(
    full: FullMatrix,
    compiled: CompiledPolicy,
    purpose: str | None,
    open_parties: Iterable[str],
    open_data: Iterable[str],
) -> dict[str, Any]:
    """The grid the page shows: rows, columns and each cell's status."""
    chosen = _purposes(compiled, purpose)
    rows = axis(compiled, "party", open_parties)
    cols = axis(compiled, "data", open_data)
    wanted = set(chosen)
    cells = [[_status(full, r.members, c.members, wanted) for c in cols] for r in rows]
    matrix = full.matrix
    return {
        "policy": matrix.name,
        "version": matrix.version,
        "purpose": purpose,
        "purposes": [
            {"term": line.term, "depth": len(line.path) - 1, "parents": list(line.parents)}
            for line in matrix.purposes
        ],
        "rows": [_line(r) for r in rows],
        "columns": [_line(c) for c in cols],
        "cells": cells,
        "counts": {s: sum(r.count(s) for r in cells) for s in ("always", "conditional", "never")},
    }


def _members(compiled: CompiledPolicy, kind: str, term: str, whole: bool) -> list[str]:
    term = resolve_term(compiled, kind, term)
    if not whole:
        return [term]
    below = compiled.hierarchies[kind].descendants[term]
    return [t for t in declaration_order(compiled, kind) if t in below]


def _shown(shown: Shown, purpose: str, collapsed: tuple[bool, bool, bool]) -> dict[str, Any]:
    if isinstance(shown, Mixed):
        listed = [(cell, v) for cell, v in shown.members if v.status != "never"]
        return {
            "purpose": purpose,
            "status": shown.status,
            "mixed": True,
            "condition": mixed_words(shown, collapsed),
            "obligations": [],
            "rules": [rule_ref(r) for r in shown.rules],
            "members": [
                {"party": c[0], "data": c[1], **verdict_fields(v)}
                for c, v in listed[:MAX_MEMBERS_SHOWN]
            ],
            "members_left_out": max(0, len(listed) - MAX_MEMBERS_SHOWN),
        }
    fields = verdict_fields(shown)
    fields.update(
        purpose=purpose,
        mixed=False,
        obligations=[obligation_words(o) for o in shown.obligations],
        rules=[rule_ref(r) for r in shown.rules],
    )
    return fields


def cell_detail(
    full: FullMatrix,
    compiled: CompiledPolicy,
    party: tuple[str, bool],
    data: tuple[str, bool],
    purpose: str | None,
) -> dict[str, Any]:
    """One cell opened: for each purpose of the filter that some member request may be allowed
    for, what the matrix says of it; and the purposes it is never allowed for."""
    parties = _members(compiled, "party", *party)
    datas = _members(compiled, "data", *data)
    verdicts = full.matrix.verdicts
    shown, never = [], []
    collapsed = (len(parties) > 1, len(datas) > 1, False)
    for p in _purposes(compiled, purpose):
        members = [((r, c, p), verdicts.get((r, c, p), NEVER)) for r in parties for c in datas]
        if all(v.status == "never" for _, v in members):
            never.append(p)
            continue
        found = members[0][1] if len(members) == 1 else combine(members)
        shown.append(_shown(found, p, collapsed))
    return {
        "party": parties[0],
        "party_whole": len(parties) > 1,
        "data": datas[0],
        "data_whole": len(datas) > 1,
        "purposes": shown,
        "never": never,
    }


def matrix_csv(full: FullMatrix, compiled: CompiledPolicy, purpose: str | None) -> str:
    """The CSV of ``policy-engine matrix --format csv`` (with ``--purpose`` when one is given)."""
    matrix = full.matrix
    if purpose is None:
        return render_csv(matrix)
    lines = select(compiled, "purpose", [purpose], None)
    return render_csv(
        Matrix(matrix.name, matrix.version, matrix.parties, matrix.data, lines, matrix.verdicts)
    )
