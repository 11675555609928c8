"""The Vocabulary page and the playground's pickers: each hierarchy's terms in declaration order
with their parents (several where the policy says so), description, citations, place, the rules
that name them and their attribute values (own, inherited from a term above, or the default); the
attributes each kind declares; and the context schema, key by key, with the rules that read each
key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..analysis.conditions import attributes_read
from ..engine.compiler import CompiledPolicy, CompiledRule
from ..engine.context import plain_value
from ..engine.policy import Policy
from ..language import ast
from ..language.ast_expressions import names_read
from ..language.printer import literal_text, operand_text
from ..semantics.attribute_table import DEFAULT
from ..traceability.selection import declaration_order

KINDS = ("party", "data", "purpose", "obligation")


def _names_in(expr: ast.Expr, now_key: str | None = None) -> Iterator[str]:
    """The bare names a condition mentions (terms and context keys, ``now`` as ``now_key``),
    those of the named conditions it uses included."""
    if isinstance(expr, ast.And | ast.Or):
        for operand in expr.operands:
            yield from _names_in(operand, now_key)
    elif isinstance(expr, ast.Not):
        yield from _names_in(expr.operand, now_key)
    elif isinstance(expr, ast.NamedCondition):
        yield expr.name
        yield from _names_in(expr.body, now_key)
    elif isinstance(expr, ast.Presence):
        yield expr.key.value
    else:
        nodes: tuple[ast.Operand, ...] = (
            (expr.operand,)
            if isinstance(expr, ast.Truth)
            else (expr.attribute,)
            if isinstance(expr, ast.AttributePresence)
            else (expr.left, expr.right)
        )
        for node in nodes:
            for name in names_read(node):
                if isinstance(name, ast.NameRef):
                    yield name.name
                elif now_key is not None:
                    yield now_key


def _conditions(rule: ast.Rule) -> list[ast.Expr]:
    found = [] if rule.condition is None else [rule.condition]
    found += rule.exceptions
    return found + [c.condition for c in rule.obligations if c.condition is not None]


def names_of(rule: CompiledRule, now_key: str | None = None) -> set[str]:
    """Every term a rule names: in its scopes, its obligations and its conditions (``now``
    names ``now_key``)."""
    tree = rule.source
    found: set[str] = set()
    for scope in (tree.parties, tree.data, tree.purposes):
        found.update(n.value for n in scope or ())
    for clause in tree.obligations:
        found.update(n.value for n in clause.names)
    for expr in _conditions(tree):
        found.update(_names_in(expr, now_key))
    return found


def naming_rules(compiled: CompiledPolicy) -> dict[str, list[str]]:
    """Term or context key → the ids of the rules that name it, in the order written."""
    found: dict[str, list[str]] = {}
    for rule in sorted(compiled.rules, key=lambda r: r.position):
        for name in names_of(rule, compiled.now_key):
            found.setdefault(name, []).append(rule.id)
    return found


def _place(span: Any) -> str | None:
    return None if span is None else f"{span.source.name}:{span.line}"


def _terms(
    compiled: CompiledPolicy, kind: str, rules: dict[str, list[str]]
) -> list[dict[str, Any]]:
    hierarchy = compiled.hierarchies[kind]
    decls = compiled.checked.term_decls
    out = []
    for term in declaration_order(compiled, kind):
        decl = decls.get(term)
        out.append(
            {
                "name": term,
                "parents": list(hierarchy.parent_links[term]),
                "children": list(hierarchy.child_links[term]),
                "description": decl.description if decl else None,
                "citations": [c.text for c in decl.citations] if decl else [],
                "location": _place(decl.span) if decl else None,
                "rules": rules.get(term, []),
                "attributes": _values_of(compiled, kind, term),
            }
        )
    return out


def _values_of(compiled: CompiledPolicy, kind: str, term: str) -> list[dict[str, Any]]:
    """Each attribute of the term's kind, with the term's value and where it comes from: its
    own declaration, a term above it (inherited) or the attribute's default; or none (then
    ``party.location`` is unknown for it)."""
    out = []
    for (of, name), attribute in sorted(compiled.attributes.items()):
        if of != kind:
            continue
        origin = attribute.origins.get(term)
        value = attribute.values.get(term)
        source = (
            "none"
            if origin is None
            else "default"
            if origin == DEFAULT
            else "own"
            if origin == term
            else "inherited"
        )
        out.append(
            {
                "name": name,
                "text": attribute.text,
                "value": None if origin is None else literal_text(value),  # type: ignore[arg-type]
                "source": source,
                "origin": origin if source == "inherited" else None,
            }
        )
    return out


def _attributes(compiled: CompiledPolicy) -> dict[str, list[dict[str, Any]]]:
    """The declared attributes by kind (a package's under its namespace), with the rules whose
    conditions read each."""
    reading: dict[tuple[str, str], list[str]] = {}
    for rule in sorted(compiled.rules, key=lambda r: r.position):
        for node in attributes_read(rule.logic.expressions()):
            reading.setdefault((node.kind, node.name), []).append(rule.id)
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS[:3]}
    for file in compiled.checked.files:
        for item in file.items:
            if not isinstance(item, ast.AttributeDecl):
                continue
            default = item.default
            out[item.kind].append(
                {
                    "name": item.name.value,
                    "text": f"{item.kind}.{item.name.value}",
                    "type": item.type.describe(),
                    "default_text": None if default is None else operand_text(default),
                    "description": item.description,
                    "citations": [c.text for c in item.citations],
                    "location": _place(item.span),
                    "rules": reading.get((item.kind, item.name.value), []),
                }
            )
    return out


def _context(compiled: CompiledPolicy, rules: dict[str, list[str]]) -> list[dict[str, Any]]:
    out = []
    for name, key in compiled.context.items():
        decl = key.decl
        kind = decl.type
        out.append(
            {
                "name": name,
                "type": kind.describe(),
                "shape": _shape(kind),
                "values": list(getattr(kind, "literals", None) or []),
                "terms": kind.kind if isinstance(kind, ast.TermSetType | ast.TermType) else None,
                "default": plain_value(decl.default_value),
                "default_text": None if decl.default is None else operand_text(decl.default),
                "ledger": decl.source == "consent ledger",
                "description": decl.description,
                "citations": [c.text for c in decl.citations],
                "location": _place(decl.span),
                "rules": rules.get(name, []),
            }
        )
    return out


def _shape(kind: ast.ValueType) -> str:
    """The form control a key takes: boolean, integer, decimal, string, one_of, list, set, term
    (one term of a kind)."""
    if isinstance(kind, ast.BoolType):
        return "boolean"
    if isinstance(kind, ast.IntType):
        return "integer"
    if isinstance(kind, ast.DecimalType):
        return "decimal"
    if isinstance(kind, ast.OneOfType):
        return "one_of"
    if isinstance(kind, ast.ListType):
        return "list" if kind.literals is not None else "strings"
    if isinstance(kind, ast.TermSetType):
        return "set"
    if isinstance(kind, ast.TermType):
        return "term"
    return "string"


def vocabulary_page(policy: Policy, name: str) -> dict[str, Any]:
    compiled = policy.compiled
    rules = naming_rules(compiled)
    return {
        "policy": name,
        "version": policy.version,
        "kinds": {kind: _terms(compiled, kind, rules) for kind in KINDS},
        "context": _context(compiled, rules),
        "attributes": _attributes(compiled),
        "ledger_key": policy.ledger_key,
    }
