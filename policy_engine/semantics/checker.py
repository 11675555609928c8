"""Validation: an ordered list of small named passes over the parsed files.

Each pass appends diagnostics; all of them run so that one load reports every problem at once,
sorted by place. The result, :class:`CheckedPolicy`, is what the compiler may trust: every name
resolves, every hierarchy is acyclic, every condition is well typed.

The passes live by topic: :mod:`.declarations` (names and hierarchies), :mod:`.context_schema`,
:mod:`.rule_checks` (rules and invariants), :mod:`.override_checks` (what overrides lift) and
:mod:`.condition_types` (condition typing); the state they share is in :mod:`.check_state`. This
module owns their order and the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..language import ast
from ..language.documents import Document
from ..language.errors import Diagnostic, PolicyValidationError
from .attribute_table import Attribute
from .attributes import check_attributes
from .check_state import CheckState, Symbol
from .citation_checks import check_citations
from .context_schema import check_context_schema
from .declarations import declare_names, link_hierarchies
from .named_conditions import check_named_conditions
from .obligation_checks import check_obligation_declarations, check_obligations
from .override_checks import check_overrides
from .package_checks import check_namespaces
from .package_use import PackageUse
from .resolve import Resolver
from .rule_checks import (
    check_conditions,
    check_invariants,
    check_rule_scopes,
    warn_missing_citations,
)
from .term_keys import KeyAttributes
from .vocabulary import Hierarchy


@dataclass
class CheckedPolicy:
    """Every file of a policy, validated, with its symbol table and hierarchies."""

    files: list[ast.PolicyFile]
    symbols: dict[str, Symbol]
    hierarchies: dict[str, Hierarchy]
    context: dict[str, ast.ContextDecl]
    rules: list[ast.Rule]
    term_decls: dict[str, ast.TermDecl]
    warnings: list[Diagnostic] = field(default_factory=list)
    invariants: list[ast.Invariant] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    no_decisions: list[ast.NoDecision] = field(default_factory=list)
    attributes: dict[tuple[str, str], Attribute] = field(default_factory=dict)
    """(kind, name) → the attribute of terms, with every term's value."""
    packages: list[PackageUse] = field(default_factory=list)
    """The packages the policy uses, at any depth (docs/semantics.md, "Packages")."""
    conditions: dict[str, ast.ConditionDecl] = field(default_factory=dict)
    """The named conditions, by name (``rules`` and ``invariants`` hold their uses resolved)."""
    overrides: list[ast.Override] = field(default_factory=list)
    """The overrides, resolved as the rules are."""
    lifted: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Override id → the ids of the deny rules it lifts, in the order the rules are written."""

    def resolver(self) -> Resolver:
        """What resolves a rule of this policy as written into what it means."""
        return Resolver(self.conditions, self.term_decls.values(), self.key_attributes())

    def key_attributes(self) -> KeyAttributes:
        """Which dotted names read an attribute of the term a key names."""
        return KeyAttributes({n: d.type for n, d in self.context.items()}, self.attributes)


def resolve_names(state: CheckState) -> None:
    """Once everything else checks: the rules and invariants as they mean (named conditions
    resolved, obligations with their declared conditions and complete arguments)."""
    if any(d.severity == "error" for d in state.diagnostics):
        return
    keyed = KeyAttributes({n: d.type for n, d in state.context.items()}, state.attribute_decls)
    resolver = Resolver(state.conditions, state.term_decls.values(), keyed)
    state.rules = [resolver.rule(rule) for rule in state.rules]
    state.invariants = [resolver.invariant(invariant) for invariant in state.invariants]
    state.overrides = [resolver.override(override) for override in state.overrides]
    state.diagnostics += resolver.problems


PASSES: tuple[tuple[str, Callable[[CheckState], None]], ...] = (
    ("declarations", declare_names),
    ("namespaces", check_namespaces),
    ("hierarchies", link_hierarchies),
    ("context-schema", check_context_schema),
    ("attributes", check_attributes),
    ("rule-scopes", check_rule_scopes),
    ("obligation-declarations", check_obligation_declarations),
    ("obligations", check_obligations),
    ("overrides", check_overrides),
    ("named-conditions", check_named_conditions),
    ("conditions", check_conditions),
    ("invariants", check_invariants),
    ("citations", warn_missing_citations),
    ("source-documents", check_citations),
    ("resolve", resolve_names),
)


def check(
    files: Sequence[ast.PolicyFile],
    documents: Sequence[Document] = (),
    packages: Sequence[PackageUse] = (),
    found: Sequence[Diagnostic] = (),
) -> CheckedPolicy:
    """Run every pass; raise :class:`PolicyValidationError` with all errors if any.
    ``documents`` are the source documents the files name (``source "file"``); ``packages`` and
    ``found`` what bringing the packages in (:func:`.packages.flatten`) made and found."""
    state = CheckState(list(files), documents=list(documents), diagnostics=list(found))
    for _name, run in PASSES:
        run(state)
    errors = [d for d in state.diagnostics if d.severity == "error"]
    if errors:
        raise PolicyValidationError(state.diagnostics)
    return CheckedPolicy(
        files=state.files,
        symbols=state.symbols,
        hierarchies=state.hierarchies,
        context=state.context,
        rules=state.rules,
        term_decls=state.term_decls,
        invariants=state.invariants,
        documents=state.documents,
        no_decisions=state.no_decisions,
        attributes=state.attributes,
        packages=list(packages),
        conditions=state.conditions,
        overrides=state.overrides,
        lifted=state.lifted,
        warnings=[d for d in state.diagnostics if d.severity != "error"],
    )
