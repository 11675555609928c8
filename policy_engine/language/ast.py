"""Typed syntax tree of a policy.

Nodes are frozen and compare by content: spans are ignored by ``==`` so tests (and the
formatter's round trip) compare structure, not positions. The leaves (names, citations), the
context types and the condition expressions live in their own modules and are re-exported here,
so the rest of the code says ``ast.Name``, ``ast.IntType``, ``ast.Compare``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .ast_expressions import (
    And,
    Compare,
    CompareOp,
    Expr,
    ListLiteral,
    Literal_,
    Member,
    NameRef,
    Not,
    Operand,
    Or,
    Presence,
    RequestRef,
    Truth,
)
from .ast_names import Citation, Name
from .ast_types import (
    BoolType,
    IntType,
    ListType,
    OneOfType,
    StrType,
    TermKind,
    TermSetType,
    ValueType,
)
from .source import Span

__all__ = [
    "KIND_WORDS",
    "And",
    "BoolType",
    "Citation",
    "Compare",
    "CompareOp",
    "ContextDecl",
    "ContextSource",
    "DeclKind",
    "Effect",
    "Expr",
    "Ground",
    "IntType",
    "Invariant",
    "Item",
    "ListLiteral",
    "ListType",
    "Literal_",
    "Member",
    "Name",
    "NameRef",
    "NoDecision",
    "Not",
    "ObligationClause",
    "OneOfType",
    "Operand",
    "Or",
    "PolicyFile",
    "Presence",
    "RequestRef",
    "Rule",
    "Scope",
    "SourceDecl",
    "StrType",
    "TermDecl",
    "TermKind",
    "TermSetType",
    "Truth",
    "UseDecl",
    "ValueType",
]

DeclKind = Literal["party", "data", "purpose", "obligation"]
Effect = Literal["allow", "deny"]

KIND_WORDS: dict[str, str] = {
    "party": "party",
    "data": "data category",
    "purpose": "purpose",
    "obligation": "obligation",
    "context": "context key",
}


@dataclass(frozen=True, slots=True)
class Ground:
    """``ground §1.4 "fraud prevention"``: the legal ground a rule relies on (the register's)."""

    text: str
    citations: tuple[Citation, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TermDecl:
    """``party a, b under c "description" §1.1``: declares ``names`` with ``parents``."""

    kind: DeclKind
    names: tuple[Name, ...]
    parents: tuple[Name, ...] = ()
    description: str | None = None
    citations: tuple[Citation, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)


ContextSource = Literal["consent ledger"]
"""Who supplies a context key besides the request: ``from consent ledger`` (the decision service
fills the key from its consent ledger when a request names a subject and leaves the key out)."""


@dataclass(frozen=True, slots=True)
class ContextDecl:
    """``context NAME: TYPE [from consent ledger] [default LITERAL] ["description"] [§x]``."""

    name: Name
    type: ValueType
    default: Literal_ | None = None
    description: str | None = None
    citations: tuple[Citation, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)
    source: ContextSource | None = None
    """``"consent ledger"`` when the key is marked ``from consent ledger``; None otherwise."""
    source_span: Span | None = field(default=None, compare=False, repr=False)
    """Where ``from consent ledger`` is written."""
    supplies: tuple[Name, ...] = ()
    """``supplies law25.destination``: the package keys whose rules read this key instead."""


# ---- rules ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObligationClause:
    names: tuple[Name, ...]
    condition: Expr | None = None
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Rule:
    """One clause of the policy. ``None`` for parties/data/purposes means *any*."""

    id: Name
    effect: Effect
    parties: tuple[Name, ...] | None
    data: tuple[Name, ...] | None
    purposes: tuple[Name, ...] | None
    citations: tuple[Citation, ...] = ()
    description: str | None = None
    condition: Expr | None = None
    exceptions: tuple[Expr, ...] = ()
    obligations: tuple[ObligationClause, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)
    ground: Ground | None = None
    excepts: tuple[tuple[Name, ...], tuple[Name, ...], tuple[Name, ...]] = ((), (), ())
    """The terms left out of the parties, data and purposes (``allow a except b to use …``).
    Each non-empty one is also the last of ``exceptions``, as ``unless party in [b]``: that is
    what it means, so the checker, the compiler and the analysis read nothing else."""

    @property
    def written_exceptions(self) -> tuple[Expr, ...]:
        """The ``unless`` clauses as written (without those the excepts stand for)."""
        derived = sum(1 for names in self.excepts if names)
        return self.exceptions[: len(self.exceptions) - derived]


@dataclass(frozen=True, slots=True)
class Scope:
    """The terms an invariant talks about: ``names`` (None: any) less what is below ``excepts``."""

    names: tuple[Name, ...] | None
    excepts: tuple[Name, ...] = ()


@dataclass(frozen=True, slots=True)
class Invariant:
    """A claim about every request in a scope, proven by ``policy-engine check``.

    ``expect`` is the decision every such request must get: ``never`` claims are ``deny``.
    """

    id: Name
    expect: Effect
    parties: Scope
    data: Scope
    purposes: Scope
    citations: tuple[Citation, ...] = ()
    description: str | None = None
    condition: Expr | None = None
    exceptions: tuple[Expr, ...] = ()
    wording: Literal["never", "always"] = "never"
    span: Span | None = field(default=None, compare=False, repr=False)


# ---- the text the policy encodes -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceDecl:
    """``source [NAME] "file"``: a document the policy encodes, read from beside the rule file
    (its sections are what citations must name). ``name`` qualifies citations when a policy
    has several documents."""

    path: str
    name: Name | None = None
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class NoDecision:
    """``not a decision §6 "reason"``: sections that carry no decision, and why."""

    citations: tuple[Citation, ...]
    reason: str
    span: Span | None = field(default=None, compare=False, repr=False)


# ---- packages -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UseDecl:
    """``use law25 from "../law25"``: the policy folder at ``path`` (relative to the folder of
    the file that says it) is a package; its names come in as ``law25.name``."""

    namespace: Name
    path: str
    span: Span | None = field(default=None, compare=False, repr=False)


Item = TermDecl | ContextDecl | Rule | Invariant | SourceDecl | NoDecision | UseDecl


@dataclass(frozen=True, slots=True)
class PolicyFile:
    """What one source file declares, in the order written.

    ``package`` is the namespace the file's names were brought in under (``law25``, or
    ``dept.law25`` for a package of a package); empty for the policy's own files."""

    name: str
    items: tuple[Item, ...]
    package: str = ""
