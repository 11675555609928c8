"""Syntax errors in the language's own terms ("expected `for`", "unknown keyword `rul`"), never as
parser states: what the parser could have accepted where it stopped, phrased in the language's
words, with a hint for the usual slips; and the keyword glued to the next word (`ruler`)."""

from __future__ import annotations

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.parsers.lalr_interactive_parser import InteractiveParser

from .errors import Diagnostic, did_you_mean
from .grammar import lark_parser
from .source import Source, Span

STATEMENT_KEYWORDS = (
    "party",
    "data",
    "purpose",
    "obligation",
    "condition",
    "context",
    "attribute",
    "rule",
    "override",
    "invariant",
    "source",
    "not a decision",
    "use",
)

_TERMINAL_WORDS: dict[str, tuple[str, ...]] = {
    "NAME": ("a name",),
    "STRING": ("a quoted string",),
    "INT": ("a whole number",),
    "DECIMAL": ("a decimal number",),
    "CITATION": ("a citation such as `§5.1`",),
    "COMPARE": ("a comparison (`=`, `!=`, `<`, `<=`, `>`, `>=`)",),
    "EFFECT": ("`allow`", "`deny`"),
    "TERM_KIND": ("`party`", "`data`", "`purpose`"),
    "REQUEST_REF": ("`party`", "`data`", "`purpose`"),
    "CONSENT_LEDGER": ("`consent ledger`",),
    "NOT_A_DECISION": ("`not a decision`",),
    "DURATION": ("a duration such as `30 days`",),
    "SHIFT": ("`+` or `-` and a duration",),
    "$END": ("the end of the file",),
}
_TERMINAL_KEYWORDS: dict[str, tuple[str, ...]] = {
    "EFFECT": ("allow", "deny"),
    "TERM_KIND": ("party", "data", "purpose"),
    "REQUEST_REF": ("party", "data", "purpose"),
}
_LEDGER_HINT = (
    "the key the consent ledger supplies is marked `from consent ledger`, written right after "
    "its type"
)
_STATEMENT_TERMINALS = frozenset(k.upper().replace(" ", "_") for k in STATEMENT_KEYWORDS)
_OPERAND_TERMINALS = frozenset(
    {
        "NAME",
        "STRING",
        "INT",
        "DECIMAL",
        "TRUE",
        "FALSE",
        "LSQB",
        "REQUEST_REF",
        "NOW",
        "DATE_T",
        "INSTANT_T",
    }
)
_CONDITION_TERMINALS = _OPERAND_TERMINALS | {"NOT", "LPAR"}


def _literal_terminal(name: str) -> str | None:
    """The text of a terminal that stands for one fixed string (a keyword or punctuation)."""
    for term in lark_parser().terminals:
        if term.name == name and term.pattern.type == "str":
            return str(term.pattern.value)
    return None


def _terminal_words(name: str) -> tuple[str, ...]:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    literal = _literal_terminal(name)
    return (f"`{literal}`",) if literal is not None else (name.lower(),)


def _keywords(expected: set[str]) -> list[str]:
    """The keywords among the expected terminals: candidates for a did-you-mean."""
    found: set[str] = set()
    for name in expected:
        if name in _TERMINAL_KEYWORDS:
            found.update(_TERMINAL_KEYWORDS[name])
        elif name not in _TERMINAL_WORDS:
            literal = _literal_terminal(name)
            if literal is not None and literal.isalpha():
                found.add(literal)
    return sorted(found)


def _expected_phrase(expected: set[str]) -> str:
    """What the parser wanted, in the language's words (groups collapsed: "a condition")."""
    rest = set(expected)
    if len(rest) > 1:
        # `x = 1 + 30 days` parses (the checker refuses it): after a value, a duration is
        # grammatical but never what the author was about to write.
        rest.discard("SHIFT")
    words: set[str] = set()
    if rest >= _STATEMENT_TERMINALS:
        rest -= _STATEMENT_TERMINALS | {"$END"}
        words.add("the start of a statement")
    if rest >= _CONDITION_TERMINALS:
        rest -= _CONDITION_TERMINALS
        words.add("a condition")
    elif rest >= _OPERAND_TERMINALS:
        rest -= _OPERAND_TERMINALS
        words.add("a value")
    for name in rest:
        words.update(_terminal_words(name))
    ordered = sorted(words)
    if len(ordered) == 1:
        return ordered[0]
    return ", ".join(ordered[:-1]) + " or " + ordered[-1]


def _expected_at(source: Source, pos: int) -> set[str]:
    """The terminals the parser accepts just before offset ``pos``.

    Computed by re-parsing up to ``pos``: the set Lark reports with an error is the LALR state's,
    which merges lookaheads from unrelated places (and may come after wrong reductions).
    """
    parser = lark_parser().parse_interactive(source.text)
    try:
        for token in parser.iter_parse():
            if (token.start_pos or 0) >= pos:
                break
    except UnexpectedInput:
        pass
    return accepts(parser)


def accepts(parser: InteractiveParser) -> set[str]:
    """The terminals that let ``parser`` advance from where it stands."""
    return set(parser.accepts())  # type: ignore[no-untyped-call]


_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _is_word_char(ch: str) -> bool:
    return ch in _WORD_CHARS


def glued(text: str, token: Token) -> bool:
    """A keyword (or number) run together with the word after it, as in `ruler` or `touse`."""
    end = token.end_pos
    value = str(token)
    return (
        token.type != "NAME"
        and bool(value)
        and end is not None
        and end < len(text)
        and _is_word_char(value[-1])
        and _is_word_char(text[end])
    )


