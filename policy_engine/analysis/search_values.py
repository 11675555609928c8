"""Values of conditions on partly known contexts, for the lazy search of :mod:`.search`.

Enumerating every combination of the classes of every key a cell reads costs the product of
their sizes: 2^k for a rule reading k booleans, 2^40 for a set of purposes tested against 40
purposes. The questions ``check`` asks ("is there a request in this cell where the invariant's
condition holds and the policy decides otherwise?") rarely need that: as soon as a rule's
condition is false its other keys no longer matter.

So the search assigns one *fact* at a time, only the one the first undecided condition needs:

- a scalar key (boolean, integer, string, one of): missing, or one value of its classes (the
  classes of :mod:`.context_classes`, cut at every constant of the key's group of compared keys);
- a list key: missing or present; then, for each value a condition tests, whether it is in;
- a set-of-terms key: missing or present; then, for each term a condition tests, whether the set
  covers it (consistency across terms is checked against the hierarchy).

After each assignment every condition is valued in four values: true, false, unknown (the
evaluator's own result on the facts it reads, via the compiled atom) and *pending* (it reads a
fact not assigned yet; ``and``/``or``/``not`` follow Kleene's logic with pending as "any of the
three"). A condition that is not pending has that value for every completion of the facts, so
the search stops as soon as the question is settled. A witness is then made into a real request
and decided by the evaluator, which must agree: the search never answers on its own authority.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ..engine.compiler import MISSING, CompiledPolicy, CompiledRule, compile_condition
from ..language import ast
from .conditions import operand_keys
from .context_classes import ContextClass


class _Pending:
    def __repr__(self) -> str:
        return "PENDING"


PENDING: Final = _Pending()
_UNSET: Final = _Pending()
"""A fact not assigned yet (never a value)."""
PRESENT: Final = True
"""The value of a list or set key's presence fact when the key is sent."""

Value = bool | None | _Pending
Fact = tuple[str, ...]
"""``("key", name)``, ``("member", list key, value)``, ``("cover", set key, term)`` or
``("joint", name)`` (keys whose classes are made together: a :class:`.context_classes.Joint`)."""
Valued = tuple[Value, Fact | None]
"""A value, and when it is pending the first fact it waits for."""
Goal = Callable[["Valuer"], Valued]
"""Settles a question on the facts assigned so far: True (a witness), False (none below this
point) or pending with the fact to assign next."""


class AnalysisDisagreement(Exception):
    """The search and the evaluator disagree about a request: a bug, reported, never hidden."""


@dataclass(frozen=True)
class Witness:
    """A request the search found: the context class (what a request sends, in words) and the
    context the evaluator sees (defaults filled in)."""

    klass: ContextClass
    context: dict[str, Any]
    present: int


class Leaf:
    """One test of a condition: which facts it reads, and the evaluator's closure for it."""

    __slots__ = ("check", "collection", "item", "owner", "presence", "scalars")

    def __init__(self, expr: ast.Expr, compiled: CompiledPolicy) -> None:
        self.owner = compiled
        """The version the test is valued in (its hierarchy, its terms' attribute values)."""
        self.check = compile_condition(compiled, expr)
        context = compiled.context
        self.presence: str | None = expr.key.value if isinstance(expr, ast.Presence) else None
        self.collection: str | None = None
        self.item: ast.Operand | None = None
        operands: tuple[ast.Operand, ...] = ()
        if isinstance(expr, ast.Truth):
            operands = (expr.operand,)
        elif isinstance(expr, ast.AttributePresence):
            operands = (expr.attribute,)  # the key that names the term, if any
        elif isinstance(expr, ast.Compare):
            operands = (expr.left, expr.right)
        elif isinstance(expr, ast.Member):
            operands = (expr.left,)
            right = expr.right
            if isinstance(right, ast.NameRef) and _is_collection(context.get(right.name)):
                self.collection, self.item = right.name, expr.left
            else:
                operands = (expr.left, right)
        names = [k for o in operands for k in operand_keys(o, context, compiled.now_key)]
        self.scalars = tuple(dict.fromkeys(names))


