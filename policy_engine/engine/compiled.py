"""The compiled forms of a policy's pieces: its rules (:class:`CompiledRule`, with their
obligation clauses and what decisions say about them), the candidate rules of a cell
(:class:`CellPlan`), a cell's specialized form (:class:`FastCell`) and what a decision came to
(:class:`Outcome`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from ..language import ast
from ..language.printer import obligation_text
from .conditions import ConditionBuilder
from .context import Condition

Argument = str | int | bool | Decimal
"""An argument's value: a ``decimal`` parameter's is a :class:`~decimal.Decimal`."""
Arguments = tuple[tuple[str, Argument], ...]
"""An obligation's arguments: (parameter, value) in the order of the declaration."""


def requirements(clause: ast.ObligationClause) -> tuple[tuple[str, str, Arguments], ...]:
    """What a (checked, resolved) clause requires: for each obligation, its text (its identity
    in decisions and analyses: ``retain_for(years = 6)``), its name and its arguments."""
    found = []
    for index, name in enumerate(clause.names):
        arguments: Arguments = tuple(
            (a.name.value, a.value.value) for a in clause.arguments_of(index)
        )
        found.append((obligation_text(name.value, arguments), name.value, arguments))
    return tuple(found)


def requirement_order(name: str, arguments: Arguments) -> tuple[Any, ...]:
    """Where an obligation as required sorts among a decision's: by name, then by its arguments
    in the order of the declaration, each compared as what it is (numbers as numbers, so that
    ``years = 6`` comes before ``years = 10``; then booleans, false first; then text)."""
    return (name, tuple((parameter, _argument_order(value)) for parameter, value in arguments))


def _argument_order(value: Argument) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | Decimal):
        return (0, value)
    return (2, value)


class ObligationPlan:
    """An obligation clause of a rule: the texts of what it requires (``log_access``,
    ``retain_for(years = 6)``: see :func:`requirements`) and its (lazily compiled) condition."""

    __slots__ = ("_condition", "index", "names", "rule")

    def __init__(self, rule: CompiledRule, index: int, names: tuple[str, ...]) -> None:
        self.rule = rule
        self.index = index
        self.names = names
        self._condition: Any = _UNCOMPILED

    @property
    def condition(self) -> Condition | None:
        if self._condition is _UNCOMPILED:
            when = self.rule.logic.obligation_conditions[self.index]
            self._condition = None if when is None else self.rule._builder.condition(when)
        result: Condition | None = self._condition
        return result


_UNCOMPILED: Any = object()


class CompiledRule:
    """One rule, ready to evaluate. ``None`` scopes mean *any*.

    What the index and the decision objects need (id, effect, scopes, obligation names) is held
    directly; the syntax tree (``source``) is either given or, for a policy restored from the
    compiled cache, re-parsed from the rule's own text the first time it is asked for. Generic
    condition closures are compiled on first use: decisions run on the per-cell generated
    functions, so only analyses and requests with missing keys need them. Rules compare by
    identity (two policies never share a rule).
    """

    __slots__ = (
        "_builder",
        "_condition",
        "_exceptions",
        "_load",
        "_logic",
        "_source",
        "about",
        "data",
        "effect",
        "id",
        "obligations",
        "parties",
        "position",
        "purposes",
    )

    def __init__(
        self,
        position: int,
        rule_id: str,
        effect: ast.Effect,
        scopes: tuple[tuple[str, ...] | None, tuple[str, ...] | None, tuple[str, ...] | None],
        obligation_names: tuple[tuple[str, ...], ...],
        about: RuleAbout,
        builder: ConditionBuilder,
        source: ast.Rule | None = None,
        load: Callable[[], ast.Rule] | None = None,
        logic: RuleLogic | Callable[[], RuleLogic] | None = None,
    ) -> None:
        self.position = position
        self.about = about
        self._logic: RuleLogic | Callable[[], RuleLogic] | None = logic
        self.id = rule_id
        self.effect: ast.Effect = effect
        parties, data, purposes = scopes
        self.parties = builder.scope(parties)
        self.data = builder.scope(data)
        self.purposes = builder.scope(purposes)
        self.obligations = tuple(
            ObligationPlan(self, i, names) for i, names in enumerate(obligation_names)
        )
        self._builder = builder
        self._source = source
        self._load = load
        self._condition: Any = _UNCOMPILED
        self._exceptions: Any = _UNCOMPILED

    @classmethod
    def of(
        cls,
        position: int,
        source: ast.Rule,
        builder: ConditionBuilder,
        lifted: tuple[RuleLogic, tuple[tuple[str, ...], ...]] | None = None,
    ) -> CompiledRule:
        """The rule compiled; ``lifted``, for a rule that overrides touch, is its logic with the
        overrides' parts and what the obligation clauses they add require (:mod:`.overrides`)."""
        names = tuple(tuple(text for text, _, _ in requirements(c)) for c in source.obligations)
        return cls(
            position,
            source.id.value,
            source.effect,
            (_names(source.parties), _names(source.data), _names(source.purposes)),
            names + lifted[1] if lifted is not None else names,
            RuleAbout.of(source),
            builder,
            source=source,
            logic=lifted[0] if lifted is not None else None,
        )

    @property
    def source(self) -> ast.Rule:
        """The rule's syntax tree (parsed on first use when restored from the cache; two
        threads racing here parse the same text to equal trees, so either result is right)."""
        found = self._source
        if found is None:
            assert self._load is not None
            found = self._source = self._load()
        return found

    @property
    def logic(self) -> RuleLogic:
        """The rule's condition, exceptions and obligation conditions: what cell specialization
        reads. A restored rule decodes them from the image (shared between rules that test the
        same thing, and without places), so deciding never needs the parser."""
        found = self._logic
        if found is None:
            tree = self.source
            found = RuleLogic(
                tree.condition, tree.exceptions, tuple(c.condition for c in tree.obligations)
            )
            self._logic = found
        elif not isinstance(found, RuleLogic):
            found = self._logic = found()
        return found

    def logic_for_image(self) -> RuleLogic:
        """The rule's logic for the compiled image: the one it was given (a rule overrides
        touch), else read from its tree without keeping it (10,000 rules' worth at capture)."""
        found = self._logic
        if isinstance(found, RuleLogic):
            return found
        tree = self.source
        return RuleLogic(
            tree.condition, tree.exceptions, tuple(c.condition for c in tree.obligations)
        )

    @property
    def condition(self) -> Condition | None:
        if self._condition is _UNCOMPILED:
            when = self.logic.condition
            self._condition = None if when is None else self._builder.condition(when)
        result: Condition | None = self._condition
        return result

    @property
    def exceptions(self) -> tuple[Condition, ...]:
        if self._exceptions is _UNCOMPILED:
            self._exceptions = tuple(self._builder.condition(e) for e in self.logic.exceptions)
        result: tuple[Condition, ...] = self._exceptions
        return result

    @property
    def is_unconditional(self) -> bool:
        logic = self.logic
        return logic.condition is None and not logic.exceptions

    def __repr__(self) -> str:
        return f"CompiledRule({self.id!r}, {self.effect!r})"


