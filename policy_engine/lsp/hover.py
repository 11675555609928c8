"""What hovering shows, in Markdown: a term's place in its hierarchy, its description and
citations (an obligation's parameters and condition too); a context key's type; what a named
condition means; a rule's or an invariant's effect and description; and a citation's section,
with its text when the policy has a source document.

A package's name (``law25.contractor``) shows its declaration in the package, with the sections
it cites in the package's own documents (:mod:`.packages`); ``now`` shows the key declared ``is
now``; ``party.location`` the attribute; a parameter's name in ``retain_for(years = 6)`` the
parameter (:mod:`.hover_names`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..language import ast
from ..language.citations import citation_parts
from ..language.documents import Document, Section
from ..language.printer import expr_text, operand_text, parameter_text
from ..semantics.citation_checks import resolve
from .hover_names import (
    attribute_hover,
    now_hover,
    package_hover,
    parameter_hover,
    placement,
    supply_lines,
)
from .index import Declared, Index
from .tokens import Token, enclosing_call

KIND_WORDS = {
    **ast.KIND_WORDS,
    "rule": "rule",
    "invariant": "invariant",
    "source": "source",
    "attribute": "attribute",
    "override": "override",
    "package": "package",
}
MAX_SECTION_CHARS = 4000
"""A longer section's text is cut (the hover says so)."""
MAX_TITLE_CHARS = 80
"""A section's title as a hover names it (a statute's sections have no title but their text)."""


def short(title: str) -> str:
    if len(title) <= MAX_TITLE_CHARS:
        return title
    return title[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] + " …"


def plain(text: str) -> str:
    """``text`` shown as itself in Markdown."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~])", r"\\\1", text)


def hover_text(
    token: Token, index: Index, documents: Sequence[Document], lines: Sequence[str] = ()
) -> str | None:
    """What hovering ``token`` shows; ``documents`` are the policy's and its packages' (named
    as the checker names them), ``lines`` the document's (for the call a token is inside of)."""
    if token.kind == "citation":
        return citation_hover(token.text, documents)
    call = enclosing_call(lines, token.line, token.start) if lines else None
    if call is not None:
        shown = parameter_hover(call.name, token.text, index)
        if shown is not None:
            return shown
    found = index.declarations(token.text)
    if not found:
        if token.text == "now":
            return now_hover(index, lambda d: declaration_hover(d, index, documents))
        return attribute_hover(
            token.text, index, lambda d: declaration_hover(d, index, documents)
        ) or key_attribute_hover(token.text, index, documents)
    return "\n\n---\n\n".join(declaration_hover(d, index, documents) for d in found)


def key_attribute_hover(name: str, index: Index, documents: Sequence[Document]) -> str | None:
    """``recipient.location``: the attribute of the term a key of one term names."""
    found = index.key_attribute(name)
    if found is None:
        return None
    key, attribute = found
    return (
        f"the `{attribute.name.value}` of the {key.type.describe()} `{key.name.value}` names\n\n"
        + declaration_hover(
            next(d for d in index.declarations(attribute.name.value) if d.item is attribute),
            index,
            documents,
        )
    )


def declaration_hover(found: Declared, index: Index, documents: Sequence[Document]) -> str:
    item = found.item
    head = f"**{KIND_WORDS.get(found.kind, found.kind)}** `{found.name}`"
    parts: list[str] = []
    if isinstance(item, ast.TermDecl):
        placed = placement(found, index)
        parts += _hierarchy(found, index) if placed is None else [placed]
        if item.parameters:
            head += "(" + ", ".join(parameter_text(p) for p in item.parameters) + ")"
        if item.condition is not None:
            parts.append(f"when `{expr_text(item.condition)}`")
    elif isinstance(item, ast.ConditionDecl):
        parts.append(f"means `{expr_text(item.condition)}`")
    elif isinstance(item, ast.ContextDecl):
        head += ": " + _context_type(item)
        parts += supply_lines(found, index)
    elif isinstance(item, ast.AttributeDecl):
        head += f" of {item.kind}: {item.type.describe()} (`{item.kind}.{found.name}`)"
        if item.default is not None:
            parts.append(f"default {operand_text(item.default)}")
    elif isinstance(item, ast.Rule):
        head += f" ({item.effect})"
    elif isinstance(item, ast.Invariant):
        head += f" ({item.wording})"
    elif isinstance(item, ast.SourceDecl):
        head += f": `{item.path}`"
    elif isinstance(item, ast.UseDecl):
        parts += package_hover(found, index)
    description = getattr(item, "description", None)
    if description:
        parts.insert(0, f"*{plain(description)}*")
    citations: Sequence[ast.Citation] = getattr(item, "citations", ())
    if citations:
        cited = (_cited(c, documents, found.package) for c in citations)
        parts.append("cites " + "; ".join(cited))
    if found.package:
        parts.append(f"in the package `{found.package}`")
    parts.append(f"declared at `{found.span.location}`")
    return "\n\n".join([head, *parts])


def _hierarchy(found: Declared, index: Index) -> list[str]:
    parents = index.parents(found.kind, found.name)
    if not parents:
        return ["at the top of its hierarchy"]
    lines = ["under " + ", ".join(f"`{p}`" for p in parents)]
    above = index.ancestors(found.kind, found.name)
    if above != parents:
        lines.append("covered by " + ", ".join(f"`{p}`" for p in above))
    return lines


def _context_type(decl: ast.ContextDecl) -> str:
    text = decl.type.describe()
    if isinstance(decl.type, ast.TermType):
        text += " (one term, by its name)"
    if decl.source is not None:
        text += f" from {decl.source}"
    if decl.is_now:
        text += " is now (`now` reads it)"
    if decl.default is not None:
        text += f", default {operand_text(decl.default)}"
    return text


def _sections(
    text: str, documents: Sequence[Document], package: str = ""
) -> list[tuple[Document, Section]]:
    found, _ = resolve(list(documents), ast.Citation(text), package)
    return found


def _cited(citation: ast.Citation, documents: Sequence[Document], package: str) -> str:
    """A citation written in a file of ``package`` (empty: the policy's own), with the title of
    the section it names in that package's documents."""
    found = _sections(citation.text, documents, package)
    if len(found) != 1:
        return plain(citation.text)
    return f"{plain(citation.text)} ({plain(short(found[0][1].title))})"


def citation_hover(text: str, documents: Sequence[Document]) -> str:
    """The section a citation names, with its text."""
    found, pool = resolve(list(documents), ast.Citation(text))
    parts = citation_parts(text)
    if not pool and parts.document is not None:
        return f"**{plain(text)}**\n\nno source document `{parts.document}`"
    if not pool:
        return f'**{plain(text)}**\n\nthe policy names no source document (`source "file"`)'
    if not found:
        key = parts.key
        names = ", ".join(f"`{d.name}`" for d in pool)
        return f"**{plain(text)}**\n\nno section `{key}` in {names}"
    return "\n\n---\n\n".join(_section_hover(text, d, s) for d, s in found)


def _section_hover(text: str, document: Document, section: Section) -> str:
    body = section.text.strip("\n")
    if len(body) > MAX_SECTION_CHARS:
        body = body[:MAX_SECTION_CHARS] + "\n…"
    fence = "```"
    while fence in body:
        fence += "`"
    place = f"{document.source.name}:{section.line}"
    return (
        f"**{plain(text)}** {plain(short(section.title))}\n\n`{document.name}`, `{place}`\n\n"
        f"{fence}text\n{body}\n{fence}"
    )
