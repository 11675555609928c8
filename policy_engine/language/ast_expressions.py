"""Condition expressions: operands, comparisons, membership, presence and the connectives."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from .ast_names import Citation, Name
from .ast_time import Duration, Now, TimeLiteral
from .ast_types import TermKind
from .source import Span

CompareOp = Literal["=", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True, slots=True)
class Literal_:
    """A string, integer, decimal (``0.75``, kept exactly as :class:`~decimal.Decimal`) or
    boolean written in the rule."""

    value: str | int | bool | Decimal
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
class AttributeRef:
    """``party.location``: a declared attribute of the request's own term (its value is the
    term's, inherited down the hierarchy, or unknown)."""

    kind: TermKind
    name: str
    span: Span | None = field(default=None, compare=False, repr=False)

    @property
    def text(self) -> str:
        return f"{self.kind}.{self.name}"


@dataclass(frozen=True, slots=True)
class KeyAttributeRef:
    """``recipient.location``: a declared attribute of the term a context key names (a key
    declared ``context recipient: party``). The parser reads ``recipient.location`` as one name;
    the checker makes this node of it when ``recipient`` is such a key and ``location`` an
    attribute of its kind. Its value is the named term's (inherited, or the default), unknown
    when the key is missing or the term has none."""

    key: str
    kind: TermKind
    name: str
    span: Span | None = field(default=None, compare=False, repr=False)

    @property
    def text(self) -> str:
        return f"{self.key}.{self.name}"


@dataclass(frozen=True, slots=True)
class ListLiteral:
    items: tuple[Operand, ...]
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Shifted:
    """``consent_given_at + 13 months``: a date or instant moved by a duration."""

    base: Operand
    sign: Literal["+", "-"]
    duration: Duration
    span: Span | None = field(default=None, compare=False, repr=False)


Operand = (
    Literal_
    | NameRef
    | RequestRef
    | AttributeRef
    | KeyAttributeRef
    | ListLiteral
    | TimeLiteral
    | Shifted
    | Now
)
AnyAttributeRef = AttributeRef | KeyAttributeRef
"""An attribute of a term: of the request's own (``party.location``) or of one a key names
(``recipient.location``)."""
TimeOperand = TimeLiteral | Shifted | Now


def names_read(node: Operand) -> list[NameRef | Now]:
    """The names and ``now`` an operand reads: itself, the items of a list, the base of a
    moved date, the key whose term's attribute it is (whether a name is a context key or a
    term is the reader's to say)."""
    while isinstance(node, Shifted):
        node = node.base
    if isinstance(node, NameRef | Now):
        return [node]
    if isinstance(node, KeyAttributeRef):  # reads the key that names the term
        return [NameRef(node.key, node.span)]
    if isinstance(node, ListLiteral):
        return [found for item in node.items for found in names_read(item)]
    return []


def literal_value(node: Literal_ | ListLiteral | TimeLiteral | NameRef | None) -> object:
    """The value a literal or a list of literals and terms stands for: a list is the frozenset
    of its strings and term names, a term its name; None for no node."""
    if node is None:
        return None
    if isinstance(node, NameRef):
        return node.name
    if not isinstance(node, ListLiteral):
        return node.value
    return frozenset(
        item.value if isinstance(item, Literal_) else getattr(item, "name", None)
        for item in node.items
    )


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
class AttributePresence:
    """``party.location is known`` (``known=True``) or ``recipient.location is missing``: whether
    the term has a value of the attribute. Never unknown: a missing key names no term, so its
    term's attribute is not known."""

    attribute: AnyAttributeRef
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


@dataclass(frozen=True, slots=True)
class NamedCondition:
    """A named condition where it is used (``when outside_quebec``), after the checker resolved
    the name: its value is exactly ``body``'s. The parser never builds one (a bare name is a
    :class:`Truth` of a :class:`NameRef` until the checker knows it names a condition); the node
    is kept, rather than its body inlined, so that explanations and the matrix can show the name,
    its citations and description, then its parts."""

    name: str
    body: Expr
    citations: tuple[Citation, ...] = ()
    description: str | None = None
    span: Span | None = field(default=None, compare=False, repr=False)


Expr = Compare | Member | Presence | AttributePresence | Truth | Not | And | Or | NamedCondition
