"""The endpoints of the pages that read the policy: Policy, Vocabulary, Register, and the rule
files with the words the editor completes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..language.grammar import reserved_words
from ..traceability.register import Register
from ..traceability.register_render import (
    RENDERERS,
    data_words,
    grounds_words,
    obligation_lines,
    party_words,
)
from .http import WorkbenchError
from .state import Workbench

DOWNLOADS = {
    "markdown": ("md", "text/markdown"),
    "csv": ("csv", "text/csv"),
    "json": ("json", "application/json"),
    "html": ("html", "text/html"),
}


def register_words(register: Register) -> dict[str, Any]:
    """The register as JSON, each activity with its fields in the words every format uses."""
    out = register.model_dump()
    for activity, shown in zip(register.activities, out["activities"], strict=True):
        shown["words"] = {
            "parties": [party_words(p) for p in activity.parties],
            "categories": data_words(activity.categories),
            "grounds": grounds_words(activity),
            "obligations": obligation_lines(activity),
        }
    return out


def register(app: FastAPI, bench: Workbench) -> None:
    @app.get("/api/summary")
    def summary() -> dict[str, Any]:
        policy = bench.policy()
        return {
            "policy": bench.name,
            "version": policy.version,
            "rules": len(policy.compiled.rules),
            "service": bench.options.service_pages,
            "problems": [d.to_dict() for d in bench.source.problems()],
        }

    @app.get("/api/policy")
    async def policy_page() -> dict[str, Any]:
        return await run_in_threadpool(bench.policy_page)

    @app.get("/api/vocabulary")
    async def vocabulary() -> dict[str, Any]:
        return await run_in_threadpool(bench.vocabulary)

    @app.get("/api/register")
    async def register_page() -> dict[str, Any]:
        return register_words(await run_in_threadpool(bench.register))

    @app.get("/api/register.{kind}")
    async def register_file(kind: str) -> Response:
        if kind not in DOWNLOADS:
            raise WorkbenchError(404, f"no register as `{kind}`: {', '.join(DOWNLOADS)}")
        made = await run_in_threadpool(bench.register)
        suffix, media = DOWNLOADS[kind]
        return Response(
            RENDERERS[kind](made),
            media_type=f"{media}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="register.{suffix}"'},
        )

    @app.get("/api/files")
    def files() -> JSONResponse:
        policy = bench.policy()
        compiled = policy.compiled
        return JSONResponse(
            {
                "policy": bench.name,
                "version": policy.version,
                "files": [{"name": s.name, "text": s.text} for s in policy.sources],
                "keywords": sorted(reserved_words()),
                "terms": {k: compiled.hierarchies[k].terms for k in compiled.hierarchies},
                "context": list(compiled.context),
            }
        )
