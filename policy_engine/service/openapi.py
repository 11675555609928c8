"""The service's OpenAPI document, finished: the schemas of the bodies the decision endpoints read
themselves (:mod:`.body`), and the bearer tokens of :mod:`.auth` as security schemes. Each route
declares its own ``operationId``, its security requirement and its error responses (the service's
error body, :class:`.models.ErrorResponse`, never FastAPI's ``HTTPValidationError``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .body import REF_TEMPLATE
from .config import ADMIN_TOKEN_ENV, READ_TOKEN_ENV

SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": f"The admin token ({ADMIN_TOKEN_ENV} or `admin_token`): reloads and "
        "consent writes; it reads too.",
    },
    "readToken": {
        "type": "http",
        "scheme": "bearer",
        "description": f"The read token ({READ_TOKEN_ENV} or `read_token`): the decision log "
        "and the consent records.",
    },
}

#: FastAPI's own error schemas, which no operation of the service answers with.
FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")


def finish_openapi(app: FastAPI, request_models: Sequence[type[BaseModel]]) -> None:
    """Make ``app.openapi()`` return the finished document (built once)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            components = document.setdefault("components", {})
            _, top = models_json_schema(
                [(model, "validation") for model in request_models], ref_template=REF_TEMPLATE
            )
            schemas = {**top.get("$defs", {}), **components.get("schemas", {})}
            used = json.dumps(document["paths"])
            for name in FASTAPI_ERRORS:
                if REF_TEMPLATE.format(model=name) not in used:
                    schemas.pop(name, None)
            components["schemas"] = dict(sorted(schemas.items()))  # sorted, as FastAPI's
            components["securitySchemes"] = SECURITY_SCHEMES
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
