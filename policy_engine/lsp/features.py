"""The answers to the editor's requests about one document: completion, document symbols, go to
definition and formatting. Each takes what the server knows (the policy's :class:`Index`, its
source documents, the position codec) and returns the protocol's types; none raises for a bad
document."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lsprotocol import types as lsp
from pygls.workspace.position_codec import PositionCodec

from ..language import ast
from ..language.documents import Document
from ..language.errors import PolicyError
from ..language.formatter import format_source
from ..language.grammar import reserved_words
from ..language.keywords import phrase_text, syntax
from ..semantics.citation_checks import resolve
from .convert import position, span_range, text_lines, whole_range
from .hover import KIND_WORDS
from .index import Declared, Index, declared_in
from .tokens import Token

Kind = lsp.CompletionItemKind
COMPLETION_KINDS = {
    "party": Kind.Class,
    "data": Kind.Struct,
    "purpose": Kind.Enum,
    "obligation": Kind.Event,
    "context": Kind.Variable,
    "condition": Kind.Function,
}

Symbol = lsp.SymbolKind
SYMBOL_KINDS = {
    "party": Symbol.Class,
    "data": Symbol.Struct,
    "purpose": Symbol.Enum,
    "obligation": Symbol.Event,
    "context": Symbol.Variable,
    "attribute": Symbol.Property,
    "condition": Symbol.Boolean,
    "rule": Symbol.Function,
    "override": Symbol.Function,
    "invariant": Symbol.Boolean,
    "source": Symbol.File,
}


def keywords() -> list[str]:
    """Every keyword of the grammar, its phrases written out (``not a decision``)."""
    phrases = [phrase_text(pattern) for pattern, _ in syntax().phrases.values()]
    return sorted(reserved_words()) + phrases


def completions(index: Index) -> list[lsp.CompletionItem]:
    """The keywords, the terms and the context keys of the policy (the editor filters them by
    what has been typed)."""
    items = [lsp.CompletionItem(label=w, kind=Kind.Keyword, sort_text=f"2{w}") for w in keywords()]
    for kind, item_kind in COMPLETION_KINDS.items():
        for name in index.names(kind):
            declared = next(d for d in index.declarations(name) if d.kind == kind)
            description = getattr(declared.item, "description", None)
            items.append(
                lsp.CompletionItem(
                    label=name,
                    kind=item_kind,
                    detail=KIND_WORDS[kind],
                    documentation=description,
                    sort_text=f"1{name}",
                )
            )
    for name in index.key_attributes():  # `recipient.location`: a key's term's attribute
        items.append(
            lsp.CompletionItem(
                label=name,
                kind=Kind.Property,
                detail="attribute of the term a key names",
                sort_text=f"1{name}",
            )
        )
    return items


def _symbol(found: Declared, codec: PositionCodec) -> lsp.DocumentSymbol:
    item = found.item
    whole = span_range(item.span, codec) if item.span is not None else None
    selection = span_range(found.span, codec)
    detail = KIND_WORDS.get(found.kind, found.kind)
    if isinstance(item, ast.Rule):
        detail = f"{item.effect} rule"
    citations: Sequence[ast.Citation] = getattr(item, "citations", ())
    if citations:
        detail += " " + ", ".join(c.text for c in citations)
    return lsp.DocumentSymbol(
        name=found.name,
        kind=SYMBOL_KINDS.get(found.kind, Symbol.Key),
        range=whole or selection,
        selection_range=selection,
        detail=detail,
    )


def document_symbols(file: ast.PolicyFile | None, codec: PositionCodec) -> list[lsp.DocumentSymbol]:
    """The rules, invariants and declarations of one file, in the order written."""
    if file is None:
        return []
    return [_symbol(found, codec) for item in file.items for found in declared_in(item)]


def definitions(
    token: Token,
    index: Index,
    documents: Sequence[Document],
    uri_of: Callable[[str], str | None],
    codec: PositionCodec,
) -> list[lsp.Location]:
    """Where the name under the cursor is declared; where the section a citation names starts
    in its source document."""
    if token.kind == "citation":
        return _section_locations(token.text, documents, uri_of, codec)
    found = []
    for declared in index.declarations(token.text):
        uri = uri_of(declared.span.source.name)
        if uri is not None:
            found.append(lsp.Location(uri=uri, range=span_range(declared.span, codec)))
    return found


def _section_locations(
    citation: str,
    documents: Sequence[Document],
    uri_of: Callable[[str], str | None],
    codec: PositionCodec,
) -> list[lsp.Location]:
    found = []
    for document, section in resolve(list(documents), ast.Citation(citation))[0]:
        uri = uri_of(document.source.name)
        if uri is None:
            continue
        lines = text_lines(document.source.text)
        line = min(section.line, len(lines)) - 1
        start = position(lines, line, 0, codec)
        end = position(lines, line, len(lines[line]), codec)
        found.append(lsp.Location(uri=uri, range=lsp.Range(start=start, end=end)))
    return found


def formatting(text: str, name: str, codec: PositionCodec) -> list[lsp.TextEdit]:
    """``fmt``'s layout of the document: one edit replacing it, none when it is already so or
    does not parse (its syntax errors are the diagnostics)."""
    try:
        formatted = format_source(text, name)
    except PolicyError:
        return []
    if formatted == text:
        return []
    return [lsp.TextEdit(range=whole_range(text, codec), new_text=formatted)]
