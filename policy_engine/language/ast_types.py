"""The types a context key can be declared with (``context KEY: TYPE``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TermKind = Literal["party", "data", "purpose"]


@dataclass(frozen=True, slots=True)
class BoolType:
    def describe(self) -> str:
        return "boolean"


@dataclass(frozen=True, slots=True)
class IntType:
    def describe(self) -> str:
        return "integer"


@dataclass(frozen=True, slots=True)
class DecimalType:
    """A number with a fractional part (``0.75``), compared exactly; whole numbers are decimals
    too."""

    def describe(self) -> str:
        return "decimal"


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


@dataclass(frozen=True, slots=True)
class TermType:
    """One vocabulary term of a kind (``context recipient: party``): the request names it; a
    condition compares it with terms (``recipient = us_processor``), places it in the hierarchy
    (``recipient in processors``) and reads its attributes (``recipient.location``)."""

    kind: TermKind

    def describe(self) -> str:
        return self.kind


@dataclass(frozen=True, slots=True)
class DateType:
    """A calendar day, ``2026-12-06`` (:mod:`.time_values`)."""

    def describe(self) -> str:
        return "date"


@dataclass(frozen=True, slots=True)
class InstantType:
    """A point in time with its offset from UTC, ``2026-12-06T18:00:00Z``."""

    def describe(self) -> str:
        return "instant"


ValueType = (
    BoolType
    | IntType
    | DecimalType
    | StrType
    | OneOfType
    | ListType
    | TermSetType
    | TermType
    | DateType
    | InstantType
)
