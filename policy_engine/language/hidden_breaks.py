"""Characters that editors show as a line break and the grammar does not: U+2028 and U+2029
(line and paragraph separators), U+0085 (next line), form feed and vertical tab. In a comment one
of them hides the rest of what a reader sees as the next line from the parser (a deny rule
written there would silently disappear), so outside a string they are a syntax error."""

from __future__ import annotations

import re

from .errors import Diagnostic
from .source import Source, Span

HIDDEN_BREAKS = {
    "\u2028": "U+2028 (line separator)",
    "\u2029": "U+2029 (paragraph separator)",
    "\x85": "U+0085 (next line)",
    "\x0c": "U+000C (form feed)",
    "\x0b": "U+000B (vertical tab)",
}


def hidden_breaks(source: Source) -> list[Diagnostic]:
    """A diagnostic for each such character outside a string (none, at C speed, for a file
    without any of them)."""
    text = source.text
    if not any(char in text for char in HIDDEN_BREAKS):
        return []
    found: list[Diagnostic] = []
    line, column = 1, 1
    in_string = in_comment = escaped = False
    for char in text:
        if char in HIDDEN_BREAKS and not in_string:
            found.append(_diagnostic(source, char, line, column))
        if char == "\n":
            line, column = line + 1, 1
            in_string = in_comment = escaped = False
            continue
        column += 1
        if in_comment:
            continue
        if in_string:
            in_string = escaped or char != '"'
            escaped = not escaped and char == "\\"
        elif char == '"':
            in_string = True
        elif char == "#":
            in_comment = True
    return found


def _diagnostic(source: Source, char: str, line: int, column: int) -> Diagnostic:
    return Diagnostic(
        "hidden-line-break",
        f"{HIDDEN_BREAKS[char]} is not allowed outside a string: editors show a line break "
        "there, the parser does not",
        Span(source, line, column, line, column + 1),
        "replace it with a real line break (or remove it)",
    )


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogates(source: Source) -> list[Diagnostic]:
    """Half of a UTF-16 surrogate pair in a text given as a string (a file cannot hold one: it
    would not be UTF-8), refused where it stands; it used to escape as a ``UnicodeEncodeError``
    from hashing the text. The diagnostic shows the line with U+FFFD in its place, so that it
    can be printed."""
    found = _SURROGATE.search(source.text)
    if found is None:
        return []
    at = found.start()
    line = source.text.count("\n", 0, at) + 1
    column = at - (source.text.rfind("\n", 0, at) + 1) + 1
    shown = Source(source.name, _SURROGATE.sub("\ufffd", source.text))
    return [
        Diagnostic(
            "lone-surrogate",
            f"U+{ord(found.group()):04X} is half of a UTF-16 surrogate pair, not a character: "
            "rule files are UTF-8 text",
            Span(shown, line, column, line, column + 1),
            "remove it, or write the whole character it was part of",
        )
    ]
