"""The service under ``kill -9`` and its access log, against real server processes on 127.0.0.1.

Durability: a stream of decisions (and of consent events) is sent one at a time; the server is
killed with SIGKILL part-way through, with a request possibly in flight; on restart on the same
database every acknowledged decision and consent event is there, in the order it was
acknowledged, and ``log verify`` passes. Runs on SQLite, and on PostgreSQL when it is reachable
(see :mod:`tests.test_service` for how that test database is chosen and when a skip fails).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service needs the server extra")
pytest.importorskip("uvicorn", reason="the service needs the server extra")

from .conftest import PLANISO
from .test_service import (
    MARKETING,
    TOKEN,
    Server,
    free_port,
    new_subject,
    own_database,
    run_cli,
    start_server,
)

STREAM = 300  # requests sent at most, one at a time
KILL_AFTER = 150  # acknowledged requests before the SIGKILL is sent
KILL_DELAY = 0.002  # seconds after that acknowledgement: lands on a later request in flight
EXTRA_AFTER_RESTART = 20


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(backend, db URL, PostgreSQL schema or "") of a database of this test's own."""
    yield from own_database(request.param, tmp_path, "durable")


def _acknowledged(send: Any) -> Any:
    """``send()``'s (status, body), or None when the server is gone (the request unanswered)."""
    try:
        return send()
    except (OSError, http.client.HTTPException):
        return None


def _stream_then_kill(server: Server, send: Any, expected_status: int) -> list[Any]:
    """Call ``send()`` up to STREAM times, one at a time; once KILL_AFTER were acknowledged,
    SIGKILL the server from another thread while the stream goes on. Returns the bodies of the
    acknowledged calls, in order."""
    acked: list[Any] = []
    killer: threading.Thread | None = None

    def kill() -> None:
        time.sleep(KILL_DELAY)
        os.kill(server.process.pid, signal.SIGKILL)

    for _ in range(STREAM):
        answer = _acknowledged(send)
        if answer is None:
            break
        status, body = answer
        assert status == expected_status, body
        acked.append(body)
        if len(acked) == KILL_AFTER:
            killer = threading.Thread(target=kill)
            killer.start()
    assert killer is not None, f"only {len(acked)} requests were acknowledged"
    killer.join(timeout=10)
    assert server.process.wait(timeout=10) == -signal.SIGKILL
    assert KILL_AFTER <= len(acked) < STREAM, "the kill did not land in the middle of the stream"
    return acked


def _verify(db_url: str) -> None:
    result = run_cli("log", "verify", "--db", db_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "decision log intact" in result.stdout


def test_no_acknowledged_decision_is_lost_to_kill_9(
    database: tuple[str, str, str], tmp_path: Path
) -> None:
    backend, db_url, schema = database
    subject = new_subject()
    request = {**MARKETING, "subject": subject}
    server = start_server(tmp_path, db_url, backend, schema or None)
    try:
        acked = _stream_then_kill(
            server, lambda: server.call("POST", "/v1/decisions", request), 200
        )
    finally:
        server.stop()
    ids = [body["decision_id"] for body in acked]
    assert len(set(ids)) == len(ids)

    restarted = start_server(tmp_path, db_url, backend, schema or None)
    try:
        status, page = restarted.reader("GET", f"/v1/decisions?subject={subject}&limit=1000")
        assert status == 200
        logged = [entry["id"] for entry in page["decisions"]]
        # Every acknowledged decision, in the order it was acknowledged; at most one more (the
        # request in flight when the kill came may have been logged without being answered).
        assert logged[: len(ids)] == ids
        assert len(logged) <= len(ids) + 1
        _verify(db_url)

        # The chain goes on from where the crash left it.
        for _ in range(EXTRA_AFTER_RESTART):
            status, body = restarted.call("POST", "/v1/decisions", request)
            assert status == 200, body
            ids.append(body["decision_id"])
        status, page = restarted.reader("GET", f"/v1/decisions?subject={subject}&limit=1000")
        logged = [entry["id"] for entry in page["decisions"]]
        assert (
            set(ids) <= set(logged) and logged[-EXTRA_AFTER_RESTART:] == ids[-EXTRA_AFTER_RESTART:]
        )
        _verify(db_url)
    finally:
        restarted.stop()


def test_no_acknowledged_consent_event_is_lost_or_reordered_by_kill_9(
    database: tuple[str, str, str], tmp_path: Path
) -> None:
    backend, db_url, schema = database
    subject = new_subject()
    path = f"/v1/subjects/{subject}/consents"
    counter = iter(range(STREAM))

    def event() -> dict[str, Any]:
        index = next(counter)
        return {
            "event": "grant" if index % 2 == 0 else "withdraw",
            "purposes": ["marketing"],
            "recorded_by": "durability-test",
            "source": f"stream-{index}",
        }

    server = start_server(tmp_path, db_url, backend, schema or None)
    try:
        acked = _stream_then_kill(server, lambda: server.admin("POST", path, event()), 201)
    finally:
        server.stop()
    sources = [body["event"]["source"] for body in acked]
    assert sources == [f"stream-{i}" for i in range(len(acked))]

    restarted = start_server(tmp_path, db_url, backend, schema or None)
    try:
        status, state = restarted.reader("GET", path)
        assert status == 200
        history = state["history"]
        recorded = [e["source"] for e in history]
        # Every acknowledged event, in order; at most the one in flight after them.
        assert recorded[: len(sources)] == sources
        assert len(recorded) <= len(sources) + 1
        assert [e["seq"] for e in history[: len(acked)]] == [b["event"]["seq"] for b in acked]
        last = history[-1]
        expected = ["marketing"] if last["event"] == "grant" else []
        assert state["consented_purposes"] == expected

        # Decisions see the ledger as it stands after the crash.
        status, decision = restarted.call(
            "POST", "/v1/decisions", {**MARKETING, "subject": subject}
        )
        assert status == 200
        assert decision["effect"] == ("allow" if last["event"] == "grant" else "deny"), decision
        _verify(db_url)
    finally:
        restarted.stop()


# ---- the access log -----------------------------------------------------------------------------


def _start_at_info(workdir: Path) -> tuple[Server, Path]:
    """``serve`` at log level info, where uvicorn would print its own access lines; stdout and
    stderr go to separate files, so that stderr is read alone."""
    port = free_port()
    db_url = f"sqlite:///{workdir / 'access.db'}"
    stderr = workdir / "stderr.log"
    env = {**os.environ, "POLICY_ENGINE_ADMIN_TOKEN": TOKEN}
    command = [
        sys.executable,
        "-m",
        "policy_engine",
        "serve",
        str(PLANISO),
        "--port",
        str(port),
        "--db",
        db_url,
        "--log-level",
        "info",
    ]
    with (workdir / "stdout.log").open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=err)
    server = Server(process, port, db_url, "sqlite", stderr)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}:\n{stderr.read_text()}")
        try:
            if server.call("GET", "/healthz")[0] == 200:
                return server, stderr
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"server not ready in 30 s:\n{stderr.read_text()}")


