"""The language's words and tokens as highlighters see them, read from the grammar itself.

One source for every highlighter: the VS Code extension's TextMate grammar
(``editors/vscode/syntaxes/policy.tmLanguage.json``) and the workbench editor's
(``policy_engine/workbench/static/js/syntax.js``) are both generated from :func:`syntax` by
``scripts/build_syntax.py``, and a test holds the committed files to what it generates. A keyword
added to ``grammar/policy.lark`` is highlighted as a keyword without anything else to edit;
:data:`WORD_CLASSES` only says which words read better in another colour.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .grammar import lark_parser, reserved_words
from .syntax_errors import STATEMENT_KEYWORDS

WORD_CLASSES: dict[str, str] = {
    **dict.fromkeys((k for k in STATEMENT_KEYWORDS if " " not in k), "statement"),
    "allow": "allow",
    "deny": "deny",
    **dict.fromkeys(("boolean", "integer", "string", "date", "instant"), "type"),
    **dict.fromkeys(("true", "false", "now"), "constant"),
    **dict.fromkeys(("and", "or", "not", "in", "is"), "operator"),
}
"""The class of the words that are not plain keywords: statements that start a declaration,
rule or invariant, the two effects, the context types, the booleans and the words of
conditions. Every other word of the grammar is a ``keyword``."""

CLASSES = ("statement", "keyword", "operator", "type", "constant", "allow", "deny")

_PHRASE = re.compile(r"[a-z]+(?:\\s\+[a-z]+)+(?:\\b)?")
"""A terminal of several words (``not\\s+a\\s+decision\\b``): one keyword written as a phrase."""

_PHRASE_CLASSES = {"NOT_A_DECISION": "statement"}


@dataclass(frozen=True)
class Syntax:
    """What a highlighter needs, as regular expressions that Python, JavaScript and TextMate's
    Oniguruma read alike."""

    words: dict[str, str]
    """Every keyword of the grammar → its class (one of :data:`CLASSES`)."""
    phrases: dict[str, tuple[str, str]]
    """Keywords of several words: the grammar's terminal → (its pattern, its class)."""
    citation: str
    string: str
    comment: str
    number: str
    compare: str
    name: str


def _pattern(terminal: str) -> str:
    for term in lark_parser().terminals:
        if term.name == terminal:
            value: str = term.pattern.value
            return value
    raise LookupError(f"the grammar has no terminal {terminal}")  # pragma: no cover


@functools.cache
def syntax() -> Syntax:
    """The grammar's keywords, phrases and token patterns (see the module's docstring)."""
    words = {w: WORD_CLASSES.get(w, "keyword") for w in sorted(reserved_words())}
    phrases = {
        term.name: (term.pattern.value, _PHRASE_CLASSES.get(term.name, "keyword"))
        for term in sorted(lark_parser().terminals, key=lambda t: t.name)
        if term.pattern.type == "re" and _PHRASE.fullmatch(term.pattern.value)
    }
    return Syntax(
        words=words,
        phrases=phrases,
        citation=_pattern("CITATION"),
        string=_pattern("STRING"),
        comment=_pattern("COMMENT"),
        number=_pattern("INT"),
        compare=_pattern("COMPARE"),
        name=_pattern("NAME"),
    )


def phrase_text(pattern: str) -> str:
    """A phrase as one writes it: ``not\\s+a\\s+decision\\b`` → ``not a decision``."""
    return " ".join(pattern.removesuffix(r"\b").split(r"\s+"))
