"""What hovering shows, in Markdown: a term's place in its hierarchy, its description and
citations (an obligation's parameters and condition too); a context key's type; what a named
condition means; a rule's or an invariant's effect and description; and a citation's section,
with its text when the policy has a source document."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..language import ast
from ..language.citations import citation_parts
from ..language.documents import Document, Section
from ..language.printer import expr_text, operand_text, parameter_text
from ..semantics.citation_checks import resolve
from .index import Declared, Index
from .tokens import Token

KIND_WORDS = {
    **ast.KIND_WORDS,
    "rule": "rule",
    "invariant": "invariant",
    "source": "source",
    "attribute": "attribute",
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


def hover_text(token: Token, index: Index, documents: Sequence[Document]) -> str | None:
    if token.kind == "citation":
        return citation_hover(token.text, documents)
    found = index.declarations(token.text)
    if not found:
        return key_attribute_hover(token.text, index, documents)
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
        parts += _hierarchy(found, index)
        if item.parameters:
            head += "(" + ", ".join(parameter_text(p) for p in item.parameters) + ")"
        if item.condition is not None:
            parts.append(f"when `{expr_text(item.condition)}`")
    elif isinstance(item, ast.ConditionDecl):
        parts.append(f"means `{expr_text(item.condition)}`")
    elif isinstance(item, ast.ContextDecl):
        head += ": " + _context_type(item)
    elif isinstance(item, ast.AttributeDecl):
        head += f" of {item.kind}: {item.type.describe()} (`{item.kind}.{found.name}`)"
    elif isinstance(item, ast.Rule):
        head += f" ({item.effect})"
    elif isinstance(item, ast.Invariant):
        head += f" ({item.wording})"
    elif isinstance(item, ast.SourceDecl):
        head += f": `{item.path}`"
    description = getattr(item, "description", None)
    if description:
        parts.insert(0, f"*{plain(description)}*")
    citations: Sequence[ast.Citation] = getattr(item, "citations", ())
    if citations:
        parts.append("cites " + "; ".join(_cited(c, documents) for c in citations))
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
    if decl.default is not None:
        text += f", default {operand_text(decl.default)}"
    return text


def _sections(text: str, documents: Sequence[Document]) -> list[tuple[Document, Section]]:
    found, _ = resolve(list(documents), ast.Citation(text))
    return found


def _cited(citation: ast.Citation, documents: Sequence[Document]) -> str:
    found = _sections(citation.text, documents)
    if len(found) != 1:
        return plain(citation.text)
    return f"{plain(citation.text)} ({plain(short(found[0][1].title))})"


def citation_hover(text: str, documents: Sequence[Document]) -> str:
    """The section a citation names, with its text."""
    if not documents:
        return f'**{plain(text)}**\n\nthe policy names no source document (`source "file"`)'
    found = _sections(text, documents)
    if not found:
        key = citation_parts(text).key
        names = ", ".join(f"`{d.name}`" for d in documents)
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
