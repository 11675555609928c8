"""A query parameter an endpoint does not take is a 400 naming it (with the closest name it does
take), never silently ignored: ``?limt=5`` would otherwise answer a page of 100, and
``?subjet=acme`` every subject's decisions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match

from ..language.errors import did_you_mean
from .access_log import ASGIApp, Receive, Scope, Send
from .errors import error_response
from .text import printable


class KnownQueryParameters:
    """Pure ASGI middleware: requests with a query string are matched against ``routes``; a
    parameter the matching endpoint does not declare gets 400 before the endpoint runs.
    Requests without a query string (every decision request) pass straight through."""

    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self.routes = routes
        self._taken: dict[int, frozenset[str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            unknown = self._unknown(scope)
            if unknown is not None:
                name, taken = unknown
                response = error_response(400, "unknown-query-parameter", *_message(name, taken))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _unknown(self, scope: Scope) -> tuple[str, frozenset[str]] | None:
        """The first query parameter the matching endpoint does not take, with those it takes;
        None when all are known or no endpoint matches (404 and 405 come later)."""
        for route in self.routes:
            if isinstance(route, APIRoute) and route.matches(scope)[0] is Match.FULL:
                taken = self._taken.get(id(route))
                if taken is None:
                    taken = self._taken[id(route)] = _query_names(route.dependant)
                query = scope["query_string"].decode("latin-1")
                for name, _ in parse_qsl(query, keep_blank_values=True):
                    if name not in taken:
                        return name, taken
                return None
        return None


def _query_names(dependant: Any) -> frozenset[str]:
    """The query parameters an endpoint declares, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for inner in dependant.dependencies:
        names |= _query_names(inner)
    return frozenset(names)


def _message(name: str, taken: frozenset[str]) -> tuple[str, str]:
    shown = printable(name)
    if not taken:
        return f"unknown query parameter `{shown}`", "this endpoint takes no query parameters"
    close = did_you_mean(name, taken)
    listed = ", ".join(f"`{n}`" for n in sorted(taken))
    hint = f"did you mean `{close[0]}`? " if close else ""
    return f"unknown query parameter `{shown}`", f"{hint}this endpoint takes {listed}"
