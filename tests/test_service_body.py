"""The decision endpoints read their JSON bodies in one pass (:mod:`policy_engine.service.body`):
the same models, and the same errors, as FastAPI's own reading of a body parameter.

Two routes on one FastAPI app take the same model, one as FastAPI reads it, one through
:func:`json_body`; generated bodies and content types go to both through the app's ASGI
interface, and both must answer with the same status and the same bytes.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi", reason="the service needs the server extra")

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse

from policy_engine.engine.context import exact_number
from policy_engine.service.body import json_body
from policy_engine.service.models import BatchRequest, DecisionRequest

from .test_service_decimals import NUMBERS

reference = FastAPI()


@reference.exception_handler(RequestValidationError)
async def errors_as_text(request: Request, exc: RequestValidationError) -> PlainTextResponse:
    # repr: the errors quote the input, which may hold NaN or a lone surrogate.
    return PlainTextResponse(repr(exc.errors()), status_code=422)


@reference.post("/fastapi/decision", response_class=PlainTextResponse)
def read_by_fastapi(body: DecisionRequest) -> PlainTextResponse:
    return PlainTextResponse(repr(body.model_dump()))


@reference.post("/ours/decision", response_class=PlainTextResponse)
def read_by_json_body(
    body: Annotated[DecisionRequest, Depends(json_body(DecisionRequest))],
) -> PlainTextResponse:
    return PlainTextResponse(repr(body.model_dump()))


@reference.post("/fastapi/batch", response_class=PlainTextResponse)
def read_batch_by_fastapi(body: BatchRequest) -> PlainTextResponse:
    return PlainTextResponse(repr(body.model_dump()))


@reference.post("/ours/batch", response_class=PlainTextResponse)
def read_batch_by_json_body(
    body: Annotated[BatchRequest, Depends(json_body(BatchRequest))],
) -> PlainTextResponse:
    return PlainTextResponse(repr(body.model_dump()))


def post(path: str, raw: bytes, content_type: str | None) -> tuple[int, bytes]:
    """One request through the app's ASGI interface: the status and the body bytes."""
    headers = [(b"content-length", str(len(raw)).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode("latin-1")))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(reference(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


def same_answer(kind: str, raw: bytes, content_type: str | None) -> tuple[int, bytes]:
    theirs = post(f"/fastapi/{kind}", raw, content_type)
    ours = post(f"/ours/{kind}", raw, content_type)
    assert ours == theirs, (raw, content_type)
    return ours


CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/problem+json",
        "text/plain",
        "application/xml",
        "",
        None,
    ]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)
FIELDS = st.sampled_from(["party", "data", "purpose", "context", "subject", "extra"])
REQUEST = st.dictionaries(
    FIELDS, st.text(max_size=4) | st.dictionaries(st.text(max_size=4), JSON) | JSON
)


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        REQUEST.map(encode),
        st.lists(REQUEST, max_size=3).map(lambda rs: encode({"requests": rs})),
        JSON.map(encode),
        st.binary(max_size=40),
    ),
    CONTENT_TYPES,
)
def test_bodies_are_read_as_fastapi_reads_them(raw: bytes, content_type: str | None) -> None:
    same_answer("decision", raw, content_type)
    same_answer("batch", raw, content_type)


VALID = {"party": "p", "data": "d", "purpose": "u", "context": {"n": 2**70, "f": 0.5}}


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (encode(VALID), 200),
        (encode({**VALID, "subject": "é 😀"}), 200),
        (b'{"party": "p", "data": "d", "purpose": "u", "context": {"x": NaN}}', 200),
        (b'{"party": "p", "data": "d", "purpose": "u", "subject": "\\ud800"}', 422),
        (b'{"party": "p", "data": "d", "purpose": "u", "party": 1}', 422),
        (b"", 422),
        (b"[]", 422),
        (b'{"party": "p",', 422),
        (b"\xff", 400),
        (b"[" * 5000 + b"]" * 5000, 400),
    ],
)
def test_edge_cases_answer_alike(raw: bytes, status: int) -> None:
    assert same_answer("decision", raw, "application/json")[0] == status


@reference.post("/ours/numbers", response_class=PlainTextResponse)
def numbers_read_by_json_body(
    body: Annotated[DecisionRequest, Depends(json_body(DecisionRequest))],
) -> PlainTextResponse:
    """The context's numbers as a decimal key reads them."""
    return PlainTextResponse(
        json.dumps([str(exact_number(v)) for v in (body.context or {}).values()])
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(NUMBERS, min_size=1, max_size=3), CONTENT_TYPES)
def test_numbers_are_read_as_written_and_answered_alike(
    texts: list[str], content_type: str | None
) -> None:
    """A body holding numbers a float would change is read again exactly: the same model, the
    same errors as FastAPI's reading (which reads floats), and each number as it was written."""
    context = ", ".join(f'"k{i}": {text}' for i, text in enumerate(texts))
    raw = f'{{"party": "p", "data": "d", "purpose": "u", "context": {{{context}}}}}'.encode()
    same_answer("decision", raw, content_type)
    same_answer("batch", b'{"requests": [%s, %s]}' % (raw, raw), content_type)
    for text in texts:  # where no number is due: refused alike
        same_answer("decision", text.encode(), content_type)
        same_answer("batch", b'{"requests": [%s]}' % text.encode(), content_type)
        same_answer("decision", raw.replace(b'"p"', text.encode(), 1), content_type)
    if content_type is not None and "json" in content_type:
        status, body = post("/ours/numbers", raw, content_type)
        assert status == 200
        assert [Decimal(t) for t in json.loads(body)] == [Decimal(t) for t in texts]


def test_a_streamed_response_behind_the_body_limit_is_sent_whole() -> None:
    """The body limit reads the request body and hands it on; the response that listens for the
    client going away (a stream, a file) must not be told at once that it left (it was: every
    streamed body behind the limit came out empty)."""
    import asyncio

    from starlette.responses import StreamingResponse

    from policy_engine.service.middleware import BodyLimit

    async def chunks() -> Any:
        for n in range(5):
            await asyncio.sleep(0)
            yield f"part {n}\n".encode()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await StreamingResponse(chunks())(scope, receive, send)

    sent: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not arrived.is_set():
            arrived.set()
            return {"type": "http.request", "body": b"{}", "more_body": False}
        await asyncio.sleep(3600)  # the client stays until the response is done
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [],
        "asgi": {"spec_version": "2.3"},
    }
    asyncio.run(asyncio.wait_for(BodyLimit(app, 1024)(scope, receive, send), 10))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert body == b"".join(f"part {n}\n".encode() for n in range(5))
