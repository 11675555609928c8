"""Cells whose rules say the same thing decide alike: the verdict of one is the other's, with its
own rules in place of the first's.

Two rules are *alike* when they have the same effect, condition, exceptions and obligation
clauses (names and conditions), compared as syntax trees, and the same overrides' parts. Two
cells whose candidate rules are alike one for one, and which agree on the request terms those
rules read, are searched in exactly the same way (every condition is valued the same, on the same
context classes), so one search serves both. A generated policy of 1,000 rules has some 3,000
groups of cells the rules tell apart, but only a few dozen shapes of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..engine.compiler import CompiledRule
from .verdicts import CellVerdict

Shape = tuple[int, ...]


class Shapes:
    """Numbers rules by what they say, and moves a verdict from one cell to a cell alike."""

    def __init__(self) -> None:
        self._numbers: dict[object, int] = {}
        self._of_rule: dict[int, int] = {}

    def number(self, rule: CompiledRule) -> int:
        found = self._of_rule.get(id(rule))
        if found is None:
            logic = rule.logic
            said = (
                rule.effect,
                logic.condition,
                logic.exceptions,
                logic.obligation_conditions,
                tuple(clause.names for clause in rule.obligations),
                logic.lifted_by,
                logic.clause_origins,
            )
            found = self._numbers.setdefault(said, len(self._numbers))
            self._of_rule[id(rule)] = found
        return found

    def ordered(self, rules: Sequence[CompiledRule]) -> tuple[Shape, list[CompiledRule]]:
        """The cell's shape, and its rules in the order of their numbers (rules alike by id)."""
        ordered = sorted(rules, key=lambda r: (self.number(r), r.id))
        return tuple(self.number(r) for r in ordered), ordered


def relabel(
    verdict: CellVerdict, template: Sequence[CompiledRule], rules: Sequence[CompiledRule]
) -> CellVerdict:
    """``verdict``, found for a cell whose rules in shape order are ``template``, for a cell
    alike whose rules in shape order are ``rules``."""
    if list(template) == list(rules):
        return verdict
    index = {id(rule): i for i, rule in enumerate(template)}

    def moved(found: Sequence[CompiledRule]) -> tuple[CompiledRule, ...]:
        return tuple(sorted((rules[index[id(r)]] for r in found), key=lambda r: r.id))

    obligations = tuple(replace(o, rules=moved(o.rules)) for o in verdict.obligations)
    return replace(
        verdict, allows=moved(verdict.allows), denies=moved(verdict.denies), obligations=obligations
    )
