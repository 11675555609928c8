"""The named-conditions pass: each named condition's body is well typed, and no named condition
refers to itself, directly or through others (a cycle is an error that shows the whole cycle).

Where a named condition is used is typed with the other conditions (:mod:`.condition_types`:
a named condition is a condition, never a value); what its uses mean is built by
:mod:`.resolve` once the whole policy checks.
"""

from __future__ import annotations

from ..language import ast
from .check_state import CheckState
from .condition_types import Typer
from .resolve import condition_references
from .vocabulary import find_cycle


def check_named_conditions(state: CheckState) -> None:
    """Every named condition's body is well typed; named conditions form no cycle."""
    typer = Typer(state)
    edges: list[tuple[str, str]] = []
    places: dict[tuple[str, str], ast.NameRef] = {}
    for name, decl in state.conditions.items():
        typer.condition(decl.condition)
        for ref in condition_references(decl.condition, state.conditions):
            edges.append((name, ref.name))
            places.setdefault((name, ref.name), ref)
    cycle = find_cycle(edges)
    if cycle is None:
        return
    closing = places[(cycle[-2], cycle[-1])]
    if len(cycle) == 2:
        message = f"the named condition `{cycle[0]}` refers to itself"
    else:
        shown = " → ".join(f"`{n}`" for n in cycle)
        message = f"the named conditions form a cycle: {shown}"
    state.error(
        "condition-cycle",
        message,
        closing.span,
        "a named condition means what its parts mean; write one of them without the others",
    )
