"""The exception handlers: every error the service answers (the library's policy errors, the
framework's own refusals, malformed bodies, admin refusals, refused reloads, an unreachable
database) in the shape of :mod:`.errors`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..language.errors import Diagnostic, PolicyError
from .access_log import logged_path
from .errors import ReloadRefused, ServiceError, error_body, error_response
from .storage import StorageError
from .text import HELP as TEXT_HELP

logger = logging.getLogger("policy_engine.service")


def add_error_handlers(app: FastAPI) -> None:
    """Register the handlers below on ``app``."""
    app.exception_handler(PolicyError)(policy_error)
    app.exception_handler(StarletteHTTPException)(http_error)
    app.exception_handler(RequestValidationError)(validation_error)
    app.exception_handler(ServiceError)(service_error)
    app.exception_handler(ReloadRefused)(reload_refused)
    app.exception_handler(StorageError)(storage_error)


async def policy_error(request: Request, exc: PolicyError) -> JSONResponse:
    notes = list(getattr(exc, "__notes__", []))
    return JSONResponse(error_body(exc.diagnostics, notes), status_code=400)


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    # The framework's own refusals (a body that is not UTF-8, an unknown path, a method the
    # route does not take) in the service's error format, like every other error.
    code = {
        400: "bad-request",
        404: "not-found",
        405: "method-not-allowed",
    }.get(exc.status_code, "http-error")
    message = str(exc.detail).rstrip(".").lower() if exc.detail else "request refused"
    response = error_response(exc.status_code, code, message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    return validation_response(exc)


async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
    return JSONResponse(error_body([exc.diagnostic]), status_code=exc.status, headers=exc.headers)


async def reload_refused(request: Request, exc: ReloadRefused) -> JSONResponse:
    body = error_body(exc.diagnostics)
    errors = [d for d in exc.diagnostics if d.severity == "error"] or exc.diagnostics
    first = errors[0].message if errors else "the policy does not load"
    body["error"] = f"policy reload refused: {first}"
    body["policy_version"] = exc.serving
    return JSONResponse(body, status_code=422)


async def storage_error(request: Request, exc: StorageError) -> JSONResponse:
    # What the database said goes to the server's log: it can name the database's URL, which
    # the service shows only to callers with a token (/readyz).
    logger.error("%s %s: %s", request.method, logged_path(request.url.path)[0], exc)
    return error_response(
        503,
        "storage-unavailable",
        "the decision log or consent ledger could not be reached; nothing was decided",
        "the server's log says what the database answered",
    )


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """A body or query the framework refused: 400 for JSON that does not parse and for text that
    is not Unicode (a lone surrogate, which pydantic refuses in a constrained string), 422
    otherwise, with one diagnostic per problem (at most 50)."""
    errors = list(exc.errors())
    diagnostics = []
    status = 422
    for error in errors:
        place = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        if error.get("type") == "json_invalid":
            status = 400
            detail = error.get("ctx", {}).get("error", "")
            diagnostics.append(
                Diagnostic(
                    "bad-json",
                    f"the request body is not valid JSON: {detail}".rstrip(": "),
                    None,
                    "send a JSON object with Content-Type: application/json",
                )
            )
            continue
        if error.get("type") == "string_unicode":
            status = 400
            message = f"`{place}` holds a lone surrogate, which is not a Unicode character"
            diagnostics.append(Diagnostic("bad-text", message, None, TEXT_HELP))
            continue
        message = str(error.get("msg", "invalid")).rstrip(".")
        message = message[:1].lower() + message[1:]
        where = f"`{place}`: " if place else "the request body: "
        hint = None if place else "send a JSON object with Content-Type: application/json"
        if error.get("type") == "extra_forbidden":
            hint = "remove it; see /openapi.json for the fields this endpoint takes"
        diagnostics.append(Diagnostic("bad-request", f"{where}{message}", None, hint))
    return JSONResponse(error_body(diagnostics[:50]), status_code=status)
