"""Condition expressions: operands, comparisons, membership, presence and the connectives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .ast_names import Citation, Name
from .ast_time import Duration, Now, TimeLiteral
from .ast_types import TermKind
from .source import Span

CompareOp = Literal["=", "!=", "<", "<=", ">", ">="]


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


@dataclass(frozen=True, slots=True)
class Shifted:
    """``consent_given_at + 13 months``: a date or instant moved by a duration."""

    base: Operand
    sign: Literal["+", "-"]
    duration: Duration
    span: Span | None = field(default=None, compare=False, repr=False)


Operand = Literal_ | NameRef | RequestRef | ListLiteral | TimeLiteral | Shifted | Now
TimeOperand = TimeLiteral | Shifted | Now


def names_read(node: Operand) -> list[NameRef | Now]:
    """The names and ``now`` an operand reads: itself, the items of a list, the base of a
    moved date (whether a name is a context key or a term is the reader's to say)."""
    while isinstance(node, Shifted):
        node = node.base
    if isinstance(node, NameRef | Now):
        return [node]
    if isinstance(node, ListLiteral):
        return [found for item in node.items for found in names_read(item)]
    return []


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


Expr = Compare | Member | Presence | Truth | Not | And | Or | NamedCondition