def _first_on_line(source: Source, line: int, column: int) -> bool:
    return not source.line(line)[: column - 1].strip()


def _describe_word(source: Source, span: Span, word: str, expected: set[str]) -> Diagnostic:
    """A word where it does not belong: an unknown keyword, or a name the grammar did not want."""
    ledger_mark = (
        word == "consent"
        and "DEFAULT" in expected
        and not _first_on_line(source, span.line, span.column)
    )
    if "CONSENT_LEDGER" in expected or ledger_mark:
        return Diagnostic(
            "unexpected-token",
            f"expected {_expected_phrase(expected)}, found `{word}`",
            span,
            _LEDGER_HINT,
        )
    close = did_you_mean(word, _keywords(expected))
    at_statement = expected >= _STATEMENT_TERMINALS and (
        _first_on_line(source, span.line, span.column)
        or expected <= _STATEMENT_TERMINALS | {"$END"}
    )
    if at_statement:
        hint = (
            f"did you mean `{close[0]}`?"
            if close
            else "statements start with " + ", ".join(f"`{k}`" for k in STATEMENT_KEYWORDS)
        )
        return Diagnostic("unknown-keyword", f"unknown keyword `{word}`", span, hint)
    return Diagnostic(
        "unexpected-token",
        f"expected {_expected_phrase(expected)}, found `{word}`",
        span,
        f"did you mean `{close[0]}`?" if close else None,
    )


def describe_glued(source: Source, token: Token, expected: set[str]) -> Diagnostic:
    start = token.start_pos or 0
    end = token.end_pos or start + len(token)
    while end < len(source.text) and _is_word_char(source.text[end]):
        end += 1
    word = source.text[start:end]
    line = token.line or 1
    column = token.column or 1
    return _describe_word(
        source, Span(source, line, column, line, column + len(word)), word, expected
    )


def describe_syntax_error(source: Source, exc: UnexpectedInput) -> Diagnostic:
    """What is wrong where Lark stopped, in the language's terms."""
    line = exc.line if exc.line and exc.line > 0 else max(len(source.lines), 1)
    column = exc.column if exc.column and exc.column > 0 else len(source.line(line)) + 1
    if isinstance(exc, UnexpectedCharacters):
        return _describe_character(source, exc, line, column)
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        return _describe_end(source)
    assert isinstance(exc, UnexpectedToken)
    return _describe_token(source, exc.token, line, column)


def _describe_character(
    source: Source, exc: UnexpectedCharacters, line: int, column: int
) -> Diagnostic:
    """A character no token starts with: an unclosed string, a bare `§`, or a stray symbol."""
    pos = exc.pos_in_stream or 0
    char = source.text[pos] if pos < len(source.text) else ""
    span = Span(source, line, column, line, column + 1)
    if char == '"':
        rest = source.line(line)[column:]
        return Diagnostic(
            "unterminated-string",
            "unterminated string",
            Span(source, line, column, line, column + 1 + len(rest)),
            'close the string with `"` on the same line',
        )
    if char == "§":
        return Diagnostic(
            "bad-citation",
            "a citation needs a section number",
            span,
            "write citations like `§5.1` or `§1.4`",
        )
    return Diagnostic(
        "unexpected-character",
        f"unexpected character `{char}`",
        span,
        "names use ASCII letters, digits and `_`; text goes between double quotes",
    )


def _describe_end(source: Source) -> Diagnostic:
    """The file ended inside a statement."""
    expected = _expected_at(source, len(source.text))
    last = max(len(source.lines), 1)
    col = len(source.line(last)) + 1
    return Diagnostic(
        "unexpected-end",
        "unexpected end of file" + (f", expected {_expected_phrase(expected)}" if expected else ""),
        Span(source, last, col, last, col + 1),
        "a statement was left unfinished",
    )


def _describe_token(source: Source, token: Token, line: int, column: int) -> Diagnostic:
    """A token where the grammar wanted something else."""
    start = token.start_pos or 0
    expected = _expected_at(source, start)
    text = str(token)
    span = Span(
        source, line, column, token.end_line or line, token.end_column or column + len(text)
    )
    if token.type == "NAME":
        return _describe_word(source, span, text, expected)
    if "NAME" in expected and text.isalpha():
        return Diagnostic(
            "reserved-word",
            f"`{text}` is a reserved word and cannot be used as a name",
            span,
            f"expected {_expected_phrase(expected)}; pick another name",
        )
    return Diagnostic(
        "unexpected-token",
        f"expected {_expected_phrase(expected)}, found `{text}`",
        span,
        _token_hint(source, token, expected),
    )


def _token_hint(source: Source, token: Token, expected: set[str]) -> str | None:
    """A hint for the usual slips that put a token in the wrong place, if this is one."""
    text = str(token)
    before = source.text[: token.start_pos or 0].rstrip()
    if token.type == "STRING" and "NAME" in expected:
        return "names are written without quotes"
    if text == "=" and before.endswith("="):
        return "equality is a single `=`"
    if token.type == "CITATION" and "EFFECT" in expected:
        return "in a rule, citations come right after the rule id, before the description"
    if text == "when" and "UNLESS" in expected:
        return "a rule's `when` comes before its `unless` clauses"
    if text == "is" and before.endswith(("party", "data", "purpose")):
        return "`party`, `data` and `purpose` are always known; `is known` tests context keys"
    if "CONSENT_LEDGER" in expected:
        return _LEDGER_HINT
    return None
