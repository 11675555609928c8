"""Names and citations as written: the leaves every other syntax-tree node refers to."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field

from .source import Source, Span


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
