"""Cells whose rules say the same thing *in the cell* decide alike, whatever their terms.

Deciding a cell (:mod:`.cell_verdicts`) reads its terms in three places only: the tests that read
no context key take their value in the cell (``party = planiso``, ``data in
sensitive_information``, an attribute compared with a constant), the tests that read a context key
read the cell's terms and attributes where they name them (``purpose in consented_purposes``,
``party.location = destination``), and the conditions it words are those rules with what the cell
settles valued (:class:`~.cell_conditions.ConditionMaker`). So the *key* of a cell is what its
candidate rules say once the cell has valued what it settles; two cells with the same key are
decided by the same steps, each rule in the place of the rule at the same position, and the
verdict of one is the other's with its own rules (:func:`moved`).

The key holds, for each candidate rule in the plan's order (denies first, then allows, each by
id, as the engine plans the cell), its effect, its obligation clauses and the overrides it is
lifted by or brings clauses of, as written, and its condition, exceptions and obligation conditions
*as the cell sees them*:

- a test that reads no context key is its value in the cell (true, false, or unknown with the
  test: an attribute the cell's term has no value of), and ``and``, ``or`` and ``not`` carry
  those constants as Kleene's logic does (``false and x`` is false, ``true and x`` is ``x``): the
  search's sets of possible values (:mod:`~..analysis.search_values`) and the condition maker's
  folding both do the same, so a part settled alike is valued alike and a settled part leaves
  the rest as it is;
- a named condition is its name with what is left of its body, or the constant its body settles
  to;
- a test that reads a context key is the test (tests equal as syntax trees are one), with the
  value in the cell of each attribute it names and each request term it reads; except a request
  term tested against a ``set of`` key (``purpose in consented_purposes``): the search asks
  whether the set covers the term, the answer is free for one term, and a set of facts about
  several terms is consistent exactly when no covered term is at or above an uncovered one. So
  the term itself does not matter, only how it stands to the terms the policy tests against
  sets of its kind (whether each is at or above it, and it at or above each), which the key
  holds instead (:meth:`CellKeys.related`).

Each override that lifts a deny of the cell adds its condition as the cell sees it and the
positions of the denies it lifts (the others are never asked about in the cell). Everything a
verdict is made of is then a function of the key: which rules grant, override, decide and lift
(each found by a search that values every condition alike on facts that correspond one to one),
and the conditions (the maker's folding reads the same constants in the same places). PLANISO
under Québec's Act has 53,540 cells some allow covers, 16,389 groups of them that the rules' terms
tell apart, and 305 keys; the generated policy of 1,000 rules 3,212 such groups and 38 keys.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import replace

from ..analysis.conditions import request_kinds_of
from ..analysis.scopes import KINDS
from ..engine.compiler import (
    MISSING,
    CellPlan,
    CompiledPolicy,
    CompiledRule,
    Condition,
    compile_condition,
)
from ..engine.overrides import CompiledOverride
from ..language import ast
from .verdicts import NEVER, Cell, CellVerdict

View = object
"""A condition as a cell sees it: True, False, or a nested tuple of numbered tests."""

_NO_VALUE = ("no value",)
_ANY_TERM = ("any term",)


class CellKeys:
    """The keys of the cells of one policy (each part computed once per set of terms it reads)."""

    def __init__(self, compiled: CompiledPolicy) -> None:
        self.compiled = compiled
        self.context = compiled.context
        self._numbers: dict[object, int] = {}
        """Tests (as syntax trees) and views, numbered."""
        self._test_numbers: dict[int, int] = {}
        self._checks: dict[int, Condition | None] = {}
        self._masks: dict[int, tuple[object, tuple[bool, ...]]] = {}
        """Which of the cell's terms a rule or a condition reads (by identity; each is kept with
        it, so its identity is not reused meanwhile)."""
        self._views: dict[tuple[int | str | None, ...], int] = {}
        """(identity of a rule or a condition, the terms it reads) → its number."""
        self._related: dict[tuple[int, str], tuple[tuple[bool, bool], ...]] = {}
        self.tested = self._tested_terms()
        """Per kind, the terms some condition tests against a ``set of`` key of that kind."""

    def key(self, cell: Cell, plan: CellPlan) -> tuple[object, ...]:
        rules = tuple(self._rule(rule, cell) for rule in plan.denies + plan.allows)
        lifting = tuple(self._override(o, cell, plan) for o in self.compiled.overrides)
        related = tuple(self.related(index, term) for index, term in enumerate(cell))
        return (len(plan.denies), rules, lifting, related)

    def related(self, index: int, term: str) -> tuple[tuple[bool, bool], ...]:
        """How ``term`` stands to each term tested against sets of its kind: whether that term
        is at or above it, and whether it is at or above that term."""
        found = self._related.get((index, term))
        if found is None:
            ancestors = self.compiled.hierarchies[KINDS[index]].ancestors
            found = tuple(
                (t in ancestors[term], term in ancestors[t]) for t in self.tested[KINDS[index]]
            )
            self._related[(index, term)] = found
        return found

    # ---- the parts -----------------------------------------------------------------------------
    def _rule(self, rule: CompiledRule, cell: Cell) -> int:
        """The number of the rule as the cell sees it (computed once per terms it reads)."""
        kept = self._masks.get(id(rule))
        if kept is None:
            kept = self._masks[id(rule)] = (rule, _mask(*rule.logic.expressions()))
        mask = kept[1]
        projection = (id(rule), *(t if m else None for m, t in zip(mask, cell, strict=True)))
        found = self._views.get(projection)
        if found is None:
            logic = rule.logic
            said = (
                rule.effect,
                None if logic.condition is None else self._view(logic.condition, cell),
                tuple(self._view(e, cell) for e in logic.exceptions),
                tuple(
                    None if c is None else self._view(c, cell) for c in logic.obligation_conditions
                ),
                tuple(clause.names for clause in rule.obligations),
                logic.lifted_by,
                logic.clause_origins,
            )
            found = self._views[projection] = self._number(said)
        return found

    def _override(self, override: CompiledOverride, cell: Cell, plan: CellPlan) -> object:
        lifted = tuple(i for i, d in enumerate(plan.denies) if d.id in override.lifts)
        if not lifted:
            return None
        return (override.id, self._view(override.condition, cell), lifted)

    def _view(self, expr: ast.Expr, cell: Cell) -> int:
        """The number of ``expr`` as the cell sees it (computed once per terms it reads)."""
        kept = self._masks.get(id(expr))
        if kept is None:
            kept = self._masks[id(expr)] = (expr, _mask(expr))
        mask = kept[1]
        projection = (id(expr), *(t if m else None for m, t in zip(mask, cell, strict=True)))
        found = self._views.get(projection)
        if found is None:
            found = self._views[projection] = self._number(self._seen(expr, cell))
        return found

    def _number(self, view: View) -> int:
        return self._numbers.setdefault(view, len(self._numbers))

    def _seen(self, expr: ast.Expr, cell: Cell) -> View:
        if isinstance(expr, ast.And | ast.Or):
            stops = isinstance(expr, ast.Or)  # the constant that settles the junction
            parts = []
            for operand in expr.operands:
                part = self._seen(operand, cell)
                if part is stops:
                    return stops
                if part is not (not stops):
                    parts.append(part)
            if not parts:
                return not stops
            return parts[0] if len(parts) == 1 else (type(expr).__name__, tuple(parts))
        if isinstance(expr, ast.Not):
            inner = self._seen(expr.operand, cell)
            return (not inner) if isinstance(inner, bool) else ("not", inner)
        if isinstance(expr, ast.NamedCondition):
            body = self._seen(expr.body, cell)
            return body if isinstance(body, bool) else ("named", expr.name, body)
        return self._test(expr, cell)

    def _test(self, test: ast.Expr, cell: Cell) -> View:
        number = self._test_numbers.get(id(test))
        if number is None:
            number = self._number(("test", test))
            self._test_numbers[id(test)] = number
            reads = _reads_key(test, self.context)
            self._checks[id(test)] = None if reads else compile_condition(self.compiled, test)
        check = self._checks[id(test)]
        if check is not None:
            value = check({}, cell)
            return ("unknown", number) if value is None else bool(value)
        return ("test", number, tuple(self._terms_read(test, cell)))

    def _terms_read(self, test: ast.Expr, cell: Cell) -> Iterator[object]:
        """The value in the cell of each request term and attribute the test names."""
        if self._any_term(test):
            yield _ANY_TERM
            return
        for operand in _operands(test):
            for item in _items(operand):
                if isinstance(item, ast.RequestRef):
                    yield cell[KINDS.index(item.kind)]
                elif isinstance(item, ast.AttributeRef):
                    values = self.compiled.attributes[(item.kind, item.name)].values
                    value = values.get(cell[KINDS.index(item.kind)], MISSING)
                    yield _NO_VALUE if value is MISSING else value

    def _any_term(self, test: ast.Expr) -> bool:
        """``term in key`` for a request term and a ``set of`` key: which term matters only by
        how it stands to the terms tested against sets of its kind (:meth:`related`)."""
        return (
            isinstance(test, ast.Member)
            and isinstance(test.left, ast.RequestRef)
            and isinstance(test.right, ast.NameRef)
            and test.right.name in self.context
            and isinstance(self.context[test.right.name].decl.type, ast.TermSetType)
        )

    def _tested_terms(self) -> dict[str, tuple[str, ...]]:
        found: dict[str, set[str]] = {kind: set() for kind in KINDS}
        exprs = [e for r in self.compiled.rules for e in r.logic.expressions()]
        exprs += [o.condition for o in self.compiled.overrides]
        for expr in exprs:
            for test in _tests(expr):
                if not isinstance(test, ast.Member) or not isinstance(test.right, ast.NameRef):
                    continue
                declared = self.context.get(test.right.name)
                if declared is None or not isinstance(declared.decl.type, ast.TermSetType):
                    continue
                for item in _items(test.left):
                    if isinstance(item, ast.NameRef) and item.name not in self.context:
                        found[declared.decl.type.kind].add(item.name)
        return {kind: tuple(sorted(terms)) for kind, terms in found.items()}


def moved(
    verdict: CellVerdict, template: tuple[CompiledRule, ...], rules: tuple[CompiledRule, ...]
) -> CellVerdict:
    """``verdict``, found for a cell whose candidate rules in the plan's order are ``template``,
    for a cell with the same key whose rules are ``rules``: each rule in its place (the order of
    each list is kept: the plan orders both cells' rules alike)."""
    if verdict is NEVER or template == rules:
        return verdict
    place = {id(rule): i for i, rule in enumerate(template)}

    def mapped(found: tuple[CompiledRule, ...]) -> tuple[CompiledRule, ...]:
        return tuple(rules[place[id(r)]] for r in found)

    return replace(
        verdict,
        allows=mapped(verdict.allows),
        denies=mapped(verdict.denies),
        obligations=tuple(replace(o, rules=mapped(o.rules)) for o in verdict.obligations),
    )


# ---- walking conditions ----------------------------------------------------------------------


def _mask(*exprs: ast.Expr) -> tuple[bool, ...]:
    """Which of the request's terms (party, data, purpose) the conditions read."""
    kinds: set[str] = set().union(*(request_kinds_of(e) for e in exprs))
    return tuple(kind in kinds for kind in KINDS)


def _tests(expr: ast.Expr) -> Iterator[ast.Expr]:
    if isinstance(expr, ast.And | ast.Or):
        for operand in expr.operands:
            yield from _tests(operand)
    elif isinstance(expr, ast.Not):
        yield from _tests(expr.operand)
    elif isinstance(expr, ast.NamedCondition):
        yield from _tests(expr.body)
    else:
        yield expr


def _operands(test: ast.Expr) -> tuple[ast.Operand, ...]:
    if isinstance(test, ast.Truth):
        return (test.operand,)
    if isinstance(test, ast.Compare | ast.Member):
        return (test.left, test.right)
    return ()


def _items(operand: ast.Operand) -> Iterator[ast.Operand]:
    """The operand itself, the items of a list, the base of a moved date."""
    if isinstance(operand, ast.ListLiteral):
        for item in operand.items:
            yield from _items(item)
    elif isinstance(operand, ast.Shifted):
        yield from _items(operand.base)
    else:
        yield operand


def _reads_key(test: ast.Expr, context: Container[str]) -> bool:
    """Whether a test reads a context key (or ``now``): else the cell settles it."""
    if isinstance(test, ast.Presence):
        return True
    for operand in _operands(test):
        for item in _items(operand):
            if isinstance(item, ast.Now):
                return True
            if isinstance(item, ast.NameRef) and item.name in context:
                return True
    return False
