"""Text → typed AST. Lark builds a concrete tree (LALR, positions kept); a Transformer turns it into
the frozen nodes of :mod:`policy_engine.ast`. Syntax errors are reported in the language's own terms
(\"expected `for`\"), never as parser states."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.tree import Meta

from . import ast
from .errors import Diagnostic, PolicySyntaxError, did_you_mean
from .grammar import lark_parser, load_parser, reserved_words
from .source import Source, Span

STATEMENT_KEYWORDS = ("party", "data", "purpose", "obligation", "context", "rule", "invariant")


class _ParseState:
    """What the lexer callbacks and the inline AST builder of one parse need."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.glued = False
        self.problems: list[Diagnostic] = []
        self.builder: _Builder | None = None


_STATE: ContextVar[_ParseState] = ContextVar("policy_engine_parse")


def _watch_glue(token: Token) -> Token:
    """Lexer callback on keyword and number tokens: note a keyword run into the next word."""
    state = _STATE.get()
    if _glued(state.source.text, token):
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


def _builder(state: _ParseState) -> _Builder:
    if state.builder is None:
        state.builder = _Builder(state)
    return state.builder


def parse_source(source: Source) -> ast.PolicyFile:
    """Parse one file. Raises :class:`PolicySyntaxError` naming the place and what was expected."""
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
            if _glued(source.text, token):
                raise PolicySyntaxError([_describe_glued(source, token, _accepts(parser))])
            last = token
        tree = parser.feed_eof(last)  # type: ignore[no-untyped-call]
    except UnexpectedInput as exc:
        raise PolicySyntaxError([_describe_syntax_error(source, exc)]) from None
    items = _Builder(state).transform(tree)
    if state.problems:
        raise PolicySyntaxError(state.problems)
    return ast.PolicyFile(name=source.name, items=tuple(items))


# ---- building the AST ----------------------------------------------------------------------


class _Tagged:
    """A clause of a rule, tagged with what it is, before the rule node is assembled."""

    def __init__(self, tag: str, value: Any) -> None:
        self.tag = tag
        self.value = value


