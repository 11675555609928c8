"""The condition under which one cell allows, as a condition of the language.

``decide`` allows a request when some candidate allow rule is true and no candidate deny rule is
true or unknown (an unknown deny fails closed). A rule's value is its condition and not each of
its exceptions, in Kleene's three-valued logic. In that logic ``not d`` is true exactly when ``d``
is false, and ``and``/``or`` are true exactly when all/some parts are, so the cell allows exactly
when

    (a₁ or a₂ or …) and not d₁ and not d₂ and …

is *true*, the aᵢ and dᵢ being the rules' values: false and unknown both refuse.

:class:`ConditionMaker` builds that condition and rewrites it only by equivalences that hold in
Kleene's logic for every context of the cell, so its truth never changes:

- tests that read no context key (the request's own terms, ``party = planiso``, ``online_activity
  in data``) are valued for the cell, and so are ``key is known`` / ``key is missing`` for a key
  with a default (the request always has it); a named condition whose body the cell settles is
  that constant, any other stays one test, written by its name;
- ``not`` is pushed down to the tests (De Morgan's laws hold in Kleene's logic) and each negated
  test is written as its opposite (``subject_age < 14`` → ``subject_age >= 14``, ``x in y`` → ``x
  not in y``, ``k is known`` → ``k is missing``): each pair is true, false and unknown on exactly
  the opposite contexts;
- ``and``/``or`` are flattened, repeated parts and absorbed parts (``a and (a or b)`` is ``a``)
  dropped, and the tests every alternative of an ``or`` shares are pulled out in front (``(a and
  b) or (a and c)`` is ``a and (b or c)``): lattice laws, which Kleene's logic keeps.

Which rules take part is the search's business (:mod:`.cell_verdicts`); the result is checked
against the search there as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..analysis.conditions import attributes_read
from ..analysis.scopes import KINDS
from ..engine.compiler import CompiledPolicy, CompiledRule, Condition, compile_condition
from ..language import ast
from ..language.ast_expressions import names_read
from ..language.connectives import Node, both, either
from ..language.connectives import negation as _negation
from ..language.printer import expr_text, literal_text

__all__ = [
    "CellNamedCondition",
    "ConditionMaker",
    "Node",
    "both",
    "either",
    "is_test",
    "tidy",
    "words",
]

_OPPOSITE: dict[str, ast.CompareOp] = {
    "=": "!=",
    "!=": "=",
    "<": ">=",
    "<=": ">",
    ">": "<=",
    ">=": "<",
}


_MIRRORED: dict[str, ast.CompareOp] = {
    "=": "=",
    "!=": "!=",
    "<": ">",
    "<=": ">=",
    ">": "<",
    ">=": "<=",
}
"""The operator that says the same with its operands swapped."""


@dataclass(frozen=True, slots=True)
class CellNamedCondition(ast.NamedCondition):
    """A named condition in one cell whose terms' attributes it reads: the same test (its value
    is its body's), shown with the attributes' values in the cell and what it means with them
    (`` `same_place` (`party.location` is "CA-QC": `dest = "CA-QC"`) ``)."""

    values: tuple[tuple[str, str], ...] = ()
    """Each attribute it reads (``party.location``) and its value in the cell, as written (or
    ``unknown``)."""
    meaning: ast.Expr | None = None
    """Its body with those values, the tests the cell settles valued."""


def is_test(expr: ast.Expr) -> bool:
    """A test: a condition with no ``and``, ``or`` or ``not`` at its top."""
    return not isinstance(expr, ast.And | ast.Or | ast.Not)


class ConditionMaker:
    """Builds and simplifies the conditions of one policy's cells. Equal tests are shared as one
    object (the search caches what it knows of a test by its identity)."""

    def __init__(self, compiled: CompiledPolicy) -> None:
        self.compiled = compiled
        self._tests: dict[ast.Expr, ast.Expr] = {}
        self._opposites: dict[int, ast.Expr] = {}
        self._constant: dict[int, Condition | None] = {}
        self._values: dict[int, Node] = {}

    # ---- the pieces ---------------------------------------------------------------------------
    def rule_value(self, rule: CompiledRule) -> Node:
        """The rule's value as one condition: its condition and not each exception."""
        found = self._values.get(id(rule))
        if found is None:
            logic = rule.logic
            parts: list[ast.Expr] = [logic.condition] if logic.condition is not None else []
            parts += [ast.Not(e) for e in logic.exceptions]
            found = True if not parts else parts[0] if len(parts) == 1 else ast.And(tuple(parts))
            self._values[id(rule)] = found
        return found

    def allows_when(
        self,
        cell: tuple[str, str, str],
        allows: Sequence[CompiledRule],
        denies: Sequence[CompiledRule],
    ) -> Node:
        """The cell allows exactly when this is true (given that ``allows`` and ``denies`` are
        the rules that take part: see :mod:`.cell_verdicts`)."""
        granted: list[Node] = [self.rule_value(r) for r in allows]
        refused: list[Node] = [_negation(self.rule_value(r)) for r in denies]
        return self.simplified(cell, both(either(granted), *refused))

    def simplified(self, cell: tuple[str, str, str], node: Node) -> Node:
        """``node`` valued for the cell's terms, negations pushed to the tests, and tidied. A
        test the cell makes unknown (an attribute its term has no value of) is then false: with
        negations at the tests, ``and`` and ``or`` only rise with their parts, so the condition
        is true exactly where it is true with the unknown tests false (and Kleene's logic is
        true on unknown parts only where it is true whatever they are)."""
        unknown: set[int] = set()
        return tidy(self._normal(self.fold(cell, node, unknown), False, unknown))

    # ---- valuing what the cell settles -------------------------------------------------------
    def fold(self, cell: tuple[str, str, str], node: Node, unknown: set[int] | None = None) -> Node:
        """``node`` with what the cell settles valued (the tests it leaves unknown are kept and
        noted in ``unknown``, by identity)."""
        if isinstance(node, bool):
            return node
        if isinstance(node, ast.And | ast.Or):
            parts = [self.fold(cell, e, unknown) for e in node.operands]
            return both(*parts) if isinstance(node, ast.And) else either(parts)
        if isinstance(node, ast.Not):
            inner = self.fold(cell, node.operand, unknown)
            return (not inner) if isinstance(inner, bool) else _negation(inner)
        if isinstance(node, ast.NamedCondition):
            # Settled by the cell, it is that constant; else it stays one test, shown by its
            # name (it means exactly its body, in every context of the cell), with the values
            # of the cell's attributes it reads and what it means with them.
            inner = self.fold(cell, node.body)
            if isinstance(inner, bool):
                return inner
            read = attributes_read([node.body])
            if not read:
                return self.canonical(node)
            values = tuple((a.text, self._value_text(cell, a)) for a in read)
            meaning = tidy(self._normal(inner, False, set()))
            assert not isinstance(meaning, bool)  # not settled, so not constant either
            return self.canonical(
                CellNamedCondition(
                    node.name,
                    node.body,
                    node.citations,
                    node.description,
                    node.span,
                    values,
                    meaning,
                )
            )
        return self._fold_test(cell, node, unknown)

    def _value_text(self, cell: tuple[str, str, str], attribute: ast.AttributeRef) -> str:
        values = self.compiled.attributes[(attribute.kind, attribute.name)].values
        term = cell[KINDS.index(attribute.kind)]
        return literal_text(values[term]) if term in values else "unknown"  # type: ignore[arg-type]

    def _fold_test(
        self, cell: tuple[str, str, str], test: ast.Expr, unknown: set[int] | None
    ) -> Node:
        if isinstance(test, ast.Presence):
            key = test.key.value
            if key in self.compiled.default_values:
                return test.known  # a key with a default is always there
            return self.canonical(test)
        if isinstance(test, ast.AttributePresence):
            if isinstance(test.attribute, ast.KeyAttributeRef):
                return self.canonical(test)  # whether the key names a term with a value
            values = self.compiled.attributes[(test.attribute.kind, test.attribute.name)].values
            return (cell[KINDS.index(test.attribute.kind)] in values) is test.known
        test = self._with_values(cell, test)
        if _operands(test) and any(isinstance(o, ast.AttributeRef) for o in _operands(test)):
            # An attribute left is one the cell's term has no value of: unknown in every context.
            if unknown is not None:
                unknown.add(id(self.canonical(test)))
            return self.canonical(test)
        check = self._constant_check(test)
        if check is None:
            return self.canonical(test)
        value = check({}, cell)
        return self.canonical(test) if value is None else value

    def _with_values(self, cell: tuple[str, str, str], test: ast.Expr) -> ast.Expr:
        """``test`` with each attribute of the cell's terms written as its value in the cell
        (``party.location in allowed`` reads ``"US" in allowed`` for a US party)."""
        operands = _operands(test)
        if not any(isinstance(o, ast.AttributeRef) for o in operands):
            return test
        assert isinstance(test, ast.Compare | ast.Member | ast.Truth)
        valued = [self._valued(cell, o) for o in operands]
        if isinstance(test, ast.Truth):
            return self.canonical(ast.Truth(valued[0]))
        if isinstance(test, ast.Compare):
            left, right = valued
            if isinstance(left, ast.Literal_) and not isinstance(right, ast.Literal_):
                # `data.max_age > age` reads `age < 5`: the key first, as people write it
                return self.canonical(ast.Compare(_MIRRORED[test.op], right, left))
            return self.canonical(ast.Compare(test.op, left, right))
        return self.canonical(ast.Member(valued[0], valued[1], test.negated))

    def _valued(self, cell: tuple[str, str, str], node: ast.Operand) -> ast.Operand:
        if not isinstance(node, ast.AttributeRef):
            return node
        values = self.compiled.attributes[(node.kind, node.name)].values
        term = cell[KINDS.index(node.kind)]
        return ast.Literal_(values[term]) if term in values else node  # type: ignore[arg-type]

    def _constant_check(self, test: ast.Expr) -> Condition | None:
        """The evaluator's closure for a test that reads no context key, else None."""
        key = id(test)
        if key not in self._constant:
            reads = _reads_context(test, self.compiled.context)
            self._constant[key] = None if reads else compile_condition(self.compiled, test)
        return self._constant[key]

    def canonical(self, test: ast.Expr) -> ast.Expr:
        return self._tests.setdefault(test, test)

    # ---- negations down to the tests ---------------------------------------------------------
    def _normal(self, node: Node, negated: bool, unknown: set[int]) -> Node:
        if isinstance(node, bool):
            return node is not negated
        if isinstance(node, ast.Not):
            return self._normal(node.operand, not negated, unknown)
        if isinstance(node, ast.And | ast.Or):
            parts = [self._normal(e, negated, unknown) for e in node.operands]
            conjunction = isinstance(node, ast.And) is not negated
            return both(*parts) if conjunction else either(parts)
        test = self.canonical(node)
        if id(test) in unknown:
            return False  # unknown, and so is its opposite: never true (see `simplified`)
        return self.opposite(test) if negated else test

    def opposite(self, test: ast.Expr) -> ast.Expr:
        """The test that is true where ``test`` is false, false where it is true, and unknown
        where it is unknown."""
        found = self._opposites.get(id(test))
        if found is None:
            if isinstance(test, ast.Compare):
                made: ast.Expr = ast.Compare(_OPPOSITE[test.op], test.left, test.right)
            elif isinstance(test, ast.Member):
                made = ast.Member(test.left, test.right, not test.negated)
            elif isinstance(test, ast.Presence):
                made = ast.Presence(test.key, not test.known)
            elif isinstance(test, ast.AttributePresence):
                made = ast.AttributePresence(test.attribute, not test.known)
            else:
                made = ast.Not(test)
            found = self._opposites[id(test)] = self.canonical(made)
            self._opposites.setdefault(id(found), test)
        return found


