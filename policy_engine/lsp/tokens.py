"""What the cursor is on: a name or a citation, read from the line with the grammar's own token
patterns (:mod:`..language.keywords`), so that it works in a file that does not parse too.

Strings and comments never span lines in the language, so one line is read on its own. Columns
are counted in characters (code points), as :class:`~policy_engine.language.source.Span` does.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from ..language.keywords import syntax


@dataclass(frozen=True)
class Token:
    kind: Literal["name", "citation"]
    text: str
    line: int
    """0-based."""
    start: int
    """0-based column of its first character."""
    end: int
    """0-based column after its last character."""


@functools.cache
def _line_token() -> re.Pattern[str]:
    found = syntax()
    phrases = "|".join(pattern for pattern, _ in found.phrases.values())
    return re.compile(
        f"(?P<comment>{found.comment})"
        f'|(?P<string>{found.string.removesuffix(chr(34))}"?)'
        f"|(?P<citation>{found.citation})"
        f"|(?P<phrase>{phrases})"
        f"|(?P<name>{found.name})"
        f"|(?P<other>.)"
    )


@functools.cache
def _citation() -> re.Pattern[str]:
    return re.compile(f"(?<![A-Za-z0-9_]){syntax().citation}")


def line_tokens(text: str, line: int) -> list[Token]:
    """The names and citations of one line: not those inside strings, but the citations of a
    comment (``# §5.1: who may access what``)."""
    found = []
    for match in _line_token().finditer(text):
        if match.lastgroup == "comment":
            for cited in _citation().finditer(text, match.start(), match.end()):
                found.append(Token("citation", cited.group(), line, cited.start(), cited.end()))
        elif match.lastgroup == "name":
            found.append(Token("name", match.group(), line, match.start(), match.end()))
        elif match.lastgroup == "citation":
            found.append(Token("citation", match.group(), line, match.start(), match.end()))
    return found


def token_at(text: str, line: int, column: int) -> Token | None:
    """The name or citation at ``column`` of the line ``text``, or just before it (a cursor
    right after a word is on that word)."""
    before = None
    for token in line_tokens(text, line):
        if token.start <= column < token.end:
            return token
        if token.end == column:
            before = token
    return before


def word_before(text: str, column: int) -> str:
    """The part of a name written before ``column``: what completion completes."""
    match = re.search(r"[A-Za-z_][A-Za-z0-9_]*$", text[:column])
    return match.group() if match else ""


def in_text(text: str, column: int) -> bool:
    """Whether ``column`` of the line ``text`` is inside a string or a comment (where nothing
    is completed)."""
    for match in _line_token().finditer(text):
        if match.start() >= column:
            return False
        if match.lastgroup in ("comment", "string") and column <= match.end():
            closed = match.lastgroup == "string" and len(match.group()) > 1
            return not (closed and match.group().endswith('"') and column == match.end())
    return False
