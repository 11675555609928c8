"""The workbench as an ASGI application: the pages (one HTML shell each, :mod:`.shell`), their
scripts and styles (shipped in the package, ``static/``), and the JSON endpoints they read
(``routes_*``), all relative to the workbench's root so that it can be mounted anywhere."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._version import __version__
from . import routes_matrix, routes_read, routes_try, static_files
from .http import add_error_handlers
from .shell import CONTENT_SECURITY_POLICY, pages, render_shell
from .source import PolicySource
from .state import Options, Workbench


class SecurityHeaders:
    """Pure ASGI middleware: every answer says where its page may load from (this server only),
    that it is not to be framed, and not to be sniffed as another type."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def create_workbench(
    source: PolicySource,
    options: Options | None = None,
    *,
    allowed_hosts: tuple[str, ...] = (),
) -> FastAPI:
    """The workbench over ``source``'s policy. ``allowed_hosts``, when given, are the only
    ``Host`` headers answered (``policy-engine workbench`` answers 127.0.0.1 and localhost only,
    so that no other site's page can read it through a name that resolves here)."""
    bench = Workbench(source, options)
    app = FastAPI(
        title="policy-engine workbench",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.workbench = bench
    add_error_handlers(app)
    app.add_middleware(SecurityHeaders)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    static_files.register(app)
    routes_read.register(app, bench)
    routes_matrix.register(app, bench)
    routes_try.register(app, bench)
    _pages(app, bench)
    return app


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")) + "/"


def _pages(app: FastAPI, bench: Workbench) -> None:
    service = bench.options.service_pages

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        return RedirectResponse(_root(request) + "policy", status_code=307)

    @app.get("/{page}", include_in_schema=False)
    def page(page: str, request: Request) -> HTMLResponse:
        if page not in pages(service):
            raise StarletteHTTPException(404, f"no page `{page}`")
        html = render_shell(page, _root(request), bench.name, service)
        return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
