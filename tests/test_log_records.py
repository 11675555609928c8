"""The service's records kept as evidence: ``serve`` anchoring the decision log outside the
database (on a schedule and at shutdown), the SQLite files' modes, consent instants stored as
instants on PostgreSQL, and the migrations that bring an older database there.

Against real databases (a SQLite file; a PostgreSQL schema of each test's own, skipped only when
PostgreSQL is unreachable and ``POLICY_ENGINE_REQUIRE_POSTGRES`` is unset), the app run with its
lifespan (FastAPI's ``TestClient``) and a real ``serve`` process on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service needs the server extra")
from fastapi.testclient import TestClient

from policy_engine.cli.main import main
from policy_engine.service import create_app
from policy_engine.service.config import ConfigError, ServiceConfig
from policy_engine.service.ledger import consent_state
from policy_engine.service.log_chain import GENESIS, chain_rows
from policy_engine.service.log_mac import LogKey
from policy_engine.service.models import ConsentEventIn, DecisionRequest
from policy_engine.service.policy_service import PolicyService
from policy_engine.service.storage import StorageError, now_text, open_storage
from policy_engine.service.storage_schema import (
    POSTGRES_MIGRATIONS,
    SCHEMA_VERSION,
    SQLITE_MIGRATIONS,
    apply_migrations,
)

from .test_log_anchor import KEY, cli, raw, tamper, verify
from .test_service import HOSTING, MARKETING, PLANISO, own_database, start_server
from .test_service_log import entry


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    yield from own_database(request.param, tmp_path, "records")


@pytest.fixture
def with_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_ENGINE_LOG_KEY", KEY)
    monkeypatch.delenv("POLICY_ENGINE_LOG_KEY_FILE", raising=False)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def wait_for(condition: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# ---- serve anchors the log ----------------------------------------------------------------------


def test_serve_anchors_on_a_schedule_and_at_shutdown(
    database: tuple[str, str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    with_key: None,
) -> None:
    _, db_url, schema = database
    anchors = tmp_path / "anchors.jsonl"
    config = ServiceConfig(anchor_path=str(anchors), anchor_interval=0.2)
    with TestClient(create_app(PLANISO, db_url, config)) as client:
        for _ in range(5):
            assert client.post("/v1/decisions", json=HOSTING).status_code == 200
        wait_for(lambda: anchors.exists() and len(lines(anchors)) >= 2)  # on the schedule
        assert lines(anchors)[-1]["entries"] == 5
        for _ in range(4):
            assert client.post("/v1/decisions", json=HOSTING).status_code == 200
        scheduled = len(lines(anchors))
    written = lines(anchors)
    assert len(written) > scheduled  # and one more at shutdown, of the whole log
    last = written[-1]
    assert last["entries"] == 9 and last["key_id"] == LogKey(KEY.encode()).key_id
    assert os.stat(anchors).st_mode & 0o777 == 0o644
    code, said = verify(capsys, db_url, anchors)
    assert code == 0, said
    assert f"{len(written)} anchors checked" in said and "9 MACs checked" in said
    assert f"{len(written)} signed and checked, 0 unsigned" in said
    tamper(db_url, schema, "DELETE FROM decision_log WHERE seq = ?", (last["last_seq"],))
    code, said = verify(capsys, db_url, anchors)
    assert code == 1 and "1 or more entries were removed from its end" in said


def test_serve_writes_a_file_per_anchor_in_a_folder(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'log.db'}"
    folder = tmp_path / "anchors"
    folder.mkdir()
    config = ServiceConfig(anchor_path=str(folder), anchor_interval=0)  # at shutdown only
    with TestClient(create_app(PLANISO, db_url, config)) as client:
        assert client.post("/v1/decisions", json=HOSTING).status_code == 200
        assert client.post("/v1/decisions/batch", json={"requests": [HOSTING] * 3}).status_code
        time.sleep(0.3)
        assert list(folder.iterdir()) == []
    [written] = folder.iterdir()
    assert written.name.startswith("anchor-") and written.suffix == ".json"
    anchor = json.loads(written.read_text(encoding="utf-8"))
    assert (anchor["entries"], anchor["last_seq"], anchor["mac"]) == (4, 4, None)
    assert main(["log", "verify", "--db", db_url, "--anchor", str(folder)]) == 0


def test_a_real_server_anchors_when_it_is_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve`` as a process, stopped with SIGTERM: its last anchor covers every decision it
    answered, and is signed with the key from its environment."""
    db_url = f"sqlite:///{tmp_path / 'log.db'}"
    anchors = tmp_path / "anchors.jsonl"
    server = start_server(
        tmp_path,
        db_url,
        "sqlite",
        extra_config=f'anchor_path = "{anchors}"\nanchor_interval = 3600\n',
        env={"POLICY_ENGINE_LOG_KEY": KEY},
    )
    try:
        for _ in range(6):
            assert server.call("POST", "/v1/decisions", HOSTING)[0] == 200
    finally:
        server.stop()
    [anchor] = lines(anchors)
    assert anchor["entries"] == 6 and anchor["mac"]
    monkeypatch.setenv("POLICY_ENGINE_LOG_KEY", KEY)
    code, said = verify(capsys, db_url, anchors)
    assert code == 0 and "6 MACs checked" in said and "1 signed and checked" in said, said


