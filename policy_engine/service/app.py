"""The HTTP service: a thin shell over :func:`policy_engine.load_policy` and ``Policy.decide``,
with the consent ledger and the decision log kept in :mod:`.storage`."""

from __future__ import annotations

import hmac
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from .. import __version__
from ..api import Policy, load_policy
from ..ast import TermSetType
from ..decision import Decision
from ..errors import Diagnostic, PolicyError, UnknownTermError, did_you_mean
from .config import ADMIN_TOKEN_ENV, ServiceConfig
from .ledger import consent_state
from .models import (
    BatchRequest,
    BatchResponse,
    ConsentEventIn,
    ConsentState,
    DecisionLogPage,
    DecisionRequest,
    DecisionResponse,
    ErrorResponse,
    ExplainResponse,
    PolicyInfo,
)
from .storage import Storage, StorageError, format_time, now_text, open_storage

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CLOCK_SKEW = timedelta(minutes=5)
MASK = "***"
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "unknown term or bad context"},
    413: {"model": ErrorResponse, "description": "body or batch too large"},
    422: {"model": ErrorResponse, "description": "malformed request body"},
    503: {"model": ErrorResponse, "description": "the database is unavailable"},
}


class ServiceError(Exception):
    """An HTTP error with the library's diagnostic shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        help: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.diagnostic = Diagnostic(code, message, None, help)
        self.headers = headers


def _error_body(diagnostics: list[Diagnostic], notes: list[str] | None = None) -> dict[str, Any]:
    first = diagnostics[0].message if diagnostics else "bad request"
    if notes:
        first += f" ({'; '.join(notes)})"
    return {
        "error": first,
        "diagnostics": [
            {"code": d.code, "message": d.message, "help": d.help, "severity": d.severity}
            for d in diagnostics
        ],
    }


def _error(status: int, code: str, message: str, help: str | None = None) -> JSONResponse:
    return JSONResponse(_error_body([Diagnostic(code, message, None, help)]), status_code=status)


class BodyLimit:
    """Pure ASGI middleware: a body over ``limit`` bytes gets 413 before any route sees it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    await _too_large(scope, receive, send, "bad Content-Length header", 400)
                    return
                if declared > self.limit:
                    await _too_large(scope, receive, send, self._message(), 413)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away: pass the disconnect on.
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _too_large(scope, receive, send, self._message(), 413)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        await self.app(
            scope, _replay([{"type": "http.request", "body": body, "more_body": False}]), send
        )

    def _message(self) -> str:
        return f"request body is larger than the limit of {self.limit} bytes"


def _replay(messages: list[Message]) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        return {"type": "http.disconnect"}

    return receive


async def _too_large(scope: Scope, receive: Receive, send: Send, message: str, status: int) -> None:
    code = "body-too-large" if status == 413 else "bad-request"
    response = _error(status, code, message)
    response.headers["connection"] = "close"
    await response(scope, receive, send)