def _is_collection(key: Any) -> bool:
    """A list or set key, whose facts are its members (a key of one term is a scalar)."""
    return key is not None and isinstance(key.decl.type, ast.ListType | ast.TermSetType)


class FactSource(Protocol):
    """What a :class:`Valuer` asks of the search it serves."""

    cell: tuple[str, str, str]
    joint_of: Mapping[str, str]

    def leaf(self, expr: ast.Expr) -> Leaf: ...

    def item_value(
        self, item: ast.Operand, state: dict[Fact, Any], owner: CompiledPolicy | None = None
    ) -> Any: ...

    def is_set(self, key: str) -> bool: ...


class Valuer:
    """Values conditions on the facts assigned so far (one instance per search node)."""

    __slots__ = ("_memo", "cell", "search", "state")

    def __init__(self, search: FactSource, state: dict[Fact, Any]) -> None:
        self.search = search
        self.state = state
        self.cell = search.cell
        self._memo: dict[int, Possible] = {}

    def of(self, expr: ast.Expr) -> Possible:
        found = self._memo.get(id(expr))
        if found is None:
            found = self._memo[id(expr)] = self._value(expr)
        return found

    def rule(self, rule: CompiledRule) -> Possible:
        """The rule's value (its condition and not each exception), as ``rule_value``."""
        logic = rule.logic
        parts: list[Possible] = [self.of(logic.condition)] if logic.condition else []
        parts += [_negate(self.of(e)) for e in logic.exceptions]
        return _conjunction(parts)

    def own(self, rule: CompiledRule) -> Possible:
        """The rule's value without the overrides that lift it, as ``own_value``."""
        logic = rule.logic
        parts: list[Possible] = [self.of(logic.condition)] if logic.condition else []
        parts += [_negate(self.of(e)) for e in logic.own_exceptions]
        return _conjunction(parts)

    def _value(self, expr: ast.Expr) -> Possible:
        if isinstance(expr, ast.NamedCondition):
            return self.of(expr.body)  # exactly what it names
        if isinstance(expr, ast.And):
            return _conjunction([self.of(e) for e in expr.operands])
        if isinstance(expr, ast.Or):
            return _negate(_conjunction([_negate(self.of(e)) for e in expr.operands]))
        if isinstance(expr, ast.Not):
            return _negate(self.of(expr.operand))
        leaf = self.search.leaf(expr)
        need, context = self._leaf_context(leaf)
        if need is not None:
            return ANY, need
        return _BIT[leaf.check(context, self.cell)], None

    def _scalar(self, name: str) -> tuple[Fact, Any]:
        """The fact that holds a key's value, and the value (``_UNSET`` while it is not
        assigned): ``("key", name)``, or for keys made together the fact of them all."""
        unit = self.search.joint_of.get(name)
        if unit is None:
            fact: Fact = ("key", name)
            return fact, self.state.get(fact, _UNSET)
        fact = ("joint", unit)
        joint = self.state.get(fact, _UNSET)
        return fact, joint if joint is _UNSET else joint.get(name)

    def _leaf_context(self, leaf: Leaf) -> tuple[Fact | None, dict[str, Any]]:
        """The fact the test still needs, or the context to evaluate it in."""
        state = self.state
        context: dict[str, Any] = {}
        for name in leaf.scalars:
            fact, value = self._scalar(name)
            if value is _UNSET:
                return fact, context
            if value is not MISSING:
                context[name] = value
        if leaf.presence is not None:
            fact, value = self._scalar(leaf.presence)
            if value is _UNSET:
                return fact, context
            if value is not MISSING:
                context[leaf.presence] = frozenset() if value is PRESENT else value
        if leaf.collection is not None:
            assert leaf.item is not None
            fact = ("key", leaf.collection)
            if fact not in state:
                return fact, context
            item = self.search.item_value(leaf.item, state, leaf.owner)
            if state[fact] is MISSING or item is MISSING:
                return None, context
            kind = "cover" if self.search.is_set(leaf.collection) else "member"
            fact_of_item: Fact = (kind, leaf.collection, item)
            if fact_of_item not in state:
                return fact_of_item, context
            context[leaf.collection] = frozenset((item,)) if state[fact_of_item] else frozenset()
        return None, context


