"""Partial evaluation and code generation for one (party, data, purpose) cell.

Within a cell the request's own terms are constants, so every test of them (``party = planiso``,
``online_activity in data``) folds to true or false, and a hierarchy lookup such as ``purpose in
consented_purposes`` becomes one set operation against a precomputed ancestor set. A rule whose
condition folds to false drops out of the cell; a cell whose rules all fold to constants gets its
outcome computed once.

What is left reads only the context, and the cell's rules are compiled into one small Python
function. It is built from Python ``ast`` nodes: strings and numbers from the rule files only ever
become ``ast.Constant`` values, and names are the engine's own, so no rule text is parsed or
evaluated as Python. The generated function uses two-valued logic and reads ``ctx[key]``: when a key
it needs is missing, ``KeyError`` makes it return ``None`` and the caller hands the request to the
three-valued evaluator. That is exact: Python's ``and``/``or`` skip an operand only when its value,
unknown included, cannot change the result, so a run that finishes gives the Kleene value.
"""

from __future__ import annotations

import ast as py
import itertools
import operator
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import CodeType
from typing import Any

from ..language import ast
from ..language.time_values import TimeValue
from ..semantics.attribute_table import Attribute
from ..semantics.vocabulary import Hierarchy
from .time_operands import innermost, mover, time_kind_of

Folded = bool | py.expr
"""A constant truth value, or a Python expression over ``ctx``."""

_KINDS = ("party", "data", "purpose")
_OPS: dict[str, type[py.cmpop]] = {
    "=": py.Eq,
    "!=": py.NotEq,
    "<": py.Lt,
    "<=": py.LtE,
    ">": py.Gt,
    ">=": py.GtE,
}


def term_kind(
    node: ast.Operand, keys: Mapping[str, ast.ValueType], kinds: Mapping[str, str]
) -> str | None:
    """The hierarchy an operand's terms belong to (``party``, ``data``, ``purpose``), or None
    for plain values. ``keys``: context key → type; ``kinds``: declared name → kind."""
    if isinstance(node, ast.RequestRef):
        return node.kind
    if isinstance(node, ast.NameRef):
        if node.name in keys:
            type_ = keys[node.name]
            return type_.kind if isinstance(type_, ast.TermSetType | ast.TermType) else None
        return kinds[node.name]
    if isinstance(node, ast.ListLiteral) and node.items:
        return term_kind(node.items[0], keys, kinds)
    return None


def one_term(node: ast.Operand, keys: Mapping[str, ast.ValueType]) -> bool:
    """Whether ``node`` stands for one term (a term, the request's, or a key of one term), so
    that ``x in node`` holds when ``x`` is that term or below it (rather than when ``x`` or an
    ancestor is among a set's terms)."""
    if isinstance(node, ast.RequestRef):
        return True
    if not isinstance(node, ast.NameRef):
        return False
    return node.name not in keys or isinstance(keys[node.name], ast.TermType)


UNKNOWN_ATTRIBUTE = "\0unknown "
"""Prefix of the key a generated function reads for an attribute the cell's term has no value
of: no context holds it (context keys are names), so reading it is a ``KeyError``."""

_CONSTANT_TESTS: dict[type[py.cmpop], Callable[[Any, Any], Any]] = {
    py.Eq: operator.eq,
    py.NotEq: operator.ne,
    py.Lt: operator.lt,
    py.LtE: operator.le,
    py.Gt: operator.gt,
    py.GtE: operator.ge,
    py.In: lambda a, b: a in b,
    py.NotIn: lambda a, b: a not in b,
}


