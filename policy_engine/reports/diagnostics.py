"""Diagnostics out: text for people, JSON, SARIF 2.1.0 for code scanning, GitHub annotations."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ..language.errors import Diagnostic

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def render_text(diagnostics: Sequence[Diagnostic]) -> str:
    """Errors and warnings with their source line and caret; notes on one line each."""
    blocks = []
    for d in diagnostics:
        if d.severity == "info":
            blocks.append(f"{d.location}: note: {d.message}")
        else:
            blocks.append(d.render() + "\n")
    return "\n".join(blocks).rstrip("\n")


def render_json(diagnostics: Sequence[Diagnostic], summary: Mapping[str, Any] | None = None) -> str:
    """The diagnostics as a JSON list; with ``summary``, an object holding them and the counts
    (``{"diagnostics": [...], "summary": {...}}``)."""
    found = [d.to_dict() for d in diagnostics]
    if summary is None:
        return json.dumps(found, indent=2, ensure_ascii=False)
    return json.dumps(
        {"diagnostics": found, "summary": dict(summary)}, indent=2, ensure_ascii=False
    )


def render_sarif(
    diagnostics: Sequence[Diagnostic], version: str, properties: Mapping[str, Any] | None = None
) -> str:
    """A SARIF 2.1.0 log of one run; ``properties`` (``check``'s counts) go in the run's
    property bag."""
    codes = sorted({d.code for d in diagnostics})
    results: list[dict[str, Any]] = []
    for d in diagnostics:
        text = d.message + (f"\nhelp: {d.help}" if d.help else "")
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": codes.index(d.code),
            "level": _SARIF_LEVEL[d.severity],
            "message": {"text": text},
        }
        if d.span is not None:
            result["locations"] = [
                {
                    "physicalLocation": {
                        # A URI reference: spaces, `%`, `:` … percent-encoded; `/` kept.
                        "artifactLocation": {"uri": quote(d.span.source.name, safe="/")},
                        "region": {
                            "startLine": d.span.line,
                            "startColumn": d.span.column,
                            "endLine": d.span.end_line,
                            "endColumn": d.span.end_column,
                        },
                    }
                }
            ]
        results.append(result)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "policy-engine",
                "version": version,
                "rules": [{"id": c, "shortDescription": {"text": c}} for c in codes],
            }
        },
        "results": results,
    }
    if properties is not None:
        run["properties"] = dict(properties)
    log = {
        "version": "2.1.0",
        "$schema": SARIF_SCHEMA,
        "runs": [run],
    }
    return json.dumps(log, indent=2, ensure_ascii=False)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` per problem."""
    lines = []
    for d in diagnostics:
        command = {"error": "error", "warning": "warning", "info": "notice"}[d.severity]
        props = [f"title={_escape_property(d.code)}"]
        if d.span is not None:
            props = [
                f"file={_escape_property(d.span.source.name)}",
                f"line={d.span.line}",
                f"col={d.span.column}",
                f"endLine={d.span.end_line}",
                f"endColumn={d.span.end_column}",
                *props,
            ]
        message = d.message + (f"\nhelp: {d.help}" if d.help else "")
        lines.append(f"::{command} {','.join(props)}::{_escape_data(message)}")
    return "\n".join(lines)
