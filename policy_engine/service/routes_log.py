"""The decision log's reading endpoint (``GET /v1/decisions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from .auth import READER_ERRORS, require_reader
from .inputs import aware
from .models import DecisionLogPage
from .policy_service import PolicyService
from .storage import format_time


def register(app: FastAPI, service: PolicyService) -> None:
    """Add the decision log's endpoint to ``app``."""
    config = service.config
    storage = service.storage

    @app.get(
        "/v1/decisions",
        response_model=DecisionLogPage,
        tags=["decision log"],
        responses=READER_ERRORS,
    )
    def query_decisions(
        request: Request,
        subject: str | None = None,
        party: str | None = None,
        since: Annotated[datetime | None, Query(description="ISO 8601; UTC when naive")] = None,
        limit: Annotated[
            int, Query(ge=1, description="at most `max_log_page` (1000 by default)")
        ] = 100,
    ) -> JSONResponse:
        """Logged decisions, oldest first, with their chain hashes (with ``protect_reads`` in
        the config, for the admin token only)."""
        require_reader(config, request)
        found = storage.query_decisions(
            subject=subject,
            party=party,
            since=format_time(aware(since)) if since else None,
            limit=min(limit, config.max_log_page),
        )
        return JSONResponse({"decisions": found})
