"""The service's error shape: the exceptions routes raise (:class:`ServiceError`,
:class:`ReloadRefused`), the JSON body every error answers with (``error`` plus the library's
diagnostics), and the error responses the decision endpoints declare in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from ..language.errors import Diagnostic
from .models import ErrorResponse
from .text import printable

#: What each error status means, as the OpenAPI document says it.
ERROR_DESCRIPTIONS = {
    400: "a bad value: an unknown term, a bad context, text that is not Unicode or holds NUL, "
    "an unknown query parameter, a body that is not JSON",
    401: "no bearer token was sent",
    403: "the bearer token is not valid here, or no token is configured for this role",
    404: "no such path (a subject holding `/`)",
    413: "the body or the batch is too large",
    422: "a malformed request: missing or extra fields, values of the wrong type",
    503: "the database is unavailable: nothing was decided or recorded",
}


def error_responses(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route that may answer ``statuses`` with the service's error body
    (``described``: ``s422="..."`` for a description of the route's own)."""
    return {
        status: {
            "model": ErrorResponse,
            "description": described.get(f"s{status}", ERROR_DESCRIPTIONS[status]),
        }
        for status in statuses
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
        "error": printable(first),
        "diagnostics": [diagnostic_json(d) for d in diagnostics],
    }


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    """One diagnostic as JSON: code, message, help, severity, and its place when it has one."""
    out: dict[str, Any] = {
        "code": d.code,
        "message": printable(d.message),  # a lone surrogate a client sent has no UTF-8 form
        "help": None if d.help is None else printable(d.help),
        "severity": d.severity,
    }
    if d.span is not None:
        out.update(file=d.span.source.name, line=d.span.line, column=d.span.column)
    return out


def error_response(status: int, code: str, message: str, help: str | None = None) -> JSONResponse:
    """A response with one diagnostic."""
    return JSONResponse(error_body([Diagnostic(code, message, None, help)]), status_code=status)
