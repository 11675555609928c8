"""Checked conditions → closures over the request, in Kleene's three-valued logic.

The generic form of a rule's condition: ``True``, ``False`` or ``None`` for *unknown* (a context key
the condition needs is missing). Decisions mostly run on the per-cell generated functions of
:mod:`.cells`; these closures serve analyses, invariants and requests with missing keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..language import ast
from ..semantics.attribute_table import Attribute
from ..semantics.vocabulary import Hierarchy
from .attribute_trace import attribute_reader
from .context import MISSING, REQUEST_INDEX, Condition, Context, Getter, RequestTerms, SymbolTables
from .specialize import one_term, term_kind
from .time_operands import innermost, mover, time_kind_of


class ConditionBuilder:
    """Compiles one policy's conditions (it knows its hierarchies and names) and shares equal
    rule scopes."""

    def __init__(
        self,
        hierarchies: dict[str, Hierarchy],
        tables: SymbolTables,
        now_key: str | None = None,
        attributes: Mapping[tuple[str, str], Attribute] | None = None,
    ) -> None:
        self.hierarchies = hierarchies
        self.tables = tables
        self.now_key = now_key
        """The context key ``now`` reads (the one declared ``is now``)."""
        self.attributes = attributes or {}
        self._scopes: dict[frozenset[str], frozenset[str]] = {}

    def scope(self, names: tuple[str, ...] | None) -> frozenset[str] | None:
        """A rule's scope as a set, one shared object per distinct set (a large policy names
        the same few terms in thousands of rules; each set costs 200 bytes or more)."""
        if names is None:
            return None
        found = frozenset(names)
        return self._scopes.setdefault(found, found)

    def _is_context(self, name: str) -> bool:
        return name in self.tables[0]

    def _term_kind(self, node: ast.Operand) -> str | None:
        return term_kind(node, *self.tables)

    def getter(self, node: ast.Operand) -> Getter:
        if isinstance(node, ast.Literal_):
            value = node.value
            return lambda ctx, req: value
        if isinstance(node, ast.RequestRef):
            index = REQUEST_INDEX[node.kind]
            return lambda ctx, req: req[index]
        if isinstance(node, ast.NameRef):
            name = node.name
            if self._is_context(name):
                return lambda ctx, req: ctx.get(name, MISSING)
            return lambda ctx, req: name
        if isinstance(node, ast.AttributeRef | ast.KeyAttributeRef):
            # The term's value; a term without one (or a missing key) makes it unknown.
            return attribute_reader(self.attributes, node)  # type: ignore[no-any-return]
        if isinstance(node, ast.TimeLiteral):
            number = node.value
            return lambda ctx, req: number
        if isinstance(node, ast.Now):
            key = self.now_key or ""  # the checker refuses `now` without a key
            return lambda ctx, req: ctx.get(key, MISSING)
        if isinstance(node, ast.Shifted):
            return self._shifted(node)
        values = frozenset(
            item.value if isinstance(item, ast.Literal_) else item.name  # type: ignore[union-attr]
            for item in node.items
        )
        return lambda ctx, req: values

    def _shifted(self, node: ast.Shifted) -> Getter:
        """A date or instant moved by durations: missing when what it moves is missing."""
        base = self.getter(innermost(node))
        kind = time_kind_of(node, self.tables[0], self.now_key, self.attributes) or "date"
        move = mover(node, kind)

        def shifted(ctx: Context, req: RequestTerms) -> Any:
            value = base(ctx, req)
            return MISSING if value is MISSING else move(value)

        return shifted

    def condition(self, expr: ast.Expr) -> Condition:
        if isinstance(expr, ast.NamedCondition):
            return self.condition(expr.body)  # exactly what it names
        if isinstance(expr, ast.And):
            parts = tuple(self.condition(e) for e in expr.operands)

            def and_(ctx: Context, req: RequestTerms) -> bool | None:
                result: bool | None = True
                for part in parts:
                    value = part(ctx, req)
                    if value is False:
                        return False
                    if value is None:
                        result = None
                return result

            return and_
        if isinstance(expr, ast.Or):
            parts = tuple(self.condition(e) for e in expr.operands)

            def or_(ctx: Context, req: RequestTerms) -> bool | None:
                result: bool | None = False
                for part in parts:
                    value = part(ctx, req)
                    if value is True:
                        return True
                    if value is None:
                        result = None
                return result

            return or_
        if isinstance(expr, ast.Not):
            inner = self.condition(expr.operand)

            def not_(ctx: Context, req: RequestTerms) -> bool | None:
                value = inner(ctx, req)
                return None if value is None else not value

            return not_
        if isinstance(expr, ast.Presence):
            key, known = expr.key.value, expr.known
            return lambda ctx, req: (key in ctx) is known
        if isinstance(expr, ast.AttributePresence):
            read, known = self.getter(expr.attribute), expr.known
            return lambda ctx, req: (read(ctx, req) is not MISSING) is known
        if isinstance(expr, ast.Truth):
            get = self.getter(expr.operand)

            def truth(ctx: Context, req: RequestTerms) -> bool | None:
                value = get(ctx, req)
                return None if value is MISSING else bool(value)

            return truth
        if isinstance(expr, ast.Compare):
            return self._compare(expr)
        return self._member(expr)

    def _compare(self, expr: ast.Compare) -> Condition:
        left, right = self.getter(expr.left), self.getter(expr.right)
        test: Callable[[Any, Any], bool] = {
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
        }[expr.op]

        def compare(ctx: Context, req: RequestTerms) -> bool | None:
            a = left(ctx, req)
            if a is MISSING:
                return None
            b = right(ctx, req)
            if b is MISSING:
                return None
            return test(a, b)

        return compare

    def _member(self, expr: ast.Member) -> Condition:
        left, right = self.getter(expr.left), self.getter(expr.right)
        negated = expr.negated
        kind = self._term_kind(expr.right)
        contains: Callable[[Any, Any], bool]
        if kind is not None:
            ancestors = self.hierarchies[kind].ancestors
            if one_term(expr.right, self.tables[0]):
                # `x in marketing`, `x in recipient`: x is that term or sits below it.
                def contains(item: Any, term: Any) -> bool:
                    return term in ancestors[item]
            else:
                # `x in consented_purposes`: x or one of its ancestors is in the set.
                def contains(item: Any, terms: Any) -> bool:
                    return not ancestors[item].isdisjoint(terms)
        else:

            def contains(item: Any, values: Any) -> bool:
                return item in values

        def member(ctx: Context, req: RequestTerms) -> bool | None:
            a = left(ctx, req)
            if a is MISSING:
                return None
            b = right(ctx, req)
            if b is MISSING:
                return None
            return contains(a, b) is not negated

        return member
