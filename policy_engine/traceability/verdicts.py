"""What the matrix says of one (party, data, purpose) cell: always, under a condition, or never
allowed, with the rules that decide it and the obligations an allowed request carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..engine.compiled import Arguments
from ..engine.compiler import CompiledOverride, CompiledRule
from ..language import ast
from ..language.printer import obligation_name

Status = Literal["always", "conditional", "never"]
Cell = tuple[str, str, str]


@dataclass(frozen=True)
class Attached:
    """An obligation an allowed request of the cell carries, and when (None: always)."""

    name: str
    """The obligation as required: its name, with its arguments if it has parameters
    (``retain_for(years = 6)``)."""
    condition: ast.Expr | None
    rules: tuple[CompiledRule, ...]
    """The granting rules whose own clauses attach it."""
    parameters: Arguments = ()
    """Its arguments, in the order of the declaration's parameters."""
    overrides: tuple[CompiledOverride, ...] = ()
    """The overrides that bring it where they lift a deny (docs/semantics.md, 39)."""

    @property
    def obligation(self) -> str:
        """The obligation's name."""
        return obligation_name(self.name)


@dataclass(frozen=True)
class CellVerdict:
    status: Status
    condition: ast.Expr | None
    """For a conditional cell: allowed exactly when this is true (Kleene's logic)."""
    allows: tuple[CompiledRule, ...]
    """The allow rules that grant some request of the cell."""
    denies: tuple[CompiledRule, ...]
    """The deny rules that refuse some request an allow rule would grant."""
    obligations: tuple[Attached, ...]
    overrides: tuple[CompiledOverride, ...] = ()
    """The overrides some allowed request of the cell owes its allow to: each lifts a deny that
    would otherwise refuse it."""

    @property
    def rules(self) -> tuple[CompiledRule, ...]:
        return self.allows + self.denies


NEVER = CellVerdict("never", None, (), (), ())
