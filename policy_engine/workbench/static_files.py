"""The pages' scripts, styles and icon, shipped in the package (``static/``) and served from
memory: plain responses with an ``ETag``, so a page revalidates them cheaply. (Not Starlette's
``StaticFiles``: its file responses watch the connection for a disconnect while they send, which
middleware that replays a request body, as the decision service's does, reports at once.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

STATIC = Path(__file__).resolve().parent / "static"

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

_read: dict[Path, tuple[int, bytes, str]] = {}
"""File → (modification time, content, ETag)."""


def _content(file: Path) -> tuple[bytes, str]:
    stamp = file.stat().st_mtime_ns
    found = _read.get(file)
    if found is None or found[0] != stamp:
        data = file.read_bytes()
        found = _read[file] = (stamp, data, f'"{hashlib.sha256(data).hexdigest()[:32]}"')
    return found[1], found[2]


def register(app: FastAPI) -> None:
    @app.get("/static/{path:path}", include_in_schema=False)
    def static(path: str, request: Request) -> Response:
        file = (STATIC / path).resolve()
        media = MEDIA_TYPES.get(file.suffix)
        if media is None or not file.is_relative_to(STATIC) or not file.is_file():
            raise StarletteHTTPException(404, f"no file `{path}`")
        data, etag = _content(file)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(data, media_type=media, headers=headers)
