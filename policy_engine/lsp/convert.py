"""From the library's places and diagnostics to the protocol's ranges and diagnostics.

A :class:`~policy_engine.language.source.Span` counts 1-based lines and columns in characters;
the protocol counts 0-based lines and columns in the code units the client and the server agreed
on (UTF-16 unless the client offers another), which the workspace's position codec converts.
Lines are split on ``\\n`` only, as the parser counts them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from lsprotocol import types as lsp
from pygls.workspace.position_codec import PositionCodec

from ..language.errors import Diagnostic
from ..language.source import Span

SEVERITIES = {
    "error": lsp.DiagnosticSeverity.Error,
    "warning": lsp.DiagnosticSeverity.Warning,
    "info": lsp.DiagnosticSeverity.Information,
}

SOURCE = "policy-engine"


@functools.lru_cache(maxsize=64)
def text_lines(text: str) -> tuple[str, ...]:
    """The lines of ``text`` (a string's hash is kept, so asking again costs a lookup)."""
    return tuple(text.split("\n"))


def position(lines: Sequence[str], line: int, column: int, codec: PositionCodec) -> lsp.Position:
    """The protocol's position of 0-based ``line`` and ``column`` (in characters)."""
    if line >= len(lines):
        line, column = len(lines) - 1, len(lines[-1])
    column = min(max(column, 0), len(lines[line]))
    return codec.position_to_client_units(lines, lsp.Position(line=line, character=column))


def span_range(span: Span, codec: PositionCodec, lines: Sequence[str] | None = None) -> lsp.Range:
    lines = text_lines(span.source.text) if lines is None else lines
    start = position(lines, span.line - 1, span.column - 1, codec)
    end = position(lines, span.end_line - 1, span.end_column - 1, codec)
    return lsp.Range(start=start, end=max(start, end, key=lambda p: (p.line, p.character)))


def whole_range(text: str, codec: PositionCodec) -> lsp.Range:
    lines = text_lines(text)
    return lsp.Range(
        start=lsp.Position(line=0, character=0),
        end=position(lines, len(lines) - 1, len(lines[-1]), codec),
    )


def server_column(lines: Sequence[str], where: lsp.Position, codec: PositionCodec) -> int:
    """The character column of a position the client sent."""
    if where.line >= len(lines):
        return 0
    asked = lsp.Position(line=where.line, character=where.character)
    return codec.position_from_client_units(lines, asked).character


def message_of(diagnostic: Diagnostic) -> str:
    """The message ``check`` prints, with its hint."""
    if diagnostic.help:
        return f"{diagnostic.message}\nhelp: {diagnostic.help}"
    return diagnostic.message


def lsp_diagnostic(
    diagnostic: Diagnostic, codec: PositionCodec, uri_of: dict[str, str]
) -> lsp.Diagnostic:
    """The protocol's diagnostic; one without a place is put at the start of the file.
    ``uri_of`` maps the sources' names to their URIs (for the notes' places)."""
    span = diagnostic.span
    place = span_range(span, codec) if span is not None else whole_range("", codec)
    related = [
        lsp.DiagnosticRelatedInformation(
            location=lsp.Location(
                uri=uri_of[note_span.source.name], range=span_range(note_span, codec)
            ),
            message=note,
        )
        for note, note_span in diagnostic.notes
        if note_span.source.name in uri_of
    ]
    return lsp.Diagnostic(
        range=place,
        message=message_of(diagnostic),
        severity=SEVERITIES.get(diagnostic.severity, lsp.DiagnosticSeverity.Error),
        code=diagnostic.code,
        source=SOURCE,
        related_information=related or None,
    )
