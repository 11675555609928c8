"""The disclosure matrix: for every party (row), data category (column) and purpose, whether the
use is always allowed, allowed under a condition, or never allowed, computed exactly from the
rules (:mod:`.cell_verdicts`).

A collapsed row, column or purpose (:mod:`.selection`) combines the cells of its members
honestly: *always* only when every member is always allowed, *never* only when none ever is, and
otherwise *conditional*; when its members are not all alike (the same condition and the same
obligations) it is *mixed* and keeps each member's verdict.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from ..analysis.budget import Budget, Meter
from ..engine.compiler import CompiledOverride, CompiledRule
from ..engine.policy import Policy
from .cell_verdicts import CellJudge
from .selection import Line, select
from .verdicts import NEVER, Cell, CellVerdict, Status


@dataclass(frozen=True)
class Mixed:
    """A collapsed cell whose members are not all alike."""

    status: Status
    members: tuple[tuple[Cell, CellVerdict], ...]
    """Every member cell and its verdict, in the order of the lines' members."""
    rules: tuple[CompiledRule, ...]
    overrides: tuple[CompiledOverride, ...] = ()


Shown = CellVerdict | Mixed
"""What one (row, column, purpose) of the matrix shows."""


@dataclass(frozen=True)
class Selection:
    """Which terms the matrix shows: the subtrees of the named terms (all when none), cut at a
    depth when one is given."""

    parties: Sequence[str] = ()
    data: Sequence[str] = ()
    purposes: Sequence[str] = ()
    party_depth: int | None = None
    data_depth: int | None = None
    purpose_depth: int | None = None


@dataclass
class Matrix:
    name: str
    version: str
    parties: list[Line]
    data: list[Line]
    purposes: list[Line]
    verdicts: dict[Cell, CellVerdict]
    """The verdict of every member cell that is ever allowed; the others are never allowed."""
    _combined: dict[tuple[str, str, str], Shown] = field(default_factory=dict, repr=False)

    def shown(self, party: Line, data: Line, purpose: Line) -> Shown:
        if not (party.collapsed or data.collapsed or purpose.collapsed):
            return self.verdicts.get((party.term, data.term, purpose.term), NEVER)
        key = (party.term, data.term, purpose.term)
        found = self._combined.get(key)
        if found is None:
            members = [
                (cell, self.verdicts.get(cell, NEVER))
                for cell in itertools.product(party.members, data.members, purpose.members)
            ]
            found = self._combined[key] = combine(members)
        return found

    def entries(self) -> Iterator[tuple[Line, Line, Line, Shown]]:
        """Every (row, column, purpose) and what it shows, rows first."""
        for party in self.parties:
            for data in self.data:
                for purpose in self.purposes:
                    yield party, data, purpose, self.shown(party, data, purpose)

    def allowed(self) -> Iterator[tuple[Line, Line, Line, Shown]]:
        """The (row, column, purpose) entries that are not never allowed, rows first; fast when
        nothing is collapsed (only the allowed cells are visited)."""
        if any(line.collapsed for line in self.parties + self.data + self.purposes):
            yield from (e for e in self.entries() if e[3].status != "never")
            return
        lines = [{line.term: line for line in lines} for lines in self.lines()]
        order = [{line.term: i for i, line in enumerate(lines)} for lines in self.lines()]
        cells = [c for c in self.verdicts if all(t in lines[k] for k, t in enumerate(c))]
        cells.sort(key=lambda c: tuple(order[k][t] for k, t in enumerate(c)))
        for cell in cells:
            party, data, purpose = (lines[k][t] for k, t in enumerate(cell))
            yield party, data, purpose, self.verdicts[cell]

    def lines(self) -> tuple[list[Line], list[Line], list[Line]]:
        return self.parties, self.data, self.purposes

    def counts(self) -> dict[Status, int]:
        """How many (row, column, purpose) entries have each status."""
        total = len(self.parties) * len(self.data) * len(self.purposes)
        found: dict[Status, int] = {"always": 0, "conditional": 0, "never": 0}
        for *_, shown in self.allowed():
            found[shown.status] += 1
        found["never"] = total - found["always"] - found["conditional"]
        return found


def build_matrix(
    policy: Policy,
    name: str,
    selection: Selection | None = None,
    budget: Budget | None = None,
    *,
    prove: bool = False,
) -> Matrix:
    """The matrix of ``policy``. Raises :class:`~policy_engine.language.errors.UnknownTermError`
    for a selected term the policy does not declare, and
    :class:`~policy_engine.analysis.budget.BudgetExceeded` when the budget (by default
    :meth:`Budget.from_environment`) runs out: the matrix is exact or it is not given. With
    ``prove``, each condition is also proven against the policy (:class:`.CellJudge`)."""
    chosen = selection or Selection()
    compiled = policy.compiled
    parties = select(compiled, "party", chosen.parties, chosen.party_depth)
    data = select(compiled, "data", chosen.data, chosen.data_depth)
    purposes = select(compiled, "purpose", chosen.purposes, chosen.purpose_depth)
    judge = CellJudge(compiled, Meter(budget or Budget.from_environment()), prove=prove)
    verdicts = judge.verdicts(_members(parties), _members(data), _members(purposes))
    return Matrix(name, policy.version, parties, data, purposes, verdicts)


def _members(lines: list[Line]) -> list[str]:
    return list(dict.fromkeys(t for line in lines for t in line.members))


# ---- combining the members of a collapsed cell -------------------------------------------------


def alike(a: CellVerdict, b: CellVerdict) -> bool:
    """The same status, condition and obligations (the rules may differ)."""
    if a is b:
        return True
    return (
        a.status == b.status
        and a.condition == b.condition
        and [(o.name, o.condition) for o in a.obligations]
        == [(o.name, o.condition) for o in b.obligations]
    )


def combine(members: list[tuple[Cell, CellVerdict]]) -> Shown:
    statuses = {v.status for _, v in members}
    status: Status = statuses.pop() if len(statuses) == 1 else "conditional"
    verdicts = list(dict.fromkeys(v for _, v in members))  # verdicts are shared objects
    first = verdicts[0]
    allows = _union(r for v in verdicts for r in v.allows)
    denies = _union(r for v in verdicts for r in v.denies)
    lifting = _union(o for v in verdicts for o in v.overrides)
    if all(alike(first, v) for v in verdicts[1:]):
        obligations = tuple(
            replace(
                o,
                rules=_union(r for v in verdicts for r in v.obligations[i].rules),
                overrides=_union(x for v in verdicts for x in v.obligations[i].overrides),
            )
            for i, o in enumerate(first.obligations)
        )
        return CellVerdict(first.status, first.condition, allows, denies, obligations, lifting)
    return Mixed(status, tuple(members), allows + denies, lifting)


Named = TypeVar("Named", CompiledRule, CompiledOverride)


def _union(found: Iterable[Named]) -> tuple[Named, ...]:
    return tuple(sorted(set(found), key=lambda r: r.id))
