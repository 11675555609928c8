"""The operations and policy endpoints: health (``/healthz``, ``/readyz``), the policy served
(``GET /v1/policy``) and its reload (``POST /v1/policy/reload``), and Prometheus ``/metrics``.
Three registration functions, because the OpenAPI document lists the paths in the order they
were added: health first, the policy after the decision log, metrics before the ledger."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .auth import require_admin
from .errors import error_response
from .metrics import CONTENT_TYPE
from .models import ErrorResponse, PolicyInfo, ReloadResponse
from .policy_service import PolicyService


def register_health(app: FastAPI, service: PolicyService) -> None:
    """Add ``/healthz`` and ``/readyz`` to ``app``."""
    storage = service.storage

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"model": ErrorResponse}})
    def readyz() -> JSONResponse:
        """Ready when a policy is loaded and the database answers."""
        if not storage.ping():
            return error_response(503, "storage-unavailable", "the database does not answer")
        return JSONResponse(
            {"status": "ready", "policy_version": service.policy.version, "storage": storage.url}
        )


def register_policy(app: FastAPI, service: PolicyService) -> None:
    """Add ``GET /v1/policy`` and ``POST /v1/policy/reload`` to ``app``."""
    config = service.config

    @app.get("/v1/policy", response_model=PolicyInfo, tags=["policy"])
    def policy_info() -> PolicyInfo:
        """The loaded policy: version hash, load time, vocabulary trees, context schema, rules."""
        return service.info()

    @app.post(
        "/v1/policy/reload",
        response_model=ReloadResponse,
        tags=["policy"],
        responses={
            401: {"model": ErrorResponse},
            403: {"model": ErrorResponse},
            422: {
                "model": ErrorResponse,
                "description": "the new rules do not load; the policy in place keeps serving",
            },
        },
    )
    def reload_policy(request: Request) -> JSONResponse:
        """Load the rule files again (admin token required). They are parsed, checked and
        compiled before they replace the policy being served; rules that do not load are
        refused with their errors (422, each with file, line and column) and the policy in
        place keeps serving. Requests in flight finish on the version they started with."""
        require_admin(config, request)
        return JSONResponse(service.reload("api"))


def register_metrics(app: FastAPI, service: PolicyService) -> None:
    """Add Prometheus ``/metrics`` to ``app``."""
    metrics = service.metrics

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus metrics"}},
    )
    def prometheus_metrics() -> Response:
        """Prometheus metrics (text exposition format): decisions by effect, decision latency,
        policy reloads by outcome, decision-log write failures, the policy version served."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)
