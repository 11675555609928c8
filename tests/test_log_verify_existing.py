"""`log verify` reads what is there: a missing database, or one without a decision log, is an
error (exit 1), and verifying never creates or migrates anything."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from policy_engine.cli.main import main
from policy_engine.service.storage import open_storage

from .test_service import PG_URL, postgres_or_skip


def test_a_missing_sqlite_database_is_an_error_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nowhere" / "log.db"
    assert main(["log", "verify", "--db", f"sqlite:///{path}"]) == 1
    assert f"error: no SQLite database at `{path}`" in capsys.readouterr().err
    assert not path.exists() and not path.parent.exists()


def test_a_sqlite_file_without_a_log_is_an_error_and_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    before = path.read_bytes()
    assert main(["log", "verify", "--db", f"sqlite:///{path}"]) == 1
    err = capsys.readouterr().err
    assert "holds no decision log (no policy-engine tables)" in err
    assert path.read_bytes() == before
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal"


def test_a_log_the_service_wrote_still_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "log.db"
    open_storage(f"sqlite:///{path}").close()  # created and migrated by the service's path
    assert main(["log", "verify", "--db", f"sqlite:///{path}"]) == 0
    assert "decision log intact: 0 entries" in capsys.readouterr().out


def test_a_postgresql_schema_without_a_log_is_an_error_and_stays_empty(
    capsys: pytest.CaptureFixture[str],
) -> None:
    conn = postgres_or_skip()
    schema = f"pe_verify_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        assert main(["log", "verify", "--db", url]) == 1
        err = capsys.readouterr().err
        assert "holds no decision log (no policy-engine tables)" in err
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchone()[0]
        assert tables == 0
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_a_log_of_another_schema_version_is_refused_not_migrated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "log.db"
    open_storage(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'x')")
    assert main(["log", "verify", "--db", f"sqlite:///{path}"]) == 1
    err = capsys.readouterr().err
    assert "has schema version 999, this build reads " in err
    assert "verify it with the build that wrote it, or let `serve` migrate it first" in err