def _operands(test: ast.Expr) -> tuple[ast.Operand, ...]:
    """The operands of a comparison, a membership or a truth test; none for other tests."""
    if isinstance(test, ast.Truth):
        return (test.operand,)
    if isinstance(test, ast.Compare | ast.Member):
        return (test.left, test.right)
    return ()


def _reads_context(test: ast.Expr, context: Iterable[str]) -> bool:
    declared = set(context)
    if isinstance(test, ast.Presence | ast.AttributePresence):
        return True
    nodes = (test.operand,) if isinstance(test, ast.Truth) else (test.left, test.right)  # type: ignore[union-attr]
    for node in nodes:
        for item in names_read(node):
            if isinstance(item, ast.Now) or item.name in declared:
                return True
    return False


# ---- tidying (lattice laws only) -------------------------------------------------------------


def tidy(node: Node) -> Node:
    """Flatten, drop repeats and absorbed parts, pull shared tests out of alternatives."""
    if isinstance(node, bool) or not isinstance(node, ast.And | ast.Or):
        return node
    kind = type(node)
    parts: list[ast.Expr] = []
    for operand in node.operands:
        done = tidy(operand)
        if isinstance(done, bool):  # pragma: no cover - constants are settled before tidying
            raise AssertionError("a constant inside a condition being tidied")
        for part in done.operands if isinstance(done, kind) else (done,):
            if part not in parts:
                parts.append(part)
    # Absorption: `a and (a or b)` is `a`; `a or (a and b)` is `a`.
    parts = [p for p in parts if not _absorbed(p, parts, kind)]
    if len(parts) == 1:
        return parts[0]
    if kind is ast.Or:
        return _factored(parts)
    return ast.And(tuple(parts))


