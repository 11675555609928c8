"""The service's defaults for personal information (issue #12), against real server processes on
127.0.0.1, on SQLite and on PostgreSQL where the database matters: tokens by role and blank
tokens, what ``/readyz`` and ``GET /v1/policy`` show without a token, text that cannot be stored
(400, not 503), the decision log's pages, unknown query parameters.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service needs the server extra")
pytest.importorskip("uvicorn", reason="the service needs the server extra")

from policy_engine.service.auth import Access
from policy_engine.service.config import ConfigError, ServiceConfig

from .conftest import PLANISO
from .test_service import (
    MARKETING,
    READ_TOKEN,
    TOKEN,
    Server,
    free_port,
    metric,
    new_subject,
    server,
    sqlite_server,
    start_server,
)

__all__ = ["server", "sqlite_server"]  # the fixtures, shared with tests/test_service.py

GRANT = {"event": "grant", "purposes": ["marketing"], "recorded_by": "clerk", "source": "form"}

# ---- tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "environ", "message"),
    [
        ({"admin_token": ""}, {}, "the admin token (`admin_token` in the config) is empty"),
        ({"read_token": " \t"}, {}, "the read token (`read_token` in the config) is empty"),
        (
            {"admin_token": "good-token"},
            {"POLICY_ENGINE_ADMIN_TOKEN": ""},
            "the admin token (POLICY_ENGINE_ADMIN_TOKEN in the environment) is empty",
        ),
        (
            {},
            {"POLICY_ENGINE_READ_TOKEN": "  "},
            "the read token (POLICY_ENGINE_READ_TOKEN in the environment) is empty",
        ),
        (
            {"admin_token": " padded "},
            {},
            "the admin token (`admin_token` in the config) starts or ends with white space",
        ),
    ],
)
def test_a_blank_token_is_refused(
    config: dict[str, Any], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Access.of(ServiceConfig.model_validate(config), environ)
    assert str(raised.value).startswith(message)


def test_the_environment_takes_precedence_and_tokens_are_optional() -> None:
    config = ServiceConfig(admin_token="from-config", read_token="read-config")
    access = Access.of(config, {"POLICY_ENGINE_ADMIN_TOKEN": "from-env"})
    assert (access.admin, access.read, access.protect_reads) == (b"from-env", b"read-config", True)
    access = Access.of(ServiceConfig(), {})
    assert (access.admin, access.read) == (None, None)
    assert [w.split(" (")[0] for w in access.warnings()] == [
        "no admin token is set",
        "no read token is set",
    ]


def test_serve_refuses_to_start_with_an_empty_admin_token(tmp_path: Path) -> None:
    """``admin_token = ""`` let ``Authorization: Bearer`` with nothing after it write consents."""
    config = tmp_path / "service.toml"
    config.write_text('[service]\nadmin_token = ""\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_ENGINE_")}
    env["POLICY_ENGINE_CACHE_DIR"] = os.environ["POLICY_ENGINE_CACHE_DIR"]
    for extra in ({}, {"POLICY_ENGINE_READ_TOKEN": ""}):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "policy_engine",
                "serve",
                str(PLANISO),
                *("--port", str(free_port()), "--config", str(config)),
                *("--db", f"sqlite:///{tmp_path / 'x.db'}"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, **extra},
        )
        assert result.returncode == 2, result.stderr
        assert "token" in result.stderr and "is empty" in result.stderr
        assert "Traceback" not in result.stderr


def test_without_tokens_both_roles_are_closed_and_say_how_to_open_them(tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        f"sqlite:///{tmp_path / 'decisions.db'}",
        "sqlite",
        env={"POLICY_ENGINE_ADMIN_TOKEN": None, "POLICY_ENGINE_READ_TOKEN": None},
    )
    try:
        log = server.log.read_text()
        assert "no admin token is set (POLICY_ENGINE_ADMIN_TOKEN" in log
        assert "no read token is set (POLICY_ENGINE_READ_TOKEN" in log
        path = f"/v1/subjects/{new_subject()}/consents"
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": f"Bearer {TOKEN}"}):
            status, error = server.call("POST", path, GRANT, headers=headers)
            assert status == 403, error
            assert error["error"] == "no admin token is configured, so admin endpoints are closed"
            assert "POLICY_ENGINE_ADMIN_TOKEN" in error["diagnostics"][0]["help"]
            status, error = server.call("GET", path, headers=headers)
            assert status == 403, error
            assert "reads of personal data are closed" in error["error"]
            assert "POLICY_ENGINE_READ_TOKEN" in error["diagnostics"][0]["help"]
            assert "protect_reads = false" in error["diagnostics"][0]["help"]
        assert server.call("POST", "/v1/decisions", MARKETING)[0] == 200
    finally:
        server.stop()


def test_a_read_token_alone_reads_and_admin_stays_closed(tmp_path: Path) -> None:
    server = start_server(
        tmp_path,
        f"sqlite:///{tmp_path / 'decisions.db'}",
        "sqlite",
        env={"POLICY_ENGINE_ADMIN_TOKEN": None},
    )
    try:
        assert "no admin token is set" in server.log.read_text()
        path = f"/v1/subjects/{new_subject()}/consents"
        assert server.reader("GET", path)[0] == 200
        assert server.call("GET", path)[0] == 401
        assert server.reader("POST", path, GRANT)[0] == 403
        assert server.reader("POST", "/v1/policy/reload")[0] == 403
    finally:
        server.stop()


# ---- what callers without a token see ------------------------------------------------------


def test_readyz_and_the_policy_show_the_database_and_paths_only_with_a_token(
    sqlite_server: Server,
) -> None:
    status, ready = sqlite_server.call("GET", "/readyz")
    assert status == 200 and ready["status"] == "ready" and "storage" not in ready
    status, info = sqlite_server.call("GET", "/v1/policy")
    assert status == 200 and info["path"] is None
    assert sqlite_server.call("GET", "/readyz", headers={"Authorization": "Bearer wrong"}) == (
        200,
        ready,
    )
    for call in (sqlite_server.reader, sqlite_server.admin):
        status, shown = call("GET", "/readyz")
        assert status == 200 and shown["storage"] == sqlite_server.db_url
        status, shown = call("GET", "/v1/policy")
        assert status == 200 and shown["path"] == str(PLANISO)
        assert {k: v for k, v in shown.items() if k != "path"} == {
            k: v for k, v in info.items() if k != "path"
        }


# ---- text the database cannot store ----------------------------------------------------------

BAD_BODIES = [
    (
        "/v1/decisions",
        b'{"party": "marketing_department", "data": "email", "purpose": "marketing", '
        b'"context": {"channel": "\\ud800"}}',
        "`context.channel` holds a lone surrogate (U+D800)",
    ),
    (
        "/v1/decisions",
        b'{"party": "staff", "data": "email", "purpose": "marketing", "subject": "a\\u0000b"}',
        "`subject` holds a NUL character (U+0000)",
    ),
    (
        "/v1/decisions",
        b'{"party": "staff", "data": "email", "purpose": "marketing", '
        b'"context": {"opted_out_channels": ["sms", "x\\u0000"]}}',
        "`context.opted_out_channels[1]` holds a NUL character (U+0000)",
    ),
    (
        "/v1/decisions",
        b'{"party": "staff", "data": "email", "purpose": "marketing", "context": {"k\\udfff": 1}}',
        "a key of `context` holds a lone surrogate (U+DFFF)",
    ),
    (
        "/v1/explain",
        b'{"party": "staff\\udc00", "data": "email", "purpose": "marketing"}',
        "`party` holds a lone surrogate (U+DC00)",
    ),
    (
        "/v1/decisions/batch",
        b'{"requests": [{"party": "staff", "data": "email", "purpose": "marketing"}, '
        b'{"party": "staff", "data": "email", "purpose": "marketing", "subject": "\\u0000"}]}',
        "`requests[1].subject` holds a NUL character (U+0000)",
    ),
]


@pytest.mark.parametrize(("path", "raw", "message"), BAD_BODIES)
def test_text_that_cannot_be_stored_is_a_400_naming_the_field(
    server: Server, path: str, raw: bytes, message: str
) -> None:
    """A lone surrogate (``"\\ud800"``) in a context answered 503 storage-unavailable and
    counted as a failed log write; on PostgreSQL a NUL in a subject did too."""
    failures = "policy_engine_decision_log_write_failures_total"
    before = metric(server.text("/metrics"), failures)
    status, error = server.call("POST", path, raw=raw)
    assert status == 400, error
    (diagnostic,) = error["diagnostics"]
    assert diagnostic["code"] == "bad-text"
    assert diagnostic["message"].startswith(message)
    assert "surrogates" in diagnostic["help"]
    assert metric(server.text("/metrics"), failures) == before
    # A character beyond U+FFFF, escaped as a surrogate pair (json.dumps does), is fine.
    fine = {**MARKETING, "subject": f"{new_subject()}-\U0001f600"}
    status, decision = server.call("POST", "/v1/decisions", fine)
    assert status == 200 and decision["subject"] == fine["subject"], decision


def test_consent_fields_and_subjects_that_cannot_be_stored_are_400(server: Server) -> None:
    path = f"/v1/subjects/{new_subject()}/consents"
    cases = [
        ({**GRANT, "recorded_by": "a\x00b"}, "`recorded_by` holds a NUL character"),
        ({**GRANT, "source": "\udbff"}, "`source` holds a lone surrogate"),
        ({**GRANT, "purposes": ["marketing", "x\x00"]}, "`purposes[1]` holds a NUL character"),
    ]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for body, message in cases:
        raw = _json_with_escapes(body)
        status, error = server.call("POST", path, raw=raw, headers=headers)
        assert status == 400 and error["diagnostics"][0]["code"] == "bad-text", error
        assert error["error"].startswith(message)
    for method, target, auth in [
        ("POST", "/v1/subjects/a%00b/consents", TOKEN),
        ("GET", "/v1/subjects/a%00b/consents", READ_TOKEN),
        ("GET", "/v1/decisions?subject=a%00b", READ_TOKEN),
    ]:
        body = GRANT if method == "POST" else None
        status, error = server.call(
            method, target, body, headers={"Authorization": f"Bearer {auth}"}
        )
        assert status == 400, (target, error)
        assert error["error"].startswith("`subject` holds a NUL character"), error
    assert server.admin("POST", path, GRANT)[0] == 201


def _json_with_escapes(body: dict[str, Any]) -> bytes:
    import json

    return json.dumps(body).encode("ascii")  # ensure_ascii: NUL and surrogates as \\u escapes


# ---- the decision log's pages -----------------------------------------------------------------


def test_the_decision_log_pages_with_a_cursor_and_says_when_there_is_more(server: Server) -> None:
    subject = new_subject()
    ids = [
        server.call("POST", "/v1/decisions", {**MARKETING, "subject": subject})[1]["decision_id"]
        for _ in range(5)
    ]
    seen: list[str] = []
    after: int | None = None
    pages = []
    while True:
        query = f"/v1/decisions?subject={subject}&limit=2" + (f"&after={after}" if after else "")
        status, page = server.reader("GET", query)
        assert status == 200, page
        pages.append((len(page["decisions"]), page["more"]))
        seen += [e["id"] for e in page["decisions"]]
        if page["decisions"]:
            assert page["next"] == page["decisions"][-1]["seq"]
        if not page["more"]:
            break
        after = page["next"]
    assert seen == ids
    assert pages == [(2, True), (2, True), (1, False)]
    status, empty = server.reader("GET", f"/v1/decisions?subject={subject}&after={page['next']}")
    assert (empty["decisions"], empty["next"], empty["more"]) == ([], page["next"], False)
    assert server.reader("GET", "/v1/decisions?after=-1")[0] == 422


# ---- unknown query parameters -----------------------------------------------------------------


def test_an_unknown_query_parameter_is_a_400_naming_it(sqlite_server: Server) -> None:
    status, error = sqlite_server.reader("GET", "/v1/decisions?limt=5")
    assert status == 400
    (diagnostic,) = error["diagnostics"]
    assert diagnostic["code"] == "unknown-query-parameter"
    assert diagnostic["message"] == "unknown query parameter `limt`"
    assert diagnostic["help"] == (
        "did you mean `limit`? this endpoint takes `after`, `limit`, `party`, `since`, `subject`"
    )
    status, error = sqlite_server.reader("GET", "/v1/decisions?subject=a&subjet=b")
    assert status == 400 and error["error"] == "unknown query parameter `subjet`"
    for method, path in [("POST", "/v1/decisions?dry_run=1"), ("GET", "/healthz?verbose")]:
        body = MARKETING if method == "POST" else None
        status, error = sqlite_server.call(method, path, body)
        assert status == 400, (path, error)
        assert error["diagnostics"][0]["help"] == "this endpoint takes no query parameters"
    assert sqlite_server.reader("GET", "/v1/decisions?limit=1&party=staff")[0] == 200
    assert sqlite_server.call("GET", "/nowhere?x=1")[0] == 404
