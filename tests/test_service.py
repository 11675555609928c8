"""The HTTP service, against a real server process on 127.0.0.1, on SQLite and on PostgreSQL.

PostgreSQL tests use database ``test`` on 127.0.0.1:5432 (override with ``POLICY_ENGINE_TEST_PG``)
in a schema of their own, dropped afterwards. Without PostgreSQL they skip, unless
``POLICY_ENGINE_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), which makes that a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service needs the server extra")
pytest.importorskip("uvicorn", reason="the service needs the server extra")

from policy_engine.cli.main import _parser
from policy_engine.service.ledger import consent_state

from .conftest import PLANISO

TOKEN = "test-admin-token-0123456789"
READ_TOKEN = "test-read-token-9876543210"
PG_URL = os.environ.get("POLICY_ENGINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
MAX_BODY = 64 * 1024
MAX_BATCH = 50

MARKETING = {
    "party": "marketing_department",
    "data": "email",
    "purpose": "marketing_communication",
    "context": {"channel": "email", "opted_out_channels": ["sms"]},
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A ``policy-engine serve`` process and how to reach it and its database."""

    process: subprocess.Popen[bytes]
    port: int
    db_url: str
    backend: str
    log: Path
    pg_schema: str | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            text = exc.read()
            try:
                return exc.code, json.loads(text)
            except ValueError:
                return exc.code, text.decode("utf-8", "replace")

    def text(self, path: str) -> str:
        with urllib.request.urlopen(self.base + path, timeout=10) as response:
            assert response.status == 200
            return str(response.read().decode("utf-8"))

    def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return self.call(method, path, body, headers={"Authorization": f"Bearer {TOKEN}"})

    def reader(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """A call with the read token (reads of the decision log and the consent records)."""
        return self.call(method, path, body, headers={"Authorization": f"Bearer {READ_TOKEN}"})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(
    workdir: Path,
    db_url: str,
    backend: str,
    pg_schema: str | None = None,
    *,
    policy: Path = PLANISO,
    extra_config: str = "",
    env: dict[str, str | None] | None = None,
) -> Server:
    """A server with both tokens in its environment, unless ``env`` says otherwise (None: the
    variable left out)."""
    config = workdir / "service.toml"
    config.write_text(
        f"[service]\nmax_body_bytes = {MAX_BODY}\nmax_batch = {MAX_BATCH}\n"
        'mask_context_keys = ["subject_age"]\n' + extra_config,
        encoding="utf-8",
    )
    port = free_port()
    log = workdir / f"server-{backend}.log"
    variables: dict[str, str | None] = {
        **os.environ,
        "POLICY_ENGINE_ADMIN_TOKEN": TOKEN,
        "POLICY_ENGINE_READ_TOKEN": READ_TOKEN,
        **(env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "policy_engine",
        "serve",
        str(policy),
        "--port",
        str(port),
        "--db",
        db_url,
        "--config",
        str(config),
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env={k: v for k, v in variables.items() if v is not None},
            stdout=out,
            stderr=out,
        )
    server = Server(process, port, db_url, backend, log, pg_schema)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}:\n{log.read_text()}")
        try:
            status, _ = server.call("GET", "/readyz")
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"server not ready in 30 s:\n{log.read_text()}")


def postgres_or_skip() -> Any:
    """A psycopg connection to the test database, or skip (fail under CI) with the reason."""
    try:
        import psycopg
    except ImportError:
        reason = "psycopg is not installed (pip install 'policy-engine[server]')"
    else:
        try:
            return psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            reason = f"PostgreSQL is not reachable at {PG_URL}: {exc}".strip()
    if os.environ.get("POLICY_ENGINE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"POLICY_ENGINE_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


def own_database(backend: str, tmp_path: Path, name: str) -> Iterator[tuple[str, str, str]]:
    """(backend, db URL, PostgreSQL schema or "") of a database of one test's own: a SQLite file
    in its folder, or a fresh PostgreSQL schema dropped afterwards. For a fixture to yield from."""
    if backend == "sqlite":
        yield "sqlite", f"sqlite:///{tmp_path / f'{name}.db'}", ""
        return
    conn = postgres_or_skip()
    schema = f"pe_{name}_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield "postgresql", f"{PG_URL}?options=-csearch_path%3D{schema}", schema
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"service-{request.param}")
    if request.param == "sqlite":
        srv = start_server(workdir, f"sqlite:///{workdir / 'decisions.db'}", "sqlite")
        try:
            yield srv
        finally:
            srv.stop()
        return
    conn = postgres_or_skip()
    schema = f"pe_test_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        srv = start_server(workdir, url, "postgresql", schema)
        try:
            yield srv
        finally:
            srv.stop()
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """For the tests that do not depend on the database."""
    workdir = tmp_path_factory.mktemp("service-http")
    srv = start_server(workdir, f"sqlite:///{workdir / 'decisions.db'}", "sqlite")
    try:
        yield srv
    finally:
        srv.stop()


def new_subject() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policy_engine", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


# ---- operations and the policy ----------------------------------------------------------------