def _absorbed(part: ast.Expr, parts: list[ast.Expr], kind: type) -> bool:
    other = ast.Or if kind is ast.And else ast.And
    if not isinstance(part, other):
        return False
    inner = part.operands
    return any(p is not part and p in inner for p in parts)


def _factored(alternatives: list[ast.Expr]) -> Node:
    """``(a and b) or (a and c)`` → ``a and (b or c)``."""
    conjuncts = [list(a.operands) if isinstance(a, ast.And) else [a] for a in alternatives]
    shared = [t for t in conjuncts[0] if all(t in c for c in conjuncts[1:])]
    if not shared:
        return ast.Or(tuple(alternatives))
    rests = [[t for t in c if t not in shared] for c in conjuncts]
    if any(not rest for rest in rests):  # `(a and b) or (a and b and c)` is `a and b`
        return tidy(both(*shared))
    rest = either(both(*r) for r in rests)
    return tidy(both(*shared, rest))


# ---- in words --------------------------------------------------------------------------------


def words(node: ast.Expr) -> str:
    """A condition as people read it: each test in backticks, as the policy writes it, joined by
    `and` and `or`, with parentheses around alternatives inside a conjunction (the wording of
    ``policy-engine diff``)."""
    if isinstance(node, ast.And | ast.Or):
        inner = ast.Or if isinstance(node, ast.And) else ast.And
        joined = " and " if isinstance(node, ast.And) else " or "
        return joined.join(
            f"({words(p)})" if isinstance(p, inner) else words(p) for p in node.operands
        )
    named = node.operand if isinstance(node, ast.Not) else node
    if isinstance(named, CellNamedCondition) and named.meaning is not None:
        values = ", ".join(f"`{a}` is {v}" for a, v in named.values)
        meaning = words(named.meaning)
        if named is not node:  # `not same_place`: true where what it means is false
            meaning = f"not ({meaning})"
        return f"`{expr_text(node)}` ({values}: {meaning})"
    return f"`{expr_text(node)}`"
