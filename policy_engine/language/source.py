"""Source text and spans: where in which file a thing was written, and how to point at it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

_SLICE = 1 << 16

_LONG_LINE = 200
"""A longer source line is shown in a diagnostic as a window around the span (a generated file
may hold megabytes on one line)."""


def _window(text: str, start: int, width: int) -> tuple[str, int, int]:
    """Part of a long line: 40 characters either side of the span's first 80."""
    width = min(width, 80)
    cut = max(start - 40, 0)
    end = min(start + width + 40, len(text))
    head = "…" if cut > 0 else ""
    tail = "…" if end < len(text) else ""
    return head + text[cut:end] + tail, start - cut + len(head), width


def hash_named(digest: Any, sources: Iterable[Source]) -> None:
    """Feed each source's name and text to ``digest`` (both ended by a zero byte)."""
    for source in sources:
        digest.update(source.name.encode() + b"\0")
        source.hash_into(digest)
        digest.update(b"\0")


@dataclass(frozen=True)
class Source:
    """One rule file's text. ``name`` is the path shown to users (relative where possible)."""

    name: str
    text: str

    def hash_into(self, digest: Any) -> None:
        """Feed the text's UTF-8 bytes to ``digest`` a slice at a time (the same bytes, without
        a copy of a large file's whole text)."""
        text = self.text
        for at in range(0, len(text), _SLICE):
            digest.update(text[at : at + _SLICE].encode())

    @cached_property
    def lines(self) -> tuple[str, ...]:
        """The text split into lines, on first use (only error messages need it)."""
        return tuple(self.text.splitlines())

    def line(self, number: int) -> str:
        """The text of 1-based line ``number``, or '' past the end of the file."""
        if 1 <= number <= len(self.lines):
            return self.lines[number - 1]
        return ""


class Span(NamedTuple):
    """A region of a source: 1-based line and column of its start and (exclusive) end.

    A named tuple: a policy has one per name and node, and tuples are cheap to build and small.
    """

    source: Source
    line: int
    column: int
    end_line: int
    end_column: int

    def __repr__(self) -> str:
        return (
            f"Span(line={self.line}, column={self.column}, end_line={self.end_line}, "
            f"end_column={self.end_column})"
        )

    @property
    def location(self) -> str:
        return f"{self.source.name}:{self.line}:{self.column}"

    def render(self) -> str:
        """The source line with a caret line under the span (first line of the span only). Of a
        line longer than ``_LONG_LINE`` characters, only a window around the span is shown."""
        text = self.source.line(self.line)
        gutter = str(self.line)
        pad = " " * len(gutter)
        start = max(self.column - 1, 0)
        if self.end_line == self.line:
            width = max(self.end_column - self.column, 1)
        else:
            width = max(len(text) - start, 1)
        if len(text) > _LONG_LINE:
            text, start, width = _window(text, start, width)
        # Keep tabs so the caret lines up under the same characters the user sees.
        lead = "".join(ch if ch == "\t" else " " for ch in text[:start])
        return f"{pad} |\n{gutter} | {text}\n{pad} | {lead}{'^' * width}"