class PolicyService:
    """The loaded policy, the storage and the settings; the routes call into this."""

    def __init__(self, policy_path: str, storage: Storage, config: ServiceConfig) -> None:
        self.path = policy_path
        self.policy: Policy = load_policy(policy_path)
        self.loaded_at = now_text()
        self.storage = storage
        self.config = config
        compiled = self.policy.compiled
        key = compiled.context.get(config.consent_context_key)
        ledger_key = (
            key is not None
            and isinstance(key.decl.type, TermSetType)
            and key.decl.type.kind == "purpose"
        )
        self.consent_key: str | None = config.consent_context_key if ledger_key else None
        self.purposes = compiled.hierarchies["purpose"]

    # ---- consent ------------------------------------------------------------------------------

    def consents(self, subject: str) -> ConsentState:
        events = self.storage.consent_events(subject)
        state = consent_state(events, self.purposes, now_text())
        return ConsentState.model_validate(
            {
                "subject": subject,
                "consented_purposes": sorted(state),
                "active": list(state.values()),
                "history": events,
            }
        )

    def consented_purposes(self, subject: str) -> list[str]:
        events = self.storage.consent_events(subject)
        state = consent_state(events, self.purposes, now_text())
        # A purpose the policy no longer declares cannot be used in a request.
        return sorted(p for p in state if p in self.purposes)

    def record_consent(self, subject: str, event: ConsentEventIn) -> dict[str, Any]:
        known = self.purposes
        for purpose in event.purposes:
            if purpose not in known:
                raise UnknownTermError(
                    "purpose",
                    purpose,
                    did_you_mean(purpose, known.terms),
                    f"unknown purpose `{purpose}`",
                )
        now = datetime.now(UTC)
        moment = _aware(event.timestamp) if event.timestamp else now
        if moment > now + CLOCK_SKEW:
            raise ServiceError(
                422,
                "timestamp-in-future",
                f"`timestamp` {format_time(moment)} is in the future",
                "record an event when it happens; use `expires_at` for a consent that lapses",
            )
        if event.event == "withdraw" and event.expires_at is not None:
            raise ServiceError(422, "bad-request", "`expires_at` goes with a grant, not a withdraw")
        expires = format_time(_aware(event.expires_at)) if event.expires_at else None
        return self.storage.append_consent(
            subject,
            {
                "event": event.event,
                "purposes": list(dict.fromkeys(event.purposes)),
                "recorded_by": event.recorded_by,
                "source": event.source,
                "timestamp": format_time(moment),
                "expires_at": expires,
            },
        )

    # ---- decisions ----------------------------------------------------------------------------

    def decide(
        self, requests: list[DecisionRequest]
    ) -> list[tuple[Decision, dict[str, Any], dict[str, Any]]]:
        """Decide every request (all or none: the first bad one raises, naming its position),
        then log them together. Returns (decision, response body, log entry) triples."""
        ledger: dict[str, list[str]] = {}
        decided: list[tuple[Decision, dict[str, Any], dict[str, Any]]] = []
        many = len(requests) > 1
        for index, request in enumerate(requests):
            context = dict(request.context) if request.context is not None else {}
            sources: dict[str, str] = {}
            key = self.consent_key
            if key is not None:
                if key in context:
                    sources[key] = "request"
                elif request.subject is not None:
                    if request.subject not in ledger:
                        ledger[request.subject] = self.consented_purposes(request.subject)
                    context[key] = ledger[request.subject]
                    sources[key] = "consent-ledger"
            try:
                decision = self.policy.decide(request.party, request.data, request.purpose, context)
            except PolicyError as exc:
                if many:
                    exc.add_note(f"in request {index}")
                raise
            decision_id = str(uuid.uuid4())
            body = decision.model_dump()
            body["decision_id"] = decision_id
            body["subject"] = request.subject
            body["context_sources"] = sources
            decided.append((decision, body, self._entry(decision_id, decision, body)))
        if self.config.log_decisions and decided:
            self.storage.append_decisions([entry for _, _, entry in decided])
        return decided

    def _entry(self, decision_id: str, decision: Decision, body: dict[str, Any]) -> dict[str, Any]:
        request = dict(body["request"])
        context = dict(request["context"])
        for key in self.config.mask_context_keys:
            if key in context:
                context[key] = MASK
        request["context"] = context
        return {
            "id": decision_id,
            "time": now_text(),
            "subject": body["subject"],
            "party": decision.party,
            "data": decision.data,
            "purpose": decision.purpose,
            "request": request,
            "context_sources": body["context_sources"],
            "effect": decision.effect,
            "obligations": list(decision.obligations),
            "reasons": [reason.id for reason in decision.reasons],
            "missing": list(decision.missing),
            "policy_version": decision.policy_version,
        }

    # ---- the policy ---------------------------------------------------------------------------

    def info(self) -> PolicyInfo:
        compiled = self.policy.compiled
        vocabulary = {
            kind: [
                {"name": term, "parents": hierarchy.parents(term)}
                for term in self.policy.terms(kind)
            ]
            for kind, hierarchy in sorted(compiled.hierarchies.items())
        }
        context = [
            {
                "name": name,
                "type": key.decl.type.describe(),
                "default": compiled.default_values.get(name),
            }
            for name, key in sorted(compiled.context.items())
        ]
        return PolicyInfo.model_validate(
            {
                "version": self.policy.version,
                "loaded_at": self.loaded_at,
                "path": self.path,
                "vocabulary": vocabulary,
                "context": context,
                "consent_context_key": self.consent_key,
                "rules": self.policy.rules,
            }
        )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _validation_response(exc: RequestValidationError) -> JSONResponse:
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
        message = str(error.get("msg", "invalid")).rstrip(".")
        message = message[:1].lower() + message[1:]
        where = f"`{place}`: " if place else "the request body: "
        hint = None if place else "send a JSON object with Content-Type: application/json"
        if error.get("type") == "extra_forbidden":
            hint = "remove it; see /openapi.json for the fields this endpoint takes"
        diagnostics.append(Diagnostic("bad-request", f"{where}{message}", None, hint))
    return JSONResponse(_error_body(diagnostics[:50]), status_code=status)


