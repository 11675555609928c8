"""Checked AST → an immutable compiled policy, built once at load.

Conditions become closures over the request (no AST walking per decision, no ``eval``); rules are
indexed by the terms they cover, so a request only looks at its candidate rules; the candidate
plan of each (party, data, purpose) cell is memoised the first time it is asked for, and so is its
specialized form (:mod:`.cells`).

Truth values follow Kleene's three-valued logic: ``True``, ``False`` and ``None`` for *unknown*
(a context key the condition needs is missing).

The pieces live in their own modules (:mod:`.context`, :mod:`.conditions`, :mod:`.compiled`,
:mod:`.cells`); the names other modules use are re-exported here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..language import ast
from ..semantics.attribute_table import Attribute
from ..semantics.checker import CheckedPolicy
from ..semantics.package_use import PackageUse
from ..semantics.vocabulary import Hierarchy
from .cells import specialize_cell
from .compiled import (
    Arguments,
    CellFunction,
    CellPlan,
    CompiledRule,
    FastCell,
    ObligationPlan,
    Outcome,
    RuleAbout,
    RuleLogic,
    Undetermined,
    requirements,
)
from .conditions import ConditionBuilder
from .context import (
    INVALID,
    MISSING,
    REQUEST_INDEX,
    Condition,
    Context,
    ContextKey,
    Getter,
    RequestTerms,
    SymbolTables,
    context_validator,
)
from .overrides import CompiledOverride, compile_overrides
from .specialize import Specializer
from .time_operands import now_key_name

__all__ = [
    "CELL_CACHE_SIZE",
    "INVALID",
    "MISSING",
    "CellFunction",
    "CellPlan",
    "CompiledOverride",
    "CompiledPolicy",
    "CompiledRule",
    "Condition",
    "ConditionBuilder",
    "Context",
    "ContextKey",
    "FastCell",
    "Getter",
    "ObligationPlan",
    "Outcome",
    "RequestTerms",
    "RuleAbout",
    "RuleLogic",
    "SymbolTables",
    "Undetermined",
    "assemble",
    "compile_condition",
    "compile_policy",
    "condition_builder",
    "context_validator",
    "symbol_tables",
]


CELL_CACHE_SIZE = 4096
"""How many cells a compiled policy keeps specialized (and planned) by default: some 4 MB for
PLANISO's cells, a miss costing well under a millisecond (figures in docs/service-performance.md).
``load_policy(..., cell_cache_size=N)`` or :meth:`CompiledPolicy.limit_cells` choose another."""


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
    _above: dict[str, Mapping[str, frozenset[str]]] = field(repr=False, default_factory=dict)
    _cells: functools._lru_cache_wrapper[CellPlan] = field(init=False, repr=False, compare=False)
    _fast: functools._lru_cache_wrapper[FastCell] = field(init=False, repr=False, compare=False)
    """The memos of cell plans and specialized cells: least recently used first out, at most
    :data:`CELL_CACHE_SIZE` cells each unless :meth:`limit_cells` says otherwise."""
    default_values: dict[str, Any] = field(repr=False, default_factory=dict)
    """Context keys with a declared default, and their values."""
    symbol_tables: SymbolTables = field(repr=False, default=({}, {}))
    """Context key → type and declared name → kind, for code that resolves names."""
    checks: dict[str, Callable[[Any], Any]] = field(repr=False, default_factory=dict)
    """Context key → its validator (see :func:`context_validator`)."""
    attributes: Mapping[tuple[str, str], Attribute] = field(repr=False, default_factory=dict)
    """(kind, name) → the attribute of terms and every term's value."""
    key_prefixes: frozenset[str] = field(repr=False, default=frozenset())
    """The starts of dotted context keys (``record`` of ``record.author``): the names under
    which a request may give them as nested objects."""
    now_key: str | None = field(repr=False, default=None)
    """The context key declared ``is now``: the decision's time, which ``now`` reads."""
    obligation_forms: dict[str, tuple[str, Arguments]] = field(repr=False, default_factory=dict)
    """The text of each obligation some rule (or override) requires → its name and arguments
    (decisions list obligations by name, and each with its parameters)."""
    overrides: tuple[CompiledOverride, ...] = field(repr=False, default=())
    """The policy's overrides (their effect is already in the rules' logic: :mod:`.overrides`)."""
    packages: tuple[PackageUse, ...] = field(repr=False, default=())
    """The packages the policy uses, at any depth (docs/semantics.md, "Packages")."""

    @property
    def checked(self) -> CheckedPolicy:
        """The checked syntax trees of the whole policy, for analyses. A policy restored from the
        compiled cache rebuilds them (parse and check) on first use."""
        found = self._checked
        if not isinstance(found, CheckedPolicy):
            found = self._checked = found()
        return found

    def __post_init__(self) -> None:
        self.limit_cells(CELL_CACHE_SIZE)

    def limit_cells(self, size: int) -> None:
        """Keep the plans and the specialized code of at most ``size`` cells, the least recently
        used going first (a miss specializes the cell again: see docs/service-performance.md).
        Requests choose their cell, so without a bound a client could make the policy keep one
        generated function per (party, data, purpose) it names. Empties both memos."""
        if size < 1:
            raise ValueError(f"a cell cache holds at least 1 cell, got {size}")
        # functools.lru_cache: thread-safe, and a hit costs little more than a dict lookup.
        self._cells = functools.lru_cache(maxsize=size)(self._plan)
        self._fast = functools.lru_cache(maxsize=size)(self._specialize)

    def cell_cache_info(self) -> functools._CacheInfo:
        """Hits, misses, bound and size of the memo of specialized cells."""
        return self._fast.cache_info()

    def fast_cell(self, terms: RequestTerms) -> FastCell:
        """The cell's rules specialized to its terms (memoised, bounded; entries are immutable)."""
        return self._fast(terms)

    def _specialize(self, terms: RequestTerms) -> FastCell:
        plan = self.cell(terms)
        spec = Specializer(
            *self.symbol_tables, self.hierarchies, terms, self.now_key, self.attributes
        )
        return specialize_cell(plan, spec)

    def cell(self, terms: RequestTerms) -> CellPlan:
        """The cell's candidate rules (memoised, bounded like :meth:`fast_cell`)."""
        return self._cells(terms)

    def _named_above(self, kind: str) -> Mapping[str, frozenset[str]]:
        """term → the terms above it (itself included) that some rule's scope names."""
        found = self._above.get(kind)
        if found is None:
            found = self._above[kind] = self.hierarchies[kind].above_among(self._naming[kind])
        return found

    def _plan(self, terms: RequestTerms) -> CellPlan:
        # A rule covers the cell's term when its scope names the term or one of its ancestors.
        # Only the named terms above it are walked, never all its ancestors (a chain of 6,000).
        candidates: set[int] | None = None
        for kind, term in zip(("party", "data", "purpose"), terms, strict=True):
            naming = self._naming[kind]
            covering = set(self._any[kind])
            for above in self._named_above(kind)[term]:
                covering.update(naming[above])
            candidates = covering if candidates is None else candidates & covering
        chosen = sorted(candidates or (), key=lambda i: self.rules[i].id)
        rules = [self.rules[i] for i in chosen]
        return CellPlan(
            denies=tuple(r for r in rules if r.effect == "deny"),
            allows=tuple(r for r in rules if r.effect == "allow"),
        )


