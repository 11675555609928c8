"""Reading a decision endpoint's JSON body: parsed and validated in one pass, answered as FastAPI
answers.

FastAPI reads a body model in two passes: the standard library's ``json.loads`` builds dicts and
lists, then pydantic validates them into the model. For a batch of a thousand decisions the two
took a sixth of the service's time under load. pydantic's own JSON parser builds the model
straight from the bytes (:meth:`pydantic.BaseModel.model_validate_json`), in about two thirds of
the time.

Nothing else changes. Whenever that parser refuses the body (bad JSON, bytes that are not UTF-8,
an escaped lone surrogate, which ``json.loads`` accepts, or any value the model refuses), and
whenever the body is empty or its content type is not JSON, it is read again the way FastAPI
reads it, and refused with FastAPI's own errors. ``tests/test_service_body.py`` holds the two
side by side over generated bodies and content types. The routes declare their bodies in the
OpenAPI document through :func:`request_body`; :func:`.openapi.add_request_schemas` puts the
models in its components, as FastAPI does (pydantic's schema, which also states the null
defaults).

A body that parses is then checked for text the service cannot store (a NUL, a lone surrogate:
:mod:`.text`), which is a 400 naming the field; only a body whose bytes hold such an escape is
walked.
"""

from __future__ import annotations

import email.message
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from .inputs import check_text
from .text import might_hold_bad_text

Model = TypeVar("Model", bound=BaseModel)

REF_TEMPLATE = "#/components/schemas/{model}"


def json_body(model: type[Model]) -> Callable[[Request], Awaitable[Model]]:
    """A FastAPI dependency that reads the request's body as ``model`` (see the module)."""

    async def read(request: Request) -> Model:
        raw = await request.body()
        if raw and _is_json(request.headers.get("content-type")):
            try:
                found = model.model_validate_json(raw)
            except ValidationError:
                # FastAPI's way says what is wrong, in FastAPI's words (or reads a lone
                # surrogate, which pydantic's parser refuses and the check below names).
                found = _as_fastapi_reads(model, request, raw)
        else:
            found = _as_fastapi_reads(model, request, raw)
        if might_hold_bad_text(raw):
            check_text(found.model_dump())
        return found

    return read


def _as_fastapi_reads(model: type[Model], request: Request, raw: bytes) -> Model:
    """The body read as FastAPI reads a ``model`` parameter: ``json.loads`` for a JSON content
    type, the raw bytes otherwise (no model accepts them), nothing for an empty body; then
    pydantic's validation of the Python value, with attributes read as fields."""
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    data: Any = raw
    if _is_json(request.headers.get("content-type")):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", exc.pos),
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": exc.msg},
                    }
                ]
            ) from None
        except Exception:  # not UTF-8, nested too deep
            raise HTTPException(400, "There was an error parsing the body") from None
    try:
        return model.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from None


@functools.lru_cache(maxsize=64)
def _is_json(content_type: str | None) -> bool:
    """FastAPI's test: ``application/json`` or ``application/*+json``; a request without a
    content type is not read as JSON. (Remembered: clients send the same few, and parsing one
    takes as long as parsing a single decision's body.)"""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """The ``openapi_extra`` of a route whose body :func:`json_body` reads: the request body
    FastAPI would have declared for a ``model`` parameter."""
    schema = {"$ref": REF_TEMPLATE.format(model=model.__name__)}
    return {"requestBody": {"content": {"application/json": {"schema": schema}}, "required": True}}
