"""Where the service keeps its two records: the consent ledger and the decision log.

One small interface, two back ends: SQLite (WAL, the default, a file in the working directory,
no set-up) and PostgreSQL (psycopg 3), which several replicas can share. The schema is created on
open and versioned in ``schema_migrations``.

The decision log is a hash chain: each entry stores
``hash = sha256(previous_hash + canonical JSON of the entry)``, the first entry's previous hash
being :data:`GENESIS`. :meth:`Storage.verify_log` recomputes the chain and names the first entry
that does not match. This module imports neither FastAPI nor psycopg at import time, so
``policy-engine log verify`` needs only what the back end itself needs.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

DEFAULT_DB_URL = "sqlite:///policy-engine.db"
GENESIS = "0" * 64
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class StorageError(Exception):
    """The database could not be opened, read or written."""


def format_time(moment: datetime) -> str:
    """UTC, fixed width, so that text order is time order in both back ends."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def now_text() -> str:
    return format_time(datetime.now(UTC))


def canonical_json(value: Any) -> str:
    """The one serialization the hash covers: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(previous: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256((previous + canonical_json(entry)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the decision log's chain."""

    ok: bool
    entries: int
    """How many entries were checked (up to and including the bad one)."""
    last_hash: str
    bad_seq: int | None = None
    bad_id: str | None = None
    problem: str | None = None


# The columns a decision entry is indexed by; they must agree with the hashed entry itself.
_INDEXED = ("id", "time", "subject", "party", "effect", "policy_version")

# Migrations: version → statements, per dialect. Append new versions; never edit old ones.
_SQLITE_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE decision_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            time TEXT NOT NULL,
            subject TEXT,
            party TEXT NOT NULL,
            effect TEXT NOT NULL,
            policy_version TEXT NOT NULL,
            entry TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
        "CREATE INDEX decision_log_subject ON decision_log (subject, seq)",
        "CREATE INDEX decision_log_party ON decision_log (party, seq)",
        "CREATE INDEX decision_log_time ON decision_log (time)",
        """CREATE TABLE consent_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            subject TEXT NOT NULL,
            event TEXT NOT NULL CHECK (event IN ('grant', 'withdraw')),
            purposes TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            source TEXT NOT NULL,
            timestamp TEXT NOT NULL,
            expires_at TEXT,
            recorded_at TEXT NOT NULL
        )""",
        "CREATE INDEX consent_events_subject ON consent_events (subject, timestamp, seq)",
    ],
}

_POSTGRES_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE decision_log (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            time TEXT NOT NULL,
            subject TEXT,
            party TEXT NOT NULL,
            effect TEXT NOT NULL,
            policy_version TEXT NOT NULL,
            entry TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
        "CREATE INDEX decision_log_subject ON decision_log (subject, seq)",
        "CREATE INDEX decision_log_party ON decision_log (party, seq)",
        "CREATE INDEX decision_log_time ON decision_log (time)",
        """CREATE TABLE consent_events (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            subject TEXT NOT NULL,
            event TEXT NOT NULL CHECK (event IN ('grant', 'withdraw')),
            purposes TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            source TEXT NOT NULL,
            timestamp TEXT NOT NULL,
            expires_at TEXT,
            recorded_at TEXT NOT NULL
        )""",
        "CREATE INDEX consent_events_subject ON consent_events (subject, timestamp, seq)",
    ],
}

SCHEMA_VERSION = max(_SQLITE_MIGRATIONS)


