"""The decision log's reading endpoint (``GET /v1/decisions``): a page of entries at a time, with
the cursor of the next page (``after``, ``next``) and whether there is more (``more``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from .auth import READ_SECURITY, Access
from .errors import error_responses
from .inputs import aware, check_text
from .models import DecisionLogPage
from .policy_service import PolicyService
from .routes_decisions import FastJSONResponse
from .storage import format_time

#: The largest ``seq`` the databases hold (a signed 64-bit integer).
MAX_SEQ = 2**63 - 1


def register(app: FastAPI, service: PolicyService, access: Access) -> None:
    """Add the decision log's endpoint to ``app``."""
    config = service.config
    storage = service.storage

    @app.get(
        "/v1/decisions",
        response_model=DecisionLogPage,
        tags=["decision log"],
        operation_id="listDecisions",
        responses=error_responses(400, 401, 403, 422, 503),
        openapi_extra={"security": READ_SECURITY},
    )
    def query_decisions(
        request: Request,
        subject: str | None = None,
        party: str | None = None,
        since: Annotated[datetime | None, Query(description="ISO 8601; UTC when naive")] = None,
        after: Annotated[
            int | None,
            Query(ge=0, le=MAX_SEQ, description="a `seq`: entries after it (the `next` cursor)"),
        ] = None,
        limit: Annotated[
            int, Query(ge=1, description="at most `max_log_page` (1000 by default)")
        ] = 100,
    ) -> JSONResponse:
        """Logged decisions, oldest first, with their chain hashes (read or admin token
        required, unless the config says ``protect_reads = false``). A page holds at most
        ``limit`` entries; ``more`` says whether more matched, and ``next`` is the ``after`` of
        the following page."""
        access.require_reader(request)
        check_text({"subject": subject, "party": party})
        page = min(limit, config.max_log_page)
        found = storage.query_decisions(
            subject=subject,
            party=party,
            since=format_time(aware(since)) if since else None,
            after=after,
            limit=page + 1,
        )
        more = len(found) > page
        found = found[:page]
        cursor = found[-1]["seq"] if found else after
        return FastJSONResponse({"decisions": found, "next": cursor, "more": more})
