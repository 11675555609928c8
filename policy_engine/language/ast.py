"""Typed syntax tree of a policy.

Nodes are frozen and compare by content: spans are ignored by ``==`` so tests (and the
formatter's round trip) compare structure, not positions."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field
from typing import Literal

from .source import Source, Span

TermKind = Literal["party", "data", "purpose"]
DeclKind = Literal["party", "data", "purpose", "obligation"]
Effect = Literal["allow", "deny"]
CompareOp = Literal["=", "!=", "<", "<=", ">", ">="]

KIND_WORDS: dict[str, str] = {
    "party": "party",
    "data": "data category",
    "purpose": "purpose",
    "obligation": "obligation",
    "context": "context key",
}


class Name:
    """An identifier as written, with where it was written.

    Immutable and equal by ``value`` like the other nodes, but not a dataclass: a policy has one
    per name it mentions (some 117,000 for 10,000 rules), so the place is kept in plain slots
    and ``span`` is built when asked for (errors and analyses only). That is 64 bytes less per
    name than a node holding a separate span, about a quarter of a large policy's syntax tree.
    """

    __slots__ = ("_column", "_end_column", "_end_line", "_line", "_source", "value")
    __match_args__ = ("value",)

    value: str
    _source: Source | None
    _line: int
    _column: int
    _end_line: int
    _end_column: int

    def __init__(self, value: str, span: Span | None = None) -> None:
        put = object.__setattr__
        put(self, "value", value)
        if span is None:
            put(self, "_source", None)
            return
        put(self, "_source", span.source)
        put(self, "_line", span.line)
        put(self, "_column", span.column)
        put(self, "_end_line", span.end_line)
        put(self, "_end_column", span.end_column)

    @property
    def span(self) -> Span | None:
        if self._source is None:
            return None
        return Span(self._source, self._line, self._column, self._end_line, self._end_column)

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Name:
            return NotImplemented
        return self.value == other.value

    def __hash__(self) -> int:
        return hash((self.value,))

    def __repr__(self) -> str:
        return f"Name(value={self.value!r})"

    def __reduce__(self) -> tuple[type[Name], tuple[str, Span | None]]:
        return (Name, (self.value, self.span))


@dataclass(frozen=True, slots=True)
class Citation:
    """A reference to a section of the text the policy encodes, as written (``§5.1``,
    ``Art. 9(2)(h)``, ``law25:s. 18(7)``); :mod:`.citations` reads its parts."""

    text: str
    span: Span | None = field(default=None, compare=False, repr=False)


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


# ---- context schema -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoolType:
    def describe(self) -> str:
        return "boolean"


@dataclass(frozen=True, slots=True)
class IntType:
    def describe(self) -> str:
        return "integer"


@dataclass(frozen=True, slots=True)
class StrType:
    def describe(self) -> str:
        return "string"


@dataclass(frozen=True, slots=True)
class OneOfType:
    literals: tuple[str, ...]

    def describe(self) -> str:
        return "one of " + ", ".join(f'"{v}"' for v in self.literals)


@dataclass(frozen=True, slots=True)
class ListType:
    """A list of strings; ``literals`` restricts the allowed values when given."""

    literals: tuple[str, ...] | None

    def describe(self) -> str:
        if self.literals is None:
            return "list of string"
        return "list of " + ", ".join(f'"{v}"' for v in self.literals)


@dataclass(frozen=True, slots=True)
class TermSetType:
    """A set of vocabulary terms; membership understands the hierarchy."""

    kind: TermKind

    def describe(self) -> str:
        return f"set of {self.kind}"


ValueType = BoolType | IntType | StrType | OneOfType | ListType | TermSetType

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


# ---- expressions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal_:
    """A string, integer or boolean written in the rule."""

    value: str | int | bool
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class NameRef:
    """A bare name: a context key or a vocabulary term, resolved by the checker."""

    name: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class RequestRef:
    """``party``, ``data`` or ``purpose``: the request's own term."""

    kind: TermKind
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ListLiteral:
    items: tuple[Operand, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


Operand = Literal_ | NameRef | RequestRef | ListLiteral


@dataclass(frozen=True, slots=True)
class Compare:
    op: CompareOp
    left: Operand
    right: Operand
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Member:
    """``left in right`` (``negated``: ``left not in right``)."""

    left: Operand
    right: Operand
    negated: bool = False
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Presence:
    """``key is known`` (``known=True``) or ``key is missing``."""

    key: Name
    known: bool
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Truth:
    """A bare boolean operand used as a condition: ``when cookies_accepted``."""

    operand: Operand
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Expr, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Expr, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


Expr = Compare | Member | Presence | Truth | Not | And | Or


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


Item = TermDecl | ContextDecl | Rule | Invariant | SourceDecl | NoDecision


@dataclass(frozen=True, slots=True)
class PolicyFile:
    """What one source file declares, in the order written."""

    name: str
    items: tuple[Item, ...]