def test_health_ready_and_openapi(sqlite_server: Server) -> None:
    assert sqlite_server.call("GET", "/healthz") == (200, {"status": "ok"})
    status, ready = sqlite_server.call("GET", "/readyz")
    assert status == 200 and ready["status"] == "ready" and len(ready["policy_version"]) == 64
    status, spec = sqlite_server.call("GET", "/openapi.json")
    assert status == 200
    for path in ("/v1/decisions", "/v1/decisions/batch", "/v1/explain", "/v1/policy"):
        assert path in spec["paths"]
    # The decision endpoints read their bodies themselves (service.body): still documented.
    schemas = spec["components"]["schemas"]
    for path, model in [
        ("/v1/decisions", "DecisionRequest"),
        ("/v1/decisions/batch", "BatchRequest"),
        ("/v1/explain", "DecisionRequest"),
    ]:
        body = spec["paths"][path]["post"]["requestBody"]
        assert body["required"] is True
        ref = body["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{model}"
    assert schemas["BatchRequest"]["properties"]["requests"]["items"] == {
        "$ref": "#/components/schemas/DecisionRequest"
    }
    assert set(schemas["DecisionRequest"]["required"]) == {"party", "data", "purpose"}


def test_serve_binds_loopback_by_default() -> None:
    args = _parser().parse_args(["serve", "rules"])
    assert (args.host, args.port, args.db) == ("127.0.0.1", 8181, None)


def test_serve_refuses_a_broken_policy(tmp_path: Path) -> None:
    bad = tmp_path / "bad.policy"
    bad.write_text("party a\nrule r allow b to use c for d\n", encoding="utf-8")
    result = run_cli("serve", str(bad), "--port", str(free_port()), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2
    assert "error" in result.stderr


def test_policy_info(sqlite_server: Server) -> None:
    status, info = sqlite_server.call("GET", "/v1/policy")
    assert status == 200
    assert len(info["version"]) == 64 and info["loaded_at"].endswith("Z")
    purposes = {t["name"]: t["parents"] for t in info["vocabulary"]["purpose"]}
    assert purposes["marketing_communication"] == ["marketing"]
    parties = {t["name"]: t["parents"] for t in info["vocabulary"]["party"]}
    assert parties["marketing_department"] == ["staff"]
    rules = {r["id"]: r for r in info["rules"]}
    assert rules["cloud_providers_hosting"]["citation"] == "§5.1"
    assert info["consent_context_key"] == "consented_purposes"
    keys = {k["name"]: k["type"] for k in info["context"]}
    assert keys["consented_purposes"] == "set of purpose"
    # The key the policy marks `from consent ledger`, and only it, is filled from the ledger.
    sources = {k["name"]: k["source"] for k in info["context"]}
    assert sources.pop("consented_purposes") == "consent-ledger"
    assert set(sources.values()) == {"request"}


# ---- decisions --------------------------------------------------------------------------------


def test_decision_is_the_library_decision_plus_an_id(sqlite_server: Server) -> None:
    import policy_engine

    body = {
        "party": "cloud_providers",
        "data": "email",
        "purpose": "data_hosting",
        "context": {"destination": "US"},
    }
    status, decision = sqlite_server.call("POST", "/v1/decisions", body)
    assert status == 200
    expected = (
        policy_engine.load_policy(PLANISO)
        .decide("cloud_providers", "email", "data_hosting", {"destination": "US"})
        .model_dump()
    )
    for key in ("allowed", "effect", "obligations", "missing", "policy_version"):
        assert decision[key] == expected[key]
    assert decision["obligations"] == ["ensure_adequate_protection"]
    assert [r["id"] for r in decision["reasons"]] == ["cloud_providers_hosting"]
    assert uuid.UUID(decision["decision_id"])
    assert decision["context_sources"] == {}


def test_unknown_term_is_400_with_diagnostics(sqlite_server: Server) -> None:
    body = {**MARKETING, "party": "marketing_dept"}
    status, error = sqlite_server.call("POST", "/v1/decisions", body)
    assert status == 400
    assert "allowed" not in error
    (diagnostic,) = error["diagnostics"]
    assert diagnostic["code"] == "unknown-term"
    assert diagnostic["message"] == "unknown party `marketing_dept`"
    assert diagnostic["help"] == "did you mean `marketing_department`?"


def test_bad_context_is_400(sqlite_server: Server) -> None:
    body = {**MARKETING, "context": {"subject_age": "ten", "colour": "red"}}
    status, error = sqlite_server.call("POST", "/v1/decisions", body)
    assert status == 400
    codes = sorted(d["code"] for d in error["diagnostics"])
    assert codes == ["unknown-context-key", "wrong-context-type"]
    assert all(d["message"] and "help" in d for d in error["diagnostics"])


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b'{"party": "staff",', 400, "bad-json"),
        (b"not json at all", 400, "bad-json"),
        (b'{"party": "staff"}', 422, "bad-request"),
        (b'{"party": 1, "data": "email", "purpose": "marketing"}', 422, "bad-request"),
        (
            b'{"party": "staff", "data": "email", "purpose": "marketing", "x": 1}',
            422,
            "bad-request",
        ),
        (
            b'{"party": "staff", "data": "email", "purpose": "marketing", "context": []}',
            422,
            "bad-request",
        ),
        (b"[]", 422, "bad-request"),
    ],
)
def test_malformed_bodies(sqlite_server: Server, raw: bytes, status: int, code: str) -> None:
    got, error = sqlite_server.call("POST", "/v1/decisions", raw=raw)
    assert got == status
    assert error["diagnostics"][0]["code"] == code
    assert error["error"]