def test_an_anchor_path_that_cannot_work_is_refused_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "log.db"
    for path, message in [
        (db, f"the anchor path `{db}` is the database file itself"),
        (Path(f"{db}-wal"), "is the database file itself"),
        (tmp_path / "no" / "anchors.jsonl", f"the folder `{tmp_path / 'no'}` does not exist"),
    ]:
        with pytest.raises(ConfigError, match="anchor path") as raised:
            create_app(PLANISO, f"sqlite:///{db}", ServiceConfig(anchor_path=str(path)))
        assert message in str(raised.value)
    args = ["serve", str(PLANISO), "--db", f"sqlite:///{db}", "--anchor-path", str(db)]
    assert main(args) == 2
    assert "is the database file itself" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args[:-2], "--anchor-interval", "-1"])
    assert "expected a number of seconds, 0 or more" in capsys.readouterr().err


# ---- SQLite file modes ---------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_sqlite_database_and_its_wal_and_shm_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "log.db"
    old = os.umask(0o022)
    try:
        storage = open_storage(f"sqlite:///{path}")
        try:
            storage.append_decisions([entry(1)])
            for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                assert mode(name) == 0o600, name
        finally:
            storage.close()
    finally:
        os.umask(old)


def test_a_database_others_may_read_is_refused_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "log.db"
    url = f"sqlite:///{path}"
    open_storage(url).close()
    os.chmod(path, 0o644)
    message = f"the SQLite database `{path}` holds personal information, and other users may read"
    with pytest.raises(StorageError, match="chmod 600") as raised:
        open_storage(url)
    assert message in str(raised.value) and f"{path} (mode 0644)" in str(raised.value)
    assert main(["serve", str(PLANISO), "--db", url]) == 2
    assert "`allow_readable_database = true`" in capsys.readouterr().err
    # log verify only reads: it warns, and verifies
    code, out, err = cli(capsys, "log", "verify", "--db", url)
    assert code == 0 and "intact" in out and f"warning: {message}" in err
    config = ServiceConfig(allow_readable_database=True)
    with TestClient(create_app(PLANISO, url, config)) as client:
        assert client.post("/v1/decisions", json=HOSTING).status_code == 200
    assert mode(path) == 0o644  # allowed: left as it is
    os.chmod(path, 0o600)
    Path(f"{path}-wal").touch(0o640)
    with pytest.raises(StorageError, match=f"{path}-wal \\(mode 0640\\)"):
        open_storage(url)


# ---- consent instants ------------------------------------------------------------------------