def compile_policy(checked: CheckedPolicy, version: str) -> CompiledPolicy:
    tables = symbol_tables(checked.context, {n: s.kind for n, s in checked.symbols.items()})
    builder = ConditionBuilder(
        checked.hierarchies, tables, now_key_name(checked.context), checked.attributes
    )
    touched, overrides = compile_overrides(checked)
    rules = tuple(
        CompiledRule.of(i, rule, builder, touched.get(rule.id.value))
        for i, rule in enumerate(checked.rules)
    )
    forms = {
        text: (name, arguments)
        for clauses in (
            *(r.obligations for r in checked.rules),
            *(o.obligations for o in checked.overrides),
        )
        for clause in clauses
        for text, name, arguments in requirements(clause)
    }
    compiled = assemble(
        version,
        checked.hierarchies,
        checked.context,
        tables,
        rules,
        checked,
        forms,
        checked.attributes,
    )
    compiled.overrides = overrides
    compiled.packages = tuple(checked.packages)
    return compiled


def symbol_tables(context: Mapping[str, ast.ContextDecl], kinds: dict[str, str]) -> SymbolTables:
    return ({name: decl.type for name, decl in context.items()}, kinds)


def condition_builder(
    hierarchies: dict[str, Hierarchy],
    tables: SymbolTables,
    context: Mapping[str, ast.ContextDecl],
    attributes: Mapping[tuple[str, str], Attribute],
) -> ConditionBuilder:
    return ConditionBuilder(hierarchies, tables, now_key_name(context), attributes)


def assemble(
    version: str,
    hierarchies: dict[str, Hierarchy],
    context_decls: Mapping[str, ast.ContextDecl],
    tables: SymbolTables,
    rules: tuple[CompiledRule, ...],
    checked: CheckedPolicy | Callable[[], CheckedPolicy],
    obligation_forms: dict[str, tuple[str, Arguments]],
    attributes: Mapping[tuple[str, str], Attribute],
) -> CompiledPolicy:
    """The compiled policy around its rules: context validators, defaults and the rule index.
    (Shared by compilation and by restoring from the compiled cache.)"""
    context = {
        name: ContextKey(
            name,
            decl,
            decl.default_value if decl.default is not None else MISSING,
            context_validator(decl.type, hierarchies),
        )
        for name, decl in context_decls.items()
    }
    compiled = CompiledPolicy(version, hierarchies, context, rules, checked)
    compiled.symbol_tables = tables
    compiled.obligation_forms = obligation_forms
    compiled.attributes = attributes
    compiled.key_prefixes = frozenset(
        name.rsplit(".", depth)[0] for name in context for depth in range(1, name.count(".") + 1)
    )
    compiled.checks = {name: key.check for name, key in context.items()}
    compiled.now_key = now_key_name(context_decls)
    compiled.default_values = {n: k.default for n, k in context.items() if k.default is not MISSING}
    for kind in ("party", "data", "purpose"):
        naming: dict[str, list[int]] = {}
        any_rules: set[int] = set()
        for rule in rules:
            scope = (rule.parties, rule.data, rule.purposes)[REQUEST_INDEX[kind]]
            if scope is None:
                any_rules.add(rule.position)
                continue
            for term in scope:
                naming.setdefault(term, []).append(rule.position)
        compiled._naming[kind] = {t: tuple(p) for t, p in naming.items()}
        compiled._any[kind] = frozenset(any_rules)
    return compiled


def compile_condition(compiled: CompiledPolicy, expr: ast.Expr) -> Condition:
    """Compile a checked condition that is not part of a rule (an invariant's ``when``)."""
    builder = ConditionBuilder(
        compiled.hierarchies, compiled.symbol_tables, compiled.now_key, compiled.attributes
    )
    return builder.condition(expr)