def _unquote(token: str) -> str:
    body = token[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


_Method = Callable[..., Any]


def _with_meta(method: _Method) -> _Method:
    """Marks a builder method that takes the node's position (``meta``) before its children."""
    method._with_meta = True  # type: ignore[attr-defined]
    return method


@functools.cache
def _builder_table() -> dict[str, tuple[_Method, bool]]:
    return {
        name: (value, getattr(value, "_with_meta", False))
        for name, value in vars(_Builder).items()
        if not name.startswith("_") and callable(value)
    }


class _Builder(Transformer[Token, Any]):
    """Builds AST nodes from Lark's rules for the file of one parse.

    Dispatch is a table built once per class instead of Lark's ``v_args`` wrappers, which build
    a new wrapper object on every call (some 60,000 per 10,000 rules); tokens are not visited."""

    def __init__(self, state: _ParseState) -> None:
        super().__init__(visit_tokens=False)
        self._table = _builder_table()
        self.source = state.source
        self.problems = state.problems
        self.reserved = reserved_words()

    def _call_userfunc(self, tree: Tree[Token], new_children: list[Any] | None = None) -> Any:
        children = tree.children if new_children is None else new_children
        entry = self._table.get(tree.data)
        if entry is None:
            return self.__default__(tree.data, children, tree.meta)  # type: ignore[no-untyped-call]
        method, with_meta = entry
        if with_meta:
            return method(self, tree.meta, children)
        return method(self, children)

    # spans ---------------------------------------------------------------
    def _span(self, meta: Meta) -> Span | None:
        if getattr(meta, "empty", True):
            return None
        return Span(self.source, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tspan(self, token: Token) -> Span:
        return Span(
            self.source,
            token.line or 1,
            token.column or 1,
            token.end_line or token.line or 1,
            token.end_column or (token.column or 1) + len(token),
        )

    def _name(self, token: Token) -> ast.Name:
        span = self._tspan(token)
        if str(token) in self.reserved:
            self.problems.append(
                Diagnostic(
                    "reserved-word",
                    f"`{token}` is a reserved word and cannot be used as a name",
                    span,
                    "pick another name; the language's own words (`party`, `rule`, `when`, "
                    "`any`, ...) are reserved",
                )
            )
        # One string per distinct name: a large policy writes its few hundred terms some
        # hundred thousand times.
        return ast.Name(sys.intern(str(token)), span)

    # structure -----------------------------------------------------------
    def start(self, children: list[Any]) -> list[Any]:
        return children

    @_with_meta
    def name_list(self, meta: Meta, children: list[Token]) -> tuple[ast.Name, ...]:
        return tuple(self._name(t) for t in children)

    @_with_meta
    def parents(self, meta: Meta, children: list[Any]) -> _Tagged:
        return _Tagged("parents", children[0])

    @_with_meta
    def description(self, meta: Meta, children: list[Token]) -> _Tagged:
        return _Tagged("description", _unquote(children[0]))

    @_with_meta
    def citations(self, meta: Meta, children: list[Token]) -> _Tagged:
        cites = tuple(ast.Citation(str(t).replace(" ", ""), self._tspan(t)) for t in children)
        return _Tagged("citations", cites)

    def _decl(self, kind: ast.DeclKind, meta: Meta, children: list[Any]) -> ast.TermDecl:
        tags = {c.tag: c.value for c in children[1:]}
        return ast.TermDecl(
            kind=kind,
            names=children[0],
            parents=tags.get("parents", ()),
            description=tags.get("description"),
            citations=tags.get("citations", ()),
            span=self._span(meta),
        )

    @_with_meta
    def party_decl(self, meta: Meta, children: list[Any]) -> ast.TermDecl:
        return self._decl("party", meta, children)

    @_with_meta
    def data_decl(self, meta: Meta, children: list[Any]) -> ast.TermDecl:
        return self._decl("data", meta, children)

    @_with_meta
    def purpose_decl(self, meta: Meta, children: list[Any]) -> ast.TermDecl:
        return self._decl("purpose", meta, children)

    @_with_meta
    def obligation_decl(self, meta: Meta, children: list[Any]) -> ast.TermDecl:
        return self._decl("obligation", meta, children)

    # context schema --------------------------------------------------------
    @_with_meta
    def context_decl(self, meta: Meta, children: list[Any]) -> ast.ContextDecl:
        name, type_, *rest = children
        tags = {c.tag: c.value for c in rest}
        return ast.ContextDecl(
            name=self._name(name),
            type=type_,
            default=tags.get("default"),
            description=tags.get("description"),
            citations=tags.get("citations", ()),
            span=self._span(meta),
            source="consent ledger" if "source" in tags else None,
            source_span=tags.get("source"),
        )

    def bool_type(self, _: list[Any]) -> ast.BoolType:
        return ast.BoolType()

    def int_type(self, _: list[Any]) -> ast.IntType:
        return ast.IntType()

    def str_type(self, _: list[Any]) -> ast.StrType:
        return ast.StrType()

    def string_list(self, children: list[Token]) -> tuple[str, ...]:
        return tuple(_unquote(t) for t in children)

    def one_of_type(self, children: list[Any]) -> ast.OneOfType:
        return ast.OneOfType(children[0])

    def list_of_literals_type(self, children: list[Any]) -> ast.ListType:
        return ast.ListType(children[0])

    def list_of_strings_type(self, _: list[Any]) -> ast.ListType:
        return ast.ListType(None)

    def term_set_type(self, children: list[Token]) -> ast.TermSetType:
        kind: ast.TermKind = str(children[0])  # type: ignore[assignment]
        return ast.TermSetType(kind)

    def default(self, children: list[Any]) -> _Tagged:
        return _Tagged("default", children[0])

    @_with_meta
    def ledger_source(self, meta: Meta, children: list[Token]) -> _Tagged:
        """``from consent ledger``, tagged with where it is written."""
        return _Tagged("source", self._span(meta))

    # rules -------------------------------------------------------------------
    @_with_meta
    def rule(self, meta: Meta, children: list[Any]) -> ast.Rule:
        rule_id = self._name(children[0])
        citations: tuple[ast.Citation, ...] = ()
        description: str | None = None
        effect: ast.Effect = "allow"
        scope: list[tuple[ast.Name, ...] | None] = []
        condition: ast.Expr | None = None
        exceptions: list[ast.Expr] = []
        obligations: list[ast.ObligationClause] = []
        for child in children[1:]:
            if isinstance(child, Token) and child.type == "EFFECT":
                effect = "deny" if str(child) == "deny" else "allow"
            elif isinstance(child, _Tagged):
                if child.tag == "citations":
                    citations = child.value
                elif child.tag == "description":
                    description = child.value
                elif child.tag == "scope":
                    scope.append(child.value)
                elif child.tag == "when":
                    condition = child.value
                elif child.tag == "unless":
                    exceptions.append(child.value)
                elif child.tag == "verb":
                    pass
            elif isinstance(child, ast.ObligationClause):
                obligations.append(child)
        return ast.Rule(
            id=rule_id,
            effect=effect,
            parties=scope[0],
            data=scope[1],
            purposes=scope[2],
            citations=citations,
            description=description,
            condition=condition,
            exceptions=tuple(exceptions),
            obligations=tuple(obligations),
            span=self._span(meta),
        )

    def to_use(self, _: list[Any]) -> _Tagged:
        return _Tagged("verb", "to use")

    def from_using(self, _: list[Any]) -> _Tagged:
        return _Tagged("verb", "from using")

    def any_party(self, _: list[Any]) -> _Tagged:
        return _Tagged("scope", None)

    any_data = any_party
    any_purpose = any_party

    def parties(self, children: list[Any]) -> _Tagged:
        return _Tagged("scope", children[0])

    datas = parties
    purposes = parties

    def when(self, children: list[Any]) -> _Tagged:
        return _Tagged("when", children[0])

    def unless(self, children: list[Any]) -> _Tagged:
        return _Tagged("unless", children[0])

    @_with_meta
    def obligation_clause(self, meta: Meta, children: list[Any]) -> ast.ObligationClause:
        names = children[0]
        condition = children[1] if len(children) > 1 else None
        return ast.ObligationClause(names, condition, self._span(meta))

    # invariants ----------------------------------------------------------------
    @_with_meta
    def invariant(self, meta: Meta, children: list[Any]) -> ast.Invariant:
        tags = {c.tag: c.value for c in children[1:-1] if isinstance(c, _Tagged)}
        claim = children[-1]
        return ast.Invariant(
            id=self._name(children[0]),
            expect=claim["expect"],
            parties=claim["scopes"][0],
            data=claim["scopes"][1],
            purposes=claim["scopes"][2] if len(claim["scopes"]) > 2 else ast.Scope(None),
            citations=tags.get("citations", ()),
            description=tags.get("description"),
            condition=claim["when"],
            exceptions=claim["unless"],
            wording=claim["wording"],
            span=self._span(meta),
        )

    def _claim(self, wording: str, expect: str, children: list[Any]) -> dict[str, Any]:
        scopes = [c for c in children if isinstance(c, ast.Scope)]
        tagged = [c for c in children if isinstance(c, _Tagged)]
        when = next((c.value for c in tagged if c.tag == "when"), None)
        unless = tuple(c.value for c in tagged if c.tag == "unless")
        return {
            "wording": wording,
            "expect": expect,
            "scopes": scopes,
            "when": when,
            "unless": unless,
        }

    def never(self, children: list[Any]) -> dict[str, Any]:
        return self._claim("never", "deny", children)

    def always(self, children: list[Any]) -> dict[str, Any]:
        effect = next(str(c) for c in children if isinstance(c, Token) and c.type == "EFFECT")
        return self._claim("always", effect, children)

    def inv_verb(self, _: list[Any]) -> None:
        return None

    def inv_purposes(self, children: list[Any]) -> ast.Scope:
        scope: ast.Scope = children[0]
        return scope

    def exceptions(self, children: list[Any]) -> tuple[ast.Name, ...]:
        names: tuple[ast.Name, ...] = children[0]
        return names

    def _scope(self, children: list[Any]) -> ast.Scope:
        names: tuple[ast.Name, ...] | None = children[0].value
        excepts: tuple[ast.Name, ...] = children[1] if len(children) > 1 else ()
        return ast.Scope(names, excepts)

    party_scope = _scope
    data_scope = _scope
    purpose_scope = _scope

    # expressions ---------------------------------------------------------------
    @_with_meta
    def or_(self, meta: Meta, children: list[Any]) -> ast.Or:
        left, right = children
        ops = left.operands if isinstance(left, ast.Or) else (left,)
        return ast.Or((*ops, right), self._span(meta))

    @_with_meta
    def and_(self, meta: Meta, children: list[Any]) -> ast.And:
        left, right = children
        ops = left.operands if isinstance(left, ast.And) else (left,)
        return ast.And((*ops, right), self._span(meta))

    @_with_meta
    def not_(self, meta: Meta, children: list[Any]) -> ast.Not:
        return ast.Not(children[0], self._span(meta))

    @_with_meta
    def compare(self, meta: Meta, children: list[Any]) -> ast.Compare:
        left, op, right = children
        return ast.Compare(str(op), left, right, self._span(meta))  # type: ignore[arg-type]

    @_with_meta
    def member(self, meta: Meta, children: list[Any]) -> ast.Member:
        return ast.Member(children[0], children[1], False, self._span(meta))

    @_with_meta
    def not_member(self, meta: Meta, children: list[Any]) -> ast.Member:
        return ast.Member(children[0], children[1], True, self._span(meta))

    @_with_meta
    def is_known(self, meta: Meta, children: list[Token]) -> ast.Presence:
        return ast.Presence(self._name(children[0]), True, self._span(meta))

    @_with_meta
    def is_missing(self, meta: Meta, children: list[Token]) -> ast.Presence:
        return ast.Presence(self._name(children[0]), False, self._span(meta))

    @_with_meta
    def truth(self, meta: Meta, children: list[Any]) -> ast.Truth:
        return ast.Truth(children[0], self._span(meta))

    def name_ref(self, children: list[Token]) -> ast.NameRef:
        name = self._name(children[0])
        return ast.NameRef(name.value, name.span)

    def request_ref(self, children: list[Token]) -> ast.RequestRef:
        kind: ast.TermKind = sys.intern(str(children[0]))  # type: ignore[assignment]
        return ast.RequestRef(kind, self._tspan(children[0]))

    @_with_meta
    def list_literal(self, meta: Meta, children: list[Any]) -> ast.ListLiteral:
        return ast.ListLiteral(tuple(c for c in children if c is not None), self._span(meta))

    def string(self, children: list[Token]) -> ast.Literal_:
        return ast.Literal_(_unquote(children[0]), self._tspan(children[0]))

    def integer(self, children: list[Token]) -> ast.Literal_:
        return ast.Literal_(int(children[0]), self._tspan(children[0]))

    def true(self, children: list[Token]) -> ast.Literal_:
        return ast.Literal_(True, self._tspan(children[0]))

    def false(self, children: list[Token]) -> ast.Literal_:
        return ast.Literal_(False, self._tspan(children[0]))


# ---- syntax errors in the language's terms ---------------------------------------------------

_TERMINAL_WORDS: dict[str, tuple[str, ...]] = {
    "NAME": ("a name",),
    "STRING": ("a quoted string",),
    "INT": ("a whole number",),
    "CITATION": ("a citation such as `§5.1`",),
    "COMPARE": ("a comparison (`=`, `!=`, `<`, `<=`, `>`, `>=`)",),
    "EFFECT": ("`allow`", "`deny`"),
    "TERM_KIND": ("`party`", "`data`", "`purpose`"),
    "REQUEST_REF": ("`party`", "`data`", "`purpose`"),
    "CONSENT_LEDGER": ("`consent ledger`",),
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
_STATEMENT_TERMINALS = frozenset(k.upper() for k in STATEMENT_KEYWORDS)
_OPERAND_TERMINALS = frozenset({"NAME", "STRING", "INT", "TRUE", "FALSE", "LSQB", "REQUEST_REF"})
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
    return _accepts(parser)


def _accepts(parser: InteractiveParser) -> set[str]:
    """The terminals that let ``parser`` advance from where it stands."""
    return set(parser.accepts())  # type: ignore[no-untyped-call]


_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _is_word_char(ch: str) -> bool:
    return ch in _WORD_CHARS


def _glued(text: str, token: Token) -> bool:
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


def _describe_glued(source: Source, token: Token, expected: set[str]) -> Diagnostic:
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


def _describe_syntax_error(source: Source, exc: UnexpectedInput) -> Diagnostic:
    line = exc.line if exc.line and exc.line > 0 else max(len(source.lines), 1)
    column = exc.column if exc.column and exc.column > 0 else len(source.line(line)) + 1
    if isinstance(exc, UnexpectedCharacters):
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
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        expected = _expected_at(source, len(source.text))
        last = max(len(source.lines), 1)
        col = len(source.line(last)) + 1
        return Diagnostic(
            "unexpected-end",
            "unexpected end of file"
            + (f", expected {_expected_phrase(expected)}" if expected else ""),
            Span(source, last, col, last, col + 1),
            "a statement was left unfinished",
        )
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
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
    before = source.text[:start].rstrip()
    hint = None
    if token.type == "STRING" and "NAME" in expected:
        hint = "names are written without quotes"
    elif text == "=" and before.endswith("="):
        hint = "equality is a single `=`"
    elif token.type == "CITATION" and "EFFECT" in expected:
        hint = "in a rule, citations come right after the rule id, before the description"
    elif text == "when" and "UNLESS" in expected:
        hint = "a rule's `when` comes before its `unless` clauses"
    elif text == "is" and before.endswith(("party", "data", "purpose")):
        hint = "`party`, `data` and `purpose` are always known; `is known` tests context keys"
    elif "CONSENT_LEDGER" in expected:
        hint = _LEDGER_HINT
    return Diagnostic(
        "unexpected-token",
        f"expected {_expected_phrase(expected)}, found `{text}`",
        span,
        hint,
    )
