"""One attribute of terms with every term's value, as the checker resolved it
(:mod:`.attributes`) and as the engine reads it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..language import ast

DEFAULT = ""
"""The origin of a value that is the attribute's default."""


@dataclass(frozen=True)
class Attribute:
    """One attribute and every term's value. ``values``: term → value (terms without one are
    absent: their value is unknown); ``origins``: term → the term whose declaration gives the
    value (the term itself, or an ancestor), or :data:`DEFAULT`."""

    kind: ast.TermKind
    name: str
    type: ast.ValueType
    values: Mapping[str, object]
    origins: Mapping[str, str]

    @property
    def text(self) -> str:
        return f"{self.kind}.{self.name}"
