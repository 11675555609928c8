"""Checked AST → an immutable compiled policy, built once at load.

Conditions become closures over the request (no AST walking per decision, no ``eval``); rules are
indexed by the terms they cover, so a request only looks at its candidate rules; the candidate
plan of each (party, data, purpose) cell is memoised the first time it is asked for.

Truth values follow Kleene's three-valued logic: ``True``, ``False`` and ``None`` for *unknown*
(a context key the condition needs is missing).
"""

from __future__ import annotations

import ast as py
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..language import ast
from ..semantics.checker import CheckedPolicy
from ..semantics.vocabulary import Hierarchy
from .specialize import CODEGEN_LOCK, Folded, Specializer, shape_of, term_kind

MISSING: Any = object()
"""Stands for an absent context key inside compiled conditions."""

Context = Mapping[str, Any]
RequestTerms = tuple[str, str, str]
SymbolTables = tuple[dict[str, ast.ValueType], dict[str, str]]  # (party, data, purpose)
Condition = Callable[[Context, RequestTerms], "bool | None"]
Getter = Callable[[Context, RequestTerms], Any]

_REQUEST_INDEX = {"party": 0, "data": 1, "purpose": 2}


class ObligationPlan:
    """An obligation clause of a rule: its names and (lazily compiled) condition."""

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
        builder: _ConditionBuilder,
        source: ast.Rule | None = None,
        load: Callable[[], ast.Rule] | None = None,
        logic: Callable[[], RuleLogic] | None = None,
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
    def of(cls, position: int, source: ast.Rule, builder: _ConditionBuilder) -> CompiledRule:
        return cls(
            position,
            source.id.value,
            source.effect,
            (_names(source.parties), _names(source.data), _names(source.purposes)),
            tuple(tuple(n.value for n in c.names) for c in source.obligations),
            RuleAbout.of(source),
            builder,
            source=source,
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


class Outcome(NamedTuple):
    """What a decision came to: the effect, the rules that decided it, obligations and the
    context keys whose absence made some considered rule unknown. (A named tuple: one is built
    per decision, and a frozen dataclass costs several times more to construct.)"""

    effect: ast.Effect
    deciding: tuple[CompiledRule, ...]
    obligations: tuple[str, ...]
    missing: tuple[str, ...]


CellFunction = Callable[[Mapping[str, Any]], "Outcome | None"]


@dataclass(frozen=True, slots=True)
class FastCell:
    """The cell's rules after partial evaluation: its whole outcome when no rule left depends on
    the context (``static``), else a generated function of the context that returns the outcome,
    or None when a key it needs is missing (the three-valued evaluator then decides)."""

    static: Outcome | None
    function: CellFunction | None


INVALID: Any = object()
"""What a context validator returns for a value of the wrong type."""


@dataclass(frozen=True)
class ContextKey:
    name: str
    decl: ast.ContextDecl
    default: Any = MISSING
    check: Callable[[Any], Any] = field(default=lambda value: INVALID, repr=False)
    """Converts a valid request value to the evaluator's form, or returns ``INVALID``."""


def context_validator(
    type_: ast.ValueType, hierarchies: dict[str, Hierarchy]
) -> Callable[[Any], Any]:
    """A fast check-and-convert function for one context key, built once at load. Anything it
    refuses goes through the slow path in ``request.py``, which explains what is wrong."""
    if isinstance(type_, ast.BoolType):
        return lambda v: v if v is True or v is False else INVALID
    if isinstance(type_, ast.IntType):
        return lambda v: v if type(v) is int else INVALID
    if isinstance(type_, ast.StrType):
        return lambda v: v if type(v) is str else INVALID
    if isinstance(type_, ast.OneOfType):
        choices = frozenset(type_.literals)
        return lambda v: v if type(v) is str and v in choices else INVALID
    # Lists stay as given: rules only test membership in them (the checker refuses `=` on lists
    # and sets), which a list answers as a set would, and a set built per request costs more
    # than the test.
    if isinstance(type_, ast.ListType) and type_.literals is None:

        def strings_check(value: Any) -> Any:
            if type(value) is not list and type(value) is not tuple:
                return INVALID
            for item in value:
                if type(item) is not str:
                    return INVALID
            return value

        return strings_check
    allowed = frozenset(
        type_.literals  # type: ignore[arg-type]
        if isinstance(type_, ast.ListType)
        else hierarchies[type_.kind].terms
    )

    def list_check(value: Any) -> Any:
        # Every allowed value is a string, so a list whose items are all allowed holds only
        # strings.
        if type(value) is not list and type(value) is not tuple:
            return INVALID
        try:
            return value if allowed.issuperset(value) else INVALID
        except TypeError:  # an unhashable item
            return INVALID

    return list_check


@dataclass
class CompiledPolicy:
    """Everything :func:`policy_engine.evaluator.evaluate` needs; never mutated after load except
    for the memo of cell plans, whose entries are immutable and idempotent (thread-safe)."""

    version: str
    hierarchies: dict[str, Hierarchy]
    context: dict[str, ContextKey]
    rules: tuple[CompiledRule, ...]
    _checked: CheckedPolicy | Callable[[], CheckedPolicy] = field(repr=False)
    _naming: dict[str, dict[str, tuple[int, ...]]] = field(repr=False, default_factory=dict)
    """kind → term → positions of the rules whose scope names that term."""
    _any: dict[str, frozenset[int]] = field(repr=False, default_factory=dict)
    _cells: dict[RequestTerms, CellPlan] = field(repr=False, default_factory=dict)
    _fast: dict[RequestTerms, FastCell] = field(repr=False, default_factory=dict)
    default_values: dict[str, Any] = field(repr=False, default_factory=dict)
    """Context keys with a declared default, and their values."""
    symbol_tables: SymbolTables = field(repr=False, default=({}, {}))
    """Context key → type and declared name → kind, for code that resolves names."""
    checks: dict[str, Callable[[Any], Any]] = field(repr=False, default_factory=dict)
    """Context key → its validator (see :func:`context_validator`)."""

    @property
    def checked(self) -> CheckedPolicy:
        """The checked syntax trees of the whole policy, for analyses. A policy restored from the
        compiled cache rebuilds them (parse and check) on first use."""
        found = self._checked
        if not isinstance(found, CheckedPolicy):
            found = self._checked = found()
        return found

    def fast_cell(self, terms: RequestTerms) -> FastCell:
        """The cell's rules specialized to its terms (memoised; entries are immutable)."""
        fast = self._fast.get(terms)
        if fast is None:
            fast = self._specialize(terms)
            self._fast[terms] = fast
        return fast

    def _specialize(self, terms: RequestTerms) -> FastCell:
        plan = self.cell(terms)
        spec = Specializer(*self.symbol_tables, self.hierarchies, terms)
        folded: list[tuple[CompiledRule, Folded, list[tuple[tuple[str, ...], Folded]]]] = []
        for rule in plan.denies + plan.allows:
            logic = rule.logic
            applies = spec.applicability(logic.condition, logic.exceptions)
            if applies is False:
                continue
            clauses: list[tuple[tuple[str, ...], Folded]] = []
            for clause, when in zip(rule.obligations, logic.obligation_conditions, strict=True):
                test: Folded = True if when is None else spec.fold(when)
                if test is not False:
                    clauses.append((clause.names, test))
            folded.append((rule, applies, clauses))  # applies is True or an expression here
        denies = [(r, a) for r, a, _ in folded if r.effect == "deny"]
        allows = [(r, a, c) for r, a, c in folded if r.effect == "allow"]
        if all(a is True for _, a, _ in folded) and all(
            t is True for *_, c in allows for _, t in c
        ):
            if denies:
                return FastCell(Outcome("deny", tuple(r for r, _ in denies), (), ()), None)
            if allows:
                names = sorted({n for *_, c in allows for ns, _ in c for n in ns})
                return FastCell(
                    Outcome("allow", tuple(r for r, *_ in allows), tuple(names), ()), None
                )
            return FastCell(Outcome("deny", (), (), ()), None)
        return FastCell(None, spec.function(_cell_body(spec, denies, allows)))

    def cell(self, terms: RequestTerms) -> CellPlan:
        plan = self._cells.get(terms)
        if plan is None:
            plan = self._plan(terms)
            self._cells[terms] = plan
        return plan

    def _plan(self, terms: RequestTerms) -> CellPlan:
        # A rule covers the cell's term when its scope names the term or one of its ancestors.
        candidates: set[int] | None = None
        for kind, term in zip(("party", "data", "purpose"), terms, strict=True):
            naming = self._naming[kind]
            covering = set(self._any[kind])
            for above in self.hierarchies[kind].ancestors[term]:
                covering.update(naming.get(above, ()))
            candidates = covering if candidates is None else candidates & covering
        chosen = sorted(candidates or (), key=lambda i: self.rules[i].id)
        rules = [self.rules[i] for i in chosen]
        return CellPlan(
            denies=tuple(r for r in rules if r.effect == "deny"),
            allows=tuple(r for r in rules if r.effect == "allow"),
        )


def compile_policy(checked: CheckedPolicy, version: str) -> CompiledPolicy:
    tables = symbol_tables(checked.context, {n: s.kind for n, s in checked.symbols.items()})
    builder = _ConditionBuilder(checked.hierarchies, tables)
    rules = tuple(CompiledRule.of(i, rule, builder) for i, rule in enumerate(checked.rules))
    return assemble(version, checked.hierarchies, checked.context, tables, rules, checked)


def symbol_tables(context: Mapping[str, ast.ContextDecl], kinds: dict[str, str]) -> SymbolTables:
    return ({name: decl.type for name, decl in context.items()}, kinds)


def condition_builder(hierarchies: dict[str, Hierarchy], tables: SymbolTables) -> _ConditionBuilder:
    return _ConditionBuilder(hierarchies, tables)


def assemble(
    version: str,
    hierarchies: dict[str, Hierarchy],
    context_decls: Mapping[str, ast.ContextDecl],
    tables: SymbolTables,
    rules: tuple[CompiledRule, ...],
    checked: CheckedPolicy | Callable[[], CheckedPolicy],
) -> CompiledPolicy:
    """The compiled policy around its rules: context validators, defaults and the rule index.
    (Shared by compilation and by restoring from the compiled cache.)"""
    context = {
        name: ContextKey(
            name,
            decl,
            decl.default.value if decl.default is not None else MISSING,
            context_validator(decl.type, hierarchies),
        )
        for name, decl in context_decls.items()
    }
    compiled = CompiledPolicy(version, hierarchies, context, rules, checked)
    compiled.symbol_tables = tables
    compiled.checks = {name: key.check for name, key in context.items()}
    compiled.default_values = {n: k.default for n, k in context.items() if k.default is not MISSING}
    for kind in ("party", "data", "purpose"):
        naming: dict[str, list[int]] = {}
        any_rules: set[int] = set()
        for rule in rules:
            scope = (rule.parties, rule.data, rule.purposes)[_REQUEST_INDEX[kind]]
            if scope is None:
                any_rules.add(rule.position)
                continue
            for term in scope:
                naming.setdefault(term, []).append(rule.position)
        compiled._naming[kind] = {t: tuple(p) for t, p in naming.items()}
        compiled._any[kind] = frozenset(any_rules)
    return compiled


# ---- conditions → closures ------------------------------------------------------------------


class _ConditionBuilder:
    def __init__(self, hierarchies: dict[str, Hierarchy], tables: SymbolTables) -> None:
        self.hierarchies = hierarchies
        self.tables = tables
        self._scopes: dict[frozenset[str], frozenset[str]] = {}

    def scope(self, names: tuple[str, ...] | None) -> frozenset[str] | None:
        """A rule's scope as a set, one shared object per distinct set (a large policy names
        the same few terms in thousands of rules; each set costs 200 bytes or more)."""
        if names is None:
            return None
        found = frozenset(names)
        return self._scopes.setdefault(found, found)

    def _is_context(self, name: str) -> bool:
        return name in self.tables[0]

    def _term_kind(self, node: ast.Operand) -> str | None:
        return term_kind(node, *self.tables)

    def getter(self, node: ast.Operand) -> Getter:
        if isinstance(node, ast.Literal_):
            value = node.value
            return lambda ctx, req: value
        if isinstance(node, ast.RequestRef):
            index = _REQUEST_INDEX[node.kind]
            return lambda ctx, req: req[index]
        if isinstance(node, ast.NameRef):
            name = node.name
            if self._is_context(name):
                return lambda ctx, req: ctx.get(name, MISSING)
            return lambda ctx, req: name
        values = frozenset(
            item.value if isinstance(item, ast.Literal_) else item.name  # type: ignore[union-attr]
            for item in node.items
        )
        return lambda ctx, req: values

    def condition(self, expr: ast.Expr) -> Condition:
        if isinstance(expr, ast.And):
            parts = tuple(self.condition(e) for e in expr.operands)

            def and_(ctx: Context, req: RequestTerms) -> bool | None:
                result: bool | None = True
                for part in parts:
                    value = part(ctx, req)
                    if value is False:
                        return False
                    if value is None:
                        result = None
                return result

            return and_
        if isinstance(expr, ast.Or):
            parts = tuple(self.condition(e) for e in expr.operands)

            def or_(ctx: Context, req: RequestTerms) -> bool | None:
                result: bool | None = False
                for part in parts:
                    value = part(ctx, req)
                    if value is True:
                        return True
                    if value is None:
                        result = None
                return result

            return or_
        if isinstance(expr, ast.Not):
            inner = self.condition(expr.operand)

            def not_(ctx: Context, req: RequestTerms) -> bool | None:
                value = inner(ctx, req)
                return None if value is None else not value

            return not_
        if isinstance(expr, ast.Presence):
            key, known = expr.key.value, expr.known
            return lambda ctx, req: (key in ctx) is known
        if isinstance(expr, ast.Truth):
            get = self.getter(expr.operand)

            def truth(ctx: Context, req: RequestTerms) -> bool | None:
                value = get(ctx, req)
                return None if value is MISSING else bool(value)

            return truth
        if isinstance(expr, ast.Compare):
            return self._compare(expr)
        return self._member(expr)

    def _compare(self, expr: ast.Compare) -> Condition:
        left, right = self.getter(expr.left), self.getter(expr.right)
        test: Callable[[Any, Any], bool] = {
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }[expr.op]

        def compare(ctx: Context, req: RequestTerms) -> bool | None:
            a = left(ctx, req)
            if a is MISSING:
                return None
            b = right(ctx, req)
            if b is MISSING:
                return None
            return test(a, b)

        return compare

    def _member(self, expr: ast.Member) -> Condition:
        left, right = self.getter(expr.left), self.getter(expr.right)
        negated = expr.negated
        kind = self._term_kind(expr.right)
        contains: Callable[[Any, Any], bool]
        if kind is not None:
            ancestors = self.hierarchies[kind].ancestors
            if isinstance(expr.right, ast.NameRef | ast.RequestRef) and (
                self._term_kind(expr.right) and not self._is_context_set(expr.right)
            ):
                # `x in marketing`: x is marketing or sits below it.
                def contains(item: Any, term: Any) -> bool:
                    return term in ancestors[item]
            else:
                # `x in consented_purposes`: x or one of its ancestors is in the set.
                def contains(item: Any, terms: Any) -> bool:
                    return not ancestors[item].isdisjoint(terms)
        else:

            def contains(item: Any, values: Any) -> bool:
                return item in values

        def member(ctx: Context, req: RequestTerms) -> bool | None:
            a = left(ctx, req)
            if a is MISSING:
                return None
            b = right(ctx, req)
            if b is MISSING:
                return None
            return contains(a, b) is not negated

        return member

    def _is_context_set(self, node: ast.Operand) -> bool:
        return isinstance(node, ast.NameRef) and self._is_context(node.name)


def compile_condition(compiled: CompiledPolicy, expr: ast.Expr) -> Condition:
    """Compile a checked condition that is not part of a rule (an invariant's ``when``)."""
    builder = _ConditionBuilder(compiled.hierarchies, compiled.symbol_tables)
    return builder.condition(expr)


@functools.cache
def _stmt(source: str) -> py.stmt:
    """One statement of the engine's own template text (parsed once, shared: nothing
    downstream changes a node)."""
    with CODEGEN_LOCK:
        return py.parse(source).body[0]


def _return(value: py.expr) -> py.stmt:
    """``return value``"""
    return py.Return(value)


def _append(name: str, value: py.expr) -> py.stmt:
    """``name = name + value`` (rule-derived parts are always AST nodes, never text)."""
    return py.Assign(
        [py.Name(name, py.Store())], py.BinOp(py.Name(name, py.Load()), py.Add(), value)
    )


def _cell_body(
    spec: Specializer,
    denies: list[tuple[CompiledRule, Folded]],
    allows: list[tuple[CompiledRule, Folded, list[tuple[tuple[str, ...], Folded]]]],
) -> list[py.stmt]:
    """``_d`` collects the indices of applying deny rules, ``_g`` of granting allow rules, ``_o``
    obligation names; the outcome for each combination is built once and memoised (outcomes are
    immutable, and a repeated dict store of the same value is harmless across threads)."""
    rules = tuple(r for r, _ in denies) + tuple(r for r, *_ in allows)
    memo: dict[tuple[object, ...], Outcome] = {}

    def outcome(key: tuple[object, ...]) -> Outcome:
        found = memo.get(key)
        if found is None:
            effect, chosen, names = key
            # Indices come grouped by condition; rule order (by id) is restored here.
            deciding = tuple(rules[i] for i in sorted(chosen))  # type: ignore[call-overload]
            if effect == "deny":
                found = Outcome("deny", deciding, (), ())
            elif not chosen:
                found = Outcome("deny", (), (), ())
            else:
                found = Outcome("allow", deciding, tuple(sorted(set(names))), ())  # type: ignore[call-overload]
            memo[key] = found
        return found

    # Rules with the same condition test it once (a large policy has many such rules per cell).
    by_condition: dict[Any, list[int]] = {}
    tests: dict[Any, Folded] = {}
    for index, (_, applies) in enumerate(denies):
        key = "" if applies is True else shape_of(applies)
        by_condition.setdefault(key, []).append(index)
        tests[key] = applies
    groups: dict[Any, list[tuple[int, list[tuple[tuple[str, ...], Folded]]]]] = {}
    conditions: dict[Any, Folded] = {}
    for index, (_, applies, clauses) in enumerate(allows, start=len(denies)):
        key = "" if applies is True else shape_of(applies)
        groups.setdefault(key, []).append((index, clauses))
        conditions[key] = applies
    unconditional_obligations = all(t is True for *_, c in allows for _, t in c)
    if len(by_condition) <= 1 and len(groups) <= 1 and unconditional_obligations:
        # The common cell: at most one deny test and one allow test, so each of its (at most
        # three) outcomes is a constant, built now; the function only tests and returns.
        body: list[py.stmt] = []
        for key, indices in by_condition.items():
            deny = _return(spec.bind(outcome(("deny", tuple(indices), ()))))
            body.append(deny if tests[key] is True else py.If(tests[key], [deny], []))  # type: ignore[arg-type]
        for key, members in groups.items():
            granted = tuple(index for index, _ in members)
            names = tuple(n for _, clauses in members for ns, _ in clauses for n in ns)
            allow = _return(spec.bind(outcome(("allow", granted, names))))
            body.append(allow if conditions[key] is True else py.If(conditions[key], [allow], []))  # type: ignore[arg-type]
        body.append(_return(spec.bind(outcome(("allow", (), ())))))
        return body
    spec.namespace["_memo"] = memo
    spec.namespace["_outcome"] = outcome
    body = [_stmt("_d = ()")]
    for key, indices in by_condition.items():
        add = _append("_d", spec.bind(tuple(indices)))
        applies = tests[key]
        body.append(add if applies is True else py.If(applies, [add], []))  # type: ignore[arg-type]
    body.append(
        _stmt(
            "if _d:\n key = ('deny', _d, ())\n return _memo.get(key) or _outcome(key)",
        )
    )
    body += [_stmt("_g = ()"), _stmt("_o = ()")]
    for key, members in groups.items():
        granted = tuple(index for index, _ in members)
        inner: list[py.stmt] = [_append("_g", spec.bind(granted))]
        for _, clauses in members:
            for names, test in clauses:
                add = _append("_o", spec.bind(names))
                inner.append(add if test is True else py.If(test, [add], []))  # type: ignore[arg-type]
        applies = conditions[key]
        if applies is True:
            body += inner
        else:
            body.append(py.If(applies, inner, []))  # type: ignore[arg-type]
    body.append(_stmt("key = ('allow', _g, _o)"))
    body.append(_stmt("return _memo.get(key) or _outcome(key)"))
    return body
