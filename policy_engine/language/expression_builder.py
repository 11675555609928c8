"""Conditions and literals → AST nodes: the part of the AST builder that every statement's
``when``, ``unless`` and ``default`` clauses share."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

from lark import Token
from lark.tree import Meta

from . import ast
from .builder_base import BuilderBase, with_meta
from .errors import Diagnostic
from .limits import MAX_DURATION_DIGITS, MAX_INTEGER_DIGITS
from .source import Span
from .time_values import TimeKind, TimeValueError, parse_time

__all__ = ["MAX_INTEGER_DIGITS", "ExpressionBuilder"]


class ExpressionBuilder(BuilderBase):
    """Builds the nodes of conditions (``and``, ``or``, comparisons, membership, presence tests)
    and of the values in them."""

    @with_meta
    def or_(self, meta: Meta, children: list[Any]) -> ast.Or:
        # A chain is one flat node (a 2,000-operand chain is no deeper than two operands); a
        # parenthesised `or` first in it joins it, as it always has.
        first, *rest = children
        ops = first.operands if isinstance(first, ast.Or) else (first,)
        return self.nest(ast.Or((*ops, *rest), self._span(meta)), children, meta)

    @with_meta
    def and_(self, meta: Meta, children: list[Any]) -> ast.And:
        first, *rest = children
        ops = first.operands if isinstance(first, ast.And) else (first,)
        return self.nest(ast.And((*ops, *rest), self._span(meta)), children, meta)

    @with_meta
    def not_(self, meta: Meta, children: list[Any]) -> ast.Not:
        return self.nest(ast.Not(children[0], self._span(meta)), children, meta)

    @with_meta
    def compare(self, meta: Meta, children: list[Any]) -> ast.Compare:
        left, op, right = children
        return ast.Compare(str(op), left, right, self._span(meta))  # type: ignore[arg-type]

    @with_meta
    def member(self, meta: Meta, children: list[Any]) -> ast.Member:
        return ast.Member(children[0], children[1], False, self._span(meta))

    @with_meta
    def not_member(self, meta: Meta, children: list[Any]) -> ast.Member:
        return ast.Member(children[0], children[1], True, self._span(meta))

    @with_meta
    def is_known(self, meta: Meta, children: list[Token]) -> ast.Presence:
        return ast.Presence(self._name(children[0]), True, self._span(meta))

    @with_meta
    def is_missing(self, meta: Meta, children: list[Token]) -> ast.Presence:
        return ast.Presence(self._name(children[0]), False, self._span(meta))

    @with_meta
    def attribute_is_known(self, meta: Meta, children: list[Token]) -> ast.AttributePresence:
        return ast.AttributePresence(self.attribute_ref(children), True, self._span(meta))

    @with_meta
    def attribute_is_missing(self, meta: Meta, children: list[Token]) -> ast.AttributePresence:
        return ast.AttributePresence(self.attribute_ref(children), False, self._span(meta))

    @with_meta
    def truth(self, meta: Meta, children: list[Any]) -> ast.Truth:
        return ast.Truth(children[0], self._span(meta))

    def name_ref(self, children: list[Token]) -> ast.NameRef:
        name = self._name(children[0])
        return ast.NameRef(name.value, name.span)

    def request_ref(self, children: list[Token]) -> ast.RequestRef:
        kind: ast.TermKind = sys.intern(str(children[0]))  # type: ignore[assignment]
        return ast.RequestRef(kind, self._tspan(children[0]))

    def attribute_ref(self, children: list[Token]) -> ast.AttributeRef:
        kind, name = children
        span = self._tspan(kind)
        end = self._tspan(name)
        where = Span(span.source, span.line, span.column, end.end_line, end.end_column)
        word: ast.TermKind = sys.intern(str(kind))  # type: ignore[assignment]
        return ast.AttributeRef(word, sys.intern(str(name)), where)

    @with_meta
    def list_literal(self, meta: Meta, children: list[Any]) -> ast.ListLiteral:
        items = tuple(c for c in children if c is not None)
        return self.nest(ast.ListLiteral(items, self._span(meta)), list(items), meta)

    def now(self, children: list[Token]) -> ast.Now:
        return ast.Now(self._tspan(children[0]))

    @with_meta
    def shifted(self, meta: Meta, children: list[Any]) -> ast.Shifted:
        base, sign, duration = children
        amount_text, unit = str(duration).split()
        if len(amount_text.lstrip("0")) > MAX_DURATION_DIGITS:
            self.problems.append(
                Diagnostic(
                    "duration-too-long",
                    f"this duration's number has {len(amount_text.lstrip('0')):,} digits; at most "
                    f"{MAX_DURATION_DIGITS} are allowed",
                    self._tspan(duration),
                )
            )
            amount_text = "0"
        plural = unit if unit.endswith("s") else unit + "s"
        span = self._tspan(duration)
        written = ast.Duration(int(amount_text), plural, span)  # type: ignore[arg-type]
        return ast.Shifted(base, str(sign), written, self._span(meta))  # type: ignore[arg-type]

    def _time_literal(self, kind: TimeKind, children: list[Token]) -> ast.TimeLiteral:
        token = children[1]
        text = self._text(token)
        try:
            value = parse_time(kind, text)
        except TimeValueError as exc:
            hint = (
                'write it YYYY-MM-DD, e.g. `date "2023-09-22"`'
                if kind == "date"
                else 'write it with its offset, e.g. `instant "2026-12-06T18:00:00Z"`'
            )
            self.problems.append(Diagnostic(f"bad-{kind}", str(exc), self._tspan(token), hint))
            value = 0
        first, last = self._tspan(children[0]), self._tspan(token)
        span = Span(self.source, first.line, first.column, last.end_line, last.end_column)
        return ast.TimeLiteral(kind, text, value, span)

    def date_literal(self, children: list[Token]) -> ast.TimeLiteral:
        return self._time_literal("date", children)

    def instant_literal(self, children: list[Token]) -> ast.TimeLiteral:
        return self._time_literal("instant", children)

    def string(self, children: list[Token]) -> ast.Literal_:
        return ast.Literal_(self._text(children[0]), self._tspan(children[0]))

    def integer(self, children: list[Token]) -> ast.Literal_:
        token = children[0]
        digits = len(token.lstrip("-"))
        if digits > MAX_INTEGER_DIGITS:
            self.problems.append(
                Diagnostic(
                    "integer-too-long",
                    f"this integer has {digits:,} digits; at most {MAX_INTEGER_DIGITS} are allowed",
                    self._tspan(token),
                )
            )
            return ast.Literal_(0, self._tspan(token))
        return ast.Literal_(int(token), self._tspan(token))

    def decimal(self, children: list[Token]) -> ast.Literal_:
        """``0.75``, ``-1.5``: kept exactly, as written (never a binary float)."""
        token = children[0]
        digits = sum(ch.isdigit() for ch in token)
        if digits > MAX_INTEGER_DIGITS:
            self.problems.append(
                Diagnostic(
                    "decimal-too-long",
                    f"this decimal has {digits:,} digits; at most {MAX_INTEGER_DIGITS} are allowed",
                    self._tspan(token),
                )
            )
            return ast.Literal_(Decimal(0), self._tspan(token))
        return ast.Literal_(Decimal(str(token)), self._tspan(token))

    def true(self, children: list[Token]) -> ast.Literal_:
        return ast.Literal_(True, self._tspan(children[0]))

    def false(self, children: list[Token]) -> ast.Literal_:
        return ast.Literal_(False, self._tspan(children[0]))
