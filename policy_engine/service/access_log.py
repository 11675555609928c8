"""Structured access logs: one JSON object per line per HTTP request, on the logger
``policy_engine.access`` (stderr unless the application gives that logger handlers of its own).

Each line holds ``time`` (UTC, ISO 8601, when the request arrived), ``method``, ``path`` (without
the query string), ``status``, ``duration_ms`` and ``client``, plus ``decision_id`` and ``effect``
when the request produced one decision (``decisions``, the count, for a batch). Request bodies,
query strings and context values are never logged.

Nor are subjects: a path under ``/v1/subjects/`` is logged with ``{subject}`` in place of the
subject, and the line carries ``subject``, a keyed pseudonym (the first 16 hex digits of an
HMAC-SHA256 under a random key of the process): the requests about one subject can be told apart
and followed within a run of the server, and nobody can tell which subject it was, nor test a
guess, without the key, which is never written anywhere (a restart draws a new one)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_logger = logging.getLogger("policy_engine.access")

#: The scope key under which a route leaves the fields it adds to its access log line.
SCOPE_KEY = "policy_engine.access"

SUBJECTS = "/v1/subjects/"
_KEY = os.urandom(32)


def pseudonym(subject: str) -> str:
    """The subject's keyed pseudonym in this process's access log."""
    digest = hmac.new(_KEY, subject.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return digest.hexdigest()[:16]


def logged_path(path: str) -> tuple[str, dict[str, str]]:
    """The path as logged, and the fields it adds: a subject's path gets its pseudonym."""
    if not path.startswith(SUBJECTS):
        return path, {}
    subject, slash, rest = path[len(SUBJECTS) :].partition("/")
    return f"{SUBJECTS}{{subject}}{slash}{rest}", {"subject": pseudonym(subject)}


def note(scope: Scope, **fields: Any) -> None:
    """Add ``fields`` (a decision id, an effect: never request data) to this request's line."""
    extra = scope.get(SCOPE_KEY)
    if isinstance(extra, dict):
        extra.update(fields)


def default_access_logging() -> None:
    """JSON lines on stderr, unless the application already gave the access logger a handler."""
    if access_logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)
    # The line is complete JSON: a root handler's format around it would break that.
    access_logger.propagate = False


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    if not client:
        return None
    host, port = client[0], client[1] if len(client) > 1 else None
    return f"{host}:{port}" if port is not None else str(host)


class AccessLog:
    """Pure ASGI middleware writing one access log line per HTTP request, after the response
    (or the error that ended it: logged as 500, then raised again)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not access_logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        arrived = datetime.now(UTC)
        start = time.perf_counter()
        extra: dict[str, Any] = {}
        scope[SCOPE_KEY] = extra
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            path, fields = logged_path(str(scope.get("path", "")))
            line: dict[str, Any] = {
                "time": arrived.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "method": scope.get("method"),
                "path": path,
                "status": status,
                "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                "client": _client(scope),
                **fields,
            }
            line.update(extra)
            access_logger.info(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
