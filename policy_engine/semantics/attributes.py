"""Typed attributes of vocabulary terms (``attribute location of party: one of "CA", "US"``):
their declarations, the values terms give them (``party acme with location = "US"``), and every
term's value, inherited down its hierarchy.

A term's value is its own when its declaration gives one; else the value its parents have (their
own or inherited), when they agree; else the attribute's default; else none: ``party.location``
is then *unknown* for that term, and a condition reading it is unknown, as with a missing context
key. Two parents with different values are an error naming both, so that no term's value depends
on which parent is read first.
"""

from __future__ import annotations

from decimal import Decimal

from ..language import ast
from ..language.printer import literal_text
from ..language.time_values import time_value
from .attribute_table import DEFAULT, Attribute
from .check_state import CheckState, kind_word
from .value_checks import check_literals_unique, default_problem

SCALAR_TYPES = (
    ast.BoolType,
    ast.IntType,
    ast.DecimalType,
    ast.StrType,
    ast.OneOfType,
    ast.DateType,
    ast.InstantType,
)
"""What an attribute may be: one value of a context key's scalar types, or a date or an instant
(a term's founding day: a fact the policy states, so unlike a key's it may have a default)."""


def declare_attribute(state: CheckState, decl: ast.AttributeDecl) -> None:
    """Enter an attribute declaration, refusing a second one of the same name and kind."""
    key = (decl.kind, decl.name.value)
    first = state.attribute_decls.get(key)
    if first is None:
        state.attribute_decls[key] = decl
        return
    state.error(
        "duplicate-attribute",
        f"attribute `{decl.name.value}` of {decl.kind} is declared twice",
        decl.name.span,
        "give each attribute of a kind its own name",
        notes=(("first declared here", first.name.span),) if first.name.span else (),
    )


def check_attributes(state: CheckState) -> None:
    """Attributes have a single-value type and a default of it; terms give declared attributes
    values of their type; every term's value is resolved down its hierarchy."""
    for decl in state.attribute_decls.values():
        _check_declaration(state, decl)
    given = _given_values(state)
    for (kind, name), decl in sorted(state.attribute_decls.items()):
        hierarchy = state.hierarchies.get(kind)
        if hierarchy is not None:
            state.attributes[(kind, name)] = _resolve(state, decl, given, hierarchy.top_down())


def _check_declaration(state: CheckState, decl: ast.AttributeDecl) -> None:
    name = decl.name.value
    if not isinstance(decl.type, SCALAR_TYPES):
        state.error(
            "attribute-type",
            f"attribute `{name}` is declared as {decl.type.describe()}, but an attribute holds "
            "one value",
            decl.name.span,
            "declare it boolean, integer, decimal, string, one of listed strings, date or instant",
        )
        return
    if isinstance(decl.type, ast.OneOfType):
        check_literals_unique(state, decl.name.value, decl.span, decl.type.literals)
    what = f"the default of attribute `{name}`"
    if isinstance(decl.default, ast.ListLiteral | ast.NameRef):
        state.error(
            "bad-default",
            f"{what} must be a single value, not "
            + ("a list" if isinstance(decl.default, ast.ListLiteral) else "a name"),
            decl.default.span,
            f"`{decl.kind}.{name}` is declared as {decl.type.describe()}",
        )
    elif decl.default is not None:
        _value_fits(state, decl, decl.default, "bad-default", what)


def _value_fits(
    state: CheckState,
    decl: ast.AttributeDecl,
    literal: ast.Literal_ | ast.TimeLiteral,
    code: str,
    what: str,
) -> bool:
    """Whether ``literal`` is a value of the attribute's type; if not, an error ``code`` at it
    (``what`` names the value in the message)."""
    problem = _time_problem(decl.type, literal)
    if not isinstance(decl.type, ast.DateType | ast.InstantType):
        # a date or an instant written where a number or a string is due is no value of it
        value = literal.value if isinstance(literal, ast.Literal_) else literal
        problem = default_problem(decl.type, value)
    if problem:
        state.error(
            code,
            f"{what} {problem}",
            literal.span,
            f"`{decl.kind}.{decl.name.value}` is declared as {decl.type.describe()}",
        )
    return problem is None


def _time_problem(type_: ast.ValueType, literal: ast.Literal_ | ast.TimeLiteral) -> str | None:
    """What is wrong with ``literal`` as the value of a date or instant attribute, or None."""
    if not isinstance(type_, ast.DateType | ast.InstantType):
        return None
    kind = type_.describe()
    if isinstance(literal, ast.TimeLiteral) and literal.kind == kind:
        return None
    example = 'date "2020-01-01"' if kind == "date" else 'instant "2020-01-01T09:00:00Z"'
    return f"must be {'a date' if kind == 'date' else 'an instant'}, written `{example}`"


Given = dict[tuple[str, str], dict[str, object]]
"""(kind, attribute) → term → the value its own declaration gives."""


