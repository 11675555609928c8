"""Who may call what: the admin bearer token that admin endpoints require, and that reads of the
consent ledger and the decision log require too when the config says ``protect_reads``."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import Request

from .config import ADMIN_TOKEN_ENV, ServiceConfig
from .errors import ServiceError
from .models import ErrorResponse

#: The errors a reading endpoint declares: 401 and 403 only with ``protect_reads`` in the config.
READER_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
}


def require_admin(config: ServiceConfig, request: Request) -> None:
    """Refuse ``request`` (401, or 403) unless it carries the admin bearer token."""
    expected = config.effective_admin_token()
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if not header:
        raise ServiceError(
            401,
            "unauthorized",
            "this endpoint needs an admin bearer token",
            "send `Authorization: Bearer <token>`",
            {"WWW-Authenticate": "Bearer"},
        )
    if expected is None:
        raise ServiceError(
            403,
            "forbidden",
            "no admin token is configured, so admin endpoints are closed",
            f"set {ADMIN_TOKEN_ENV} (or `admin_token` in the config file) and restart",
        )
    ok = scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8"), expected.encode("utf-8")
    )
    if not ok:
        raise ServiceError(403, "forbidden", "the admin bearer token is not valid")


def require_reader(config: ServiceConfig, request: Request) -> None:
    """Refuse ``request`` as :func:`require_admin` does, when the config protects reads."""
    if config.protect_reads:
        require_admin(config, request)