class Storage(ABC):
    """The ledger and the log. Methods are thread-safe; each call is one transaction."""

    placeholder = "?"

    # ---- back-end primitives -------------------------------------------------------------------

    @abstractmethod
    def _write(self) -> AbstractContextManager[Any]:
        """A cursor inside a transaction that holds the log's write lock until it ends."""

    @abstractmethod
    def _read(self) -> AbstractContextManager[Any]:
        """A cursor for reading."""

    @abstractmethod
    def close(self) -> None: ...

    @property
    @abstractmethod
    def url(self) -> str:
        """The database URL, without a password."""

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    # ---- health --------------------------------------------------------------------------------

    def ping(self) -> bool:
        try:
            with self._read() as cur:
                cur.execute("SELECT 1")
                cur.fetchone()
        except Exception:
            return False
        return True

    def schema_version(self) -> int:
        with self._read() as cur:
            cur.execute("SELECT MAX(version) FROM schema_migrations")
            row = cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # ---- decision log --------------------------------------------------------------------------

    def append_decisions(self, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        """Append entries (each with at least the :data:`_INDEXED` keys) in order, chaining their
        hashes; returns the hashes. All or nothing."""
        hashes: list[str] = []
        insert = self._sql(
            "INSERT INTO decision_log (id, time, subject, party, effect, policy_version, entry, "
            "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        with self._write() as cur:
            cur.execute("SELECT hash FROM decision_log ORDER BY seq DESC LIMIT 1")
            row = cur.fetchone()
            previous = row[0] if row else GENESIS
            rows = []
            for entry in entries:
                digest = chain_hash(previous, entry)
                rows.append(
                    (
                        *(entry.get(key) for key in _INDEXED),
                        canonical_json(entry),
                        previous,
                        digest,
                    )
                )
                hashes.append(digest)
                previous = digest
            cur.executemany(insert, rows)
        return hashes

    def query_decisions(
        self,
        *,
        subject: str | None = None,
        party: str | None = None,
        since: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Logged entries, oldest first, filtered; each with its ``seq`` and ``hash``."""
        where, params = [], []
        for column, value in (("subject", subject), ("party", party)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("time >= ?")
            params.append(since)
        sql = "SELECT seq, entry, hash FROM decision_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY seq LIMIT {int(limit)}"
        with self._read() as cur:
            cur.execute(self._sql(sql), params)
            rows = cur.fetchall()
        out = []
        for seq, entry, digest in rows:
            item = json.loads(entry)
            item["seq"] = int(seq)
            item["hash"] = digest
            out.append(item)
        return out

    def verify_log(self, batch: int = 5000) -> VerifyResult:
        """Recompute the chain from the first entry; stop at the first entry that is wrong."""
        previous = GENESIS
        count = 0
        last_seq = 0
        select = self._sql(
            "SELECT seq, id, time, subject, party, effect, policy_version, entry, prev_hash, hash "
            "FROM decision_log WHERE seq > ? ORDER BY seq LIMIT ?"
        )
        while True:
            with self._read() as cur:
                cur.execute(select, (last_seq, batch))
                rows = cur.fetchall()
            if not rows:
                return VerifyResult(True, count, previous)
            for row in rows:
                seq, entry_id = int(row[0]), str(row[1])
                count += 1
                problem = _check_row(row, previous)
                if problem is not None:
                    return VerifyResult(False, count, previous, seq, entry_id, problem)
                previous = row[9]
                last_seq = seq

    # ---- consent ledger ------------------------------------------------------------------------

    def append_consent(self, subject: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """Record one grant or withdraw event; returns it with its ``seq`` and ``recorded_at``."""
        recorded_at = now_text()
        insert = self._sql(
            "INSERT INTO consent_events (subject, event, purposes, recorded_by, source, "
            "timestamp, expires_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq"
        )
        with self._write() as cur:
            cur.execute(
                insert,
                (
                    subject,
                    event["event"],
                    canonical_json(list(event["purposes"])),
                    event["recorded_by"],
                    event["source"],
                    event["timestamp"],
                    event.get("expires_at"),
                    recorded_at,
                ),
            )
            row = cur.fetchone()
        return {**event, "subject": subject, "seq": int(row[0]), "recorded_at": recorded_at}

    def consent_events(self, subject: str) -> list[dict[str, Any]]:
        """Every event of ``subject`` in the order they took effect (timestamp, then seq)."""
        select = self._sql(
            "SELECT seq, event, purposes, recorded_by, source, timestamp, expires_at, recorded_at "
            "FROM consent_events WHERE subject = ? ORDER BY timestamp, seq"
        )
        with self._read() as cur:
            cur.execute(select, (subject,))
            rows = cur.fetchall()
        names = ("event", "purposes", "recorded_by", "source", "timestamp", "expires_at")
        out = []
        for row in rows:
            item: dict[str, Any] = {"seq": int(row[0]), "subject": subject}
            item.update(zip(names, row[1:7], strict=True))
            item["purposes"] = json.loads(item["purposes"])
            item["recorded_at"] = row[7]
            out.append(item)
        return out

    # ---- migrations ----------------------------------------------------------------------------

    def _migrate(self, migrations: Mapping[int, list[str]]) -> None:
        with self._write() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            cur.execute("SELECT version FROM schema_migrations")
            done = {int(r[0]) for r in cur.fetchall()}
            for version in sorted(migrations):
                if version in done:
                    continue
                for statement in migrations[version]:
                    cur.execute(statement)
                cur.execute(
                    self._sql("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"),
                    (version, now_text()),
                )


def _check_row(row: Sequence[Any], previous: str) -> str | None:
    """What is wrong with one stored entry, given the hash before it, or None."""
    if row[8] != previous:
        return "its previous hash does not match the entry before it (an entry is missing?)"
    try:
        entry = json.loads(row[7])
    except ValueError:
        return "its stored entry is not valid JSON"
    if not isinstance(entry, dict):
        return "its stored entry is not a JSON object"
    if chain_hash(previous, entry) != row[9]:
        return "its hash does not match its contents (the entry was changed)"
    for key, value in zip(_INDEXED, row[1:7], strict=True):
        if entry.get(key) != value:
            return f"its `{key}` column does not match the hashed entry"
    return None


class SQLiteStorage(Storage):
    """One file, WAL mode; one connection shared by the threads of one process."""

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=10.0
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode loses nothing when the process dies, only on power loss.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite database `{path}`: {exc}") from None
        self._lock = threading.Lock()
        self._migrate(_SQLITE_MIGRATIONS)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                # IMMEDIATE takes the write lock now: another process cannot slip an entry in
                # between reading the last hash and appending after it.
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield cur
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StorageError(f"SQLite write failed: {exc}") from None
            finally:
                cur.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                yield cur
            except sqlite3.Error as exc:
                raise StorageError(f"SQLite read failed: {exc}") from None
            finally:
                cur.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresStorage(Storage):
    """PostgreSQL through psycopg 3: one connection per process, guarded by a lock; appends take
    a transaction-scoped advisory lock so that replicas sharing the database keep one chain."""

    placeholder = "%s"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise StorageError(
                "PostgreSQL needs psycopg 3: pip install 'policy-engine[server]'"
            ) from None
        self._psycopg = psycopg
        self._url = url
        self._lock = threading.Lock()
        self._conn: Any = None
        with self._lock:
            self._connect()
        self._migrate(_POSTGRES_MIGRATIONS)

    def _connect(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = self._psycopg.connect(self._url, autocommit=True)
            except self._psycopg.Error as exc:
                raise StorageError(f"cannot connect to PostgreSQL at {self.url}: {exc}") from None
        return self._conn

    @property
    def url(self) -> str:
        parts = urlsplit(self._url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        user = unquote(parts.username) + "@" if parts.username else ""
        return f"{parts.scheme}://{user}{netloc}{parts.path}"

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with self._lock:
            conn = self._connect()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute(
                        "SELECT pg_advisory_xact_lock(hashtext(current_schema() || "
                        "'.policy_engine_log'))"
                    )
                    yield cur
            except self._psycopg.Error as exc:
                raise StorageError(f"PostgreSQL write failed: {exc}") from None

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self._lock:
            conn = self._connect()
            try:
                with conn.cursor() as cur:
                    yield cur
            except self._psycopg.Error as exc:
                raise StorageError(f"PostgreSQL read failed: {exc}") from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()


def open_storage(url: str | None = None) -> Storage:
    """``sqlite:///relative.db``, ``sqlite:////absolute.db``, a bare file path, or
    ``postgresql://user@host:port/db`` (libpq's ``?options=-csearch_path%3Dschema`` picks a
    schema). ``None`` is :data:`DEFAULT_DB_URL`, a file in the working directory."""
    url = url or DEFAULT_DB_URL
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        return PostgresStorage(url)
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise StorageError(f"a SQLite URL looks like `sqlite:///file.db`, got `{url}`")
        return SQLiteStorage(unquote(path))
    if scheme:
        raise StorageError(
            f"unsupported database URL `{url}`: use sqlite:///FILE or postgresql://…"
        )
    return SQLiteStorage(url)
