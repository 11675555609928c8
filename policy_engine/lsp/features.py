"""The answers to the editor's requests about one document: document symbols, go to definition
and formatting (completion is :mod:`.completion`). Each takes what the server knows (the
policy's :class:`Index`, its source documents, the position codec) and returns the protocol's
types; none raises for a bad document."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lsprotocol import types as lsp
from pygls.workspace.position_codec import PositionCodec

from ..language import ast
from ..language.documents import Document
from ..language.errors import PolicyError
from ..language.formatter import format_source
from ..semantics.citation_checks import resolve
from .convert import position, span_range, text_lines, whole_range
from .hover import KIND_WORDS
from .hover_names import places
from .index import Declared, Index, declared_in
from .tokens import Token

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
    "package": Symbol.Package,
}


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
    lines: Sequence[str] = (),
) -> list[lsp.Location]:
    """Where the name under the cursor is declared (a package's name: in the package's file);
    where the section a citation names starts in its source document."""
    if token.kind == "citation":
        return _section_locations(token.text, documents, uri_of, codec)
    found = []
    for span in places(token, index, lines):
        uri = uri_of(span.source.name)
        if uri is not None:
            found.append(lsp.Location(uri=uri, range=span_range(span, codec)))
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