class RuleLogic(NamedTuple):
    condition: ast.Expr | None
    exceptions: tuple[ast.Expr, ...]
    obligation_conditions: tuple[ast.Expr | None, ...]
    """One per obligation clause, in order."""
    lifted_by: tuple[str, ...] = ()
    """The overrides that lift this deny rule: the last ``len(lifted_by)`` exceptions are their
    conditions, in this order (docs/semantics.md, 37)."""
    clause_origins: tuple[str | None, ...] = ()
    """For each obligation clause, the override that adds it (None: the rule's own); empty when
    every clause is the rule's own (docs/semantics.md, 39)."""

    @property
    def own_exceptions(self) -> tuple[ast.Expr, ...]:
        """The exceptions the rule itself states (its `unless` and `except`), without the
        overrides' conditions."""
        return self.exceptions[: len(self.exceptions) - len(self.lifted_by)]

    def expressions(self) -> list[ast.Expr]:
        """Every condition the rule tests: its condition, exceptions (the overrides' included) and
        obligation conditions (the overrides' clauses included)."""
        found = [self.condition] if self.condition is not None else []
        found += self.exceptions
        found += [c for c in self.obligation_conditions if c is not None]
        return found

    def origin(self, clause: int) -> str | None:
        """The override that adds obligation clause ``clause``, or None for the rule's own."""
        return self.clause_origins[clause] if self.clause_origins else None


class RuleAbout(NamedTuple):
    """What decisions and summaries say about a rule, kept apart from its syntax tree (so that
    a rule restored from the compiled cache is described without re-parsing it)."""

    citation: str
    """Its citations, joined with `, `."""
    description: str | None
    file: str
    line: int

    @classmethod
    def of(cls, rule: ast.Rule) -> RuleAbout:
        span = rule.span
        return cls(
            ", ".join(c.text for c in rule.citations),
            rule.description,
            span.source.name if span else "<unknown>",
            span.line if span else 0,
        )

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def _names(names: tuple[ast.Name, ...] | None) -> tuple[str, ...] | None:
    return None if names is None else tuple(n.value for n in names)


@dataclass(frozen=True, slots=True)
class CellPlan:
    """The candidate rules of one (party, data, purpose) cell, deny rules first."""

    denies: tuple[CompiledRule, ...]
    allows: tuple[CompiledRule, ...]


class Undetermined(NamedTuple):
    """An obligation an allow may owe but does not carry: the condition of a clause of a granting
    rule that requires it is unknown (docs/semantics.md, 48)."""

    text: str
    """What it requires (``retain_for(years = 6)``: see :func:`requirements`)."""
    required_by: str
    """The rule whose clause requires it, or the override that adds the clause."""
    missing: tuple[str, ...]
    """The context keys whose absence left the condition unknown, sorted."""
    unknown: tuple[str, ...]
    """The attributes of the request's terms that have no value (``party.location``), sorted."""


class Outcome(NamedTuple):
    """What a decision came to: the effect, the rules that decided it, obligations and the
    context keys whose absence made some considered rule unknown. (A named tuple: one is built
    per decision, and a frozen dataclass costs several times more to construct.)"""

    effect: ast.Effect
    deciding: tuple[CompiledRule, ...]
    obligations: tuple[str, ...]
    missing: tuple[str, ...]
    undetermined: tuple[Undetermined, ...] = ()
    """On an allow, the obligations whose condition is unknown and that it does not carry."""


CellFunction = Callable[[Mapping[str, Any]], "Outcome | None"]


@dataclass(frozen=True, slots=True)
class FastCell:
    """The cell's rules after partial evaluation: its whole outcome when no rule left depends on
    the context (``static``), else a generated function of the context that returns the outcome,
    or None when a key it needs is missing (the three-valued evaluator then decides)."""

    static: Outcome | None
    function: CellFunction | None