def _given_values(state: CheckState) -> Given:
    """The values terms' declarations give, each checked: the attribute is declared for the
    term's kind, given once, with a value of its type."""
    given: Given = {}
    for item in state.items():
        if not isinstance(item, ast.TermDecl) or not item.attributes:
            continue
        seen: set[str] = set()
        for value in item.attributes:
            name = value.name.value
            decl = state.attribute_decls.get((item.kind, name))
            if decl is None:
                unknown_attribute(state, item.kind, value.name)
                continue
            if name in seen:
                state.error(
                    "duplicate-attribute-value",
                    f"`{name}` is given twice in this declaration",
                    value.name.span,
                    "give each attribute one value",
                )
                continue
            seen.add(name)
            fits = isinstance(decl.type, SCALAR_TYPES) and _value_fits(
                state, decl, value.value, "bad-attribute-value", f"the value of `{name}`"
            )
            if not fits:
                continue
            for term in item.names:
                given.setdefault((item.kind, name), {})[term.value] = _typed(decl, value.value)
    return given


def _typed(decl: ast.AttributeDecl, literal: ast.Literal_ | ast.TimeLiteral) -> object:
    """A value as the evaluator holds it (a decimal attribute's whole number as a Decimal, a
    date or an instant as a :class:`~policy_engine.language.time_values.TimeValue`)."""
    if isinstance(literal, ast.TimeLiteral):
        return time_value(literal.kind, literal.value)
    value = literal.value
    if isinstance(decl.type, ast.DecimalType) and type(value) is int:
        return Decimal(value)
    return value


def unknown_attribute(state: CheckState, kind: str, name: ast.Name) -> None:
    """An error at ``name``, an attribute ``kind`` terms do not have, with a did-you-mean (a
    package's attribute is named under its namespace: ``law25.location``)."""
    others = sorted(n for k, n in state.attribute_decls if k == kind)
    close = state.near(name.value, others)
    # `location` written for a package's `law25.location`, or the other way round.
    same_last = [n for n in others if n.rsplit(".", 1)[-1] == name.value.rsplit(".", 1)[-1]]
    elsewhere = sorted(k for k, n in state.attribute_decls if n == name.value and k != kind)
    namespace = name.value.rsplit(".", 1)[0] if "." in name.value else None
    unused = namespace is not None and namespace not in _namespaces(state)
    if close or same_last:
        found = list(dict.fromkeys([*close, *same_last]))
        hint = "did you mean " + " or ".join(f"`{c}`" for c in found) + "?"
        if unused:
            hint = f"the policy uses no package `{namespace}`; {hint}"
    elif elsewhere:
        hint = f"`{name.value}` is an attribute of {', '.join(elsewhere)}, not of {kind}"
    elif unused:
        hint = f"the policy uses no package `{namespace}`"
        near = state.near(str(namespace), sorted(_namespaces(state)))
        hint += f": did you mean `{near[0]}`?" if near else ""
    else:
        hint = f"declare it: `attribute {name.value} of {kind}: …`"
    state.error(
        "unknown-attribute",
        f"unknown attribute `{name.value}` of {kind_word(kind)} terms",
        name.span,
        hint,
    )


def _namespaces(state: CheckState) -> set[str]:
    """The namespaces of the packages the policy uses, at any depth (``law25``, ``law25.base``)."""
    return {f.package for f in state.files if f.package}


def _resolve(
    state: CheckState, decl: ast.AttributeDecl, given: Given, order: list[str]
) -> Attribute:
    """Every term's value, parents before children (``order``)."""
    kind, name = decl.kind, decl.name.value
    own = given.get((kind, name), {})
    hierarchy = state.hierarchies[kind]
    values: dict[str, object] = {}
    origins: dict[str, str] = {}
    for term in order:
        if term in own:
            values[term], origins[term] = own[term], term
            continue
        found = [(p, values[p]) for p in hierarchy.parent_links[term] if p in values]
        if found:
            _agree(state, kind, name, term, found, origins)
            values[term], origins[term] = found[0][1], origins[found[0][0]]
    written = decl.default
    default = _typed(decl, written) if isinstance(written, ast.Literal_ | ast.TimeLiteral) else None
    if default is not None:
        for term in order:
            if term not in values:
                values[term], origins[term] = default, DEFAULT
    return Attribute(kind, name, decl.type, values, origins)


def _agree(
    state: CheckState,
    kind: str,
    name: str,
    term: str,
    found: list[tuple[str, object]],
    origins: dict[str, str],
) -> None:
    """Parents that give ``term`` a value give it the same one (by type: `true` is not `1`)."""
    first_parent, first = found[0]
    for parent, value in found[1:]:
        if value == first and type(value) is type(first):
            continue
        decl = state.term_decls[term]
        where = next((n.span for n in decl.names if n.value == term), decl.span)
        shown = " and ".join(
            f"{literal_text(v)} from `{p}`"  # type: ignore[arg-type]
            + (f" (set by `{origins[p]}`)" if origins[p] != p else "")
            for p, v in ((first_parent, first), (parent, value))
        )
        state.error(
            "conflicting-attribute",
            f"`{term}` inherits two values of `{kind}.{name}`: {shown}",
            where,
            f"give `{term}` its own value: `{kind} {term} … with {name} = …`",
        )
        return
