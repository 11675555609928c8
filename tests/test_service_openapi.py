"""The service's OpenAPI document: valid (openapi-spec-validator), with the bearer tokens as
security schemes and a requirement on each operation that needs one, the service's own error
body for every error, a short ``operationId`` for every operation; and good enough to generate a
client (openapi-python-client, offline, no post-hooks) that decides, grants and withdraws consent
against a real server on 127.0.0.1.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service needs the server extra")
pytest.importorskip("uvicorn", reason="the service needs the server extra")
pytest.importorskip("openapi_spec_validator", reason="pip install openapi-spec-validator")
pytest.importorskip("openapi_python_client", reason="pip install openapi-python-client")

from openapi_spec_validator import validate

from .test_service import READ_TOKEN, TOKEN, Server, new_subject, sqlite_server

__all__ = ["sqlite_server"]  # the fixture, shared with tests/test_service.py

OPERATIONS = {
    ("get", "/healthz"): ("health", None),
    ("get", "/readyz"): ("ready", "optional"),
    ("post", "/v1/decisions"): ("decide", None),
    ("get", "/v1/decisions"): ("listDecisions", "read"),
    ("post", "/v1/decisions/batch"): ("decideBatch", None),
    ("post", "/v1/explain"): ("explain", None),
    ("get", "/v1/policy"): ("getPolicy", "optional"),
    ("post", "/v1/policy/reload"): ("reloadPolicy", "admin"),
    ("get", "/metrics"): ("metrics", None),
    ("post", "/v1/subjects/{subject}/consents"): ("recordConsent", "admin"),
    ("get", "/v1/subjects/{subject}/consents"): ("getConsents", "read"),
    ("get", "/v1/subjects/{subject}/disclosures"): ("getDisclosures", "read"),
}
SECURITY = {
    None: None,
    "admin": [{"adminToken": []}],
    "read": [{"readToken": []}, {"adminToken": []}],
    "optional": [{}, {"readToken": []}, {"adminToken": []}],
}
ERROR = {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.fixture(scope="module")
def spec(sqlite_server: Server) -> dict[str, Any]:
    status, document = sqlite_server.call("GET", "/openapi.json")
    assert status == 200
    return dict(document)


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)


def test_every_operation_has_an_id_and_says_which_token_it_needs(spec: dict[str, Any]) -> None:
    found = {
        (method, path): (op["operationId"], op.get("security"))
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }
    assert found == {key: (name, SECURITY[role]) for key, (name, role) in OPERATIONS.items()}
    schemes = spec["components"]["securitySchemes"]
    assert {name: (s["type"], s["scheme"]) for name, s in schemes.items()} == {
        "adminToken": ("http", "bearer"),
        "readToken": ("http", "bearer"),
    }
    assert "POLICY_ENGINE_READ_TOKEN" in schemes["readToken"]["description"]


def test_errors_are_declared_with_the_services_error_body(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in json.dumps(spec)
    assert set(spec["components"]["schemas"]["ErrorResponse"]["required"]) == {"error"}
    declared: set[str] = set()
    for ops in spec["paths"].values():
        for op in ops.values():
            for status, response in op["responses"].items():
                if status[0] in "45":
                    assert response["content"]["application/json"]["schema"] == ERROR, op
                    assert response["description"]
                    declared.add(status)
            if op.get("security") in (SECURITY["admin"], SECURITY["read"]):
                assert {"401", "403"} <= op["responses"].keys(), op["operationId"]
    assert declared == {"400", "401", "403", "404", "413", "422", "503"}
    created = spec["paths"]["/v1/subjects/{subject}/consents"]["post"]["responses"]["201"]
    schema = created["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ConsentRecorded"}


def test_every_per_subject_operation_needs_a_token(
    spec: dict[str, Any], sqlite_server: Server
) -> None:
    """Personal data is read (or written) per subject: every operation on a subject's path, now
    or added later, and the decision log, declare a token and refuse a request without one."""
    personal = [
        (method, path)
        for path, ops in spec["paths"].items()
        for method in ops
        if "{subject}" in path or (path == "/v1/decisions" and method == "get")
    ]
    assert len(personal) >= 3
    grant = {"event": "grant", "purposes": ["marketing"], "recorded_by": "a", "source": "b"}
    for method, path in personal:
        assert spec["paths"][path][method]["security"] in (SECURITY["admin"], SECURITY["read"])
        url = path.replace("{subject}", new_subject())
        body = grant if method == "post" else None
        status, error = sqlite_server.call(method.upper(), url, body)
        assert status == 401 and error["diagnostics"][0]["code"] == "unauthorized", (path, error)


@pytest.fixture(scope="module")
def client_package(spec: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A client generated from the document, imported: offline (no post-hooks, so neither
    ruff nor the network is needed), in a second or two."""
    folder = tmp_path_factory.mktemp("client")
    (folder / "openapi.json").write_text(json.dumps(spec), encoding="utf-8")
    (folder / "config.yaml").write_text(
        "post_hooks: []\npackage_name_override: policy_engine_client\n", encoding="utf-8"
    )
    result = subprocess.run(
        [
            *(sys.executable, "-m", "openapi_python_client", "generate", "--meta", "none"),
            *("--path", str(folder / "openapi.json"), "--config", str(folder / "config.yaml")),
            *("--output-path", str(folder / "policy_engine_client")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("policy_engine_client")
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m.split(".")[0] == "policy_engine_client"]:
            del sys.modules[name]


def test_a_generated_client_decides_grants_and_withdraws(
    client_package: Any, sqlite_server: Server
) -> None:
    api = importlib.import_module("policy_engine_client.api")
    models = importlib.import_module("policy_engine_client.models")
    for module in ("decisions.decide", "consent_ledger.record_consent"):
        importlib.import_module(f"policy_engine_client.api.{module}")
    importlib.import_module("policy_engine_client.api.consent_ledger.get_consents")
    anyone = client_package.Client(base_url=sqlite_server.base)
    admin = client_package.AuthenticatedClient(base_url=sqlite_server.base, token=TOKEN)
    reader = client_package.AuthenticatedClient(base_url=sqlite_server.base, token=READ_TOKEN)
    subject = new_subject()
    request = models.DecisionRequest.from_dict(
        {
            "party": "marketing_department",
            "data": "email",
            "purpose": "marketing_communication",
            "subject": subject,
            "context": {"channel": "email", "opted_out_channels": []},
        }
    )

    def effect() -> str:
        decision = api.decisions.decide.sync(client=anyone, body=request)
        assert isinstance(decision, models.DecisionResponse), decision
        return str(decision.effect)

    def record(event: str) -> Any:
        body = models.ConsentEventIn.from_dict(
            {"event": event, "purposes": ["marketing"], "recorded_by": "gen", "source": "client"}
        )
        recorded = api.consent_ledger.record_consent.sync(subject, client=admin, body=body)
        assert isinstance(recorded, models.ConsentRecorded), recorded
        return recorded

    assert effect() == "deny"
    granted = record("grant")
    assert granted.state.consented_purposes == ["marketing"]
    assert effect() == "allow"
    withdrawn = record("withdraw")
    assert withdrawn.state.consented_purposes == []
    assert withdrawn.event.seq > granted.event.seq
    assert effect() == "deny"
    state = api.consent_ledger.get_consents.sync(subject, client=reader)
    assert [e.event for e in state.history] == ["grant", "withdraw"]
    refused = api.consent_ledger.get_consents.sync_detailed(subject, client=anyone)
    assert refused.status_code == 401
    assert isinstance(refused.parsed, models.ErrorResponse)
    assert refused.parsed.diagnostics[0].code == "unauthorized"
