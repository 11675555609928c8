"""The canonical layout's words and line breaking: each statement and clause as a :data:`Doc` (its
parts in the order they are written, grouped where a line may break), and :func:`layout`, which
fills a doc onto lines of at most :data:`WIDTH` characters."""

from __future__ import annotations

from collections.abc import Sequence

from . import ast
from .printer import (
    Doc,
    affix,
    arguments_text,
    doc_text,
    expr_doc,
    list_doc,
    literal_text,
    operand_doc,
    operand_text,
    parameter_text,
)

WIDTH = 100
"""Lines longer than this are broken (a single word or string longer than it stays whole)."""

CLAUSE_INDENT = "  "
CLAUSE_CONTINUATION = "    "
DECLARATION_CONTINUATION = "  "


def layout(doc: Doc, indent: str, continuation: str, width: int = WIDTH) -> list[str]:
    """``doc`` as lines: parts are filled onto the line while they fit; a part that does not fit
    starts a continuation line, and only a part too long for a whole line is broken inside."""
    lines: list[str] = []
    current = indent
    fresh = True

    def place(part: Doc) -> None:
        nonlocal current, fresh
        text = doc_text(part)
        if fresh:
            if isinstance(part, str) or len(current) + len(text) <= width:
                current += text
                fresh = False
            else:
                for sub in part:
                    place(sub)
        elif len(current) + 1 + len(text) <= width:
            current += " " + text
        else:
            lines.append(current)
            current = continuation
            fresh = True
            place(part)

    place(doc)
    lines.append(current)
    return lines


def _names(names: Sequence[ast.Name], before: str = "") -> Doc:
    return list_doc([name.value for name in names], before)


def _citations(citations: Sequence[ast.Citation]) -> list[Doc]:
    return [list_doc([c.text for c in citations])] if citations else []


def _description(description: str | None) -> list[Doc]:
    return [] if description is None else [literal_text(description)]


def declaration_doc(decl: ast.TermDecl) -> Doc:
    if decl.parameters:
        params: list[Doc] = [parameter_text(p) for p in decl.parameters]
        parts = [affix(list_doc(params), f"{decl.kind} {decl.names[0].value}(", ")")]
    else:
        parts = [_names(decl.names, f"{decl.kind} ")]
    if decl.parents:
        parts.append(_names(decl.parents, "under "))
    parts += [*_description(decl.description), *_citations(decl.citations)]
    values = [f"{v.name.value} = {operand_text(v.value)}" for v in decl.attributes]
    if values:
        parts.append(list_doc(list(values), "with "))
    if decl.condition is not None:
        parts.append(affix(expr_doc(decl.condition), "when "))
    return tuple(parts)


def attribute_doc(decl: ast.AttributeDecl) -> Doc:
    parts = [affix(_type_doc(decl.type), f"attribute {decl.name.value} of {decl.kind}: ")]
    if decl.default is not None:
        parts.append(affix(operand_doc(decl.default), "default "))
    return (*parts, *_description(decl.description), *_citations(decl.citations))


def condition_doc(decl: ast.ConditionDecl) -> Doc:
    """``condition NAME §x "description" means CONDITION``"""
    return (
        f"condition {decl.name.value}",
        *_citations(decl.citations),
        *_description(decl.description),
        affix(expr_doc(decl.condition), "means "),
    )


def _type_doc(value_type: ast.ValueType) -> Doc:
    if isinstance(value_type, ast.OneOfType):
        return list_doc([literal_text(v) for v in value_type.literals], "one of ")
    if isinstance(value_type, ast.ListType) and value_type.literals is not None:
        return list_doc([literal_text(v) for v in value_type.literals], "list of ")
    return value_type.describe()


def context_doc(decl: ast.ContextDecl) -> Doc:
    parts = [affix(_type_doc(decl.type), f"context {decl.name.value}: ")]
    if decl.source is not None:
        parts.append(f"from {decl.source}")
    if decl.is_now:
        parts.append("is now")
    if decl.supplies:
        parts.append(_names(decl.supplies, "supplies "))
    if decl.default is not None:
        parts.append(affix(operand_doc(decl.default), "default "))
    return (*parts, *_description(decl.description), *_citations(decl.citations))


def source_doc(decl: ast.SourceDecl) -> Doc:
    name = "" if decl.name is None else f" {decl.name.value}"
    return (f"source{name}", literal_text(decl.path))


def use_doc(decl: ast.UseDecl) -> Doc:
    return (f"use {decl.namespace.value}", "from", literal_text(decl.path))


def no_decision_doc(decl: ast.NoDecision) -> Doc:
    return ("not a decision", *_citations(decl.citations), literal_text(decl.reason))


def ground_doc(ground: ast.Ground) -> Doc:
    return ("ground", *_citations(ground.citations), literal_text(ground.text))


def header_doc(keyword: str, name: ast.Name, citations: Sequence[ast.Citation]) -> Doc:
    return (f"{keyword} {name.value}", *_citations(citations))


def _terms(names: Sequence[ast.Name] | None, kind: str, before: str) -> Doc:
    return f"{before}any {kind}" if names is None else _names(names, before)


def rule_scope_doc(rule: ast.Rule) -> Doc:
    verb = "to use" if rule.effect == "allow" else "from using"
    parties, data, purposes = rule.excepts
    return (
        _scope(ast.Scope(rule.parties, parties), "party", f"{rule.effect} "),
        _scope(ast.Scope(rule.data, data), "data", f"{verb} "),
        _scope(ast.Scope(rule.purposes, purposes), "purpose", "for "),
    )


def _scope(scope: ast.Scope, kind: str, before: str) -> Doc:
    terms = _terms(scope.names, kind, before)
    if not scope.excepts:
        return terms
    # one flat group, so that a long `except` list fills on from `for any purpose`
    excepts = _names(scope.excepts, "except ")
    return (
        *((terms,) if isinstance(terms, str) else terms),
        *((excepts,) if isinstance(excepts, str) else excepts),
    )


def lifts_doc(override: ast.Override) -> Doc:
    """``lifts a, b`` or ``lifts denies citing §x, §y``."""
    if override.citing:
        return ("lifts denies citing", list_doc([c.text for c in override.citing]))
    return _names(override.lifts, "lifts ")


def claim_doc(invariant: ast.Invariant) -> Doc:
    if invariant.wording == "never":
        lead, verb = "never ", "use"
    else:
        lead = f"always {invariant.expect} "
        verb = "to use" if invariant.expect == "allow" else "from using"
    parts = [_scope(invariant.parties, "party", lead), _scope(invariant.data, "data", f"{verb} ")]
    if invariant.purposes != ast.Scope(None):
        parts.append(_scope(invariant.purposes, "purpose", "for "))
    return tuple(parts)


def obligation_doc(clause: ast.ObligationClause) -> Doc:
    word = "obligation" if len(clause.names) == 1 else "obligations"
    uses: list[Doc] = [
        name.value
        + arguments_text(tuple((a.name.value, a.value.value) for a in clause.arguments_of(i)))
        for i, name in enumerate(clause.names)
    ]
    names = list_doc(uses, f"with {word} ")
    if clause.condition is None:
        return names
    return (names, affix(expr_doc(clause.condition), "when "))