class Specializer:
    """Folds conditions for one cell into constants or Python expressions over ``ctx``."""

    def __init__(
        self,
        context_keys: Mapping[str, ast.ValueType],
        symbol_kinds: Mapping[str, str],
        hierarchies: Mapping[str, Hierarchy],
        terms: tuple[str, str, str],
        now_key: str | None = None,
        attributes: Mapping[tuple[str, str], Attribute] | None = None,
    ) -> None:
        self.keys = context_keys
        self.now_key = now_key
        self.kinds = symbol_kinds
        self.hierarchies = hierarchies
        self.terms = terms
        self.attributes = attributes or {}
        self.namespace: dict[str, Any] = {}
        self._names = itertools.count()
        self._bound: dict[frozenset[Any], str] = {}

    def bind(self, value: Any) -> py.expr:
        """A name in the generated function's namespace holding ``value`` (equal sets share one
        name, so equal conditions generate equal code)."""
        key = value if isinstance(value, frozenset) else None
        name = self._bound.get(key) if key is not None else None
        if name is None:
            name = f"_k{next(self._names)}"
            self.namespace[name] = value
            if key is not None:
                self._bound[key] = name
        return py.Name(name, py.Load())

    # operands: ("const", value), ("key", name), ("lookup", (table, key)): the value ``table``
    # gives the term the key names (a KeyError when it gives none), or ("moved", (mover,
    # operand)): one of those moved by durations
    def _operand(self, node: ast.Operand) -> tuple[str, Any]:
        if isinstance(node, ast.Literal_):
            return ("const", node.value)
        if isinstance(node, ast.TimeLiteral):
            return ("const", node.value)
        if isinstance(node, ast.Now):
            return ("key", self.now_key)
        if isinstance(node, ast.Shifted):
            kind_of = time_kind_of(node, self.keys, self.now_key, self.attributes) or "date"
            move = mover(node, kind_of)
            kind, value = self._operand(innermost(node))
            return ("const", move(value)) if kind == "const" else ("moved", (move, (kind, value)))
        if isinstance(node, ast.RequestRef):
            return ("const", self.terms[_KINDS.index(node.kind)])
        if isinstance(node, ast.NameRef):
            if node.name in self.keys:
                return ("key", node.name)
            return ("const", node.name)
        if isinstance(node, ast.AttributeRef):
            # Within the cell the term's value is a constant. A term without one makes the test
            # unknown: it reads a key no context has, so the generated function hands the request
            # to the three-valued evaluator when (and only when) the test is needed.
            given = self.attributes[(node.kind, node.name)].values
            term = self.terms[_KINDS.index(node.kind)]
            if term in given:
                return ("const", given[term])
            return ("key", UNKNOWN_ATTRIBUTE + node.text)
        if isinstance(node, ast.KeyAttributeRef):
            # Read per request: the value the attribute's table gives the key's term.
            return ("lookup", (self.attributes[(node.kind, node.name)].values, node.key))
        values = frozenset(
            item.value if isinstance(item, ast.Literal_) else item.name  # type: ignore[union-attr]
            for item in node.items
        )
        return ("const", values)

    def _expr(self, kind: str, value: Any) -> py.expr:
        if kind == "key":
            return py.Subscript(py.Name("ctx", py.Load()), py.Constant(value), py.Load())
        if kind == "moved":  # a date or instant moved by durations: `move(ctx[key])`
            move, inner = value
            return py.Call(self.bind(move), [self._expr(*inner)], [])
        if kind == "lookup":  # `table[ctx[key]]`
            table, key = value
            return py.Subscript(self.bind(table), self._expr("key", key), py.Load())
        if isinstance(value, frozenset | Decimal):
            return self.bind(value)  # a decimal is no constant of Python's syntax trees
        if isinstance(value, TimeValue):
            return py.Constant(int(value))  # a date attribute: the whole number it is
        return py.Constant(value)

    def fold(self, expr: ast.Expr) -> Folded:
        if isinstance(expr, ast.NamedCondition):
            return self.fold(expr.body)  # exactly what it names
        if isinstance(expr, ast.And | ast.Or):
            return self._junction(expr)
        if isinstance(expr, ast.Not):
            inner = self.fold(expr.operand)
            if isinstance(inner, bool):
                return not inner
            return py.UnaryOp(py.Not(), inner)
        if isinstance(expr, ast.Presence):
            op = py.In() if expr.known else py.NotIn()
            return py.Compare(py.Constant(expr.key.value), [op], [py.Name("ctx", py.Load())])
        if isinstance(expr, ast.AttributePresence):
            return self._attribute_presence(expr)
        if isinstance(expr, ast.Truth):
            kind, value = self._operand(expr.operand)
            if kind == "const":
                return bool(value)
            return self._expr(kind, value)
        if isinstance(expr, ast.Compare):
            return self._compare(expr.left, _OPS[expr.op](), expr.right)
        return self._member(expr)

    def _junction(self, expr: ast.And | ast.Or) -> Folded:
        dominant = isinstance(expr, ast.Or)  # True decides an `or`, False an `and`
        parts: list[py.expr] = []
        for operand in expr.operands:
            folded = self.fold(operand)
            if isinstance(folded, bool):
                if folded is dominant:
                    return dominant
                continue
            parts.append(folded)
        if not parts:
            return not dominant
        if len(parts) == 1:
            return parts[0]
        return py.BoolOp(py.Or() if dominant else py.And(), parts)

    def _compare(self, left: ast.Operand, op: py.cmpop, right: ast.Operand) -> Folded:
        lk, lv = self._operand(left)
        rk, rv = self._operand(right)
        if lk == "const" and rk == "const":
            return bool(_CONSTANT_TESTS[type(op)](lv, rv))
        return py.Compare(self._expr(lk, lv), [op], [self._expr(rk, rv)])

    def _member(self, expr: ast.Member) -> Folded:
        kind = term_kind(expr.right, self.keys, self.kinds)
        if kind is None:
            op: py.cmpop = py.NotIn() if expr.negated else py.In()
            return self._compare(expr.left, op, expr.right)
        lk, lv = self._operand(expr.left)
        rk, rv = self._operand(expr.right)
        ancestors = self.hierarchies[kind].ancestors
        single = one_term(expr.right, self.keys)
        test: py.expr
        if lk == "const":
            above = ancestors[lv]
            if rk == "const":
                container = rv if isinstance(rv, frozenset) else frozenset([rv])
                return (not above.isdisjoint(container)) is not expr.negated
            if single:  # `party in recipient`: the key's term is x or above it
                test = py.Compare(self._expr(rk, rv), [py.In()], [self.bind(above)])
                return py.UnaryOp(py.Not(), test) if expr.negated else test
            # `x in set_key`: x or an ancestor of x is in the set.
            disjoint = py.Call(
                py.Attribute(self.bind(above), "isdisjoint", py.Load()), [self._expr(rk, rv)], []
            )
            return disjoint if expr.negated else py.UnaryOp(py.Not(), disjoint)
        # A key of one term on the left: its term's ancestors, read per request.
        read = py.Subscript(self.bind(ancestors), self._expr(lk, lv), py.Load())
        if single and rk != "const":  # `recipient in sender`
            test = py.Compare(self._expr(rk, rv), [py.In()], [read])
            return py.UnaryOp(py.Not(), test) if expr.negated else test
        if rk == "const":
            rv = rv if isinstance(rv, frozenset) else frozenset([rv])
        disjoint = py.Call(py.Attribute(read, "isdisjoint", py.Load()), [self._expr(rk, rv)], [])
        return disjoint if expr.negated else py.UnaryOp(py.Not(), disjoint)

    def _attribute_presence(self, expr: ast.AttributePresence) -> Folded:
        """Whether the term has a value of the attribute: a constant for the request's own
        term; ``ctx.get(key) in table`` for a key's (never a KeyError: never unknown)."""
        node = expr.attribute
        table = self.attributes[(node.kind, node.name)].values
        if isinstance(node, ast.AttributeRef):
            return (self.terms[_KINDS.index(node.kind)] in table) is expr.known
        ctx = py.Name("ctx", py.Load())
        term = py.Call(py.Attribute(ctx, "get", py.Load()), [py.Constant(node.key)], [])
        op = py.In() if expr.known else py.NotIn()
        return py.Compare(term, [op], [self.bind(table)])

    def applicability(self, condition: ast.Expr | None, exceptions: tuple[ast.Expr, ...]) -> Folded:
        """cond ∧ ¬exc₁ ∧ ¬exc₂ …, folded for the cell."""
        parts: list[ast.Expr] = [] if condition is None else [condition]
        parts += [ast.Not(e) for e in exceptions]
        if not parts:
            return True
        return self.fold(parts[0] if len(parts) == 1 else ast.And(tuple(parts)))

    def function(self, body: list[py.stmt]) -> Callable[[Mapping[str, Any]], Any]:
        """Compile ``def cell(ctx): try: <body> except KeyError: return None``."""
        handler = py.ExceptHandler(
            py.Name("KeyError", py.Load()), None, [py.Return(py.Constant(None))]
        )
        fields: dict[str, Any] = {
            "name": "cell",
            "args": py.arguments(
                posonlyargs=[], args=[py.arg("ctx")], kwonlyargs=[], kw_defaults=[], defaults=[]
            ),
            "body": [py.Try(body, [handler], [], [])],
            "decorator_list": [],
            "returns": None,
        }
        if "type_params" in py.FunctionDef._fields:  # Python 3.12+
            fields["type_params"] = []
        function = py.FunctionDef(**fields)
        code = _compiled(py.Module([function], type_ignores=[]))
        namespace = dict(self.namespace)
        namespace["__builtins__"] = {
            "KeyError": KeyError,
            "sorted": sorted,
            "tuple": tuple,
            "frozenset": frozenset,
        }
        exec(code, namespace)
        cell: Callable[[Mapping[str, Any]], Any] = namespace["cell"]
        return cell