def _access_lines(stderr: Path, expected: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        lines = []
        for line in stderr.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        if len(lines) >= expected or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_access_log_is_one_json_object_per_request_on_stderr(tmp_path: Path) -> None:
    server, stderr = _start_at_info(tmp_path)
    secret = f"secret-{uuid.uuid4().hex}"
    subject, other = new_subject(), new_subject()
    try:
        status, decided = server.call("POST", "/v1/decisions", {**MARKETING, "subject": subject})
        assert status == 200
        bad_context = {**MARKETING, "context": {"channel": secret}}
        assert server.call("POST", "/v1/decisions", bad_context)[0] == 400
        status, batch = server.call("POST", "/v1/decisions/batch", {"requests": [MARKETING] * 3})
        assert status == 200
        assert server.call("POST", "/v1/decisions", raw=b'{"party": "' + secret.encode())[0] == 400
        consents = f"/v1/subjects/{subject}/consents"
        assert server.admin("GET", consents)[0] == 200
        assert server.call("GET", consents)[0] == 401
        assert server.admin("GET", f"/v1/subjects/{other}/consents")[0] == 200
        lines = _access_lines(stderr, 8)
    finally:
        server.stop()
    text = stderr.read_text(encoding="utf-8")
    assert "Uvicorn running on" in text  # log level info: uvicorn's own access log would show
    assert "HTTP/1.1" not in text, "uvicorn's plain access log is on"
    assert secret not in text, "a request body or context value reached the log"
    assert subject not in text and other not in text, "a subject reached the log in clear"

    requests = [line for line in lines if line["path"] != "/healthz"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("POST", "/v1/decisions", 200),
        ("POST", "/v1/decisions", 400),
        ("POST", "/v1/decisions/batch", 200),
        ("POST", "/v1/decisions", 400),
        ("GET", "/v1/subjects/{subject}/consents", 200),
        ("GET", "/v1/subjects/{subject}/consents", 401),
        ("GET", "/v1/subjects/{subject}/consents", 200),
    ]
    # A keyed pseudonym: the same subject's requests share one, another subject has another.
    first, again, second = (r["subject"] for r in requests[4:])
    assert first == again != second
    assert len(first) == 16 and int(first, 16) >= 0
    assert all("subject" not in r for r in requests[:4])
    for line in lines:
        assert {"time", "method", "path", "status", "duration_ms", "client"} <= line.keys()
        assert line["time"].endswith("Z") and "T" in line["time"]
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
        assert line["client"].startswith("127.0.0.1:")
        assert "request" not in line and "context" not in line
    first = requests[0]
    assert (first["decision_id"], first["effect"]) == (decided["decision_id"], decided["effect"])
    assert "decision_id" not in requests[1]
    assert requests[2]["decisions"] == len(batch["decisions"]) == 3
