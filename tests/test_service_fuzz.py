"""Schemathesis over the service's own ``/openapi.json``, against a real server on 127.0.0.1.

Every operation of the schema is fuzzed with schema-valid (positive) and schema-invalid
(negative) requests, a bounded number of each, with the admin token sent so that the admin
endpoints are exercised past the authorization check. No response may be a 5xx, and responses
must conform to the schema (status code, content type, headers and body).

A body that is not UTF-8 once got FastAPI's own error shape instead of the service's; it is
pinned by test_undecodable_body_gets_the_error_format.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service needs the server extra")
pytest.importorskip("uvicorn", reason="the service needs the server extra")
pytest.importorskip("schemathesis", reason="pip install schemathesis")

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .test_service import TOKEN, Server, start_server

MAX_EXAMPLES = 30

# Every operation of /openapi.json, and whether schema-invalid (negative) requests exist for it:
# not for an operation without parameters or body, nor for one whose only input is a free-form
# string path parameter. test_every_operation_is_fuzzed keeps this list complete.
OPERATIONS = {
    ("GET", "/healthz"): False,
    ("GET", "/readyz"): False,
    ("POST", "/v1/decisions"): True,
    ("GET", "/v1/decisions"): True,
    ("POST", "/v1/decisions/batch"): True,
    ("POST", "/v1/explain"): True,
    ("GET", "/v1/policy"): False,
    ("POST", "/v1/policy/reload"): False,
    ("GET", "/metrics"): False,
    ("POST", "/v1/subjects/{subject}/consents"): True,
    ("GET", "/v1/subjects/{subject}/consents"): False,
    ("GET", "/v1/subjects/{subject}/disclosures"): True,
}

CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for (method, path), negative in OPERATIONS.items()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if negative or mode is GenerationMode.POSITIVE
]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir: Path = tmp_path_factory.mktemp("service-fuzz")
    srv = start_server(workdir, f"sqlite:///{workdir / 'decisions.db'}", "sqlite")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def api(fuzz_server: Server) -> Any:
    return schemathesis.openapi.from_url(fuzz_server.base + "/openapi.json")


def test_every_operation_is_fuzzed(api: Any) -> None:
    found = {
        (method.upper(), path) for path, ops in api.raw_schema["paths"].items() for method in ops
    }
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_no_server_error_and_schema_conformance(
    api: Any, fuzz_server: Server, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api[path][method]
    headers = {"Authorization": f"Bearer {TOKEN}"}

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Any) -> None:
        case.call_and_validate(base_url=fuzz_server.base, headers=headers, checks=CHECKS)

    fuzz()


# Values of every JSON type and of the context's own types, for the vocabulary-steered run.
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has neither
    st.text(max_size=20),
    st.sampled_from(["email", "sms", "phone", "CA-QC"]),
)


@pytest.fixture(scope="module")
def policy_info(fuzz_server: Server) -> dict[str, Any]:
    status, info = fuzz_server.call("GET", "/v1/policy")
    assert status == 200
    return dict(info)


def steered_request(info: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Decision requests built from the policy's own vocabulary, so that they reach the rules
    (random strings stop at 400 unknown-term), with context keys of the policy's context schema
    given values of every type (right and wrong) and sometimes a subject for the ledger."""
    vocabulary = info["vocabulary"]

    def terms(kind: str) -> st.SearchStrategy[str]:
        names = [term["name"] for term in vocabulary[kind]]
        return st.one_of(st.sampled_from(names), st.text(max_size=10))

    purposes = [term["name"] for term in vocabulary["purpose"]]
    value = st.one_of(
        JSON_SCALARS,
        st.lists(st.one_of(st.sampled_from(purposes), JSON_SCALARS), max_size=4),
        st.dictionaries(st.text(max_size=5), JSON_SCALARS, max_size=2),
    )
    keys = [entry["name"] for entry in info["context"]]
    context = st.dictionaries(st.one_of(st.sampled_from(keys), st.text(max_size=8)), value)
    return st.fixed_dictionaries(
        {"party": terms("party"), "data": terms("data"), "purpose": terms("purpose")},
        optional={
            "context": st.one_of(st.none(), context),
            "subject": st.sampled_from(["org-fuzz", "org-other"]),
        },
    )


STEERED = [
    ("POST", "/v1/decisions"),
    ("POST", "/v1/explain"),
    ("POST", "/v1/decisions/batch"),
    ("POST", "/v1/subjects/{subject}/consents"),
]


@pytest.mark.parametrize(("method", "path"), STEERED, ids=[f"{m} {p}" for m, p in STEERED])
def test_vocabulary_steered_requests(
    api: Any, fuzz_server: Server, policy_info: dict[str, Any], method: str, path: str
) -> None:
    """Schema-valid requests whose terms come from the policy, so the rules, the ledger and the
    decision log are reached; the same checks as above."""
    operation = api[path][method]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    request = steered_request(policy_info)
    purposes = [term["name"] for term in policy_info["vocabulary"]["purpose"]]
    if path == "/v1/decisions/batch":
        body: st.SearchStrategy[Any] = st.fixed_dictionaries(
            {"requests": st.lists(request, min_size=1, max_size=5)}
        )
    elif path.startswith("/v1/subjects"):
        body = st.fixed_dictionaries(
            {
                "event": st.sampled_from(["grant", "withdraw"]),
                "purposes": st.lists(st.sampled_from(purposes), min_size=1, max_size=4),
                "recorded_by": st.just("fuzz"),
                "source": st.just("fuzz"),
            }
        )
    else:
        body = request

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), body=body)
    def fuzz(case: Any, body: Any) -> None:
        if path.startswith("/v1/subjects"):
            case.path_parameters = {"subject": "org-fuzz"}
        case.body = body
        case.call_and_validate(base_url=fuzz_server.base, headers=headers, checks=CHECKS)

    fuzz()


@pytest.mark.parametrize(
    "path",
    ["/v1/decisions", "/v1/decisions/batch", "/v1/explain", "/v1/subjects/org-fuzz/consents"],
)
def test_undecodable_body_gets_the_error_format(fuzz_server: Server, path: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    status, body = fuzz_server.call("POST", path, raw=b"\xff", headers=headers)
    assert status == 400
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    assert body.get("diagnostics"), body
