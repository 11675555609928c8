"""AST → canonical source text for expressions and literals (explanations, formatter)."""

from __future__ import annotations

from . import ast


def literal_text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def operand_text(node: ast.Operand) -> str:
    if isinstance(node, ast.Literal_):
        return literal_text(node.value)
    if isinstance(node, ast.NameRef):
        return node.name
    if isinstance(node, ast.RequestRef):
        return node.kind
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
    return operand_text(expr.operand)
