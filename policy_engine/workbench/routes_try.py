"""The endpoints that try things: the Playground's decision (and the decision log's
explanations), and a proposed change: checked, tested and compared, or handed over as files."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .http import read_json
from .patches import zip_files
from .playground import DEFAULT_SERVICE_URL, explain_payload
from .proposal import MAX_PROPOSAL_BYTES, read_proposal
from .state import Workbench

MAX_CLIENT_LENGTH = 100


def _service_url(bench: Workbench, request: Request) -> str:
    """Where ``curl`` should send the request: the configured address; this server when it is
    the decision service (its root, above the workbench's); else the service's default."""
    if bench.options.service_url:
        return bench.options.service_url
    if not bench.options.service_pages:
        return DEFAULT_SERVICE_URL
    parent = str(request.scope.get("root_path", "")).rsplit("/", 1)[0]
    return f"{request.url.scheme}://{request.url.netloc}{parent}"


def _client(body: object) -> str:
    client = body.get("client") if isinstance(body, Mapping) else None
    return client[:MAX_CLIENT_LENGTH] if isinstance(client, str) else ""


def register(app: FastAPI, bench: Workbench) -> None:
    @app.post("/api/explain")
    async def explain(request: Request) -> dict[str, Any]:
        body = await read_json(request)
        url = _service_url(bench, request)
        masked = bench.options.masked_keys
        return await run_in_threadpool(
            lambda: explain_payload(bench.policy(), bench.name, body, url, masked)
        )

    @app.post("/api/propose")
    async def propose(request: Request) -> dict[str, Any]:
        body = await read_json(request, MAX_PROPOSAL_BYTES)

        def make() -> dict[str, Any]:
            changed = read_proposal(body, bench.policy())
            return bench.propose(changed, _client(body))

        return await run_in_threadpool(make)

    @app.post("/api/propose/download")
    async def download(request: Request) -> Response:
        body = await read_json(request, MAX_PROPOSAL_BYTES)
        policy = bench.policy()
        originals = {s.name: s.text for s in policy.sources}
        changed = {n: t for n, t in read_proposal(body, policy).items() if t != originals[n]}
        return Response(
            zip_files(changed),
            media_type="application/zip",
            headers={"Content-Disposition": 'attachment; filename="proposed-rule-files.zip"'},
        )
