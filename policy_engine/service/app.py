"""The HTTP service: a thin shell over :func:`policy_engine.load_policy` and ``Policy.decide``,
with the consent ledger and the decision log kept in :mod:`.storage`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import json
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio.to_thread
import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..api import Policy, load_policy
from ..engine.decision import Decision
from ..language.errors import Diagnostic, PolicyError, UnknownTermError, did_you_mean
from ..language.files import POLICY_SUFFIX
from .access_log import AccessLog, default_access_logging, note
from .body import add_request_schemas, json_body, request_body
from .config import ADMIN_TOKEN_ENV, ServiceConfig
from .ledger import consent_state
from .log_writer import DecisionLogWriter
from .metrics import CONTENT_TYPE, ServiceMetrics
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
    ReloadResponse,
)
from .storage import PlainEntry, Storage, StorageError, format_time, now_text, open_storage

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

logger = logging.getLogger("policy_engine.service")

# The decision endpoints' bodies, parsed and validated in one pass (see .body).
DecisionBody = Annotated[DecisionRequest, Depends(json_body(DecisionRequest))]
BatchBody = Annotated[BatchRequest, Depends(json_body(BatchRequest))]

CLOCK_SKEW = timedelta(minutes=5)
MASK = "***"
#: Up to this many requests that need no ledger read are decided on the event loop itself.
INLINE_DECISIONS = 16

#: (decision, response body, log entry or None when the log is off)
Decided = tuple[Decision, dict[str, Any], dict[str, Any] | None]
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
        "diagnostics": [_diagnostic(d) for d in diagnostics],
    }


def _diagnostic(d: Diagnostic) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": d.code,
        "message": d.message,
        "help": d.help,
        "severity": d.severity,
    }
    if d.span is not None:
        out.update(file=d.span.source.name, line=d.span.line, column=d.span.column)
    return out


def new_decision_ids(count: int) -> list[str]:
    """``count`` new decision ids: UUIDs of version 7 (RFC 9562) in their usual text form, the
    current Unix time in milliseconds followed by 74 random bits, all from one ``os.urandom``
    call.

    Version 7 rather than 4 because ids that grow with time are appended at the end of the
    decision log's unique index on ``id``: random ones land on a random page of it each, and
    every such page is written again at each commit, which made the log's appends twice as slow
    once it held some 100,000 entries. The text is laid out for all ids at once, a column of
    each id's 36 characters at a time (C-level slices), in a third of what formatting each id
    took (which showed in a batch)."""
    stamp = (time.time_ns() // 1_000_000).to_bytes(6, "big")
    raw = bytearray(os.urandom(16 * count))
    for at in range(6):
        raw[at::16] = stamp[at : at + 1] * count
    raw[6::16] = bytes(raw[6::16]).translate(_VERSION_7)
    raw[8::16] = bytes(raw[8::16]).translate(_RFC_VARIANT)
    digits = raw.hex().encode("ascii")
    text = bytearray(b"-" * (36 * count))
    for digit, at in enumerate(_DIGIT_PLACES):
        text[at::36] = digits[digit::32]
    joined = text.decode("ascii")
    return [joined[i : i + 36] for i in range(0, 36 * count, 36)]


_VERSION_7 = bytes(b & 0x0F | 0x70 for b in range(256))
_RFC_VARIANT = bytes(b & 0x3F | 0x80 for b in range(256))
#: Where the 32 hex digits of a UUID go in its 36 characters (8-4-4-4-12, dashes between).
_DIGIT_PLACES = [i for i in range(36) if i not in (8, 13, 18, 23)]


#: The cyclic collector's thresholds in the server (``gc.set_threshold``): a collection of the
#: youngest generation after 50,000 new container objects instead of 700, of the middle one after
#: 20 of those, of everything after 100 of those. A logged batch of a thousand decisions keeps
#: some 30,000 new objects (requests, bodies, log entries) alive until its entries commit; at the
#: default thresholds the collector walked them dozens of times over per batch, and took a fifth
#: of the service's CPU time. Garbage cycles are still collected, some 50,000 allocations late.
GC_THRESHOLDS = (50_000, 20, 100)


def settle_heap() -> None:
    """Collect, then freeze what is left (``gc.freeze``): the loaded policy, the web framework,
    everything the server holds for good. Python's full collections then stop walking those
    objects again and again; they had taken some 40 % of a batch of 1,000 decisions (each batch
    allocates enough to trigger one). Done when the server starts, and after each reload; the
    collector's thresholds are set to :data:`GC_THRESHOLDS` at the same time."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _entries(decided: list[Decided]) -> list[dict[str, Any]]:
    return [entry for _, _, entry in decided if entry is not None]


