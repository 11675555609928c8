"""What the workbench's endpoints share: reading a JSON body no larger than a limit, and errors
as JSON the pages show (a message and the diagnostics), never a traceback."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..analysis.budget import BudgetExceeded
from ..analysis.invariants import undecided_reason
from ..analysis.search_values import AnalysisDisagreement
from ..language.errors import Diagnostic, PolicyError
from .shell import render_not_found

JSON_BODY_LIMIT = 1024 * 1024
"""The largest body of a request other than a proposal."""


class WorkbenchError(Exception):
    """A request the workbench refuses: an HTTP status and what to say."""

    def __init__(self, status: int, message: str, diagnostics: Sequence[Diagnostic] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.diagnostics = list(diagnostics)


def error_body(message: str, diagnostics: Sequence[Diagnostic] = ()) -> dict[str, Any]:
    return {"error": message, "diagnostics": [d.to_dict() for d in diagnostics]}


async def read_json(request: Request, limit: int = JSON_BODY_LIMIT) -> object:
    """The request's JSON body; 415 unless it says it is JSON, 413 past ``limit`` bytes, 400
    when it does not parse."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise WorkbenchError(415, "send the body as JSON (Content-Type: application/json)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WorkbenchError(413, f"the body is larger than the limit of {limit:,} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, RecursionError) as exc:
        raise WorkbenchError(400, f"the body is not valid JSON: {exc}") from None


def _json_error(status: int, message: str, diagnostics: Sequence[Diagnostic] = ()) -> Response:
    return JSONResponse(error_body(message, diagnostics), status_code=status)


def add_error_handlers(app: FastAPI) -> None:
    """Every refusal as JSON for the endpoints under ``api/``; a page that does not exist as a
    page saying so."""

    @app.exception_handler(WorkbenchError)
    async def refused(request: Request, exc: WorkbenchError) -> Response:
        return _json_error(exc.status, exc.message, exc.diagnostics)

    @app.exception_handler(PolicyError)
    async def policy_error(request: Request, exc: PolicyError) -> Response:
        first = exc.diagnostics[0].message if exc.diagnostics else str(exc)
        return _json_error(400, first, exc.diagnostics)

    @app.exception_handler(BudgetExceeded)
    async def budget(request: Request, exc: BudgetExceeded) -> Response:
        return _json_error(503, f"not decided within the analysis budget: {exc.reason}")

    @app.exception_handler(AnalysisDisagreement)
    async def disagreement(request: Request, exc: AnalysisDisagreement) -> Response:
        return _json_error(503, f"not decided: {undecided_reason(exc)}")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        said = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _json_error(400, f"bad request: {said}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and "/api/" not in request.url.path:
            root = request.scope.get("root_path", "") + "/"
            return HTMLResponse(render_not_found(root, request.url.path), status_code=404)
        return _json_error(exc.status_code, str(exc.detail))
