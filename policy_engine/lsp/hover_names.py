"""What hovering shows for the names that are not declared as written: ``now`` (the key declared
``is now``), ``party.location`` (an attribute of the request's own term), a parameter's name in
an obligation's arguments; and the lines a package brings to a declaration's hover (where its
folder is, which key supplies a package's key, where the policy places a package's term)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..language import ast
from ..language.printer import parameter_text
from ..language.source import Span
from .index import Declared, Index
from .tokens import Token, enclosing_call

TERM_KINDS = ("party", "data", "purpose")
Show = Callable[[Declared], str]
"""A declaration's own hover (:func:`.hover.declaration_hover`)."""


def parameter_hover(obligation: str, name: str, index: Index) -> str | None:
    """The parameter ``name`` of the obligation ``obligation`` (in its declaration's or in a
    rule's parentheses), None when it has no such parameter."""
    for declared in index.declarations(obligation, "obligation"):
        item = declared.item
        if not isinstance(item, ast.TermDecl):
            continue
        for parameter in item.parameters:
            if parameter.name.value == name:
                where = parameter.name.span or parameter.span or declared.span
                every = ", ".join(parameter_text(p) for p in item.parameters)
                shown = parameter_text(parameter).split(": ", 1)[1]
                return (
                    f"**parameter** `{name}` of `{obligation}`: {shown}\n\n"
                    f"`{obligation}({every})`\n\ndeclared at `{where.location}`"
                )
    return None


def now_keys(index: Index) -> list[Declared]:
    """The policy's key declared ``is now`` (a package's is supplied by it)."""
    return [
        d
        for d in index.every("context")
        if not d.package and isinstance(d.item, ast.ContextDecl) and d.item.is_now
    ]


def now_hover(index: Index, show: Show) -> str:
    """``now``: the decision's time, the key the policy declares ``is now``."""
    keys = now_keys(index)
    if not keys:
        return (
            "**now** the decision's time\n\nno context key of the policy is declared `is now`: "
            "declare one, e.g. `context today: date is now`"
        )
    head = "**now** the decision's time: " + ", ".join(f"`{d.name}`" for d in keys)
    return "\n\n---\n\n".join([head, *(show(d) for d in keys)])


def attributes(text: str, index: Index) -> list[Declared]:
    """``party.location``: the attribute ``location`` of parties (a package's is named under its
    namespace, ``party.law25.location``, as the loader reads it); none for any other name."""
    kind, dot, name = text.partition(".")
    if kind not in TERM_KINDS or not dot:
        return []
    return [
        d
        for d in index.declarations(name, "attribute")
        if isinstance(d.item, ast.AttributeDecl) and d.item.kind == kind
    ]


def attribute_hover(text: str, index: Index, show: Show) -> str | None:
    found = attributes(text, index)
    return "\n\n---\n\n".join(show(d) for d in found) if found else None


def package_hover(found: Declared, index: Index) -> list[str]:
    """The lines of a ``use`` statement's hover: the path, and what the package declares."""
    assert isinstance(found.item, ast.UseDecl)
    lines = [f'from `"{found.item.path}"`']
    view = next((v for v in index.packages.views if v.namespace == found.name), None)
    if view is None:
        lines.append("not read: `policy-engine check` says why")
        return lines
    names = [d for d in index.every() if d.package == found.name]
    files = ", ".join(f"`{f.name}`" for f in view.files) or "none that parses"
    lines.append(f"{len(names)} declaration{'' if len(names) == 1 else 's'} in {files}")
    if view.documents:
        lines.append("documents " + ", ".join(f"`{d.name}`" for d in view.documents))
    return lines


def supply_lines(found: Declared, index: Index) -> list[str]:
    """Which key of the policy supplies a package's key, or which keys a key supplies."""
    item = found.item
    if found.package:
        supplier = index.supplied_by.get(found.name)
        if supplier is None:
            return []
        return [f"supplied by `{supplier}`: the package's rules read `{supplier}`"]
    if isinstance(item, ast.ContextDecl) and item.supplies:
        return ["supplies " + ", ".join(f"`{n.value}`" for n in item.supplies)]
    return []


def placement(found: Declared, index: Index) -> str | None:
    """``party law25.contractor under vendors``: the policy places a package's term (None for
    any other declaration)."""
    item = found.item
    if found.package or not isinstance(item, ast.TermDecl):
        return None
    declared = index.declarations(found.name, found.kind)
    if not any(d.package for d in declared):
        return None
    parents = ", ".join(f"`{p.value}`" for p in item.parents)
    return f"placed under {parents}" if parents else "placed"


def places(token: Token, index: Index, lines: Sequence[str] = ()) -> list[Span]:
    """Where the name ``token`` is declared, read as hovering reads it: a parameter in an
    obligation's parentheses, a declared name (a package's first), ``now``, an attribute."""
    call = enclosing_call(lines, token.line, token.start) if lines else None
    if call is not None:
        for declared in index.declarations(call.name, "obligation"):
            if isinstance(declared.item, ast.TermDecl):
                for parameter in declared.item.parameters:
                    if parameter.name.value == token.text and parameter.name.span is not None:
                        return [parameter.name.span]
    found = index.declarations(token.text)
    if not found and token.text == "now":
        found = now_keys(index)
    elif not found:
        found = attributes(token.text, index)
    return [d.span for d in found]