TRUE, FALSE, UNKNOWN = 1, 2, 4
"""A condition's possible values on partly known facts, as a set of bits: a condition that can
still be any of the three is ``ANY``; one whose value is settled has a single bit."""
ANY = TRUE | FALSE | UNKNOWN
_BIT = {True: TRUE, False: FALSE, None: UNKNOWN}

Possible = tuple[int, Fact | None]
"""The values a condition can still take, and the first fact it waits for (None when settled)."""


def _negate(possible: Possible) -> Possible:
    mask, need = possible
    return ((mask & UNKNOWN) | (TRUE if mask & FALSE else 0) | (FALSE if mask & TRUE else 0)), need


def _conjunction(parts: list[Possible]) -> Possible:
    """Kleene's ``and`` over sets of possible values: true only if every part can be true, false
    if some part can be false, unknown if every part can be true or unknown and one unknown."""
    can_true = can_false = False
    all_true_or_unknown = True
    some_unknown = False
    need: Fact | None = None
    for mask, wanted in parts:
        if mask == FALSE:
            return FALSE, None
        can_false = can_false or bool(mask & FALSE)
        all_true_or_unknown = all_true_or_unknown and bool(mask & (TRUE | UNKNOWN))
        some_unknown = some_unknown or bool(mask & UNKNOWN)
        if need is None and wanted is not None:
            need = wanted
    can_true = all(mask & TRUE for mask, _ in parts)
    result = (TRUE if can_true else 0) | (FALSE if can_false else 0)
    if all_true_or_unknown and some_unknown:
        result |= UNKNOWN
    return result, (need if result not in (TRUE, FALSE, UNKNOWN) else None)


def surely(possible: Possible, wanted: int) -> Valued:
    """Whether the condition's value is one of ``wanted`` (a set of bits): settled True or False,
    or pending with the fact to assign next."""
    mask, need = possible
    if not mask & ~wanted:
        return True, None
    if not mask & wanted:
        return False, None
    return PENDING, need


def effect(
    valuer: Valuer, denies: list[CompiledRule], allows: list[CompiledRule]
) -> tuple[frozenset[str], Fact | None]:
    """The effects the cell can still give, as ``effect_of``: a deny that is not false denies (it
    fails closed); otherwise an allow that is true allows; otherwise deny. With the first fact
    to assign when both are still possible."""
    need: Fact | None = None
    every_deny_can_be_false = True
    some_deny_can_apply = False
    for rule in denies:
        mask, wanted = valuer.rule(rule)
        every_deny_can_be_false = every_deny_can_be_false and bool(mask & FALSE)
        some_deny_can_apply = some_deny_can_apply or bool(mask & (TRUE | UNKNOWN))
        need = need or wanted
    some_allow_can_be_true = False
    every_allow_can_fail = True
    for rule in allows:
        mask, wanted = valuer.rule(rule)
        some_allow_can_be_true = some_allow_can_be_true or bool(mask & TRUE)
        every_allow_can_fail = every_allow_can_fail and bool(mask & (FALSE | UNKNOWN))
        need = need or wanted
    possible = set()
    if every_deny_can_be_false and some_allow_can_be_true:
        possible.add("allow")
    if some_deny_can_apply or every_allow_can_fail:
        possible.add("deny")
    return frozenset(possible), (need if len(possible) > 1 else None)


def some(parts: Iterator[Valued]) -> Valued:
    """Some part holds: True as soon as one does, pending while one is pending."""
    return _settled(parts, True)


def every(parts: Iterator[Valued]) -> Valued:
    """All parts hold: False as soon as one fails, pending while one is pending."""
    return _settled(parts, False)


def _settled(parts: Iterator[Valued], deciding: bool) -> Valued:
    """``deciding`` as soon as a part is, pending while a part is pending, else the opposite."""
    need: Fact | None = None
    for value, wanted in parts:
        if value is deciding:
            return deciding, None
        if value is PENDING and need is None:
            need = wanted
    return (PENDING, need) if need is not None else (not deciding, None)
