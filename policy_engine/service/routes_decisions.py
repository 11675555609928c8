"""The decision endpoints (``POST /v1/decisions``, ``/v1/decisions/batch``, ``/v1/explain``):
the hot path, their bodies read in one pass (:mod:`.body`) and their answers written by orjson
(:func:`dump_json`)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..engine.context import ExactFloat
from . import exact_json
from .access_log import note
from .body import json_body, request_body
from .errors import ServiceError, error_responses
from .exact_json import number_text
from .loaded_policy import LoadedPolicy
from .models import BatchRequest, BatchResponse, DecisionRequest, DecisionResponse, ExplainResponse
from .policy_service import PolicyService

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def _pin_policy(request: Request) -> bool:
    """Whether a number's precision can matter to ``request``: the policy that will decide it
    has a ``decimal`` key. That policy is pinned for the request (``request.state.policy``), so
    that a reload between reading the body and deciding it cannot give a body read without the
    exact scan to a policy with decimals."""
    loaded: LoadedPolicy = request.app.state.service.current
    request.state.policy = loaded
    return loaded.takes_floats


# The decision endpoints' bodies, parsed and validated in one pass (see .body).
DecisionBody = Annotated[DecisionRequest, Depends(json_body(DecisionRequest, _pin_policy))]
BatchBody = Annotated[BatchRequest, Depends(json_body(BatchRequest, _pin_policy))]


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _exact_number(value: Any) -> Any:
    """orjson's ``default``: a number read as written (a decimal key's, :class:`ExactFloat`)
    is written as it was read."""
    if type(value) is ExactFloat:
        return orjson.Fragment(number_text(value))
    raise TypeError


def dump_json(content: Any) -> bytes:
    """JSON for a response body: orjson (several times faster than the standard library on a
    batch), or the standard library for what orjson cannot write (integers beyond 64 bits); a
    number read as written is written so (:mod:`.exact_json`)."""
    try:
        return orjson.dumps(content, default=_exact_number)
    except TypeError:
        return exact_json.dumps(content, _ENCODER).encode("utf-8")


class FastJSONResponse(JSONResponse):
    """A JSON response rendered by :func:`dump_json`."""

    def render(self, content: Any) -> bytes:
        return dump_json(content)


def _decision_route(
    app: FastAPI, path: str, operation: str, response: type[BaseModel], body: type[BaseModel]
) -> Callable[[Endpoint], Endpoint]:
    """A decision endpoint: its body read by ``service.body``, and declared for OpenAPI."""
    return app.post(
        path,
        response_model=response,
        tags=["decisions"],
        operation_id=operation,
        responses=error_responses(400, 413, 422, 503),
        openapi_extra=request_body(body),
    )


def register(app: FastAPI, service: PolicyService) -> None:
    """Add the decision endpoints to ``app``."""
    config = service.config
    metrics = service.metrics

    @contextlib.contextmanager
    def timed(endpoint: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            metrics.latency.observe(time.perf_counter() - start, endpoint=endpoint)

    @_decision_route(app, "/v1/decisions", "decide", DecisionResponse, DecisionRequest)
    async def decide(body: DecisionBody, request: Request) -> JSONResponse:
        """Decide one request; the decision is logged before it is returned."""
        with timed("decisions"):
            (_, response, _), *_ = await service.decide_async([body], request.state.policy)
        note(request.scope, decision_id=response["decision_id"], effect=response["effect"])
        return FastJSONResponse(response)

    @_decision_route(app, "/v1/decisions/batch", "decideBatch", BatchResponse, BatchRequest)
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
            decided = await service.decide_async(body.requests, request.state.policy)
        note(request.scope, decisions=len(decided))
        return FastJSONResponse({"decisions": [response for _, response, _ in decided]})

    @_decision_route(app, "/v1/explain", "explain", ExplainResponse, DecisionRequest)
    def explain(body: DecisionBody, request: Request) -> JSONResponse:
        """Decide one request (logged like any other) and return its full trace as well."""
        with timed("explain"):
            (decision, response, _), *_ = service.decide([body], request.state.policy)
        note(request.scope, decision_id=response["decision_id"], effect=response["effect"])
        trace = decision.trace()
        return FastJSONResponse(
            {
                "decision": response,
                "trace": trace.model_dump(mode="json"),
                "explanation": decision.explain(),
            }
        )
