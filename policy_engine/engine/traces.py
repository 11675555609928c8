"""What a traced evaluation records (:mod:`.evaluator`, with a tracer): each sub-condition's value
and what it saw, each obligation clause, and how each candidate rule fared, the overrides that
lift it included."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .compiled import CompiledRule


@dataclass(frozen=True, slots=True)
class ConditionTrace:
    """One sub-condition: its text, its value (None = unknown), what it saw, and its parts."""

    text: str
    value: bool | None
    missing: frozenset[str]
    detail: str | None
    children: tuple[ConditionTrace, ...] = ()
    named: tuple[str | None, str | None] | None = None
    """For a named condition: its citations and description (its one child is its body)."""


@dataclass(frozen=True, slots=True)
class ObligationTrace:
    names: tuple[str, ...]
    condition: ConditionTrace | None
    attached: bool
    origin: str | None = None
    """The override that adds the clause (None: the rule's own)."""


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """How one candidate rule fared. ``value``: True applies, False does not, None unknown."""

    rule: CompiledRule
    value: bool | None
    condition: ConditionTrace | None
    exceptions: tuple[ConditionTrace, ...]
    """Its own exceptions; the conditions of the overrides that lift it are in ``lifts``."""
    obligations: tuple[ObligationTrace, ...]
    missing: frozenset[str]
    lifts: tuple[ConditionTrace, ...] = ()
    """The conditions of the overrides that lift it, as ``rule.logic.lifted_by`` lists them."""
    own: bool | None = True
    """Its value without the overrides (whether it would otherwise apply)."""


Tracer = Callable[[RuleTrace], None]
