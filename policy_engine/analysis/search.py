"""A cell's contexts searched lazily: split only where a condition still needs it.

Enumerating every combination of the classes of every key a cell reads costs the product of
their sizes: 2^k for a rule reading k booleans, 2^40 for a set of purposes tested against 40
purposes. The questions ``check`` asks ("is there a request in this cell where the invariant's
condition holds and the policy decides otherwise?") rarely need that: as soon as a rule's
condition is false its other keys no longer matter.

So the search assigns one *fact* at a time, only the one the first undecided condition needs
(:mod:`.search_values` says how conditions are valued on partly known facts):

- a scalar key (boolean, integer, string, one of): missing, or one value of its classes (the
  classes of :mod:`.context_classes`, cut at every constant of the key's group of compared keys);
- a list key: missing (unless it has a default) or present; then, for each value a condition
  tests, whether it is in;
- a set-of-terms key: missing (unless it has a default) or present; then, for each term a
  condition tests, whether the set covers it (checked against the hierarchy: a set that covers
  `a` but not its parent `p` is fine, one that covers `p` but not its child `a` is not).

Missing keys are tried first, then defaults, then the rules' own constants, so the first
witness found is already small; :meth:`CellSearch.find` then looks for one with fewer keys
present. A witness becomes a real request (:class:`~.search_values.Witness`), and whoever asked
decides it with the evaluator before believing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..engine.compiler import MISSING, CompiledPolicy, CompiledRule
from ..engine.evaluator import show
from ..engine.request import normalize_context
from ..language import ast
from .budget import Meter
from .context_classes import ContextClass
from .scopes import KINDS
from .search_values import PENDING, PRESENT, Fact, Goal, Leaf, Valuer, Witness
from .space import RequestSpace

Settle = Callable[[Valuer], tuple[Any, "Fact | None"]]
"""What a leaf holds (anything but None) once it is settled, else None and the fact to assign."""

_END = object()


class CellSearch:
    """Searches the contexts of the cells of one policy, within one budget."""

    def __init__(self, compiled: CompiledPolicy, space: RequestSpace, meter: Meter) -> None:
        self.compiled = compiled
        self.space = space
        self.meter = meter
        self.cell: tuple[str, str, str] = ("", "", "")
        self._leaves: dict[int, tuple[ast.Expr, Leaf]] = {}
        self._domains: dict[tuple[str, tuple[str, str, str]], list[tuple[Any, str]]] = {}
        self._owners: dict[int, CompiledPolicy] = {}
        self.joint_of: Mapping[str, str] = space.joint_of

    def own(self, compiled: CompiledPolicy, rules: Iterable[CompiledRule]) -> None:
        """Value the conditions of ``rules`` with ``compiled`` (the other version of a diff):
        a test such as `data in contact_information` depends on the version's hierarchy."""
        for rule in rules:
            logic = rule.logic
            roots = [logic.condition, *logic.exceptions, *logic.obligation_conditions]
            for root in roots:
                for expr in _subexpressions(root):
                    self._owners[id(expr)] = compiled

    # ---- what the valuer asks -------------------------------------------------------------
    def leaf(self, expr: ast.Expr) -> Leaf:
        found = self._leaves.get(id(expr))
        if found is None:
            # The expression is kept with its leaf, so its id is never reused meanwhile.
            owner = self._owners.get(id(expr), self.compiled)
            found = self._leaves[id(expr)] = (expr, Leaf(expr, owner))
        return found[1]

    def item_value(
        self, item: ast.Operand, state: dict[Fact, Any], owner: CompiledPolicy | None = None
    ) -> Any:
        """What a membership test looks up: a constant, the request's term, a key's value, or
        the cell's term's (or a key's term's) attribute in ``owner`` (the version the test
        belongs to)."""
        if isinstance(item, ast.Literal_):
            return item.value
        if isinstance(item, ast.RequestRef):
            return self.cell[KINDS.index(item.kind)]
        if isinstance(item, ast.NameRef):
            if item.name in self.compiled.context:
                return state[("key", item.name)]
            return item.name
        if isinstance(item, ast.AttributeRef):  # a constant of the cell, or unknown
            values = (owner or self.compiled).attributes[(item.kind, item.name)].values
            return values.get(self.cell[KINDS.index(item.kind)], MISSING)
        if isinstance(item, ast.KeyAttributeRef):  # the value of the key's term, or unknown
            values = (owner or self.compiled).attributes[(item.kind, item.name)].values
            term = state[("key", item.key)]
            return MISSING if term is MISSING else values.get(term, MISSING)
        raise TypeError(f"cannot test membership of {item!r}")

    def is_set(self, key: str) -> bool:
        return isinstance(self.compiled.context[key].decl.type, ast.TermSetType)

    # ---- the search -----------------------------------------------------------------------
    def find(
        self, cell: tuple[str, str, str], goal: Goal, *, fewest: bool = True
    ) -> Witness | None:
        """A request of ``cell`` on which ``goal`` holds, with as few keys present as any such
        request (when ``fewest``), or None when there is none."""
        self.cell = cell
        found = self._search(goal, None)
        if found is None or not fewest:
            return found
        for bound in range(found.present):
            smaller = self._search(goal, bound)
            if smaller is not None:
                return smaller
        return found

    def first(
        self, rules: list[CompiledRule], cells: Iterable[tuple[str, str, str]], goal: Goal
    ) -> tuple[tuple[str, str, str], Witness] | None:
        """The first of ``cells`` (and its witness) where ``goal`` holds; cells that ``rules``
        cannot tell apart are searched once."""
        seen: set[tuple[object, ...]] = set()
        for cell in cells:
            signature = self.space.signature(cell, rules)
            if signature in seen:
                continue
            seen.add(signature)
            witness = self.find(cell, goal, fewest=False)
            if witness is not None:
                return cell, witness
        return None

    def _search(self, goal: Goal, bound: int | None) -> Witness | None:
        """Depth first over facts, at most ``bound`` keys present (an explicit stack: a rule file
        may make it deep)."""
        state: dict[Fact, Any] = {}
        stack: list[tuple[Fact, Iterator[Any]]] = []
        while True:
            self.meter.spend()
            verdict, need = goal(Valuer(self, state))
            if verdict is True:
                return self._witness(state)
            if verdict is PENDING:
                if need is None or need in state:
                    raise RuntimeError(f"the search is stuck on {need!r}")
                stack.append((need, iter(self._choices(need))))
            if not self._advance(state, stack, bound):
                return None

    def leaves(
        self, cell: tuple[str, str, str], settle: Settle
    ) -> Iterator[tuple[dict[Fact, Any], Any, Valuer]]:
        """Every leaf of the cell's search tree where ``settle`` settles: its facts (a copy), what
        ``settle`` said, and the valuer at that point. The leaves partition the cell's contexts:
        every context satisfies the facts of exactly one leaf."""
        self.cell = cell
        state: dict[Fact, Any] = {}
        stack: list[tuple[Fact, Iterator[Any]]] = []
        while True:
            self.meter.spend()
            valuer = Valuer(self, state)
            settled, need = settle(valuer)
            if settled is not None:
                yield dict(state), settled, valuer
            else:
                if need is None or need in state:
                    raise RuntimeError(f"the search is stuck on {need!r}")
                stack.append((need, iter(self._choices(need))))
            if not self._advance(state, stack, None):
                return

    def witness(self, cell: tuple[str, str, str], state: dict[Fact, Any]) -> Witness:
        """The request that stands for a leaf's facts (keys it does not assign are left out)."""
        self.cell = cell
        return self._witness(state)

    def _advance(
        self, state: dict[Fact, Any], stack: list[tuple[Fact, Iterator[Any]]], bound: int | None
    ) -> bool:
        """Move to the next assignment not yet tried; False when none is left."""
        while stack:
            fact, choices = stack[-1]
            state.pop(fact, None)
            value = next(choices, _END)
            if value is _END:
                stack.pop()
                continue
            state[fact] = value
            if bound is not None and self.present(state) > bound:
                continue
            if fact[0] in ("key", "cover") and not self._consistent(fact, state):
                continue
            return True
        return False

    def _choices(self, fact: Fact) -> list[Any]:
        if fact[0] == "joint":  # fewest keys present first
            return [value for value, _ in self.space.key_classes(fact[1], self.cell)]
        if fact[1] in self.space.held:
            return [self._held_choice(fact)]
        if fact[0] == "member":
            # A list of literals holds none but its literals.
            declared = self.compiled.context[fact[1]].decl.type
            literals = declared.literals if isinstance(declared, ast.ListType) else None
            return [False] if literals is not None and fact[2] not in literals else [False, True]
        if fact[0] != "key":
            return [False, True]
        name = fact[1]
        decl = self.compiled.context[name].decl
        if isinstance(decl.type, ast.ListType | ast.TermSetType):
            # A key with a default is never missing: a request that leaves it out has it.
            if self.space.defaults.get(name, MISSING) is not MISSING:
                return [PRESENT]
            return [MISSING, PRESENT]
        return [value for value, _ in self._domain(name)]

    def _held_choice(self, fact: Fact) -> Any:
        """The one value a fact about a key held at one value can take."""
        held = self.space.held[fact[1]]
        if fact[0] == "key":
            if self._is_scalar(fact[1]) or held is MISSING:
                return held
            return PRESENT
        if fact[0] == "member":
            return fact[2] in held
        kind = self.compiled.context[fact[1]].decl.type.kind  # type: ignore[union-attr]
        return not self.compiled.hierarchies[kind].ancestors[fact[2]].isdisjoint(held)

    def _domain(self, name: str) -> list[tuple[Any, str]]:
        """A scalar key's classes: missing first, then the default, then the constants the rules
        name, then the rest (the first witness found is the plainest)."""
        found = self._domains.get((name, self.cell))
        if found is None:
            classes = self.space.key_classes(name, self.cell)
            facts = self.space.facts.get(name)
            named = (facts.ints | facts.strings) if facts else set()
            default = self.space.defaults.get(name, MISSING)

            def rank(item: tuple[Any, str]) -> int:
                value = item[0]
                if value is MISSING:
                    return 0
                if value == default and type(value) is type(default):
                    return 1
                return 2 if value in named and not isinstance(value, bool) else 3

            found = self._domains[(name, self.cell)] = sorted(classes, key=rank)
        return found

    def _consistent(self, fact: Fact, state: dict[Fact, Any]) -> bool:
        """A set-of-terms key's coverage facts can all hold at once."""
        name = fact[1]
        if not self.is_set(name):
            return True
        return self._chosen_set(name, state) is not None

    def _chosen_set(self, name: str, state: dict[Fact, Any]) -> frozenset[str] | None:
        """A set that covers exactly the terms the facts say it covers (others as it happens),
        or None when no set does."""
        kind = self.compiled.context[name].decl.type.kind  # type: ignore[union-attr]
        ancestors = self.compiled.hierarchies[kind].ancestors
        covered = [f[2] for f, v in state.items() if f[0] == "cover" and f[1] == name and v]
        uncovered = [f[2] for f, v in state.items() if f[0] == "cover" and f[1] == name and not v]
        forbidden: set[str] = set().union(*(ancestors[t] for t in uncovered))
        chosen: set[str] = set()
        for term in covered:
            if term not in forbidden:
                chosen.add(term)
                continue
            allowed = sorted(ancestors[term] - forbidden)
            if not allowed:
                return None
            chosen.add(allowed[0])
        return frozenset(chosen)

    def _witness(self, state: dict[Fact, Any]) -> Witness:
        found: list[tuple[str, Any, str]] = []
        for fact in (f for f in state if f[0] == "joint"):
            joint = state[fact]
            found += [(k, v, w) for (k, v), w in zip(joint.values, joint.words(), strict=True)]
        for fact in (f for f in state if f[0] == "key"):
            name = fact[1]
            value = state[fact]
            if name in self.space.held:
                value, word = MISSING, ""  # never sent: missing, or its default applies
            elif value is not MISSING and value is PRESENT and not self._is_scalar(name):
                value, word = self._collection(name, state)
                if self._is_default(name, value):
                    value = MISSING  # the request leaves it out: the default applies
            else:
                word = dict((repr(v), w) for v, w in self._domain_words(name)).get(repr(value), "")
                if self._is_default(name, value):
                    value = MISSING  # the request leaves it out: the default applies
            found.append((name, value, word))
        found.sort(key=lambda item: item[0])
        values = [(name, value) for name, value, _ in found]
        klass = ContextClass(tuple(values), tuple(word for _, _, word in found))
        context = normalize_context(self.compiled, klass.request_context())
        return Witness(klass, context, sum(v is not MISSING for _, v in values))

    def _is_default(self, name: str, value: Any) -> bool:
        default = self.space.defaults.get(name, MISSING)
        return default is not MISSING and value == default and type(value) is type(default)

    def present(self, state: dict[Fact, Any]) -> int:
        """Keys a request must send: neither missing nor at their default."""
        return sum(
            v.present() if f[0] == "joint" else 1
            for f, v in state.items()
            if f[0] == "joint"
            or (f[0] == "key" and v is not MISSING and not self._is_default(f[1], v))
        )

    def _is_scalar(self, name: str) -> bool:
        return not isinstance(self.compiled.context[name].decl.type, ast.ListType | ast.TermSetType)

    def _domain_words(self, name: str) -> list[tuple[Any, str]]:
        if self._is_scalar(name):
            return self._domain(name)
        return [(MISSING, f"`{name}` is missing")]

    def _collection(self, name: str, state: dict[Fact, Any]) -> tuple[frozenset[Any], str]:
        if not self.is_set(name):
            members = frozenset(
                f[2] for f, v in state.items() if f[0] == "member" and f[1] == name and v
            )
            return members, f"`{name}` is {show(members)}"
        chosen = self._chosen_set(name, state)
        assert chosen is not None  # every assignment was checked
        parts = [
            f"`{name}` {'covers' if v else 'does not cover'} `{f[2]}`"
            for f, v in sorted(state.items(), key=lambda item: str(item[0]))
            if f[0] == "cover" and f[1] == name
        ]
        return chosen, " and ".join(parts) if parts else f"`{name}` is given"


def _subexpressions(expr: ast.Expr | None) -> Iterator[ast.Expr]:
    if expr is None:
        return
    yield expr
    if isinstance(expr, ast.And | ast.Or):
        for operand in expr.operands:
            yield from _subexpressions(operand)
    elif isinstance(expr, ast.Not):
        yield from _subexpressions(expr.operand)
    elif isinstance(expr, ast.NamedCondition):
        yield from _subexpressions(expr.body)
