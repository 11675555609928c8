"""The operations and policy endpoints: health (``/healthz``, ``/readyz``), the policy served
(``GET /v1/policy``) and its reload (``POST /v1/policy/reload``), and Prometheus ``/metrics``.
Three registration functions, because the OpenAPI document lists the paths in the order they
were added: health first, the policy after the decision log, metrics before the ledger."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .auth import ADMIN_SECURITY, OPTIONAL_SECURITY, Access
from .errors import error_response, error_responses
from .metrics import CONTENT_TYPE
from .models import PolicyInfo, ReadyResponse, ReloadResponse
from .policy_service import PolicyService


def register_health(app: FastAPI, service: PolicyService, access: Access) -> None:
    """Add ``/healthz`` and ``/readyz`` to ``app``."""
    storage = service.storage

    @app.get("/healthz", tags=["operations"], operation_id="health", responses=error_responses(400))
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        operation_id="ready",
        response_model=ReadyResponse,
        responses=error_responses(400, 503),
        openapi_extra={"security": OPTIONAL_SECURITY},
    )
    def readyz(request: Request) -> JSONResponse:
        """Ready when a policy is loaded and the database answers. The database URL only with
        the read or the admin token."""
        if not storage.ping():
            return error_response(503, "storage-unavailable", "the database does not answer")
        ready = {"status": "ready", "policy_version": service.policy.version}
        if access.may_read(request):
            ready["storage"] = storage.url
        return JSONResponse(ready)


def register_policy(app: FastAPI, service: PolicyService, access: Access) -> None:
    """Add ``GET /v1/policy`` and ``POST /v1/policy/reload`` to ``app``."""

    @app.get(
        "/v1/policy",
        response_model=PolicyInfo,
        tags=["policy"],
        operation_id="getPolicy",
        responses=error_responses(400),
        openapi_extra={"security": OPTIONAL_SECURITY},
    )
    def policy_info(request: Request) -> PolicyInfo:
        """The loaded policy: version hash, load time, vocabulary trees, context schema, rules;
        where the server reads it (``path``) only with the read or the admin token."""
        info = service.info()
        return info if access.may_read(request) else info.model_copy(update={"path": None})

    @app.post(
        "/v1/policy/reload",
        response_model=ReloadResponse,
        tags=["policy"],
        operation_id="reloadPolicy",
        responses=error_responses(
            400,
            401,
            403,
            413,
            422,
            s422="the new rules do not load; the policy in place keeps serving",
        ),
        openapi_extra={"security": ADMIN_SECURITY},
    )
    def reload_policy(request: Request) -> JSONResponse:
        """Load the rule files again (admin token required). They are parsed, checked and
        compiled before they replace the policy being served; rules that do not load are
        refused with their errors (422, each with file, line and column) and the policy in
        place keeps serving. Requests in flight finish on the version they started with."""
        access.require_admin(request)
        return JSONResponse(service.reload("api"))


def register_metrics(app: FastAPI, service: PolicyService) -> None:
    """Add Prometheus ``/metrics`` to ``app``."""
    metrics = service.metrics

    @app.get(
        "/metrics",
        tags=["operations"],
        operation_id="metrics",
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus metrics"},
            **error_responses(400),
        },
    )
    def prometheus_metrics() -> Response:
        """Prometheus metrics (text exposition format): decisions by effect, decision latency,
        policy reloads by outcome, decision-log write failures, the policy version served."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)
