"""Typed attributes of terms: their declarations (``attribute location of party: …``) and the
values a term's declaration gives them (``with location = "US"``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .ast_expressions import ListLiteral, Literal_, NameRef
from .ast_names import Citation, Name
from .ast_time import TimeLiteral
from .ast_types import TermKind, ValueType
from .source import Span


@dataclass(frozen=True, slots=True)
class AttributeValue:
    """``location = "US"`` after ``with`` in a term's declaration: the term's own value."""

    name: Name
    value: Literal_ | TimeLiteral
    """As written: a date or an instant attribute's value is a time literal."""
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class AttributeDecl:
    """``attribute location of party: one of "CA", "US" [default …] ["description"] [§x]``: a
    typed value every term of ``kind`` may carry, read in conditions as ``party.location``."""

    name: Name
    kind: TermKind
    type: ValueType
    default: Literal_ | ListLiteral | TimeLiteral | NameRef | None = None
    """As written (a list or a term is refused by the checker: an attribute holds one value)."""
    description: str | None = None
    citations: tuple[Citation, ...] = ()
    span: Span | None = field(default=None, compare=False, repr=False)
