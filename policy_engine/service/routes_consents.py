"""The consent ledger's endpoints (``/v1/subjects/{subject}/consents``): record a grant or a
withdrawal (admin token), read a subject's consents (read or admin token, unless the config says
``protect_reads = false``)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .auth import ADMIN_SECURITY, READ_SECURITY, Access
from .errors import error_responses
from .inputs import check_subject
from .models import ConsentEventIn, ConsentRecorded, ConsentState
from .policy_service import PolicyService


def register(app: FastAPI, service: PolicyService, access: Access) -> None:
    """Add the consent ledger's endpoints to ``app``."""

    @app.post(
        "/v1/subjects/{subject}/consents",
        status_code=201,
        response_model=ConsentRecorded,
        tags=["consent ledger"],
        operation_id="recordConsent",
        responses=error_responses(400, 401, 403, 404, 413, 422, 503),
        openapi_extra={"security": ADMIN_SECURITY},
    )
    def record_consent(subject: str, body: ConsentEventIn, request: Request) -> JSONResponse:
        """Record a grant or a withdrawal (admin token required). It applies from the next
        decision on; returns the event and the subject's state after it."""
        access.require_admin(request)
        check_subject(subject)
        event = service.record_consent(subject, body)
        state = service.consents(subject)
        return JSONResponse(
            {"event": event, "state": state.model_dump(mode="json")}, status_code=201
        )

    @app.get(
        "/v1/subjects/{subject}/consents",
        response_model=ConsentState,
        tags=["consent ledger"],
        operation_id="getConsents",
        responses=error_responses(400, 401, 403, 404, 422, 503),
        openapi_extra={"security": READ_SECURITY},
    )
    def get_consents(subject: str, request: Request) -> ConsentState:
        """The purposes the subject consents to now (expired grants left out), the grants behind
        them, and every event ever recorded (read or admin token required, unless the config
        says ``protect_reads = false``)."""
        access.require_reader(request)
        check_subject(subject)
        return service.consents(subject)