def test_body_limit_is_413(sqlite_server: Server) -> None:
    padding = "x" * (MAX_BODY + 1)
    body = {**MARKETING, "context": {"channel": padding}}
    status, error = sqlite_server.call("POST", "/v1/decisions", body)
    assert status == 413
    assert error["diagnostics"][0]["code"] == "body-too-large"


def test_batch(sqlite_server: Server) -> None:
    requests = [
        {**MARKETING, "context": {**MARKETING["context"], "consented_purposes": ["marketing"]}},
        {"party": "delivery_partners", "data": "payment_details", "purpose": "order_delivery"},
    ]
    status, out = sqlite_server.call("POST", "/v1/decisions/batch", {"requests": requests})
    assert status == 200
    assert [d["effect"] for d in out["decisions"]] == ["allow", "deny"]
    assert len({d["decision_id"] for d in out["decisions"]}) == 2


def test_batch_with_a_bad_request_names_it_and_decides_nothing(sqlite_server: Server) -> None:
    requests = [MARKETING, {**MARKETING, "purpose": "marketting"}]
    status, error = sqlite_server.call("POST", "/v1/decisions/batch", {"requests": requests})
    assert status == 400
    assert "in request 1" in error["error"]
    assert error["diagnostics"][0]["code"] == "unknown-term"


def test_batch_limit_is_413(sqlite_server: Server) -> None:
    requests = [{"party": "staff", "data": "email", "purpose": "marketing"}] * (MAX_BATCH + 1)
    status, error = sqlite_server.call("POST", "/v1/decisions/batch", {"requests": requests})
    assert status == 413
    assert error["diagnostics"][0]["code"] == "batch-too-large"


def test_explain(sqlite_server: Server) -> None:
    status, out = sqlite_server.call("POST", "/v1/explain", MARKETING)
    assert status == 200
    assert out["decision"]["effect"] == "deny"
    assert out["decision"]["missing"] == ["consented_purposes"]
    assert out["trace"]["decision"]["effect"] == "deny"
    assert any(r["id"] == "marketing_department_communication" for r in out["trace"]["considered"])
    assert "marketing_department_communication" in out["explanation"]
    status, error = sqlite_server.call("POST", "/v1/explain", {**MARKETING, "data": "emial"})
    assert status == 400 and error["diagnostics"][0]["code"] == "unknown-term"


# ---- the consent ledger, on both back ends ----------------------------------------------------


def test_consent_writes_need_the_admin_token(server: Server) -> None:
    path = f"/v1/subjects/{new_subject()}/consents"
    event = {"event": "grant", "purposes": ["marketing"], "recorded_by": "a", "source": "web"}
    status, error = server.call("POST", path, event)
    assert status == 401 and error["diagnostics"][0]["code"] == "unauthorized"
    status, error = server.call("POST", path, event, headers={"Authorization": "Bearer wrong"})
    assert status == 403
    status, error = server.call("POST", path, event, headers={"Authorization": f"Basic {TOKEN}"})
    assert status == 403
    # The read token reads; it does not write.
    status, error = server.reader("POST", path, event)
    assert status == 403 and error["error"] == "the admin bearer token is not valid"
    status, state = server.reader("GET", path)
    assert status == 200 and state["history"] == []


def test_reads_of_personal_data_need_the_read_or_admin_token_by_default(server: Server) -> None:
    """The decision log and the consent records hold personal information: by default (no
    ``protect_reads`` in the config) they are for the read token and the admin token only;
    decisions and the policy stay open."""
    subject = new_subject()
    status, decision = server.call("POST", "/v1/decisions", {**MARKETING, "subject": subject})
    assert status == 200
    for path in (f"/v1/decisions?subject={subject}", f"/v1/subjects/{subject}/consents"):
        status, error = server.call("GET", path)
        assert status == 401 and error["diagnostics"][0]["code"] == "unauthorized", path
        assert error["error"] == "this endpoint needs a read (or admin) bearer token"
        for header in ("Bearer wrong", "Bearer", "Bearer ", f"Basic {READ_TOKEN}", READ_TOKEN):
            status, error = server.call("GET", path, headers={"Authorization": header})
            assert status == 403 and error["diagnostics"][0]["code"] == "forbidden", header
        assert server.reader("GET", path)[0] == 200, path
        assert server.admin("GET", path)[0] == 200, path
    status, page = server.reader("GET", f"/v1/decisions?subject={subject}")
    assert [e["id"] for e in page["decisions"]] == [decision["decision_id"]]
    assert server.call("GET", "/v1/policy")[0] == 200
    assert server.reader("POST", "/v1/policy/reload")[0] == 403


