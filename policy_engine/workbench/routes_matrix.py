"""The Matrix page's endpoints: the grid for a purpose and the lines opened, one cell's details,
and the CSV of ``policy-engine matrix``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..engine.request import resolve_term
from .http import WorkbenchError
from .matrix_view import cell_detail, matrix_csv, matrix_view
from .state import Workbench

MAX_OPENED = 5000
"""The most terms a view may name as opened."""


def _terms(listed: str | None) -> list[str]:
    names = [t for t in (listed or "").split(",") if t]
    if len(names) > MAX_OPENED:
        raise WorkbenchError(400, f"at most {MAX_OPENED} terms may be opened at once")
    return names


def _flag(raw: str | None, name: str) -> bool:
    if raw in (None, "", "0", "false"):
        return False
    if raw in ("1", "true"):
        return True
    raise WorkbenchError(400, f"`{name}` is `1` or `0`, not `{raw}`")


def _purpose(bench: Workbench, purpose: str | None) -> str | None:
    if not purpose:
        return None
    return resolve_term(bench.policy().compiled, "purpose", purpose)


def register(app: FastAPI, bench: Workbench) -> None:
    @app.get("/api/matrix")
    async def grid(
        purpose: str | None = None, open_party: str | None = None, open_data: str | None = None
    ) -> dict[str, Any]:
        def make() -> dict[str, Any]:
            policy, full = bench.matrix()
            compiled = policy.compiled
            shown = _purpose(bench, purpose)
            opened = [_terms(open_party), _terms(open_data)]
            for kind, names in zip(("party", "data"), opened, strict=True):
                for name in names:
                    resolve_term(compiled, kind, name)
            return matrix_view(full, compiled, shown, *opened)

        return await run_in_threadpool(make)

    @app.get("/api/matrix/cell")
    async def cell(
        party: str,
        data: str,
        purpose: str | None = None,
        party_whole: str | None = None,
        data_whole: str | None = None,
    ) -> dict[str, Any]:
        def make() -> dict[str, Any]:
            policy, full = bench.matrix()
            rows = (party, _flag(party_whole, "party_whole"))
            cols = (data, _flag(data_whole, "data_whole"))
            return cell_detail(full, policy.compiled, rows, cols, _purpose(bench, purpose))

        return await run_in_threadpool(make)

    @app.get("/api/matrix.csv")
    async def csv(purpose: str | None = None) -> Response:
        def make() -> str:
            policy, full = bench.matrix()
            return matrix_csv(full, policy.compiled, _purpose(bench, purpose))

        name = f"matrix-{purpose}.csv" if purpose else "matrix.csv"
        return Response(
            await run_in_threadpool(make),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
