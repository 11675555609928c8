"""What the cursor is on: a name or a citation, read from the line with the grammar's own token
patterns (:mod:`..language.keywords`), so that it works in a file that does not parse too.

Strings and comments never span lines in the language, so one line is read on its own. Columns
are counted in characters (code points), as :class:`~policy_engine.language.source.Span` does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
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


MAX_CALL_LINES = 50
"""How far up an obligation's arguments are looked for (a statement's lines)."""


@dataclass(frozen=True)
class Call:
    """The parentheses a position is inside of: ``retain_for(years = 6, |``."""

    name: str
    """The name written right before ``(``."""
    given: tuple[str, ...]
    """The argument names written before the position (``years``)."""
    at_name: bool
    """Whether the position is where an argument's name goes (right after ``(`` or ``,``, or
    in the name being written there)."""


def _marks(text: str, end: int) -> list[str]:
    """The names and punctuation of ``text`` before column ``end``: no strings (a value, shown
    as ``"``), comments or spaces."""
    found = []
    for match in _line_token().finditer(text, 0, end):
        kind, value = match.lastgroup, match.group()
        if kind == "comment" or value.isspace():
            continue
        found.append('"' if kind == "string" else value)
    return found


def enclosing_call(lines: Sequence[str], line: int, column: int) -> Call | None:
    """The call whose parentheses contain 0-based ``line`` and ``column``, read back to the
    start of the statement (a line that is not indented), None outside any."""
    marks: list[str] = []
    first = max(0, line - MAX_CALL_LINES)
    for number in range(line, first - 1, -1):
        text = lines[number] if number < len(lines) else ""
        marks[:0] = _marks(text, column if number == line else len(text))
        if text[:1].strip() and not text.startswith("#"):
            break
    depth = 0
    for at in range(len(marks) - 1, -1, -1):
        mark = marks[at]
        if mark == ")":
            depth += 1
        elif mark == "(" and depth:
            depth -= 1
        elif mark == "(":
            before = marks[at - 1] if at else ""
            if not re.fullmatch(syntax().name, before):
                return None
            inside = marks[at + 1 :]
            given = tuple(inside[i] for i in range(len(inside) - 1) if inside[i + 1] == "=")
            written = inside[:-1] if inside and re.fullmatch(syntax().name, inside[-1]) else inside
            return Call(before, given, not written or written[-1] in ("(", ","))
    return None