_CODE: dict[Any, CodeType] = {}
CODEGEN_LOCK = threading.Lock()
"""Held around every conversion between Python syntax-tree objects and the interpreter's own
(``compile`` of a tree, ``ast.parse``): CPython 3.11 keeps that conversion's recursion count in
shared state, so two threads converting at once can fail with ``SystemError: AST constructor
recursion depth mismatch`` (fixed in later releases). Cells are specialized once, so the lock is
rarely contended."""
MAX_SHARED_CODE = 4096


def _compiled(module: py.Module) -> CodeType:
    """One code object per distinct function shape. Cells differ mostly in the values bound in
    their namespaces, not in their code, so sharing code keeps many cells' functions small and
    cache-friendly and spares most cells a compile (and the location pass before it). (A
    bounded table: past its size new shapes are compiled without being kept.)"""
    shape = shape_of(module)
    code = _CODE.get(shape)
    if code is None:
        py.fix_missing_locations(module)
        with CODEGEN_LOCK:
            code = compile(module, "<policy cell>", "exec")
        if len(_CODE) < MAX_SHARED_CODE:
            _CODE[shape] = code
    return code


def shape_of(node: Any) -> Any:
    """A hashable form of a syntax tree: node types and field values, no locations (what
    ``ast.dump`` says, several times cheaper to build)."""
    if isinstance(node, py.Constant):  # `True` and `1` are equal keys but different code
        return (py.Constant, type(node.value), node.value)
    if isinstance(node, py.AST):
        return (type(node), *(shape_of(getattr(node, f, None)) for f in node._fields))
    if isinstance(node, list):
        return tuple(shape_of(item) for item in node)
    return node
