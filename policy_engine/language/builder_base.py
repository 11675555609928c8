"""The machinery under the AST builder: a Lark Transformer that dispatches through a table built
once per class (no per-call wrappers), the spans and names of nodes, string unquoting, and the tags
that carry a statement's clauses until its node is assembled."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from lark import Token, Transformer, Tree
from lark.tree import Meta

from . import ast
from .errors import Diagnostic, PolicySyntaxError
from .grammar import reserved_words
from .limits import MAX_NAME_LENGTH, MAX_NESTING, MAX_STRING_LENGTH
from .source import Source, Span

__all__ = ["MAX_NESTING", "BuilderBase", "Tagged", "unquote", "with_meta"]


class Tagged:
    """A clause of a rule, tagged with what it is, before the rule node is assembled."""

    def __init__(self, tag: str, value: Any) -> None:
        self.tag = tag
        self.value = value


def unquote(token: str) -> str:
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


_ESCAPES = frozenset('"\\nt')
"""What may follow a backslash in a string."""

Method = Callable[..., Any]


def with_meta(method: Method) -> Method:
    """Marks a builder method that takes the node's position (``meta``) before its children."""
    method._with_meta = True  # type: ignore[attr-defined]
    return method


@functools.cache
def _builder_table(cls: type[BuilderBase]) -> dict[str, tuple[Method, bool]]:
    """The public methods of ``cls`` and of the builder classes it extends, by grammar rule."""
    return {
        name: (value, getattr(value, "_with_meta", False))
        for klass in reversed(cls.__mro__)
        if issubclass(klass, BuilderBase)
        for name, value in vars(klass).items()
        if not name.startswith("_") and callable(value)
    }


_Node = TypeVar("_Node")


def _too_deep(span: Span | None) -> Diagnostic:
    return Diagnostic(
        "too-deep",
        f"this condition nests more than {MAX_NESTING} levels deep",
        span,
        "split it into rules or simpler conditions; `and`/`or` chains of any length are fine",
    )


class BuilderBase(Transformer[Token, Any]):
    """Builds AST nodes from Lark's rules for the file of one parse: each public method of a
    subclass builds the node of the grammar rule it is named after.

    Dispatch is a table built once per class instead of Lark's ``v_args`` wrappers, which build
    a new wrapper object on every call (some 60,000 per 10,000 rules); tokens are not visited."""

    def __init__(self, source: Source, problems: list[Diagnostic]) -> None:
        super().__init__(visit_tokens=False)
        self._table = _builder_table(type(self))
        self.source = source
        self.problems = problems
        self.reserved = reserved_words()
        self._depths: dict[int, int] = {}

    def transform(self, tree: Tree[Token]) -> Any:
        """Lark's transform, which recurses once per level of the tree: a condition nested
        hundreds of levels deep is a syntax error at its statement, never a RecursionError."""
        try:
            return super().transform(tree)
        except RecursionError:
            raise PolicySyntaxError([_too_deep(self._span(tree.meta))]) from None

    def nest(self, node: _Node, children: list[Any], meta: Meta) -> _Node:
        """Record how deeply ``node`` nests (conditions and lists); past ``MAX_NESTING`` levels
        the statement is refused (once, at the node that first goes past)."""
        depth = 1 + max((self._depths.get(id(c), 0) for c in children), default=0)
        self._depths[id(node)] = depth
        if depth == MAX_NESTING + 1:
            self.problems.append(_too_deep(self._span(meta)))
        return node

    def _call_userfunc(self, tree: Tree[Token], new_children: list[Any] | None = None) -> Any:
        children = tree.children if new_children is None else new_children
        entry = self._table.get(tree.data)
        if entry is None:
            return self.__default__(tree.data, children, tree.meta)  # type: ignore[no-untyped-call]
        method, with_meta = entry
        if with_meta:
            return method(self, tree.meta, children)
        return method(self, children)

    def _text(self, token: Token) -> str:
        """A quoted string's text. An escape other than `\\"`, `\\\\`, `\\n` and `\\t` is an error
        at its place (`"caf\\u00e9"` used to become `"cafu00e9"` without a word). A string
        longer than ``MAX_STRING_LENGTH`` is an error at its opening quote."""
        if len(token) - 2 > MAX_STRING_LENGTH:
            span = self._tspan(token)
            self.problems.append(
                Diagnostic(
                    "string-too-long",
                    f"this string has {len(token) - 2:,} characters; at most "
                    f"{MAX_STRING_LENGTH:,} are allowed",
                    Span(self.source, span.line, span.column, span.line, span.column + 1),
                    "shorten it; a rule's description is a sentence or two, its citation says "
                    "where the rest is",
                )
            )
        if "\\" not in token:
            return unquote(token)
        body = token[1:-1]
        at = body.find("\\")
        while at != -1:
            escaped = body[at + 1 : at + 2]
            if escaped not in _ESCAPES:
                column = (token.column or 1) + 1 + at
                line = token.line or 1
                self.problems.append(
                    Diagnostic(
                        "unknown-escape",
                        f"unknown escape `\\{escaped}` in a string",
                        Span(self.source, line, column, line, column + 2),
                        "write the character itself (rule files are UTF-8); a backslash is "
                        '`\\\\`, a quote `\\"`, a line break `\\n`, a tab `\\t`',
                    )
                )
            at = body.find("\\", at + 2)
        return unquote(token)

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
        if len(token) > MAX_NAME_LENGTH:
            self.problems.append(
                Diagnostic(
                    "name-too-long",
                    f"this name has {len(token):,} characters; at most {MAX_NAME_LENGTH} are "
                    "allowed",
                    span,
                    "pick a shorter name",
                )
            )
        # Each part of a dotted name too: `context party.location` would never be read, as
        # `party.location` in a condition is the request's party's attribute.
        word = str(token)
        reserved = word if word in self.reserved else None
        if reserved is None and "." in word:
            reserved = next((part for part in word.split(".") if part in self.reserved), None)
        if reserved is not None:
            self.problems.append(
                Diagnostic(
                    "reserved-word",
                    f"`{reserved}` is a reserved word and cannot be used as a name"
                    + (f" (in `{word}`)" if reserved != word else ""),
                    span,
                    "pick another name; the language's own words (`party`, `rule`, `when`, "
                    "`any`, ...) are reserved",
                )
            )
        # One string per distinct name: a large policy writes its few hundred terms some
        # hundred thousand times.
        return ast.Name(sys.intern(str(token)), span)