def test_protect_reads_false_opens_the_log_and_the_ledger(tmp_path: Path) -> None:
    """``protect_reads = false``, said in the config, lets anyone read the decision log and
    the consent records; the server warns about it when it starts."""
    server = start_server(
        tmp_path,
        f"sqlite:///{tmp_path / 'decisions.db'}",
        "sqlite",
        extra_config="protect_reads = false\n",
    )
    try:
        subject = new_subject()
        status, decision = server.call("POST", "/v1/decisions", {**MARKETING, "subject": subject})
        assert status == 200
        status, page = server.call("GET", f"/v1/decisions?subject={subject}")
        assert status == 200
        assert [e["id"] for e in page["decisions"]] == [decision["decision_id"]]
        assert server.call("GET", f"/v1/subjects/{subject}/consents")[0] == 200
        assert "`protect_reads = false`: anyone who reaches the service" in server.log.read_text()
    finally:
        server.stop()


def test_consent_rejects_unknown_purposes_and_bad_events(server: Server) -> None:
    path = f"/v1/subjects/{new_subject()}/consents"
    status, error = server.admin(
        "POST",
        path,
        {"event": "grant", "purposes": ["marketting"], "recorded_by": "a", "source": "w"},
    )
    assert status == 400 and error["diagnostics"][0]["help"] == "did you mean `marketing`?"
    status, _ = server.admin("POST", path, {"event": "revoke", "purposes": ["marketing"]})
    assert status == 422
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    status, error = server.admin(
        "POST",
        path,
        {
            "event": "grant",
            "purposes": ["marketing"],
            "recorded_by": "a",
            "source": "w",
            "timestamp": future,
        },
    )
    assert status == 422 and error["diagnostics"][0]["code"] == "timestamp-in-future"


@pytest.mark.parametrize("field", ["timestamp", "expires_at"])
def test_consent_instants_outside_a_sane_range_are_refused(server: Server, field: str) -> None:
    """A grant dated 0999-01-01 sorted after 2026 (its year written with three digits), so a
    later withdrawal lost and the decision was allow; an expiry in 999 kept a grant alive."""
    subject = new_subject()
    event = {"event": "grant", "purposes": ["marketing"], "recorded_by": "a", "source": "w"}
    status, error = server.admin(
        "POST", f"/v1/subjects/{subject}/consents", {**event, field: "0999-01-01T00:00:00Z"}
    )
    assert status == 400
    [problem] = error["diagnostics"]
    assert problem["code"] == "timestamp-out-of-range"
    assert problem["message"] == (
        f"`{field}` 0999-01-01T00:00:00.000000Z is outside 1970-01-01 to 9999-12-30"
    )
    status, state = server.call("POST", "/v1/decisions", {**MARKETING, "subject": subject})
    assert status == 200 and state["effect"] == "deny"


