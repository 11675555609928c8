"""AST → canonical source text for expressions and literals (explanations, formatter)."""

from __future__ import annotations

from decimal import Decimal

from . import ast
from .time_values import TimeValue


def literal_text(value: str | int | bool | Decimal) -> str:
    """A value as a rule writes it: a date or an instant (an attribute's value, held as a
    :class:`TimeValue`) as ``date "2020-01-01"``, so that text read back means the same."""
    if isinstance(value, TimeValue):
        return f'{value.kind} "{value.isoformat()}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return number_text(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def number_text(value: Decimal) -> str:
    """A decimal as written in a rule: its digits, never an exponent (``Decimal("1E+1")`` is
    ``10``)."""
    return format(value, "f")


def operand_text(node: ast.Operand) -> str:
    if isinstance(node, ast.Literal_):
        return literal_text(node.value)
    if isinstance(node, ast.NameRef):
        return node.name
    if isinstance(node, ast.RequestRef):
        return node.kind
    if isinstance(node, ast.AttributeRef | ast.KeyAttributeRef):
        return node.text
    if isinstance(node, ast.TimeLiteral):
        return f"{node.kind} {literal_text(node.text)}"
    if isinstance(node, ast.Shifted):
        return f"{operand_text(node.base)} {node.sign} {node.duration.text()}"
    if isinstance(node, ast.Now):
        return "now"
    return "[" + ", ".join(operand_text(item) for item in node.items) + "]"


_PRECEDENCE = {ast.Or: 1, ast.And: 2, ast.Not: 3}


def _precedence(expr: ast.Expr) -> int:
    return _PRECEDENCE.get(type(expr), 4)


def expr_text(expr: ast.Expr) -> str:
    """Canonical text of a condition, with parentheses only where precedence needs them."""
    if isinstance(expr, ast.Or | ast.And):
        word = " or " if isinstance(expr, ast.Or) else " and "
        mine = _precedence(expr)
        parts = []
        for operand in expr.operands:
            text = expr_text(operand)
            # Nested same-operator groups keep their parentheses: they were written that way.
            if _precedence(operand) <= mine:
                text = f"({text})"
            parts.append(text)
        return word.join(parts)
    if isinstance(expr, ast.Not):
        inner = expr_text(expr.operand)
        if _precedence(expr.operand) < _precedence(expr):
            inner = f"({inner})"
        return f"not {inner}"
    if isinstance(expr, ast.Compare):
        return f"{operand_text(expr.left)} {expr.op} {operand_text(expr.right)}"
    if isinstance(expr, ast.Member):
        word = "not in" if expr.negated else "in"
        return f"{operand_text(expr.left)} {word} {operand_text(expr.right)}"
    if isinstance(expr, ast.Presence):
        return f"{expr.key.value} is {'known' if expr.known else 'missing'}"
    if isinstance(expr, ast.AttributePresence):
        return f"{expr.attribute.text} is {'known' if expr.known else 'missing'}"
    if isinstance(expr, ast.NamedCondition):
        return expr.name
    return operand_text(expr.operand)


def arguments_text(arguments: tuple[tuple[str, str | int | bool | Decimal], ...]) -> str:
    """``(years = 6, channel = "mail")``; empty for none."""
    if not arguments:
        return ""
    return "(" + ", ".join(f"{name} = {literal_text(value)}" for name, value in arguments) + ")"


def obligation_text(
    name: str, arguments: tuple[tuple[str, str | int | bool | Decimal], ...] = ()
) -> str:
    """An obligation as a rule requires it: ``retain_for(years = 6)``, or its name alone. With
    the arguments complete and in the order of the declaration's parameters (as the checker
    gives them), this text is the obligation's identity in decisions and analyses."""
    return name + arguments_text(arguments)


def obligation_name(text: str) -> str:
    """The name of the obligation :func:`obligation_text` wrote (names never hold a `(`)."""
    return text.partition("(")[0]


def parameter_text(param: ast.ParamDecl) -> str:
    """``years: integer default 6``"""
    text = f"{param.name.value}: {param.type.describe()}"
    if param.default is not None:
        text += f" default {operand_text(param.default)}"
    return text


# ---- layout documents (for the formatter's line wrapping) ------------------------------------

Doc = str | tuple["Doc", ...]
"""Text to lay out: a ``str`` is never broken; a tuple is a group whose parts are written one space
apart, and a line may break between them. ``doc_text`` of a doc is its one-line form."""


def doc_text(doc: Doc) -> str:
    """The one-line text of ``doc``: every group's parts joined by single spaces."""
    if isinstance(doc, str):
        return doc
    return " ".join(doc_text(part) for part in doc)


def affix(doc: Doc, before: str = "", after: str = "") -> Doc:
    """``doc`` with ``before`` glued to its first piece and ``after`` to its last (no break)."""
    if isinstance(doc, str):
        return before + doc + after
    if len(doc) == 1:
        return (affix(doc[0], before, after),)
    return (affix(doc[0], before=before), *doc[1:-1], affix(doc[-1], after=after))


def list_doc(items: list[Doc], before: str = "") -> Doc:
    """``before item, item, item``: a comma after every item but the last, breakable after each."""
    parts = [affix(item, after=",") for item in items[:-1]] + items[-1:]
    if not parts:
        return before.rstrip()
    parts[0] = affix(parts[0], before=before)
    return tuple(parts)


def operand_doc(node: ast.Operand) -> Doc:
    """Like :func:`operand_text`, but a list literal may break after its commas."""
    if isinstance(node, ast.ListLiteral) and node.items:
        return affix(list_doc([operand_doc(item) for item in node.items]), "[", "]")
    return operand_text(node)


def expr_doc(expr: ast.Expr) -> Doc:
    """Like :func:`expr_text` (``doc_text(expr_doc(e)) == expr_text(e)``), as a layout document
    that breaks before ``and``/``or`` first and inside list literals last."""
    if isinstance(expr, ast.Or | ast.And):
        word = "or " if isinstance(expr, ast.Or) else "and "
        mine = _precedence(expr)
        parts: list[Doc] = []
        for index, operand in enumerate(expr.operands):
            doc = expr_doc(operand)
            if _precedence(operand) <= mine:
                doc = affix(doc, "(", ")")
            parts.append(affix(doc, before=word) if index else doc)
        return tuple(parts)
    if isinstance(expr, ast.Not):
        inner = expr_doc(expr.operand)
        if _precedence(expr.operand) < _precedence(expr):
            return affix(inner, "not (", ")")
        return affix(inner, "not ")
    if isinstance(expr, ast.Compare | ast.Member):
        negated = isinstance(expr, ast.Member) and expr.negated
        word = expr.op if isinstance(expr, ast.Compare) else "not in" if negated else "in"
        right = operand_doc(expr.right)
        if isinstance(expr.left, ast.ListLiteral):
            return (operand_doc(expr.left), affix(right, f"{word} "))
        # no break between the left operand and the operator: `x in [a,` / `b]`
        return affix(right, f"{operand_text(expr.left)} {word} ")
    if isinstance(expr, ast.Presence | ast.AttributePresence | ast.NamedCondition):
        return expr_text(expr)
    return operand_doc(expr.operand)
