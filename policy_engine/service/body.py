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

Numbers are read exactly, as the command line reads them. When the policy has a ``decimal`` key
(only then can a float's precision change a decision), a body holding a number that a float
would change (more than 15 significant digits, a magnitude beyond a float's:
:func:`.exact_json.changed_by_float`, a scan of the bytes) is read the second way from the
start, with ``json.loads(raw, parse_float=ExactFloat)``, so that the key sees the number as
written (the errors are FastAPI's all the same: only the floats differ). Every other body takes
pydantic's parser, whose floats are then exactly the numbers sent.

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

from ..engine.context import ExactFloat
from .exact_json import changed_by_float
from .inputs import check_text
from .text import might_hold_bad_text

Model = TypeVar("Model", bound=BaseModel)

REF_TEMPLATE = "#/components/schemas/{model}"


def _always(request: Request) -> bool:
    return True


def json_body(
    model: type[Model], exact_numbers: Callable[[Request], bool] = _always
) -> Callable[[Request], Awaitable[Model]]:
    """A FastAPI dependency that reads the request's body as ``model`` (see the module).
    ``exact_numbers(request)`` says whether a number's precision can matter to the request (the
    policy that decides it has a ``decimal`` key); when it cannot, the bytes are not scanned."""

    async def read(request: Request) -> Model:
        raw = await request.body()
        fast = raw and _is_json(request.headers.get("content-type"))
        if fast and not (exact_numbers(request) and changed_by_float(raw)):
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
    type (its fractional numbers as :class:`ExactFloat`: floats that keep their text), the raw
    bytes otherwise (no model accepts them), nothing for an empty body; then pydantic's
    validation of the Python value, with attributes read as fields."""
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    data: Any = raw
    if _is_json(request.headers.get("content-type")):
        try:
            data = json.loads(raw, parse_float=ExactFloat)
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
        errors = exc.errors(include_url=False)
    if data is not raw:
        # FastAPI's errors are about floats: pydantic reads an ExactFloat where a model is due
        # (`0.5` for a whole body) as an object without the model's attributes, a float as no
        # object at all. A body is refused either way: say why in FastAPI's words.
        try:
            model.model_validate(json.loads(raw), from_attributes=True)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
    raise RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in errors])


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