def dump_json(content: Any) -> bytes:
    """JSON for a response body: orjson (several times faster than the standard library on a
    batch), or the standard library for what orjson cannot write (integers beyond 64 bits)."""
    try:
        return orjson.dumps(content)
    except TypeError:
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8")


class FastJSONResponse(JSONResponse):
    """A JSON response rendered by :func:`dump_json`."""

    def render(self, content: Any) -> bytes:
        return dump_json(content)


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


class DecisionsInFlight:
    """Pure ASGI middleware: tells the log writer which requests to a deciding endpoint are being
    served, so that it can group their entries (:meth:`DecisionLogWriter.expecting`)."""

    PATHS = frozenset({"/v1/decisions", "/v1/decisions/batch", "/v1/explain"})

    def __init__(self, app: ASGIApp, writer: DecisionLogWriter) -> None:
        self.app = app
        self.writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.PATHS:
            await self.app(scope, receive, send)
            return
        with self.writer.expecting():
            await self.app(scope, receive, send)


class ReloadRefused(Exception):
    """A reload whose new rules do not load; the policy being served stays."""

    def __init__(self, diagnostics: list[Diagnostic], serving: str) -> None:
        super().__init__(diagnostics[0].message if diagnostics else "the policy does not load")
        self.diagnostics = diagnostics
        self.serving = serving


@dataclass(frozen=True)
class LoadedPolicy:
    """One loaded policy and what the service derives from it; replaced whole on reload, so a
    request that took a reference at its start finishes on the version it started with."""

    policy: Policy
    loaded_at: str
    consent_key: str | None
    purposes: Any

    @classmethod
    def of(cls, policy: Policy, config: ServiceConfig) -> LoadedPolicy:
        # The ledger fills the key the policy marks `from consent ledger` (the checker allows one,
        # a `set of purpose`); a policy that marks none gets nothing from the ledger.
        return cls(policy, now_text(), policy.ledger_key, policy.compiled.hierarchies["purpose"])


def policy_files_fingerprint(path: str) -> tuple[tuple[str, int, int], ...]:
    """Name, mtime and size of every rule file at ``path``: what the watcher compares."""
    root = Path(path)
    try:
        files = [root] if root.is_file() else sorted(root.rglob(f"*{POLICY_SUFFIX}"))
        out = []
        for file in files:
            stat = file.stat()
            out.append((str(file), stat.st_mtime_ns, stat.st_size))
        return tuple(out)
    except OSError:
        return ()