@pytest.fixture
def postgresql(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A PostgreSQL schema of this test's own (SQLite keeps consent instants as they were: text
    whose order is time order, tested in tests/test_service.py on both databases)."""
    yield from own_database("postgresql", tmp_path, "instants")


def instant_columns(db_url: str, schema: str) -> tuple[str, ...]:
    with raw(db_url, schema) as pg:
        types = dict(
            pg.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = 'consent_events'",
                (schema,),
            ).fetchall()
        )
    return types["timestamp"], types["expires_at"], types["recorded_at"]


INSTANT = "timestamp with time zone"


def consent(event: str, timestamp: str, expires_at: str | None = None) -> dict[str, Any]:
    return {
        "event": event,
        "purposes": ["marketing"],
        "recorded_by": "clerk",
        "source": "form",
        "timestamp": timestamp,
        "expires_at": expires_at,
    }


def test_consent_instants_are_ordered_as_instants(postgresql: tuple[str, str, str]) -> None:
    """A withdrawal of 2026 recorded before a grant of 1999: the grant took effect first, so
    the withdrawal holds. The instants are ``timestamptz`` columns, read back as the same text
    (whatever the session's time zone)."""
    _, db_url, schema = postgresql
    storage = open_storage(db_url)
    try:
        storage.append_consent("org-a", consent("withdraw", "2026-01-15T09:30:00.000000Z"))
        grant = consent("grant", "1999-06-01T12:00:00.000001Z", "2030-01-01T00:00:00.000000Z")
        storage.append_consent("org-a", grant)
        events = storage.consent_events("org-a")
    finally:
        storage.close()
    assert [e["event"] for e in events] == ["grant", "withdraw"]
    assert events[0]["timestamp"] == "1999-06-01T12:00:00.000001Z"
    assert events[0]["expires_at"] == "2030-01-01T00:00:00.000000Z"
    assert events[1]["expires_at"] is None
    assert all(len(e["recorded_at"]) == 27 and e["recorded_at"].endswith("Z") for e in events)
    assert consent_state(events, None, now_text()) == {}
    assert instant_columns(db_url, schema) == (INSTANT,) * 3
    elsewhere = open_storage(db_url + "%20-cTimeZone%3DAsia/Tokyo")
    try:
        assert elsewhere.consent_events("org-a") == events
    finally:
        elsewhere.close()


def test_a_grant_in_1999_then_a_withdrawal_in_2026_denies(postgresql: tuple[str, str, str]) -> None:
    """Through the service, on instants compared in SQL as instants."""
    _, db_url, schema = postgresql
    storage = open_storage(db_url)
    assert instant_columns(db_url, schema) == (INSTANT,) * 3
    try:
        service = PolicyService(str(PLANISO), storage, ServiceConfig())
        for event, year in (("grant", 1999), ("withdraw", 2026)):
            moment = datetime(year, 1, 2, 3, 4, 5, tzinfo=UTC)
            body = {**consent(event, moment.isoformat()), "expires_at": None}
            service.record_consent("org-b", ConsentEventIn.model_validate(body))
        request = DecisionRequest.model_validate({**MARKETING, "subject": "org-b"})
        ((decision, body, _),) = service.decide([request])
        assert decision.effect == "deny"
        assert "marketing" not in body["request"]["context"]["consented_purposes"]
        history = service.consents("org-b").history
        assert [e.timestamp for e in history] == [
            "1999-01-02T03:04:05.000000Z",
            "2026-01-02T03:04:05.000000Z",
        ]
    finally:
        storage.close()


# ---- migrations ---------------------------------------------------------------------------------


def test_a_database_of_schema_version_2_is_migrated(
    database: tuple[str, str, str], capsys: pytest.CaptureFixture[str], with_key: None
) -> None:
    """The log gets its MAC column (old entries without one) and, on PostgreSQL, consent
    instants become ``timestamptz``: what was stored reads back the same."""
    backend, db_url, schema = database
    placeholder = "?" if backend == "sqlite" else "%s"
    migrations = SQLITE_MIGRATIONS if backend == "sqlite" else POSTGRES_MIGRATIONS
    rows, _ = chain_rows(GENESIS, [entry(1), entry(2)])
    with raw(db_url, schema) as conn:
        cur = conn.cursor()
        old = {v: migrations[v] for v in (1, 2)}
        apply_migrations(cur, old, lambda text: text.replace("?", placeholder))
        cur.executemany(
            "INSERT INTO decision_log (id, time, subject, party, effect, policy_version, entry, "
            "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)".replace("?", placeholder),
            [row[:9] for row in rows],
        )
        cur.execute(
            "INSERT INTO consent_events (subject, event, purposes, recorded_by, source, "
            "timestamp, expires_at, recorded_at) VALUES ('org-c', 'grant', '[\"marketing\"]', "
            "'a', 'w', '1999-06-01T12:00:00.000001Z', '2031-02-03T04:05:06.000007Z', "
            "'2026-01-01T00:00:00.000000Z')"
        )
        if backend == "sqlite":
            conn.commit()
            os.chmod(db_url.removeprefix("sqlite:///"), 0o600)  # sqlite3 created it 0644
    storage = open_storage(db_url, log_key=LogKey(KEY.encode()))
    try:
        assert storage.schema_version() == SCHEMA_VERSION == 4
        [event] = storage.consent_events("org-c")
        storage.append_decisions([entry(3)])
    finally:
        storage.close()
    assert (event["timestamp"], event["expires_at"], event["recorded_at"]) == (
        "1999-06-01T12:00:00.000001Z",
        "2031-02-03T04:05:06.000007Z",
        "2026-01-01T00:00:00.000000Z",
    )
    code, said = verify(capsys, db_url)
    assert code == 0, said
    assert "1 MACs checked" in said and "2 entries carry no MAC" in said


def test_sqlite_keeps_consent_instants_as_sortable_text(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    open_storage(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        columns = {row[1]: row[2] for row in conn.execute("PRAGMA table_info(consent_events)")}
        log_columns = {row[1]: row[2] for row in conn.execute("PRAGMA table_info(decision_log)")}
    conn.close()
    assert (columns["timestamp"], columns["expires_at"]) == ("TEXT", "TEXT")
    assert log_columns["mac"] == "TEXT"
