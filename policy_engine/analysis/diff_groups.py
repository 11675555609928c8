"""Grouping a diff's changed cells: cells that change the same way, in the same contexts, are
collapsed to the highest terms of each hierarchy that cover them (parties, then data, then
purposes), one :class:`ChangeGroup` per collapsed block."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from ..engine.compiler import CompiledPolicy
from ..semantics.vocabulary import Hierarchy
from .context_classes import ContextClass
from .diff_report import ChangeGroup, ChangeKey
from .scopes import collapse_exact


@dataclass
class CellChange:
    cell: tuple[str, str, str]
    key: ChangeKey
    when: str
    count: int
    example: ContextClass


Collapsed = tuple[tuple[str, ...], tuple[str, ...]]
"""(the highest whole subtrees, the terms that stand only for themselves)"""


def _collapse_cells(
    members: list[CellChange], h: Mapping[str, Hierarchy]
) -> dict[tuple[Collapsed, Collapsed], set[str]]:
    """The purposes of each block of (collapsed parties, collapsed data)."""
    parties_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for m in members:
        parties_of[(m.cell[1], m.cell[2])].add(m.cell[0])
    data_of: dict[tuple[Collapsed, str], set[str]] = defaultdict(set)
    for (data, purpose), parties in parties_of.items():
        whole, only = collapse_exact(h["party"], parties)
        data_of[((tuple(whole), tuple(only)), purpose)].add(data)
    purposes_of: dict[tuple[Collapsed, Collapsed], set[str]] = defaultdict(set)
    for (parties_c, purpose), datas in data_of.items():
        whole, only = collapse_exact(h["data"], datas)
        purposes_of[(parties_c, (tuple(whole), tuple(only)))].add(purpose)
    return purposes_of


def _change_group(
    key: ChangeKey,
    when: str,
    members: list[CellChange],
    block: tuple[Collapsed, Collapsed, set[str]],
    h: Mapping[str, Hierarchy],
) -> ChangeGroup:
    """One group: a block of collapsed parties, data and purposes that change the same way."""
    kind, before, after = key
    parties_c, datas_c, purposes = block
    purposes_whole, purposes_only = collapse_exact(h["purpose"], purposes)
    below_p = set(parties_c[1]).union(*(h["party"].descendants[p] for p in parties_c[0]))
    below_d = set(datas_c[1]).union(*(h["data"].descendants[d] for d in datas_c[0]))
    inside = [
        m
        for m in members
        if m.cell[2] in purposes and m.cell[1] in below_d and m.cell[0] in below_p
    ]
    first = min(inside, key=lambda m: m.cell)
    return ChangeGroup(
        kind=kind,
        parties=sorted(parties_c[0] + parties_c[1]),
        data=sorted(datas_c[0] + datas_c[1]),
        purposes=sorted(purposes_whole + purposes_only),
        exact=sorted(parties_c[1] + datas_c[1] + tuple(purposes_only)),
        when=when,
        before=before[0],
        after=after[0],
        old_rules=list(before[2]),
        new_rules=list(after[2]),
        old_obligations=list(before[1]),
        new_obligations=list(after[1]),
        requests=sum(m.count for m in inside),
        example={
            "party": first.cell[0],
            "data": first.cell[1],
            "purpose": first.cell[2],
            "context": first.example.request_context(),
        },
    )


def group_changes(changes: list[CellChange], policy: CompiledPolicy) -> list[ChangeGroup]:
    """Collapse cells that change the same way to the highest covering terms, one dimension at a
    time (parties, then data, then purposes)."""
    h = policy.hierarchies
    by_change: dict[tuple[ChangeKey, str], list[CellChange]] = defaultdict(list)
    for change in changes:
        by_change[(change.key, change.when)].append(change)
    groups: list[ChangeGroup] = []
    for (key, when), members in by_change.items():
        blocks = _collapse_cells(members, h)
        for (parties_c, datas_c), purposes in sorted(blocks.items()):
            groups.append(_change_group(key, when, members, (parties_c, datas_c, purposes), h))
    order = {"widened": 0, "narrowed": 1, "obligations": 2}
    groups.sort(key=lambda g: (order[g.kind], g.parties, g.data, g.purposes, g.when))
    return groups
