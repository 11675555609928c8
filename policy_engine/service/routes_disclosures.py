"""A subject's disclosures (``GET /v1/subjects/{subject}/disclosures``): to whom their information
was communicated, from the decision log (read or admin token, unless the config says
``protect_reads = false``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import FastAPI, Query, Request

from .auth import READ_SECURITY, Access
from .disclosures import DisclosureReport, LogIntegrityError, checked_entries, disclosure_report
from .errors import ServiceError, error_responses
from .inputs import aware, check_subject
from .policy_service import PolicyService
from .storage import format_time

_WHEN = "ISO 8601; UTC when naive"


def register(app: FastAPI, service: PolicyService, access: Access) -> None:
    """Add the disclosures endpoint to ``app``."""
    storage = service.storage

    @app.get(
        "/v1/subjects/{subject}/disclosures",
        response_model=DisclosureReport,
        tags=["decision log"],
        operation_id="getDisclosures",
        responses=error_responses(400, 401, 403, 422, 503),
        openapi_extra={"security": READ_SECURITY},
    )
    def get_disclosures(
        subject: str,
        request: Request,
        since: Annotated[datetime | None, Query(description=_WHEN)] = None,
        until: Annotated[datetime | None, Query(description=_WHEN)] = None,
    ) -> DisclosureReport:
        """Every allowed decision logged for the subject (between ``since`` and ``until``,
        inclusive), grouped by recipient party: data, purposes, dates, policy versions, rules,
        obligations, and the context as logged (masked keys stay masked). Each entry is checked
        against its own hash and MAC first; one that was changed is a 503 ``log-integrity``."""
        access.require_reader(request)
        check_subject(subject)
        low = format_time(aware(since)) if since else None
        high = format_time(aware(until)) if until else None
        rows = storage.allowed_for_subject(subject, low, high)
        try:
            entries = checked_entries(rows, storage.log_key)
        except LogIntegrityError as exc:
            raise ServiceError(503, "log-integrity", str(exc)) from None
        return disclosure_report(subject, entries, low, high)
