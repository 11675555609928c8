"""Condition typing: the static type of every operand (:class:`OpType`) and :class:`Typer`,
which infers them and reports ill-typed conditions in the author's terms."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..language import ast
from ..language.printer import literal_text, operand_text
from .attributes import unknown_attribute
from .check_state import CheckState, article, kind_word
from .term_key_types import (
    check_attribute_presence,
    check_presence,
    is_term_key,
    key_attribute_decl,
    key_attributes,
)
from .time_types import TIME_BASES, TIME_OPERANDS, check_time_compare, time_operand
from .value_checks import number_hint


@dataclass(frozen=True)
class OpType:
    """The static type of an operand in a condition.

    ``base`` is one of ``bool``, ``int``, ``decimal``, ``str``, ``strlist``, ``term``,
    ``termset`` and ``emptylist``.
    ``kind`` names the hierarchy for terms; ``literals`` the allowed (or listed) string values.
    """

    base: str
    kind: str | None = None
    literals: tuple[str, ...] | None = None

    def describe(self) -> str:
        if self.base == "term":
            return ast.KIND_WORDS[self.kind or "party"]
        if self.base == "termset":
            return f"set of {self.kind}"
        if self.base == "str" and self.literals is not None:
            return "one of " + ", ".join(f'"{v}"' for v in self.literals)
        if self.base == "strlist":
            if self.literals is None:
                return "list of strings"
            return "list of " + ", ".join(f'"{v}"' for v in self.literals)
        return {
            "bool": "boolean",
            "int": "integer",
            "decimal": "decimal",
            "str": "string",
            "emptylist": "empty list",
            "date": "date",
            "instant": "instant",
        }[self.base]

    def a(self) -> str:
        """The type with its article, for sentences: `an integer`, `a string (one of "x")`."""
        if self.base == "str" and self.literals is not None:
            return f"a string ({self.describe()})"
        text = self.describe()
        return f"{article(text)} {text}"


def context_type(decl_type: ast.ValueType) -> OpType:
    """The type of a context key declared as ``decl_type``."""
    if isinstance(decl_type, ast.BoolType):
        return OpType("bool")
    if isinstance(decl_type, ast.IntType):
        return OpType("int")
    if isinstance(decl_type, ast.DecimalType):
        return OpType("decimal")
    if isinstance(decl_type, ast.StrType):
        return OpType("str")
    if isinstance(decl_type, ast.OneOfType):
        return OpType("str", literals=decl_type.literals)
    if isinstance(decl_type, ast.ListType):
        return OpType("strlist", literals=decl_type.literals)
    if isinstance(decl_type, ast.DateType | ast.InstantType):
        return OpType(decl_type.describe())
    if isinstance(decl_type, ast.TermType):
        return OpType("term", kind=decl_type.kind)
    return OpType("termset", kind=decl_type.kind)


_ORDERING = ("<", "<=", ">", ">=")

NUMERIC = ("int", "decimal")
"""The types of numbers: any two of them compare with each other, exactly."""


def comparable(left: OpType, right: OpType) -> bool:
    """Whether ``=`` and ``!=`` may compare values of these types: the same type (terms of one
    hierarchy), or two numbers."""
    if left.base in NUMERIC and right.base in NUMERIC:
        return True
    return left.base == right.base and (left.base != "term" or left.kind == right.kind)


def _written(node: ast.Operand) -> str:
    if isinstance(node, TIME_OPERANDS):
        return operand_text(node)
    if isinstance(node, ast.NameRef):
        return node.name
    if isinstance(node, ast.RequestRef):
        return node.kind
    if isinstance(node, ast.AttributeRef | ast.KeyAttributeRef):
        return node.text
    if isinstance(node, ast.Literal_):
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        if isinstance(node.value, str):
            return f'"{node.value}"'
        return literal_text(node.value)
    return "[" + ", ".join(_written(i) for i in node.items) + "]"


_LISTED = 10
"""The most values of a key an error lists."""


class Typer:
    """Infers operand types and reports ill-typed conditions in the author's terms."""

    def __init__(self, state: CheckState) -> None:
        self.state = state
        self._value_sets: dict[int, tuple[tuple[str, ...], frozenset[str]]] = {}
        self.keyed = key_attributes(state)
        """Which dotted names read an attribute of the term a key names."""

    def condition(self, expr: ast.Expr) -> None:
        if isinstance(expr, ast.And | ast.Or):
            for operand in expr.operands:
                self.condition(operand)
        elif isinstance(expr, ast.Not):
            self.condition(expr.operand)
        elif isinstance(expr, ast.Presence):
            check_presence(self.state, self.keyed, expr)
        elif isinstance(expr, ast.AttributePresence):
            check_attribute_presence(self.state, expr)
        elif isinstance(expr, ast.Truth):
            if self._names_a_condition(expr.operand):
                return  # `when outside_quebec`: a named condition (its body is typed once)
            type_ = self.operand(expr.operand)
            if type_ is not None and type_.base != "bool":
                self.state.error(
                    "not-a-condition",
                    f"`{_written(expr.operand)}` is {type_.a()}, not a condition",
                    expr.operand.span,
                    "compare it with something, e.g. `subject_age >= 14` or "
                    '`destination = "CA-QC"`',
                )
        elif isinstance(expr, ast.Compare):
            self.compare(expr)
        elif isinstance(expr, ast.Member):
            self.member(expr)

    def _names_a_condition(self, node: ast.Operand) -> bool:
        if not isinstance(node, ast.NameRef):
            return False
        symbol = self.state.symbols.get(node.name)
        return symbol is not None and symbol.kind == "condition"

    def operand(self, node: ast.Operand) -> OpType | None:
        """The operand's type, or None after reporting why it has none."""
        if isinstance(node, TIME_OPERANDS):
            return time_operand(self.state, node, self.operand, OpType)  # type: ignore[return-value]
        if isinstance(node, ast.Literal_):
            if isinstance(node.value, bool):
                return OpType("bool")
            if isinstance(node.value, int):
                return OpType("int")
            if isinstance(node.value, Decimal):
                return OpType("decimal")
            return OpType("str")
        if isinstance(node, ast.RequestRef):
            return OpType("term", kind=node.kind)
        if isinstance(node, ast.AttributeRef | ast.KeyAttributeRef):
            decl = self.state.attribute_decls.get((node.kind, node.name))
            if decl is None:
                unknown_attribute(self.state, node.kind, ast.Name(node.name, node.span))
                return None
            return context_type(decl.type)
        if isinstance(node, ast.NameRef):
            symbol = self.state.symbols.get(node.name)
            if symbol is None and (found := key_attribute_decl(self.state, self.keyed, node)):
                return context_type(found.type)  # type: ignore[union-attr]
            if symbol is None and found is False:
                return None  # an attribute the key's kind does not have: said
            if symbol is None:
                self.state.error(
                    "unknown-name",
                    f"unknown name `{node.name}`",
                    node.span,
                    self.state.suggest(node.name)
                    or "conditions use declared context keys and vocabulary terms; "
                    "quote text values",
                )
                return None
            if symbol.kind == "context":
                return context_type(self.state.context[node.name].type)
            if symbol.kind == "condition":
                self.state.error(
                    "condition-as-value",
                    f"`{node.name}` is a named condition, not a value",
                    node.span,
                    f"use it as a condition of its own: `when {node.name}`, "
                    f"`not {node.name}`, `{node.name} and …`",
                )
                return None
            if symbol.kind == "obligation":
                self.state.error(
                    "obligation-in-condition",
                    f"`{node.name}` is an obligation and cannot be tested in a condition",
                    node.span,
                    "obligations are attached to allow rules with `with obligation ...`",
                )
                return None
            return OpType("term", kind=symbol.kind)
        return self.list_literal(node)

    def list_literal(self, node: ast.ListLiteral) -> OpType | None:
        if not node.items:
            return OpType("emptylist")
        types = [self.operand(item) for item in node.items]
        if any(t is None for t in types):
            return None
        for item, type_ in zip(node.items, types, strict=True):
            assert type_ is not None
            if (
                (isinstance(item, ast.NameRef) and type_.base != "term")
                or is_term_key(self.state, item)
                or isinstance(
                    item, (ast.RequestRef, ast.AttributeRef, ast.ListLiteral, *TIME_OPERANDS)
                )
            ):
                self.state.error(
                    "bad-list-item",
                    f"a list can hold quoted strings or vocabulary terms, not `{_written(item)}`",
                    item.span,
                )
                return None
        first = types[0]
        assert first is not None
        if all(t is not None and t.base == "str" for t in types):
            values = tuple(str(i.value) for i in node.items if isinstance(i, ast.Literal_))
            return OpType("strlist", literals=values)
        if all(t is not None and t.base == "term" and t.kind == first.kind for t in types):
            return OpType("termset", kind=first.kind)
        self.state.error(
            "mixed-list",
            "a list must hold values of one kind: all quoted strings, or all terms of one "
            "hierarchy",
            node.span,
        )
        return None

    def _literal_in(self, literal: ast.Operand, values: tuple[str, ...], owner: str) -> None:
        """A quoted value compared with a one-of key must be one of its values."""
        if (
            isinstance(literal, ast.Literal_)
            and isinstance(literal.value, str)
            and literal.value not in self._value_set(values)
        ):
            close = self.state.near(literal.value, values)
            listed = ", ".join(f'"{v}"' for v in values[:_LISTED])
            if len(values) > _LISTED:
                listed += f", … ({len(values):,} in all)"
            self.state.error(
                "unknown-value",
                f'`"{literal.value}"` is not a value of `{owner}`',
                literal.span,
                "did you mean " + " or ".join(f'`"{c}"`' for c in close) + "?"
                if close
                else "its values are " + listed,
            )

    def _value_set(self, values: tuple[str, ...]) -> frozenset[str]:
        """A key's values as a set, made once per key (a key of thousands of values compared
        thousands of times would otherwise cost their product)."""
        kept = self._value_sets.get(id(values))
        if kept is None or kept[0] is not values:
            kept = self._value_sets[id(values)] = (values, frozenset(values))
        return kept[1]

    def compare(self, expr: ast.Compare) -> None:
        left = self.operand(expr.left)
        right = self.operand(expr.right)
        if left is None or right is None:
            return
        if left.base in TIME_BASES or right.base in TIME_BASES:
            check_time_compare(self.state, expr, left, right)
            return
        span = expr.span
        if expr.op in _ORDERING:
            for node, type_ in ((expr.left, left), (expr.right, right)):
                if type_.base not in NUMERIC:
                    self.state.error(
                        "type-mismatch",
                        f"`{expr.op}` compares numbers, but `{_written(node)}` is {type_.a()}",
                        node.span or span,
                        number_hint(node)
                        or (
                            "strings can only be tested with `=`, `!=` and `in`"
                            if type_.base == "str"
                            else None
                        ),
                    )
            return
        if left.base in ("strlist", "termset", "emptylist") or right.base in (
            "strlist",
            "termset",
            "emptylist",
        ):
            self.state.error(
                "type-mismatch",
                f"`{expr.op}` cannot compare lists or sets",
                span,
                "test membership with `in`, e.g. `purpose in consented_purposes`",
            )
            return
        if not comparable(left, right):
            self.state.error(
                "type-mismatch",
                f"cannot compare `{_written(expr.left)}` ({left.describe()}) with "
                f"`{_written(expr.right)}` ({right.describe()})",
                span,
                number_hint(expr.right)
                or number_hint(expr.left)
                or f"compare `{_written(expr.left)}` with {left.a()}",
            )
            return
        if left.base == "str":
            self._one_of_check(expr.left, left, expr.right, right)

    def _one_of_check(
        self, left_node: ast.Operand, left: OpType, right_node: ast.Operand, right: OpType
    ) -> None:
        for key_node, key_type, other in (
            (left_node, left, right_node),
            (right_node, right, left_node),
        ):
            if isinstance(key_node, ast.NameRef | ast.AttributeRef) and key_type.literals:
                self._literal_in(other, key_type.literals, _written(key_node))

    def member(self, expr: ast.Member) -> None:
        left = self.operand(expr.left)
        right = self.operand(expr.right)
        if left is None or right is None:
            return
        if right.base == "emptylist":
            if left.base in ("strlist", "termset"):
                self.state.error(
                    "type-mismatch",
                    f"`in` tests one value, but `{_written(expr.left)}` is {left.a()}",
                    expr.left.span or expr.span,
                    "put a single value on the left of `in`, e.g. a string key or a term",
                )
            return
        if right.base in ("termset", "term"):
            if left.base != "term" or left.kind != right.kind:
                self.state.error(
                    "type-mismatch",
                    f"`{_written(expr.right)}` holds {kind_word(right.kind or '')} terms, but "
                    f"`{_written(expr.left)}` is {left.a()}",
                    expr.left.span or expr.span,
                    f"test a {right.kind} here, e.g. `{right.kind} in {_written(expr.right)}`",
                )
            return
        if right.base == "strlist":
            if left.base != "str":
                self.state.error(
                    "type-mismatch",
                    f"`{_written(expr.right)}` is {right.a()}, but `{_written(expr.left)}` is "
                    f"{left.a()}",
                    expr.left.span or expr.span,
                )
                return
            if isinstance(expr.right, ast.NameRef) and right.literals is not None:
                self._literal_in(expr.left, right.literals, expr.right.name)
            if isinstance(expr.left, ast.NameRef | ast.AttributeRef) and left.literals:
                for item in expr.right.items if isinstance(expr.right, ast.ListLiteral) else ():
                    self._literal_in(item, left.literals, _written(expr.left))
            return
        self.state.error(
            "type-mismatch",
            f"`in` needs a list or a set on its right, but `{_written(expr.right)}` is {right.a()}",
            expr.right.span or expr.span,
            "use `=` to compare single values",
        )
