"""Text → typed AST. Lark builds a concrete tree (LALR, positions kept); a Transformer turns it into
the frozen nodes of :mod:`policy_engine.ast`. Syntax errors are reported in the language's own terms
(\"expected `for`\"), never as parser states."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.tree import Meta

from . import ast
from .errors import Diagnostic, PolicySyntaxError, did_you_mean
from .source import Source, Span

STATEMENT_KEYWORDS = ("party", "data", "purpose", "obligation", "context", "rule")


@functools.cache
def grammar_text() -> str:
    """The grammar shipped inside the package (``grammar/policy.lark`` in the source tree)."""
    return resources.files("policy_engine.grammar").joinpath("policy.lark").read_text("utf-8")


@functools.cache
def lark_parser() -> Lark:
    """The LALR parser, built once per process."""
    return Lark(
        grammar_text(),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=False,
    )


def parse_source(source: Source) -> ast.PolicyFile:
    """Parse one file. Raises :class:`PolicySyntaxError` naming the place and what was expected."""
    try:
        tree = lark_parser().parse(source.text)
    except UnexpectedInput as exc:
        raise PolicySyntaxError([_describe_syntax_error(source, exc)]) from None
    items = _Builder(source).transform(tree)
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


class _Builder(Transformer[Token, Any]):
    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source

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
        return ast.Name(str(token), self._tspan(token))

    # structure -----------------------------------------------------------
    def start(self, children: list[Any]) -> list[Any]:
        return children

    @v_args(meta=True)
    def name_list(self, meta: Meta, children: list[Token]) -> tuple[ast.Name, ...]:
        return tuple(self._name(t) for t in children)

    @v_args(meta=True)
    def parents(self, meta: Meta, children: list[Any]) -> _Tagged:
        return _Tagged("parents", children[0])

    @v_args(meta=True)
    def description(self, meta: Meta, children: list[Token]) -> _Tagged:
        return _Tagged("description", _unquote(children[0]))

    @v_args(meta=True)
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

    @v_args(meta=True)
    def party_decl(self, meta: Meta, children: list[Any]) -> ast.TermDecl:
        return self._decl("party", meta, children)

    @v_args(meta=True)
    def data_decl(self, meta: Meta, children: list[Any]) -> ast.TermDecl:
        return self._decl("data", meta, children)

    @v_args(meta=True)
    def purpose_decl(self, meta: Meta, children: list[Any]) -> ast.TermDecl:
        return self._decl("purpose", meta, children)

    @v_args(meta=True)
    def obligation_decl(self, meta: Meta, children: list[Any]) -> ast.TermDecl:
        return self._decl("obligation", meta, children)

    # context schema --------------------------------------------------------
    @v_args(meta=True)
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

    # rules -------------------------------------------------------------------
    @v_args(meta=True)
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

    @v_args(meta=True)
    def obligation_clause(self, meta: Meta, children: list[Any]) -> ast.ObligationClause:
        names = children[0]
        condition = children[1] if len(children) > 1 else None
        return ast.ObligationClause(names, condition, self._span(meta))

    # expressions ---------------------------------------------------------------
    @v_args(meta=True)
    def or_(self, meta: Meta, children: list[Any]) -> ast.Or:
        left, right = children
        ops = left.operands if isinstance(left, ast.Or) else (left,)
        return ast.Or((*ops, right), self._span(meta))

    @v_args(meta=True)
    def and_(self, meta: Meta, children: list[Any]) -> ast.And:
        left, right = children
        ops = left.operands if isinstance(left, ast.And) else (left,)
        return ast.And((*ops, right), self._span(meta))

    @v_args(meta=True)
    def not_(self, meta: Meta, children: list[Any]) -> ast.Not:
        return ast.Not(children[0], self._span(meta))

    @v_args(meta=True)
    def compare(self, meta: Meta, children: list[Any]) -> ast.Compare:
        left, op, right = children
        return ast.Compare(str(op), left, right, self._span(meta))  # type: ignore[arg-type]

    @v_args(meta=True)
    def member(self, meta: Meta, children: list[Any]) -> ast.Member:
        return ast.Member(children[0], children[1], False, self._span(meta))

    @v_args(meta=True)
    def not_member(self, meta: Meta, children: list[Any]) -> ast.Member:
        return ast.Member(children[0], children[1], True, self._span(meta))

    @v_args(meta=True)
    def is_known(self, meta: Meta, children: list[Token]) -> ast.Presence:
        return ast.Presence(self._name(children[0]), True, self._span(meta))

    @v_args(meta=True)
    def is_missing(self, meta: Meta, children: list[Token]) -> ast.Presence:
        return ast.Presence(self._name(children[0]), False, self._span(meta))

    @v_args(meta=True)
    def truth(self, meta: Meta, children: list[Any]) -> ast.Truth:
        return ast.Truth(children[0], self._span(meta))

    def name_ref(self, children: list[Token]) -> ast.NameRef:
        return ast.NameRef(str(children[0]), self._tspan(children[0]))

    def request_ref(self, children: list[Token]) -> ast.RequestRef:
        kind: ast.TermKind = str(children[0])  # type: ignore[assignment]
        return ast.RequestRef(kind, self._tspan(children[0]))

    @v_args(meta=True)
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

_TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": "a quoted string",
    "INT": "a whole number",
    "CITATION": "a citation such as `§5.1`",
    "COMPARE": "a comparison (`=`, `!=`, `<`, `<=`, `>`, `>=`)",
    "EFFECT": "`allow` or `deny`",
    "TERM_KIND": "`party`, `data` or `purpose`",
    "REQUEST_REF": "`party`, `data` or `purpose`",
    "BOOLEAN_T": "`boolean`",
    "INTEGER_T": "`integer`",
    "STRING_T": "`string`",
    "TRUE": "`true`",
    "FALSE": "`false`",
    "$END": "the end of the file",
}


def _terminal_word(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    for term in lark_parser().terminals:
        if term.name == name:
            return f"`{term.pattern.value}`"
    return name.lower()


def _keyword_of(name: str) -> str | None:
    """The literal keyword a terminal stands for, if it is a plain word."""
    if name in ("NAME", "STRING", "INT", "CITATION", "COMPARE", "$END"):
        return None
    for term in lark_parser().terminals:
        if term.name == name and term.pattern.type == "str" and term.pattern.value.isalpha():
            return str(term.pattern.value)
    return None


def _expected_phrase(expected: set[str]) -> str:
    words = sorted({_terminal_word(e) for e in expected})
    if len(words) > 8:
        words = [*words[:8], "..."]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


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
            "names use letters, digits and `_`; text goes between double quotes",
        )
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        expected = set(getattr(exc, "expected", ()) or ())
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
    expected = set(exc.expected)
    text = str(token)
    span = Span(
        source, line, column, token.end_line or line, token.end_column or column + len(text)
    )
    keywords = sorted(k for k in (_keyword_of(e) for e in expected) if k)
    if token.type == "NAME":
        close = did_you_mean(text, keywords + (["allow", "deny"] if "EFFECT" in expected else []))
        at_statement = {"RULE", "PARTY", "CONTEXT"} <= expected
        if at_statement:
            hint = (
                f"did you mean `{close[0]}`?"
                if close
                else "statements start with " + ", ".join(f"`{k}`" for k in STATEMENT_KEYWORDS)
            )
            return Diagnostic("unknown-keyword", f"unknown keyword `{text}`", span, hint)
        return Diagnostic(
            "unexpected-token",
            f"expected {_expected_phrase(expected)}, found `{text}`",
            span,
            f"did you mean `{close[0]}`?" if close else None,
        )
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
    )
