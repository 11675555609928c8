"""Typed syntax tree of a policy.

Nodes are frozen and compare by content: spans are ignored by ``==`` so tests (and the
formatter's round trip) compare structure, not positions. The leaves (names, citations), the
context types and the condition expressions live in their own modules and are re-exported here,
so the rest of the code says ``ast.Name``, ``ast.IntType``, ``ast.Compare``."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from .ast_attributes import AttributeDecl, AttributeValue
from .ast_expressions import (
    And,
    AnyAttributeRef,
    AttributePresence,
    AttributeRef,
    Compare,
    CompareOp,
    Expr,
    KeyAttributeRef,
    ListLiteral,
    Literal_,
    Member,
    NamedCondition,
    NameRef,
    Not,
    Operand,
    Or,
    Presence,
    RequestRef,
    Shifted,
    TimeOperand,
    Truth,
    literal_value,
)
from .ast_names import Citation, Name
from .ast_time import Duration, Now, TimeLiteral
from .ast_types import (
    BoolType,
    DateType,
    DecimalType,
    InstantType,
    IntType,
    ListType,
    OneOfType,
    StrType,
    TermKind,
    TermSetType,
    TermType,
    ValueType,
)
from .source import Span

__all__ = [
    "KIND_WORDS",
    "And",
    "AnyAttributeRef",
    "Argument",
    "AttributeDecl",
    "AttributePresence",
    "AttributeRef",
    "AttributeValue",
    "BoolType",
    "Citation",
    "Compare",
    "CompareOp",
    "ConditionDecl",
    "ContextDecl",
    "ContextSource",
    "DateType",
    "DecimalType",
    "DeclKind",
    "Duration",
    "Effect",
    "Expr",
    "Ground",
    "InstantType",
    "IntType",
    "Invariant",
    "Item",
    "KeyAttributeRef",
    "ListLiteral",
    "ListType",
    "Literal_",
    "Member",
    "Name",
    "NameRef",
    "NamedCondition",
    "NoDecision",
    "Not",
    "Now",
    "ObligationClause",
    "OneOfType",
    "Operand",
    "Or",
    "Override",
    "ParamDecl",
    "PolicyFile",
    "Presence",
    "RequestRef",
    "Rule",
    "Scope",
    "Shifted",
    "SourceDecl",
    "StrType",
    "TermDecl",
    "TermKind",
    "TermSetType",
    "TermType",
    "TimeLiteral",
    "TimeOperand",
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
    "condition": "named condition",
}


@dataclass(frozen=True, slots=True)
class Ground:
    """``ground §1.4 "fraud prevention"``: the legal ground a rule relies on (the register's)."""

    text: str
    citations: tuple[Citation, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ParamDecl:
    """``years: integer [default 6]``: a parameter of an obligation."""

    name: Name
    type: ValueType
    """One of the scalar types the grammar's ``param_type`` allows (a type added there is one
    here: the checker tests an argument as it tests a context key's default)."""
    default: Literal_ | ListLiteral | None = None
    """As written (a list parses, as for a context key, and the checker refuses it)."""
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TermDecl:
    """``party a, b under c "description" §1.1 with location = "US"``: declares ``names`` with
    ``parents`` and their own values of attributes.

    An obligation may also be declared with parameters (``obligation retain_for(years:
    integer)``: then it declares one name) and with a condition (``... when C``) that every
    ``with obligation`` of it carries."""

    kind: DeclKind
    names: tuple[Name, ...]
    parents: tuple[Name, ...] = ()
    description: str | None = None
    citations: tuple[Citation, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)
    parameters: tuple[ParamDecl, ...] = ()
    condition: Expr | None = None
    attributes: tuple[AttributeValue, ...] = ()


@dataclass(frozen=True, slots=True)
class ConditionDecl:
    """``condition NAME [§x] ["description"] means CONDITION``: a condition given a name, used
    by that name wherever a condition can be."""

    name: Name
    condition: Expr
    citations: tuple[Citation, ...] = ()
    description: str | None = None
    span: Span | None = field(default=None, compare=False, repr=False)


ContextSource = Literal["consent ledger"]
"""Who supplies a context key besides the request: ``from consent ledger`` (the decision service
fills the key from its consent ledger when a request names a subject and leaves the key out)."""


@dataclass(frozen=True, slots=True)
class ContextDecl:
    """``context NAME: TYPE [from consent ledger] [is now] [default LITERAL] ["description"]
    [§x]``."""

    name: Name
    type: ValueType
    default: Literal_ | ListLiteral | NameRef | None = None
    """As written: a literal, a list of strings or terms for a ``list of``/``set of`` key, or a
    term for a key of one term (:attr:`default_value` is its value)."""
    description: str | None = None
    citations: tuple[Citation, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)
    source: ContextSource | None = None
    """``"consent ledger"`` when the key is marked ``from consent ledger``; None otherwise."""
    source_span: Span | None = field(default=None, compare=False, repr=False)
    """Where ``from consent ledger`` is written."""
    is_now: bool = False
    """Marked ``is now``: the key holds the decision's time, which ``now`` reads."""
    now_span: Span | None = field(default=None, compare=False, repr=False)
    """Where ``is now`` is written."""
    supplies: tuple[Name, ...] = ()
    """``supplies law25.destination``: the package keys whose rules read this key instead."""

    @property
    def default_value(self) -> object:
        """The default as the evaluator holds it (a list's items as a frozenset, a decimal key's
        number as a :class:`~decimal.Decimal`), None when there is none."""
        value = literal_value(self.default)
        if isinstance(self.type, DecimalType) and type(value) is int:
            return Decimal(value)
        return value


# ---- rules ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Argument:
    """``years = 6``: the value of an obligation's parameter where a rule requires it."""

    name: Name
    value: Literal_
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ObligationClause:
    """``with obligation(s) NAME[(ARG = VALUE, …)], … [when CONDITION]``.

    ``arguments`` holds, for each of ``names`` in order, the arguments written after it (empty
    when none are, and empty altogether for a clause without any)."""

    names: tuple[Name, ...]
    condition: Expr | None = None
    span: Span | None = field(default=None, compare=False, repr=False)
    arguments: tuple[tuple[Argument, ...], ...] = ()

    def arguments_of(self, index: int) -> tuple[Argument, ...]:
        """The arguments written after the ``index``-th name."""
        return self.arguments[index] if index < len(self.arguments) else ()


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
class Override:
    """``override ID [§x] ["description"] lifts … when C [with obligation …]…``: the deny rules it
    names (``lifts``), or those citing the sections it names (``citing``), do not apply where
    ``condition`` holds; when it lifts one that would otherwise apply to a request that is then
    allowed, its obligations come with the allow (docs/semantics.md, 37–40)."""

    id: Name
    condition: Expr
    lifts: tuple[Name, ...] = ()
    citing: tuple[Citation, ...] = ()
    """``lifts denies citing §x, …``: the deny rules citing these sections (or sections within
    them). An override names rules or sections, never both."""
    citations: tuple[Citation, ...] = ()
    description: str | None = None
    obligations: tuple[ObligationClause, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)


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


Item = (
    TermDecl
    | ContextDecl
    | AttributeDecl
    | ConditionDecl
    | Rule
    | Override
    | Invariant
    | SourceDecl
    | NoDecision
    | UseDecl
)


@dataclass(frozen=True, slots=True)
class PolicyFile:
    """What one source file declares, in the order written.

    ``package`` is the namespace the file's names were brought in under (``law25``, or
    ``dept.law25`` for a package of a package); empty for the policy's own files."""

    name: str
    items: tuple[Item, ...]
    package: str = ""