def test_stored_instants_have_four_digit_years() -> None:
    from datetime import UTC, datetime

    from policy_engine.service.storage_types import format_time

    assert format_time(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00.000000Z"
    assert format_time(datetime(2026, 12, 6, 10, 0, 1, 5)) == "2026-12-06T10:00:01.000005Z"
    assert format_time(datetime(999, 1, 1, tzinfo=UTC)) < format_time(datetime(2026, 1, 1))


def test_ledger_fills_consent_and_a_withdrawal_applies_at_once(server: Server) -> None:
    subject = new_subject()
    path = f"/v1/subjects/{subject}/consents"
    request = {**MARKETING, "subject": subject}

    status, before = server.call("POST", "/v1/decisions", request)
    assert status == 200 and before["effect"] == "deny"
    assert before["request"]["context"]["consented_purposes"] == []
    assert before["context_sources"] == {"consented_purposes": "consent-ledger"}

    grant = {"event": "grant", "purposes": ["marketing"], "recorded_by": "clerk", "source": "form"}
    status, recorded = server.admin("POST", path, grant)
    assert status == 201 and recorded["state"]["consented_purposes"] == ["marketing"]
    status, granted = server.call("POST", "/v1/decisions", request)
    assert granted["effect"] == "allow", granted
    assert granted["request"]["context"]["consented_purposes"] == ["marketing"]

    withdraw = {
        "event": "withdraw",
        "purposes": ["marketing_communication"],
        "recorded_by": "clerk",
        "source": "email",
    }
    status, _ = server.admin("POST", path, withdraw)
    assert status == 201
    status, after = server.call("POST", "/v1/decisions", request)
    assert after["effect"] == "deny"
    assert after["request"]["context"]["consented_purposes"] == ["advertising", "market_research"]

    # A context that states the key itself is taken as given, and says so.
    stated = {**request, "context": {**MARKETING["context"], "consented_purposes": ["marketing"]}}
    status, own = server.call("POST", "/v1/decisions", stated)
    assert own["effect"] == "allow" and own["context_sources"] == {"consented_purposes": "request"}

    status, state = server.reader("GET", path)
    assert status == 200
    assert state["consented_purposes"] == ["advertising", "market_research"]
    assert [e["event"] for e in state["history"]] == ["grant", "withdraw"]
    assert state["history"][0]["recorded_by"] == "clerk"


def test_expired_grants_are_left_out(server: Server) -> None:
    subject = new_subject()
    path = f"/v1/subjects/{subject}/consents"
    past = datetime.now(UTC) - timedelta(days=30)
    expired = {
        "event": "grant",
        "purposes": ["marketing"],
        "recorded_by": "clerk",
        "source": "form",
        "timestamp": past.isoformat(),
        "expires_at": (past + timedelta(days=1)).isoformat(),
    }
    lasting = {**expired, "purposes": ["market_research"], "expires_at": None}
    assert server.admin("POST", path, expired)[0] == 201
    assert server.admin("POST", path, lasting)[0] == 201
    assert server.reader("GET", path)[0] == 200
    _, state = server.reader("GET", path)
    assert state["consented_purposes"] == ["market_research"]
    assert len(state["history"]) == 2
    _, decision = server.call("POST", "/v1/decisions", {**MARKETING, "subject": subject})
    assert decision["effect"] == "deny"
    assert decision["request"]["context"]["consented_purposes"] == ["market_research"]


LEDGER_POLICY = """\
party org
data email
purpose marketing, support
context agreed: set of purpose from consent ledger
context consented_purposes: set of purpose
rule agreed_marketing §1
  allow org to use email for marketing
  when purpose in agreed
"""


def test_the_ledger_fills_the_key_the_policy_marks_and_no_other(tmp_path: Path) -> None:
    """The mark, not a setting or a name, says which key the ledger supplies: here `agreed`,
    while `consented_purposes` is an ordinary key. Unmarked (after a reload): nothing is filled."""
    from policy_engine.service.config import ServiceConfig
    from policy_engine.service.models import ConsentEventIn, DecisionRequest
    from policy_engine.service.policy_service import PolicyService
    from policy_engine.service.storage import open_storage

    policy = tmp_path / "ledger.policy"
    policy.write_text(LEDGER_POLICY, encoding="utf-8")
    storage = open_storage(f"sqlite:///{tmp_path / 'decisions.db'}")
    try:
        service = PolicyService(str(policy), storage, ServiceConfig())
        assert service.policy.ledger_key == "agreed"
        grant = {"event": "grant", "purposes": ["marketing"], "recorded_by": "a", "source": "w"}
        service.record_consent("org-a", ConsentEventIn.model_validate(grant))
        request = DecisionRequest.model_validate(
            {"party": "org", "data": "email", "purpose": "marketing", "subject": "org-a"}
        )
        ((decision, body, _),) = service.decide([request])
        assert decision.effect == "allow"
        assert body["request"]["context"] == {"agreed": ["marketing"]}
        assert body["context_sources"] == {"agreed": "consent-ledger"}
        info = service.info()
        assert info.consent_context_key == "agreed"
        assert {k.name: k.source for k in info.context} == {
            "agreed": "consent-ledger",
            "consented_purposes": "request",
        }

        policy.write_text(LEDGER_POLICY.replace(" from consent ledger", ""), encoding="utf-8")
        assert service.reload("api")["changed"] is True
        assert service.policy.ledger_key is None
        ((decision, body, _),) = service.decide([request])
        assert (decision.effect, decision.missing) == ("deny", ["agreed"])
        assert body["request"]["context"] == {}
        assert body["context_sources"] == {}
        info = service.info()
        assert info.consent_context_key is None
        assert {k.source for k in info.context} == {"request"}
        # The ledger still keeps and shows the subject's consent; decisions just do not read it.
        assert service.consents("org-a").consented_purposes == ["marketing"]
    finally:
        storage.close()


def test_a_config_naming_the_ledger_key_is_refused(tmp_path: Path) -> None:
    from policy_engine.service.config import ConfigError, load_config

    config = tmp_path / "service.toml"
    config.write_text('[service]\nconsent_context_key = "consented_purposes"\n', encoding="utf-8")
    message = (
        f"config file `{config}`: `consent_context_key` is no longer a setting: the policy marks "
        "the context key the consent ledger supplies, e.g. `context consented_purposes: set of "
        "purpose from consent ledger`; remove the setting and mark the key instead"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert str(raised.value) == message
    result = run_cli("serve", str(PLANISO), "--config", str(config), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2
    assert message in result.stderr


# ---- the decision log, on both back ends ------------------------------------------------------


def test_decision_log_query(server: Server) -> None:
    subject = new_subject()
    start = datetime.now(UTC) - timedelta(seconds=1)
    ids = []
    for purpose in ("marketing_communication", "advertising"):
        body = {**MARKETING, "purpose": purpose, "subject": subject}
        body["context"] = {**MARKETING["context"], "subject_age": 40}
        ids.append(server.call("POST", "/v1/decisions", body)[1]["decision_id"])
    status, page = server.reader("GET", f"/v1/decisions?subject={subject}")
    assert status == 200
    logged = page["decisions"]
    assert [e["id"] for e in logged] == ids
    first = logged[0]
    assert first["effect"] == "deny" and first["policy_version"]
    assert first["reasons"] == [] and first["context_sources"] == {
        "consented_purposes": "consent-ledger"
    }
    assert first["request"]["context"]["channel"] == "email"
    assert first["request"]["context"]["subject_age"] == "***"  # masked by the config
    assert len(first["hash"]) == 64
    since = start.strftime("%Y-%m-%dT%H:%M:%S")
    status, page = server.reader(
        "GET", f"/v1/decisions?subject={subject}&party=marketing_department&since={since}Z"
    )
    assert [e["id"] for e in page["decisions"]] == ids
    status, page = server.reader("GET", "/v1/decisions?party=law_enforcement&limit=5")
    assert status == 200 and page["decisions"] == []
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    status, page = server.reader("GET", f"/v1/decisions?subject={subject}&since={future}")
    assert page["decisions"] == []
    assert server.reader("GET", "/v1/decisions?since=yesterday")[0] == 422


def test_log_verify_passes_then_names_a_tampered_entry(server: Server) -> None:
    subject = new_subject()
    ids = [
        server.call("POST", "/v1/decisions", {**MARKETING, "subject": subject})[1]["decision_id"]
        for _ in range(3)
    ]
    result = run_cli("log", "verify", "--db", server.db_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "decision log intact" in result.stdout

    victim = ids[1]
    sql = "UPDATE decision_log SET entry = REPLACE(entry, '\"deny\"', '\"allow\"') WHERE id = {}"
    if server.backend == "sqlite":
        path = server.db_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            conn.execute(sql.format("?"), (victim,))
        conn.close()
    else:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as pg:
            pg.execute(f'SET search_path TO "{server.pg_schema}"')
            pg.execute(sql.format("%s"), (victim,))
    result = run_cli("log", "verify", "--db", server.db_url)
    assert result.returncode == 1
    assert victim in result.stdout
    assert "was changed" in result.stdout


# ---- the ledger's meaning ---------------------------------------------------------------------


def test_withdrawing_part_of_a_grant_keeps_the_rest(planiso: Any) -> None:
    purposes = planiso.compiled.hierarchies["purpose"]

    def event(seq: int, kind: str, names: list[str], expires: str | None = None) -> dict[str, Any]:
        return {
            "seq": seq,
            "event": kind,
            "purposes": names,
            "recorded_by": "x",
            "source": "y",
            "timestamp": f"2024-01-0{seq}T00:00:00.000000Z",
            "expires_at": expires,
        }

    now = "2024-06-01T00:00:00.000000Z"
    events = [event(1, "grant", ["marketing", "profiling"]), event(2, "withdraw", ["advertising"])]
    assert sorted(consent_state(events, purposes, now)) == [
        "market_research",
        "marketing_communication",
        "profiling",
    ]
    events.append(event(3, "withdraw", ["marketing"]))
    assert sorted(consent_state(events, purposes, now)) == ["profiling"]
    events.append(event(4, "grant", ["marketing"], "2024-02-01T00:00:00.000000Z"))
    assert sorted(consent_state(events, purposes, now)) == ["profiling"]
    assert "marketing" in consent_state(events, purposes, "2024-01-20T00:00:00.000000Z")


def test_the_library_does_not_import_the_web_stack() -> None:
    code = (
        "import sys, policy_engine, policy_engine.cli, policy_engine.service.storage; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'starlette', 'uvicorn', 'psycopg')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# ---- hot reload -------------------------------------------------------------------------------

HOSTING = {
    "party": "cloud_providers",
    "data": "email",
    "purpose": "data_hosting",
    "context": {"destination": "US"},
}
HOSTING_RULE = """rule cloud_providers_hosting §5.1
  "Cloud service providers host data on secure servers for storage and retrieval"
  allow cloud_providers to use personal_information for data_hosting
  with obligation ensure_adequate_protection when destination is known and destination != "CA-QC"
"""
BROKEN_RULE = "\nrule broken\n  allow nobody to use email for data_hosting\n"


@pytest.fixture
def reloadable(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """A server on a copy of rules/planiso that the test may change, with the copy's
    access.policy (which holds the rule `cloud_providers_hosting`)."""
    policy = tmp_path / "policy"
    shutil.copytree(PLANISO, policy)
    access = policy / "access.policy"
    assert HOSTING_RULE in access.read_text(encoding="utf-8")
    srv = start_server(tmp_path, f"sqlite:///{tmp_path / 'decisions.db'}", "sqlite", policy=policy)
    try:
        yield srv, access
    finally:
        srv.stop()


def drop_hosting_rule(access: Path) -> None:
    text = access.read_text(encoding="utf-8")
    access.write_text(text.replace(HOSTING_RULE, ""), encoding="utf-8")


def wait_for_version(server: Server, old: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, info = server.call("GET", "/v1/policy")
        if status == 200 and info["version"] != old:
            return dict(info)
        time.sleep(0.1)
    raise AssertionError(f"policy version still {old} after {timeout} s:\n{server.log.read_text()}")


def test_reload_serves_the_changed_policy(reloadable: tuple[Server, Path]) -> None:
    server, access = reloadable
    _, before = server.call("GET", "/v1/policy")
    status, decision = server.call("POST", "/v1/decisions", HOSTING)
    assert status == 200 and decision["effect"] == "allow"
    assert decision["policy_version"] == before["version"]

    # Reloading unchanged files succeeds and says nothing changed.
    status, same = server.admin("POST", "/v1/policy/reload")
    assert status == 200, same
    assert same["changed"] is False and same["version"] == before["version"]

    drop_hosting_rule(access)
    status, out = server.admin("POST", "/v1/policy/reload")
    assert status == 200, out
    assert out["changed"] is True and out["previous_version"] == before["version"]
    new_version = out["version"]
    assert new_version != before["version"]

    status, decision = server.call("POST", "/v1/decisions", HOSTING)
    assert status == 200 and decision["effect"] == "deny"
    assert decision["policy_version"] == new_version
    _, after = server.call("GET", "/v1/policy")
    assert after["version"] == new_version
    assert after["loaded_at"] > before["loaded_at"]
    assert "cloud_providers_hosting" not in {r["id"] for r in after["rules"]}


def test_a_broken_policy_is_refused_and_the_old_one_keeps_serving(
    reloadable: tuple[Server, Path],
) -> None:
    server, access = reloadable
    _, before = server.call("GET", "/v1/policy")
    access.write_text(access.read_text(encoding="utf-8") + BROKEN_RULE, encoding="utf-8")
    lines = access.read_text(encoding="utf-8").splitlines()
    bad_line = lines.index("  allow nobody to use email for data_hosting") + 1

    status, error = server.admin("POST", "/v1/policy/reload")
    assert status == 422, error
    assert error["error"] == "policy reload refused: unknown party `nobody`"
    assert error["policy_version"] == before["version"]
    (diagnostic,) = [d for d in error["diagnostics"] if d["severity"] == "error"]
    assert diagnostic["code"] == "unknown-term"
    assert diagnostic["message"] == "unknown party `nobody`"
    assert diagnostic["help"]
    assert diagnostic["file"] == "policy/access.policy"
    assert (diagnostic["line"], diagnostic["column"]) == (bad_line, 9)

    status, decision = server.call("POST", "/v1/decisions", HOSTING)
    assert status == 200 and decision["effect"] == "allow"
    assert decision["policy_version"] == before["version"]
    _, after = server.call("GET", "/v1/policy")
    assert (after["version"], after["loaded_at"]) == (before["version"], before["loaded_at"])
    assert server.call("GET", "/readyz")[0] == 200
    # The refusal is in the server's log too, with the place.
    deadline = time.monotonic() + 5
    while "reload (api) refused" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log.read_text()
    assert "reload (api) refused" in log and f"policy/access.policy:{bad_line}:9" in log

    metrics = server.text("/metrics")
    assert 'policy_engine_policy_reloads_total{outcome="failure",trigger="api"} 1' in metrics
    assert 'policy_engine_policy_reloads_total{outcome="success",trigger="api"} 0' in metrics


def test_sighup_reloads(reloadable: tuple[Server, Path]) -> None:
    server, access = reloadable
    _, before = server.call("GET", "/v1/policy")
    drop_hosting_rule(access)
    os.kill(server.process.pid, signal.SIGHUP)
    after = wait_for_version(server, before["version"])
    assert server.process.poll() is None
    _, decision = server.call("POST", "/v1/decisions", HOSTING)
    assert decision["effect"] == "deny" and decision["policy_version"] == after["version"]
    metrics = server.text("/metrics")
    assert 'policy_engine_policy_reloads_total{outcome="success",trigger="signal"} 1' in metrics

    # A broken file on SIGHUP: refused, logged, counted; the server keeps serving.
    access.write_text(access.read_text(encoding="utf-8") + BROKEN_RULE, encoding="utf-8")
    os.kill(server.process.pid, signal.SIGHUP)
    failure = 'policy_engine_policy_reloads_total{outcome="failure",trigger="signal"} 1'
    deadline = time.monotonic() + 15
    while failure not in server.text("/metrics") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert failure in server.text("/metrics")
    assert server.call("GET", "/v1/policy")[1]["version"] == after["version"]
    # The failure is counted just before it is logged (in the reload's thread): wait for both.
    while "reload (signal) refused" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "reload (signal) refused" in server.log.read_text()


def test_the_watcher_reloads_on_file_change(tmp_path: Path) -> None:
    policy = tmp_path / "policy"
    shutil.copytree(PLANISO, policy)
    server = start_server(
        tmp_path,
        f"sqlite:///{tmp_path / 'decisions.db'}",
        "sqlite",
        policy=policy,
        extra_config="watch_interval = 0.2\n",
    )
    try:
        _, before = server.call("GET", "/v1/policy")
        drop_hosting_rule(policy / "access.policy")
        after = wait_for_version(server, before["version"])
        _, decision = server.call("POST", "/v1/decisions", HOSTING)
        assert decision["effect"] == "deny" and decision["policy_version"] == after["version"]
        metrics = server.text("/metrics")
        assert 'policy_engine_policy_reloads_total{outcome="success",trigger="watch"} 1' in metrics
    finally:
        server.stop()


def test_requests_in_flight_finish_on_the_version_they_started_with(tmp_path: Path) -> None:
    """A reload that lands in the middle of a batch: the whole batch is decided (and logged)
    under the version it started with; the next request gets the new one."""
    from policy_engine.service.config import ServiceConfig
    from policy_engine.service.models import DecisionRequest
    from policy_engine.service.policy_service import PolicyService
    from policy_engine.service.storage import open_storage

    policy = tmp_path / "policy"
    shutil.copytree(PLANISO, policy)
    storage = open_storage(f"sqlite:///{tmp_path / 'decisions.db'}")
    try:
        service = PolicyService(str(policy), storage, ServiceConfig())
        old = service.policy.version
        reloaded: list[str] = []
        read_events = storage.consent_events

        def consent_events_then_reload(subject: str) -> list[dict[str, Any]]:
            # The first ledger read of the batch: change the rules and reload meanwhile.
            if not reloaded:
                drop_hosting_rule(policy / "access.policy")
                reloaded.append(service.reload("api")["version"])
            return read_events(subject)

        storage.consent_events = consent_events_then_reload  # type: ignore[method-assign]
        batch = [
            DecisionRequest.model_validate({**MARKETING, "subject": "org-a"}),
            DecisionRequest.model_validate({**HOSTING, "subject": "org-b"}),
        ]
        decided = service.decide(batch)
        assert reloaded and reloaded[0] != old
        assert [d.policy_version for d, _, _ in decided] == [old, old]
        assert decided[1][0].effect == "allow"  # the rule the reload removed still applied
        logged = storage.query_decisions(subject="org-b")
        assert [e["policy_version"] for e in logged] == [old]

        (decision, _, _), *_ = service.decide([DecisionRequest.model_validate(HOSTING)])
        assert decision.effect == "deny" and decision.policy_version == reloaded[0]
    finally:
        storage.close()


def test_reload_needs_the_admin_token(sqlite_server: Server) -> None:
    status, error = sqlite_server.call("POST", "/v1/policy/reload")
    assert status == 401 and error["diagnostics"][0]["code"] == "unauthorized"
    status, error = sqlite_server.call(
        "POST", "/v1/policy/reload", headers={"Authorization": "Bearer wrong"}
    )
    assert status == 403 and error["diagnostics"][0]["code"] == "forbidden"
    status, error = sqlite_server.call(
        "POST", "/v1/policy/reload", headers={"Authorization": f"Basic {TOKEN}"}
    )
    assert status == 403


# ---- metrics ----------------------------------------------------------------------------------


def metric(text: str, sample: str) -> float:
    """The value of one sample line (name with its labels) in Prometheus text format."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample `{sample}` in:\n{text}")


def test_metrics(sqlite_server: Server) -> None:
    request = urllib.request.Request(sqlite_server.base + "/metrics")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        before = response.read().decode("utf-8")
    for family, kind in (
        ("policy_engine_decisions_total", "counter"),
        ("policy_engine_decision_duration_seconds", "histogram"),
        ("policy_engine_policy_reloads_total", "counter"),
        ("policy_engine_decision_log_write_failures_total", "counter"),
    ):
        assert f"# TYPE {family} {kind}" in before
    allow = 'policy_engine_decisions_total{effect="allow"}'
    deny = 'policy_engine_decisions_total{effect="deny"}'
    count = 'policy_engine_decision_duration_seconds_count{endpoint="decisions"}'
    batch_count = 'policy_engine_decision_duration_seconds_count{endpoint="batch"}'

    assert sqlite_server.call("POST", "/v1/decisions", HOSTING)[1]["effect"] == "allow"
    assert sqlite_server.call("POST", "/v1/decisions", MARKETING)[1]["effect"] == "deny"
    requests = [HOSTING, HOSTING, MARKETING]
    assert sqlite_server.call("POST", "/v1/decisions/batch", {"requests": requests})[0] == 200
    after = sqlite_server.text("/metrics")

    assert metric(after, allow) == metric(before, allow) + 3
    assert metric(after, deny) == metric(before, deny) + 2
    before_count = metric(before, count) if count in before else 0.0
    assert metric(after, count) == before_count + 2
    assert metric(after, batch_count) >= 1
    inf = 'policy_engine_decision_duration_seconds_bucket{endpoint="decisions",le="+Inf"}'
    assert metric(after, inf) == metric(after, count)
    assert metric(after, 'policy_engine_decision_duration_seconds_sum{endpoint="decisions"}') > 0
    assert metric(after, "policy_engine_decision_log_write_failures_total") == 0
    _, info = sqlite_server.call("GET", "/v1/policy")
    assert metric(after, f'policy_engine_policy_info{{version="{info["version"]}"}}') == 1
