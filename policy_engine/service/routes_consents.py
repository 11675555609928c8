"""The consent ledger's endpoints (``/v1/subjects/{subject}/consents``): record a grant or a
withdrawal (admin), read a subject's consents."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .auth import READER_ERRORS, require_admin, require_reader
from .errors import ERRORS
from .inputs import check_subject
from .models import ConsentEventIn, ConsentState, ErrorResponse
from .policy_service import PolicyService


def register(app: FastAPI, service: PolicyService) -> None:
    """Add the consent ledger's endpoints to ``app``."""
    config = service.config

    @app.post(
        "/v1/subjects/{subject}/consents",
        status_code=201,
        tags=["consent ledger"],
        responses={**ERRORS, 401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}},
    )
    def record_consent(subject: str, body: ConsentEventIn, request: Request) -> JSONResponse:
        """Record a grant or a withdrawal (admin token required). It applies from the next
        decision on; returns the event and the subject's state after it."""
        require_admin(config, request)
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
        responses=READER_ERRORS,
    )
    def get_consents(subject: str, request: Request) -> ConsentState:
        """The purposes the subject consents to now (expired grants left out), the grants behind
        them, and every event ever recorded (with ``protect_reads`` in the config, for the admin
        token only)."""
        require_reader(config, request)
        check_subject(subject)
        return service.consents(subject)