class PolicyService:
    """The loaded policy, the storage and the settings; the routes call into this."""

    def __init__(
        self,
        policy_path: str,
        storage: Storage,
        config: ServiceConfig,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.path = policy_path
        self.storage = storage
        self.config = config
        self.metrics = metrics or ServiceMetrics()
        self._reload_lock = threading.Lock()
        self.fingerprint = policy_files_fingerprint(policy_path)
        # The one attribute a reload swaps (a single assignment, atomic under the GIL).
        self.current: LoadedPolicy = LoadedPolicy.of(load_policy(policy_path), config)
        self.metrics.policy_loaded_now(self.current.policy.version, time.time())
        # Every decision of the process is logged through this one writer (group commit).
        self.log_writer = DecisionLogWriter(storage) if config.log_decisions else None

    @property
    def policy(self) -> Policy:
        return self.current.policy

    @property
    def loaded_at(self) -> str:
        return self.current.loaded_at

    # ---- reload -------------------------------------------------------------------------------

    def reload(self, trigger: str) -> dict[str, Any]:
        """Load, check and compile the rule files again, and serve them if they load; otherwise
        raise :class:`ReloadRefused` with their errors and keep serving the policy in place.
        Reloads run one at a time; requests in flight keep the policy they started with."""
        with self._reload_lock:
            previous = self.current
            fingerprint = policy_files_fingerprint(self.path)
            try:
                policy = load_policy(self.path)
            except PolicyError as exc:
                self.fingerprint = fingerprint
                self.metrics.reloads.inc(outcome="failure", trigger=trigger)
                logger.error(
                    "policy reload (%s) refused; still serving version %s:\n%s",
                    trigger,
                    previous.policy.version,
                    "\n\n".join(d.render() for d in exc.diagnostics),
                )
                raise ReloadRefused(exc.diagnostics, previous.policy.version) from None
            except Exception as exc:
                self.metrics.reloads.inc(outcome="failure", trigger=trigger)
                logger.exception("policy reload (%s) failed", trigger)
                message = f"the policy could not be loaded: {exc}"
                raise ReloadRefused(
                    [Diagnostic("reload-failed", message)], previous.policy.version
                ) from None
            loaded = LoadedPolicy.of(policy, self.config)
            self.current = loaded
            self.fingerprint = fingerprint
            self.metrics.reloads.inc(outcome="success", trigger=trigger)
            self.metrics.policy_loaded_now(policy.version, time.time())
        if gc.get_freeze_count():
            # The server froze its heap at start (settle_heap): collect the policy just replaced
            # (frozen objects are never collected), then freeze the new one in its turn.
            gc.unfreeze()
            settle_heap()
        changed = policy.version != previous.policy.version
        logger.info(
            "policy reloaded (%s): version %s%s",
            trigger,
            policy.version,
            f" (was {previous.policy.version})" if changed else " (unchanged)",
        )
        return {
            "version": policy.version,
            "previous_version": previous.policy.version,
            "changed": changed,
            "loaded_at": loaded.loaded_at,
            "warnings": [_diagnostic(d) for d in policy.warnings],
        }

    def reload_quietly(self, trigger: str) -> None:
        """A reload nobody waits for (signal, watcher): the outcome is logged and counted."""
        with contextlib.suppress(ReloadRefused):
            self.reload(trigger)

    def files_changed(self) -> bool:
        return policy_files_fingerprint(self.path) != self.fingerprint

    # ---- consent ------------------------------------------------------------------------------

    def consents(self, subject: str) -> ConsentState:
        events = self.storage.consent_events(subject)
        state = consent_state(events, self.current.purposes, now_text())
        return ConsentState.model_validate(
            {
                "subject": subject,
                "consented_purposes": sorted(state),
                "active": list(state.values()),
                "history": events,
            }
        )

    def consented_purposes(self, subject: str, loaded: LoadedPolicy | None = None) -> list[str]:
        purposes = (loaded or self.current).purposes
        events = self.storage.consent_events(subject)
        state = consent_state(events, purposes, now_text())
        # A purpose the policy no longer declares cannot be used in a request.
        return sorted(p for p in state if p in purposes)

    def record_consent(self, subject: str, event: ConsentEventIn) -> dict[str, Any]:
        known = self.current.purposes
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

    def decide(self, requests: Sequence[DecisionRequest]) -> list[Decided]:
        """Decide every request (all or none: the first bad one raises, naming its position),
        then log them together, waiting until they are committed. Returns (decision, response
        body, log entry or None when the log is off) triples."""
        decided = self.decide_unlogged(requests)
        if self.log_writer is not None:
            try:
                self.log_writer.append_blocking(_entries(decided))
            except Exception:
                self.metrics.log_write_failures.inc()
                raise
        self._count(decided)
        return decided

    async def decide_async(self, requests: Sequence[DecisionRequest]) -> list[Decided]:
        """:meth:`decide` for the event loop: a few requests that need no ledger read are
        decided right here (microseconds); a batch, or a request whose consent comes from the
        ledger (a database read), in a worker thread. The log write is awaited, never blocked
        on, so the loop serves other requests while the group holding these entries commits."""
        if len(requests) > INLINE_DECISIONS or self._reads_ledger(requests):
            decided = await anyio.to_thread.run_sync(self.decide_unlogged, requests)
        else:
            decided = self.decide_unlogged(requests)
        if self.log_writer is not None:
            try:
                await self.log_writer.append(_entries(decided))
            except Exception:
                self.metrics.log_write_failures.inc()
                raise
        self._count(decided)
        return decided

    def _reads_ledger(self, requests: Sequence[DecisionRequest]) -> bool:
        key = self.current.consent_key
        if key is None:
            return False
        return any(
            r.subject is not None and (r.context is None or key not in r.context) for r in requests
        )

    def decide_unlogged(self, requests: Sequence[DecisionRequest]) -> list[Decided]:
        """Decide every request and build its response body, and its log entry when the log is
        on (the entries of one call share one ``time``, when the call decided); reads the consent
        ledger where a request needs it, writes nothing."""
        # The policy this call decides with from start to end, whatever a reload does meanwhile.
        loaded = self.current
        ledger: dict[str, list[str]] = {}
        decided: list[Decided] = []
        many = len(requests) > 1
        logging_on = self.log_writer is not None
        ids = new_decision_ids(len(requests))
        moment = now_text()
        key = loaded.consent_key
        decide = loaded.policy.decide
        for index, request in enumerate(requests):
            context = request.context
            sources: dict[str, str] = {}
            if key is not None:
                if context is not None and key in context:
                    sources[key] = "request"
                elif request.subject is not None:
                    purposes = ledger.get(request.subject)
                    if purposes is None:
                        purposes = ledger[request.subject] = self.consented_purposes(
                            request.subject, loaded
                        )
                    context = {**(context or {}), key: purposes}
                    sources[key] = "consent-ledger"
            try:
                decision = decide(request.party, request.data, request.purpose, context)
            except PolicyError as exc:
                if many:
                    exc.add_note(f"in request {index}")
                raise
            body = decision.model_dump()
            body["decision_id"] = ids[index]
            body["subject"] = request.subject
            body["context_sources"] = sources
            entry = self._entry(ids[index], moment, decision, body) if logging_on else None
            decided.append((decision, body, entry))
        return decided

    def _count(self, decided: list[Decided]) -> None:
        allowed = sum(1 for decision, _, _ in decided if decision.allowed)
        if allowed:
            self.metrics.decisions.inc(allowed, effect="allow")
        if len(decided) > allowed:
            self.metrics.decisions.inc(len(decided) - allowed, effect="deny")

    def _entry(
        self, decision_id: str, moment: str, decision: Decision, body: dict[str, Any]
    ) -> PlainEntry:
        """The decision's log entry. It shares the response body's lists and request (both are
        only ever serialized), except that a context with masked keys is copied."""
        request = body["request"]
        if self.config.mask_context_keys:
            context = request["context"]
            masked = [key for key in self.config.mask_context_keys if key in context]
            if masked:
                request = {**request, "context": {**context, **dict.fromkeys(masked, MASK)}}
        return PlainEntry(
            id=decision_id,
            time=moment,
            subject=body["subject"],
            party=decision.party,
            data=decision.data,
            purpose=decision.purpose,
            request=request,
            context_sources=body["context_sources"],
            effect=decision.effect,
            obligations=body["obligations"],
            reasons=[reason.id for reason in decision.reasons],
            missing=body["missing"],
            policy_version=decision.policy_version,
        )

    async def close(self) -> None:
        """Write the log entries still queued and stop the log writer."""
        if self.log_writer is not None:
            await self.log_writer.close()

    # ---- the policy ---------------------------------------------------------------------------

    def info(self) -> PolicyInfo:
        loaded = self.current
        policy = loaded.policy
        compiled = policy.compiled
        vocabulary = {
            kind: [
                {"name": term, "parents": hierarchy.parents(term)} for term in policy.terms(kind)
            ]
            for kind, hierarchy in sorted(compiled.hierarchies.items())
        }
        context = [
            {
                "name": name,
                "type": key.decl.type.describe(),
                "default": compiled.default_values.get(name),
                "source": "consent-ledger" if name == loaded.consent_key else "request",
            }
            for name, key in sorted(compiled.context.items())
        ]
        return PolicyInfo.model_validate(
            {
                "version": policy.version,
                "loaded_at": loaded.loaded_at,
                "path": self.path,
                "vocabulary": vocabulary,
                "context": context,
                "consent_context_key": loaded.consent_key,
                "rules": policy.rules,
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
    _default_logging()
    default_access_logging()
    metrics = ServiceMetrics()
    storage = open_storage(db_url)
    try:
        service = PolicyService(os.fspath(policy_path), storage, config, metrics)
    except BaseException:
        storage.close()
        raise

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        pending: set[asyncio.Future[None]] = set()
        settle_heap()

        def schedule_reload() -> None:
            # SIGHUP: reload in a worker thread; the event loop keeps answering meanwhile.
            future = loop.run_in_executor(None, service.reload_quietly, "signal")
            pending.add(future)
            future.add_done_callback(pending.discard)

        hangup = False
        sighup = getattr(signal, "SIGHUP", None)
        if sighup is not None:
            try:
                loop.add_signal_handler(sighup, schedule_reload)
                hangup = True
            except (NotImplementedError, RuntimeError, ValueError) as exc:
                logger.warning("cannot reload on SIGHUP here: %s", exc)
        watcher = (
            asyncio.create_task(_watch(service, config.watch_interval))
            if config.watch_interval > 0
            else None
        )
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            if hangup and sighup is not None:
                loop.remove_signal_handler(sighup)
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            await service.close()
            storage.close()

    app = FastAPI(
        title="policy-engine",
        version=__version__,
        description="Privacy disclosure decisions over HTTP, with a consent ledger and a "
        "tamper-evident decision log.",
        lifespan=lifespan,
    )
    app.state.service = service
    add_request_schemas(app, [DecisionRequest, BatchRequest])
    if service.log_writer is not None:
        app.add_middleware(DecisionsInFlight, writer=service.log_writer)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    # Added last, so outermost: it also logs the 413s of the body limit.
    app.add_middleware(AccessLog)

    @app.exception_handler(PolicyError)
    async def policy_error(request: Request, exc: PolicyError) -> JSONResponse:
        notes = list(getattr(exc, "__notes__", []))
        return JSONResponse(_error_body(exc.diagnostics, notes), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # The framework's own refusals (a body that is not UTF-8, an unknown path, a method the
        # route does not take) in the service's error format, like every other error.
        code = {
            400: "bad-request",
            404: "not-found",
            405: "method-not-allowed",
        }.get(exc.status_code, "http-error")
        message = str(exc.detail).rstrip(".").lower() if exc.detail else "request refused"
        response = _error(exc.status_code, code, message)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(
            _error_body([exc.diagnostic]), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(ReloadRefused)
    async def reload_refused(request: Request, exc: ReloadRefused) -> JSONResponse:
        body = _error_body(exc.diagnostics)
        errors = [d for d in exc.diagnostics if d.severity == "error"] or exc.diagnostics
        first = errors[0].message if errors else "the policy does not load"
        body["error"] = f"policy reload refused: {first}"
        body["policy_version"] = exc.serving
        return JSONResponse(body, status_code=422)

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

    def require_reader(request: Request) -> None:
        if config.protect_reads:
            require_admin(request)

    @contextlib.contextmanager
    def timed(endpoint: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            metrics.latency.observe(time.perf_counter() - start, endpoint=endpoint)

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

    def decision_route(
        path: str, response: type[BaseModel], body: type[BaseModel]
    ) -> Callable[[Endpoint], Endpoint]:
        """A decision endpoint: its body read by ``service.body``, and declared for OpenAPI."""
        return app.post(
            path,
            response_model=response,
            tags=["decisions"],
            responses=ERRORS,
            openapi_extra=request_body(body),
        )

    @decision_route("/v1/decisions", DecisionResponse, DecisionRequest)
    async def decide(body: DecisionBody, request: Request) -> JSONResponse:
        """Decide one request; the decision is logged before it is returned."""
        with timed("decisions"):
            (_, response, _), *_ = await service.decide_async([body])
        note(request.scope, decision_id=response["decision_id"], effect=response["effect"])
        return FastJSONResponse(response)

    @decision_route("/v1/decisions/batch", BatchResponse, BatchRequest)
    async def decide_batch(body: BatchBody, request: Request) -> JSONResponse:
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
        with timed("batch"):
            decided = await service.decide_async(body.requests)
        note(request.scope, decisions=len(decided))
        return FastJSONResponse({"decisions": [response for _, response, _ in decided]})

    @decision_route("/v1/explain", ExplainResponse, DecisionRequest)
    def explain(body: DecisionBody, request: Request) -> JSONResponse:
        """Decide one request (logged like any other) and return its full trace as well."""
        with timed("explain"):
            (decision, response, _), *_ = service.decide([body])
        note(request.scope, decision_id=response["decision_id"], effect=response["effect"])
        trace = decision.trace()
        return JSONResponse(
            {
                "decision": response,
                "trace": trace.model_dump(mode="json"),
                "explanation": decision.explain(),
            }
        )

    # 401 and 403 only with protect_reads in the config.
    reader_errors: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
    }

    @app.get(
        "/v1/decisions",
        response_model=DecisionLogPage,
        tags=["decision log"],
        responses=reader_errors,
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
        require_reader(request)
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
        require_admin(request)
        return JSONResponse(service.reload("api"))

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
        "/v1/subjects/{subject}/consents",
        response_model=ConsentState,
        tags=["consent ledger"],
        responses=reader_errors,
    )
    def get_consents(subject: str, request: Request) -> ConsentState:
        """The purposes the subject consents to now (expired grants left out), the grants behind
        them, and every event ever recorded (with ``protect_reads`` in the config, for the admin
        token only)."""
        require_reader(request)
        _check_subject(subject)
        return service.consents(subject)

    return app


async def _watch(service: PolicyService, interval: float) -> None:
    """Poll the rule files' names, mtimes and sizes every ``interval`` seconds; reload when they
    change. A change that does not load is refused once (logged, counted), not every poll."""
    while True:
        await asyncio.sleep(interval)
        try:
            if await asyncio.to_thread(service.files_changed):
                await asyncio.to_thread(service.reload_quietly, "watch")
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the policy file watcher failed; it keeps watching")


def _default_logging() -> None:
    """Reload outcomes go to stderr unless the application set up logging itself."""
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _check_subject(subject: str) -> None:
    if not 1 <= len(subject) <= 200:
        raise ServiceError(422, "bad-request", "a subject is 1 to 200 characters long")
