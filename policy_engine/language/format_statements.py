"""Statements → the units of the canonical layout: each statement of the syntax tree, with its
parse-tree node for the source lines it was written on, becomes a :class:`Statement` of laid-out
:class:`Clause` lines (a rule or an invariant one clause per line)."""

from __future__ import annotations

from lark import Token, Tree

from . import ast
from .format_comments import Clause, Statement
from .format_layout import (
    CLAUSE_CONTINUATION,
    CLAUSE_INDENT,
    DECLARATION_CONTINUATION,
    attribute_doc,
    claim_doc,
    condition_doc,
    context_doc,
    declaration_doc,
    ground_doc,
    header_doc,
    layout,
    lifts_doc,
    no_decision_doc,
    obligation_doc,
    rule_scope_doc,
    source_doc,
    use_doc,
)
from .printer import Doc, affix, expr_doc, literal_text


class FormatError(RuntimeError):
    """The formatter would have changed a policy's meaning or lost a comment (a bug: report it)."""


def _meta_lines(node: Tree[Token]) -> tuple[int, int]:
    return node.meta.line, node.meta.end_line


def _token_line(token: Token) -> int:
    return token.end_line or token.line or 1


def _clauses(
    node: Tree[Token],
    children: list[Tree[Token] | Token],
    header: Doc,
    description: str | None,
    scope: Doc,
    scope_first: int,
    conditions: list[Doc],
    ground: Doc | None = None,
) -> list[Clause]:
    """The clauses of a rule or an invariant, with the source lines each was written on.

    ``children`` are the statement's parse-tree children (an invariant's claim flattened in);
    ``conditions`` the docs of its ``when``, ``unless`` and ``with obligation`` clauses in order.
    """
    header_last = node.meta.line
    description_lines: tuple[int, int] | None = None
    ground_lines: tuple[int, int] | None = None
    scope_last = scope_first
    condition_lines: list[tuple[int, int]] = []
    for child in children:
        if isinstance(child, Token):
            if child.type == "NAME":
                header_last = max(header_last, _token_line(child))
            else:  # the effect
                scope_last = max(scope_last, _token_line(child))
        elif child.data == "citations":
            header_last = child.meta.end_line
        elif child.data == "description":
            description_lines = _meta_lines(child)
        elif child.data == "ground":
            ground_lines = _meta_lines(child)
        elif child.data in ("when", "unless", "obligation_clause"):
            condition_lines.append(_meta_lines(child))
        else:  # who, the verb, what, for what
            scope_last = max(scope_last, child.meta.end_line)
    if (
        len(condition_lines) != len(conditions)
        or (description is None) != (description_lines is None)
        or (ground is None) != (ground_lines is None)
    ):
        raise FormatError(f"line {node.meta.line}: the statement's clauses are not understood")
    clauses = [Clause(node.meta.line, header_last, layout(header, "", CLAUSE_CONTINUATION), "")]
    if description is not None and description_lines is not None:
        clauses.append(
            Clause(*description_lines, [CLAUSE_INDENT + literal_text(description)], CLAUSE_INDENT)
        )
    if ground is not None and ground_lines is not None:
        lines = layout(ground, CLAUSE_INDENT, CLAUSE_CONTINUATION)
        clauses.append(Clause(*ground_lines, lines, CLAUSE_INDENT))
    for (first, last), doc in [
        ((scope_first, scope_last), scope),
        *zip(condition_lines, conditions, strict=True),
    ]:
        clauses.append(
            Clause(first, last, layout(doc, CLAUSE_INDENT, CLAUSE_CONTINUATION), CLAUSE_INDENT)
        )
    return clauses


def _rule(rule: ast.Rule, node: Tree[Token]) -> Statement:
    effect = next(c for c in node.children if isinstance(c, Token) and c.type == "EFFECT")
    conditions: list[Doc] = []
    if rule.condition is not None:
        conditions.append(affix(expr_doc(rule.condition), "when "))
    conditions += [affix(expr_doc(e), "unless ") for e in rule.written_exceptions]
    conditions += [obligation_doc(o) for o in rule.obligations]
    clauses = _clauses(
        node,
        node.children,
        header_doc("rule", rule.id, rule.citations),
        rule.description,
        rule_scope_doc(rule),
        effect.line or node.meta.line,
        conditions,
        None if rule.ground is None else ground_doc(rule.ground),
    )
    return Statement(None, node.meta.line, node.meta.end_line, clauses)


def _override(override: ast.Override, node: Tree[Token]) -> Statement:
    """The clauses of an override: its header, description, ``lifts`` (laid out where a rule's
    scope is), ``when`` and obligations."""
    lifts = next(c for c in node.children if isinstance(c, Tree) and c.data.startswith("lifts"))
    conditions = [affix(expr_doc(override.condition), "when ")]
    conditions += [obligation_doc(o) for o in override.obligations]
    clauses = _clauses(
        node,
        node.children,
        header_doc("override", override.id, override.citations),
        override.description,
        lifts_doc(override),
        lifts.meta.line,
        conditions,
    )
    return Statement(None, node.meta.line, node.meta.end_line, clauses)


def _invariant(invariant: ast.Invariant, node: Tree[Token]) -> Statement:
    claim = node.children[-1]
    if not isinstance(claim, Tree):
        raise FormatError(f"line {node.meta.line}: the invariant's claim is not understood")
    conditions: list[Doc] = []
    if invariant.condition is not None:
        conditions.append(affix(expr_doc(invariant.condition), "when "))
    conditions += [affix(expr_doc(e), "unless ") for e in invariant.exceptions]
    clauses = _clauses(
        node,
        [*node.children[:-1], *claim.children],
        header_doc("invariant", invariant.id, invariant.citations),
        invariant.description,
        claim_doc(invariant),
        claim.meta.line,
        conditions,
    )
    return Statement(None, node.meta.line, node.meta.end_line, clauses)


def statement_of(item: ast.Item, node: Tree[Token] | Token) -> Statement:
    if not isinstance(node, Tree):
        raise FormatError("the parse tree does not match the syntax tree")
    if isinstance(item, ast.Rule):
        return _rule(item, node)
    if isinstance(item, ast.Invariant):
        return _invariant(item, node)
    if isinstance(item, ast.Override):
        return _override(item, node)
    group: str
    if isinstance(item, ast.TermDecl):
        group, doc = item.kind, declaration_doc(item)
    elif isinstance(item, ast.ContextDecl):
        group, doc = "context", context_doc(item)
    elif isinstance(item, ast.AttributeDecl):
        group, doc = "attribute", attribute_doc(item)
    elif isinstance(item, ast.ConditionDecl):
        group, doc = "condition", condition_doc(item)
    elif isinstance(item, ast.SourceDecl):
        group, doc = "source", source_doc(item)
    elif isinstance(item, ast.NoDecision):
        group, doc = "not a decision", no_decision_doc(item)
    elif isinstance(item, ast.UseDecl):
        group, doc = "use", use_doc(item)
    else:  # pragma: no cover - a statement kind this formatter does not know yet
        raise FormatError(f"line {node.meta.line}: cannot format a `{type(item).__name__}`")
    lines = layout(doc, "", DECLARATION_CONTINUATION)
    first, last = _meta_lines(node)
    return Statement(group, first, last, [Clause(first, last, lines, "")])
