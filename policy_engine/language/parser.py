"""Text → typed AST. Lark builds a concrete tree (LALR, positions kept); a Transformer
(:mod:`.builder`) turns it into the frozen nodes of :mod:`policy_engine.language.ast`. This module
owns the parse paths: the fast one (Lark's own loop, each statement built as it is reduced), the
careful one (token by token, for glued keywords and exact error reports) and the re-parse of one
rule. Syntax errors are reported in the language's own terms (:mod:`.syntax_errors`)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

from lark import Lark, Token
from lark.exceptions import UnexpectedInput

from . import ast
from .builder import Builder
from .errors import Diagnostic, PolicySyntaxError
from .grammar import lark_parser, load_parser
from .hidden_breaks import hidden_breaks, lone_surrogates
from .limits import size_problems
from .source import Source
from .syntax_errors import STATEMENT_KEYWORDS, accepts, describe_glued, describe_syntax_error, glued

# STATEMENT_KEYWORDS (from .syntax_errors) and lark_parser (from .grammar) stay importable here.
__all__ = ["STATEMENT_KEYWORDS", "lark_parser", "parse_all", "parse_rule", "parse_source"]


class _ParseState:
    """What the lexer callbacks and the inline AST builder of one parse need."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.glued = False
        self.problems: list[Diagnostic] = []
        self.builder: Builder | None = None


_STATE: ContextVar[_ParseState] = ContextVar("policy_engine_parse")


def _watch_glue(token: Token) -> Token:
    """Lexer callback on keyword and number tokens: note a keyword run into the next word."""
    state = _STATE.get()
    if glued(state.source.text, token):
        state.glued = True
    return token


@functools.cache
def _fast_parser() -> Lark:
    """The parser of the common path: Lark's own LALR loop, its lexer flagging glued keywords;
    any problem is then described by the careful path."""
    watched = {t.name for t in lark_parser().terminals} - {"NAME", "COMMENT", "WS", "STRING"}
    parser = load_parser(dict.fromkeys(watched, _watch_glue))
    _build_statements_as_reduced(parser)
    return parser


def _build_statements_as_reduced(parser: Lark) -> None:
    """Turn each statement's tree into its AST node the moment the parser reduces it, so that
    only one statement's concrete tree exists at a time: a 10,000-rule file otherwise holds a
    tree of some 800,000 objects (well over 100 MiB) just to throw it away. The callbacks are
    Lark's own (positions already propagated); the wrapper only transforms their result. If a
    Lark release lays its parser out differently, nothing is wrapped and the whole tree is
    transformed after the parse, as before."""
    try:
        callbacks = parser.parser.parser.parser.callbacks
    except AttributeError:
        return
    for rule, build in list(callbacks.items()):
        if getattr(rule.origin, "name", None) == "item":
            callbacks[rule] = functools.partial(_statement_now, build)


def _statement_now(build: Any, children: list[Any]) -> Any:
    return _builder(_STATE.get()).transform(build(children))


def _builder(state: _ParseState) -> Builder:
    if state.builder is None:
        state.builder = Builder(state.source, state.problems)
    return state.builder


def parse_source(source: Source) -> ast.PolicyFile:
    """Parse one file. Raises :class:`PolicySyntaxError` naming the place and what was expected."""
    refused = lone_surrogates(source) or size_problems([source])
    if refused:
        raise PolicySyntaxError(refused)
    hidden = hidden_breaks(source)
    if hidden:
        raise PolicySyntaxError(hidden)
    state = _ParseState(source)
    token = _STATE.set(state)
    try:
        tree = _fast_parser().parse(source.text)
        items = None if state.glued else _builder(state).transform(tree)
    except UnexpectedInput:
        items = None
    finally:
        _STATE.reset(token)
    if items is None:
        return _parse_carefully(source)
    if state.problems:
        raise PolicySyntaxError(state.problems)
    return ast.PolicyFile(name=source.name, items=tuple(items))


def parse_all(sources: Iterable[Source]) -> list[ast.PolicyFile]:
    """Parse every file; syntax errors of all files are reported together. Files past the size
    limits (:mod:`policy_engine.language.limits`) are refused before any is parsed."""
    sources = list(sources)
    too_large = size_problems(sources)
    if too_large:
        raise PolicySyntaxError(too_large)
    files: list[ast.PolicyFile] = []
    problems: list[Diagnostic] = []
    for source in sources:
        try:
            files.append(parse_source(source))
        except PolicySyntaxError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise PolicySyntaxError(problems)
    return files


def parse_rule(source: Source, line: int, column: int, start: int, end: int) -> ast.Rule:
    """Re-parse the rule written at ``source.text[start:end]`` (which starts at ``line``,
    ``column``), with every span where the whole file's parse put it. For rules of a file that
    parsed and checked before (the compiled cache keeps where each rule is, not its tree)."""
    # Blank lines and spaces in front keep Lark's line and column counting exact.
    text = "\n" * (line - 1) + " " * (column - 1) + source.text[start:end]
    state = _ParseState(source)
    token = _STATE.set(state)
    try:
        items = _builder(state).transform(_fast_parser().parse(text))
    except UnexpectedInput:
        items = None
    finally:
        _STATE.reset(token)
    if not items or len(items) != 1 or not isinstance(items[0], ast.Rule) or state.problems:
        raise ValueError(f"{source.name}:{line}:{column}: no single rule to re-parse here")
    rule: ast.Rule = items[0]
    return rule


def _parse_carefully(source: Source) -> ast.PolicyFile:
    """Token by token, so that a keyword glued to the following word (`ruler`, `touse`) is
    rejected where it stands, and a syntax error names exactly the tokens that could come next."""
    state = _ParseState(source)
    token_state = _STATE.set(state)
    try:
        return _parse_interactive(source, state)
    finally:
        _STATE.reset(token_state)


def _parse_interactive(source: Source, state: _ParseState) -> ast.PolicyFile:
    parser = lark_parser().parse_interactive(source.text)
    last: Token | None = None
    try:
        # Token by token, so that a keyword glued to the following word (`ruler`, `touse`) is
        # rejected: the contextual lexer would otherwise split it where no name can follow.
        for token in parser.iter_parse():
            if glued(source.text, token):
                raise PolicySyntaxError([describe_glued(source, token, accepts(parser))])
            last = token
        tree = parser.feed_eof(last)  # type: ignore[no-untyped-call]
    except UnexpectedInput as exc:
        raise PolicySyntaxError([describe_syntax_error(source, exc)]) from None
    items = Builder(state.source, state.problems).transform(tree)
    if state.problems:
        raise PolicySyntaxError(state.problems)
    return ast.PolicyFile(name=source.name, items=tuple(items))