def create_app(
    policy_path: str | os.PathLike[str],
    db_url: str | None = None,
    config: ServiceConfig | None = None,
) -> FastAPI:
    """The service for the policy at ``policy_path``, storing its ledger and log at ``db_url``
    (SQLite file ``policy-engine.db`` in the working directory by default). Loads the policy and
    opens the database now, so that a broken policy or database fails before serving."""
    config = config or ServiceConfig()
    storage = open_storage(db_url)
    try:
        service = PolicyService(os.fspath(policy_path), storage, config)
    except BaseException:
        storage.close()
        raise

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        storage.close()

    app = FastAPI(
        title="policy-engine",
        version=__version__,
        description="Privacy disclosure decisions over HTTP, with a consent ledger and a "
        "tamper-evident decision log.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)

    @app.exception_handler(PolicyError)
    async def policy_error(request: Request, exc: PolicyError) -> JSONResponse:
        notes = list(getattr(exc, "__notes__", []))
        return JSONResponse(_error_body(exc.diagnostics, notes), status_code=400)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(
            _error_body([exc.diagnostic]), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(StorageError)
    async def storage_error(request: Request, exc: StorageError) -> JSONResponse:
        return _error(
            503,
            "storage-unavailable",
            "the decision log or consent ledger could not be reached; nothing was decided",
            str(exc),
        )

    def require_admin(request: Request) -> None:
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

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"model": ErrorResponse}})
    def readyz() -> JSONResponse:
        """Ready when a policy is loaded and the database answers."""
        if not storage.ping():
            return _error(503, "storage-unavailable", "the database does not answer")
        return JSONResponse(
            {"status": "ready", "policy_version": service.policy.version, "storage": storage.url}
        )

    @app.post(
        "/v1/decisions", response_model=DecisionResponse, tags=["decisions"], responses=ERRORS
    )
    def decide(body: DecisionRequest) -> JSONResponse:
        """Decide one request; the decision is logged before it is returned."""
        (_, response, _), *_ = service.decide([body])
        return JSONResponse(response)

    @app.post(
        "/v1/decisions/batch", response_model=BatchResponse, tags=["decisions"], responses=ERRORS
    )
    def decide_batch(body: BatchRequest) -> JSONResponse:
        """Decide many requests at once, in order (at most ``max_batch``, 10,000 by default;
        more get 413). One bad request fails the whole batch (400, naming its position) and
        nothing is logged."""
        if len(body.requests) > config.max_batch:
            raise ServiceError(
                413,
                "batch-too-large",
                f"a batch holds at most {config.max_batch} requests, got {len(body.requests)}",
                "split it into several batches",
            )
        decided = service.decide(body.requests)
        return JSONResponse({"decisions": [response for _, response, _ in decided]})

    @app.post("/v1/explain", response_model=ExplainResponse, tags=["decisions"], responses=ERRORS)
    def explain(body: DecisionRequest) -> JSONResponse:
        """Decide one request (logged like any other) and return its full trace as well."""
        (decision, response, _), *_ = service.decide([body])
        trace = decision.trace()
        return JSONResponse(
            {
                "decision": response,
                "trace": trace.model_dump(mode="json"),
                "explanation": decision.explain(),
            }
        )

    @app.get("/v1/decisions", response_model=DecisionLogPage, tags=["decision log"])
    def query_decisions(
        subject: str | None = None,
        party: str | None = None,
        since: Annotated[datetime | None, Query(description="ISO 8601; UTC when naive")] = None,
        limit: Annotated[
            int, Query(ge=1, description="at most `max_log_page` (1000 by default)")
        ] = 100,
    ) -> JSONResponse:
        """Logged decisions, oldest first, with their chain hashes."""
        found = storage.query_decisions(
            subject=subject,
            party=party,
            since=format_time(_aware(since)) if since else None,
            limit=min(limit, config.max_log_page),
        )
        return JSONResponse({"decisions": found})

    @app.get("/v1/policy", response_model=PolicyInfo, tags=["policy"])
    def policy_info() -> PolicyInfo:
        """The loaded policy: version hash, load time, vocabulary trees, context schema, rules."""
        return service.info()

    @app.post(
        "/v1/subjects/{subject}/consents",
        status_code=201,
        tags=["consent ledger"],
        responses={**ERRORS, 401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}},
    )
    def record_consent(subject: str, body: ConsentEventIn, request: Request) -> JSONResponse:
        """Record a grant or a withdrawal (admin token required). It applies from the next
        decision on; returns the event and the subject's state after it."""
        require_admin(request)
        _check_subject(subject)
        event = service.record_consent(subject, body)
        state = service.consents(subject)
        return JSONResponse(
            {"event": event, "state": state.model_dump(mode="json")}, status_code=201
        )

    @app.get(
        "/v1/subjects/{subject}/consents", response_model=ConsentState, tags=["consent ledger"]
    )
    def get_consents(subject: str) -> ConsentState:
        """The purposes the subject consents to now (expired grants left out), the grants behind
        them, and every event ever recorded."""
        _check_subject(subject)
        return service.consents(subject)

    return app


def _check_subject(subject: str) -> None:
    if not 1 <= len(subject) <= 200:
        raise ServiceError(422, "bad-request", "a subject is 1 to 200 characters long")
