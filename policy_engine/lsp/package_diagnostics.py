"""A diagnostic of the policy's check whose place is in a package's file (a package that does
not parse, a package's invariant the policy breaks) is shown on the policy: at the ``use``
statement the package is read through, its message saying where it is, with that place as
related information. The package's own file is left to the package's own check (two checks
publishing for one file would clear each other's diagnostics). Errors and warnings are shown
one by one; a package's notes, one line per ``use`` that counts them (``policy-engine check``
lists them)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from lsprotocol import types as lsp
from pygls.workspace.position_codec import PositionCodec

from ..language.errors import Diagnostic
from .convert import SEVERITIES, SOURCE, message_of, span_range
from .folders import Snapshot, path_uri
from .packages import Packages, Route


def through_packages(
    diagnostics: Sequence[Diagnostic], snapshot: Snapshot, packages: Packages, codec: PositionCodec
) -> tuple[list[Diagnostic], dict[str, list[lsp.Diagnostic]]]:
    """The diagnostics placed in the policy's own files (or nowhere), and the protocol's
    diagnostics of the others by the URI of the file of their ``use``."""
    own: list[Diagnostic] = []
    shown: dict[str, list[lsp.Diagnostic]] = {}
    notes: Counter[Route] = Counter()
    for diagnostic in diagnostics:
        span = diagnostic.span
        route = None
        if span is not None and span.source.name not in snapshot.uris:
            route = packages.route(span.source.name)
        place = _place(route, snapshot) if route is not None else None
        if route is None or place is None:
            own.append(diagnostic)
        elif diagnostic.severity == "info":
            notes[route] += 1
        else:
            shown.setdefault(place, []).append(_at_use(diagnostic, route, codec))
    for route, count in notes.items():
        place = _place(route, snapshot)
        if place is not None:
            shown.setdefault(place, []).append(_notes(route, count, snapshot, codec))
    return own, shown


def _place(route: Route, snapshot: Snapshot) -> str | None:
    """The URI of the policy's file that says the ``use``."""
    span = route.decl.span
    return snapshot.uris.get(span.source.name) if span is not None else None


def _at_use(diagnostic: Diagnostic, route: Route, codec: PositionCodec) -> lsp.Diagnostic:
    span = diagnostic.span
    assert span is not None and route.decl.span is not None
    namespace = route.decl.namespace.value
    related = [
        lsp.DiagnosticRelatedInformation(
            location=lsp.Location(uri=path_uri(Path(s.source.name)), range=span_range(s, codec)),
            message=note,
        )
        for note, s in [("here", span), *diagnostic.notes]
    ]
    return lsp.Diagnostic(
        range=span_range(route.decl.span, codec),
        message=f"in the package `{namespace}`, {span.location}: {message_of(diagnostic)}",
        severity=SEVERITIES.get(diagnostic.severity, lsp.DiagnosticSeverity.Error),
        code=diagnostic.code,
        source=SOURCE,
        related_information=related,
    )


def _notes(route: Route, count: int, snapshot: Snapshot, codec: PositionCodec) -> lsp.Diagnostic:
    assert route.decl.span is not None
    namespace = route.decl.namespace.value
    said = "a note" if count == 1 else f"{count:,} notes"
    return lsp.Diagnostic(
        range=span_range(route.decl.span, codec),
        message=(
            f"the check has {said} about the rules of the package `{namespace}` "
            f"(`policy-engine check {snapshot.name}` lists them)"
        ),
        severity=lsp.DiagnosticSeverity.Information,
        code="package-notes",
        source=SOURCE,
    )
