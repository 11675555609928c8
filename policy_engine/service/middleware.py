"""The service's pure ASGI middleware: the request body limit (413 before any route sees the
body) and the count of decision requests in flight that the log writer groups entries by; and
:func:`add_middleware`, which stacks them with the access log and the check of query parameters
(:mod:`.query_params`) in their order."""

from __future__ import annotations

from fastapi import FastAPI

from .access_log import AccessLog, ASGIApp, Message, Receive, Scope, Send
from .errors import error_response
from .log_writer import DecisionLogWriter
from .query_params import KnownQueryParameters


def add_middleware(app: FastAPI, writer: DecisionLogWriter | None, max_body_bytes: int) -> None:
    """The access log outermost, then unknown query parameters refused, then the body limit,
    then (when the decision log is on) :class:`DecisionsInFlight`."""
    if writer is not None:
        app.add_middleware(DecisionsInFlight, writer=writer)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    # The router's list of routes, filled as the routes are registered.
    app.add_middleware(KnownQueryParameters, routes=app.router.routes)
    # Added last, so outermost: it also logs the 413s of the body limit.
    app.add_middleware(AccessLog)


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
                await self.app(scope, _replay([message], receive), send)
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
            scope,
            _replay([{"type": "http.request", "body": body, "more_body": False}], receive),
            send,
        )

    def _message(self) -> str:
        return f"request body is larger than the limit of {self.limit} bytes"


def _replay(messages: list[Message], then: Receive) -> Receive:
    """``messages`` first, then what the server sends: a response that listens for the client
    going away (a streamed or file response) waits for the real disconnect, rather than being
    told at once that the client left."""
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        return await then()

    return receive


async def _too_large(scope: Scope, receive: Receive, send: Send, message: str, status: int) -> None:
    code = "body-too-large" if status == 413 else "bad-request"
    response = error_response(status, code, message)
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
