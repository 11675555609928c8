"""The service's error shape: the exceptions routes raise (:class:`ServiceError`,
:class:`ReloadRefused`), the JSON body every error answers with (``error`` plus the library's
diagnostics), and the error responses the decision endpoints declare in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from ..language.errors import Diagnostic
from .models import ErrorResponse

#: The errors a decision (or consent) endpoint declares in the OpenAPI document.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "unknown term or bad context"},
    413: {"model": ErrorResponse, "description": "body or batch too large"},
    422: {"model": ErrorResponse, "description": "malformed request body"},
    503: {"model": ErrorResponse, "description": "the database is unavailable"},
}


class ServiceError(Exception):
    """An HTTP error with the library's diagnostic shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        help: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.diagnostic = Diagnostic(code, message, None, help)
        self.headers = headers


class ReloadRefused(Exception):
    """A reload whose new rules do not load; the policy being served stays."""

    def __init__(self, diagnostics: list[Diagnostic], serving: str) -> None:
        super().__init__(diagnostics[0].message if diagnostics else "the policy does not load")
        self.diagnostics = diagnostics
        self.serving = serving


def error_body(diagnostics: list[Diagnostic], notes: list[str] | None = None) -> dict[str, Any]:
    """An error response's body: the first message (with ``notes`` appended) and every
    diagnostic."""
    first = diagnostics[0].message if diagnostics else "bad request"
    if notes:
        first += f" ({'; '.join(notes)})"
    return {
        "error": first,
        "diagnostics": [diagnostic_json(d) for d in diagnostics],
    }


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    """One diagnostic as JSON: code, message, help, severity, and its place when it has one."""
    out: dict[str, Any] = {
        "code": d.code,
        "message": d.message,
        "help": d.help,
        "severity": d.severity,
    }
    if d.span is not None:
        out.update(file=d.span.source.name, line=d.span.line, column=d.span.column)
    return out


def error_response(status: int, code: str, message: str, help: str | None = None) -> JSONResponse:
    """A response with one diagnostic."""
    return JSONResponse(error_body([Diagnostic(code, message, None, help)]), status_code=status)
