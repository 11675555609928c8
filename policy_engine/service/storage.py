"""Where the service keeps its two records: the consent ledger and the decision log.

One small interface, two back ends: SQLite (WAL, the default, a file in the working directory,
no set-up) and PostgreSQL (psycopg 3), which several replicas can share. The schema is created on
open and versioned in ``schema_migrations``.

The decision log is a hash chain: each entry stores
``hash = sha256(previous_hash + canonical JSON of the entry)``, the first entry's previous hash
being :data:`GENESIS`. :meth:`Storage.verify_log` recomputes the chain and names the first entry
that does not match. This module imports neither FastAPI nor psycopg at import time, so
``policy-engine log verify`` needs only what the back end itself needs.

:meth:`Storage.append_decisions` appends many entries in one transaction; the service funnels
every request's entries through one writer on its event loop (:mod:`.log_writer`), which calls
:meth:`Storage.append_decisions_async` once per group of concurrent requests (group commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

logger = logging.getLogger("policy_engine.service")

_orjson: Any
try:  # the server extra installs it; without it the standard library gives the same text
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised only without the server extra
    _orjson = None

DEFAULT_DB_URL = "sqlite:///policy-engine.db"
GENESIS = "0" * 64
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: Connections a PostgreSQL-backed process's pool keeps at most, for ledger reads, log queries
#: and consent events (the log writer has one more of its own, on the event loop).
DEFAULT_PG_POOL_SIZE = 8


class StorageError(Exception):
    """The database could not be opened, read or written."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused
        """The database refused these values (a constraint, a character it cannot store): the
        same write would fail again, while other writes may succeed."""


def format_time(moment: datetime) -> str:
    """UTC, fixed width, so that text order is time order in both back ends."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def now_text() -> str:
    return format_time(datetime.now(UTC))


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_LEAVES = frozenset({str, int, bool, type(None)})
_CONTAINERS = frozenset({dict, list, tuple})
_KNOWN = _LEAVES | _CONTAINERS


def _plain(value: Any) -> bool:
    """Whether ``value`` is made only of strings, integers, booleans, null, lists and objects:
    what orjson writes exactly as :data:`_CANONICAL` does, or refuses (integers beyond 64 bits,
    lone surrogates, keys that are not strings). Floats are not (``1e-07`` against ``1e-7``,
    ``NaN`` against ``null``), nor any other type. Checked a container at a time, the types of
    its items gathered in C."""
    kind = type(value)
    if kind is dict:
        items: Any = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return kind in _LEAVES
    kinds = set(map(type, items))
    if kinds <= _LEAVES:
        return True
    if not kinds <= _KNOWN:
        return False
    return all(_plain(item) for item in items if type(item) in _CONTAINERS)


class PlainEntry(dict[str, Any]):
    """A log entry that holds, however deep, only strings, integers, booleans, null, lists and
    objects: :func:`_plain` by construction, so :func:`canonical_json` writes it without walking
    it first (the walk cost twice what orjson takes to write the entry).

    The service builds its entries this way: everything in them is its own text, except the
    request's context, which the policy has validated, and a valid context holds only booleans,
    whole numbers, strings and lists of strings (``tests/test_service_log.py`` checks that every
    value the context types accept is plain). An integer beyond 64 bits or a lone surrogate is
    still possible there; orjson refuses both, and the standard library writes them, as for any
    entry."""

    __slots__ = ()


def canonical_json(value: Any) -> str:
    """The one serialization the hash covers: sorted keys, no spaces, UTF-8 kept as is.

    That is ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``;
    orjson writes the same text for :func:`_plain` values several times faster (keys sorted by
    code point either way), and is used for them when it is installed. Anything else, floats
    above all, and whatever orjson refuses, goes through the standard library, so the text never
    depends on which one ran. A :class:`PlainEntry` is taken at its word."""
    if _orjson is not None and (type(value) is PlainEntry or _plain(value)):
        try:
            return str(_orjson.dumps(value, option=_orjson.OPT_SORT_KEYS), "utf-8")
        except TypeError:
            pass
    return _CANONICAL.encode(value)


def chain_hash(previous: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256((previous + canonical_json(entry)).encode("utf-8")).hexdigest()


Row = tuple[Any, ...]


def chain_rows(previous: str, entries: Sequence[Mapping[str, Any]]) -> tuple[list[Row], str]:
    """The rows that append ``entries`` after the entry whose hash is ``previous``: the
    :data:`_INDEXED` columns, the canonical text, the previous hash and the hash. Each entry is
    serialized once, for its stored text and its hash alike. Returns the rows and the last hash."""
    rows: list[Row] = []
    for entry in entries:
        text = canonical_json(entry)
        try:
            digest = hashlib.sha256((previous + text).encode("utf-8")).hexdigest()
        except UnicodeEncodeError as exc:
            # A lone surrogate (an escape like "\ud800" in a request) has no UTF-8 form.
            raise StorageError(
                f"log entry {entry.get('id')} cannot be hashed: {exc}", refused=True
            ) from None
        rows.append(
            (
                entry["id"],
                entry["time"],
                entry.get("subject"),
                entry["party"],
                entry["effect"],
                entry["policy_version"],
                text,
                previous,
                digest,
            )
        )
        previous = digest
    return rows, previous


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
    # The versions go in step on both back ends; 2 (PostgreSQL's append function) has nothing
    # to do here.
    2: [],
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
    # One round trip per appended group (PostgresStorage.append_decisions): take the log's lock,
    # read the chain head after it is held (a volatile function's statements each see what has
    # committed before they start), and insert the rows (a JSON array of arrays of the nine
    # columns), in array order, only if the head is the one their hashes were computed after;
    # otherwise insert nothing and return the head.
    2: [
        """CREATE FUNCTION policy_engine_append_log(expected TEXT, rows JSONB)
        RETURNS TEXT LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            head TEXT;
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.policy_engine_log'));
            SELECT hash INTO head FROM decision_log ORDER BY seq DESC LIMIT 1;
            head := coalesce(head, repeat('0', 64));
            IF expected IS DISTINCT FROM head THEN
                RETURN head;
            END IF;
            INSERT INTO decision_log (id, time, subject, party, effect, policy_version, entry,
                                      prev_hash, hash)
            SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8
            FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, n)
            ORDER BY n;
            RETURN NULL;
        END
        $$""",
    ],
}
SCHEMA_VERSION = max(_SQLITE_MIGRATIONS)


#: Names of the write locks: appends to the log, and consent events, are each serialized (across
#: processes too) so that ``seq`` order is commit order.
LOG_LOCK = "log"
CONSENT_LOCK = "consent"


class Storage(ABC):
    """The ledger and the log. Methods are thread-safe; each call is one transaction."""

    placeholder = "?"

    # ---- back-end primitives -------------------------------------------------------------------

    @abstractmethod
    def _write(self, lock: str = LOG_LOCK) -> AbstractContextManager[Any]:
        """A cursor inside a transaction that holds the write lock ``lock`` until it ends."""

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

    _INSERT_LOG = (
        "INSERT INTO decision_log (id, time, subject, party, effect, policy_version, entry, "
        "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    _LAST_HASH = "SELECT hash FROM decision_log ORDER BY seq DESC LIMIT 1"

    #: Groups up to this many entries may be appended on the event loop itself by
    #: :meth:`append_decisions_async` (SQLite: some 5 µs an entry); larger ones in a thread.
    INLINE_APPEND = 256

    def append_decisions(self, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        """Append entries (each with at least the :data:`_INDEXED` keys) in order, chaining their
        hashes; returns the hashes. All or nothing: one transaction."""
        if not entries:
            return []
        with self._write() as cur:
            return self._append_rows(cur, entries)

    def _append_rows(self, cur: Any, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        """Chain ``entries`` after the last entry and insert them, in the transaction of ``cur``,
        which holds the log's write lock."""
        cur.execute(self._LAST_HASH)
        row = cur.fetchone()
        rows, _ = chain_rows(row[0] if row else GENESIS, entries)
        self._insert_rows(cur, rows)
        return [row[8] for row in rows]

    def _insert_rows(self, cur: Any, rows: list[Row]) -> None:
        cur.executemany(self._sql(self._INSERT_LOG), rows)

    async def append_decisions_async(self, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        """:meth:`append_decisions` for the log writer on the event loop: in a worker thread,
        unless the back end does better."""
        return await asyncio.to_thread(self.append_decisions, entries)

    async def aclose(self) -> None:  # noqa: B027 - nothing to release unless a back end says so
        """Release what :meth:`append_decisions_async` opened on the event loop (nothing here)."""

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
        with self._write(CONSENT_LOCK) as cur:
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


#: A writer's commit checkpoints (``wal_autocheckpoint``) past this many pages of log: 64 MiB.
WRITER_CHECKPOINT_PAGES = 16_384


class _Checkpointer:
    """Copies the write-ahead log back into the database file, in a thread of its own.

    SQLite does this by itself inside the commit that takes the log past
    ``wal_autocheckpoint`` pages (a thousand by default), so every fourth batch of a thousand
    decisions waited some 9 ms for it (copying the pages and two fsyncs), on the path every
    logged decision takes. Here each commit pokes this thread, which runs a PASSIVE checkpoint
    (it copies what it can and never blocks a writer) at most every :attr:`interval` seconds.

    The writers still checkpoint, but only past :data:`WRITER_CHECKPOINT_PAGES`, and then find
    little left to copy. That bound is needed: a checkpoint in another thread cannot let the log
    start over from its beginning while commits keep coming (each finds frames written after the
    checkpoint began), so under a steady stream of writes the log file would grow without end.
    """

    def __init__(self, path: str, interval: float = 0.2) -> None:
        self.interval = interval
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._poked = threading.Event()
        self._closed = False
        self.checkpoints = 0
        """Checkpoints run so far (for tests and the curious)."""
        self._thread = threading.Thread(
            target=self._run, name="policy-engine-sqlite-checkpoint", daemon=True
        )
        self._thread.start()

    def poke(self) -> None:
        self._poked.set()

    def _run(self) -> None:
        while True:
            self._poked.wait()
            if self._closed:
                return
            self._poked.clear()
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self.checkpoints += 1
            except sqlite3.Error as exc:  # another process checkpointing; try again next time
                logger.debug("SQLite checkpoint skipped: %s", exc)
            time.sleep(self.interval)

    def close(self) -> None:
        self._closed = True
        self._poked.set()
        self._thread.join(timeout=30)
        self._conn.close()


class SQLiteStorage(Storage):
    """One file, WAL mode, three connections shared by the threads of the process: one reads
    (ledger reads and log queries do not wait for a write: WAL lets readers run beside the
    writer), and two write, under one lock: one for threads, which waits up to ten seconds for
    another process's write lock, and one for the log writer on the event loop, which never
    waits (:meth:`append_decisions_async`). Checkpoints run in a thread of their own
    (:class:`_Checkpointer`)."""

    def __init__(self, path: str) -> None:
        self.path = path
        memory = path == ":memory:"
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = self._open(path, busy_ms=10_000)
            # Every connection to ":memory:" is a database of its own: there, one does all.
            self._reader = self._conn if memory else self._open(path, busy_ms=10_000)
            self._inline = self._conn if memory else self._open(path, busy_ms=0)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite database `{path}`: {exc}") from None
        self._lock = threading.Lock()
        self._read_lock = self._lock if memory else threading.Lock()
        self._checkpointer: _Checkpointer | None = None
        self._migrate(_SQLITE_MIGRATIONS)
        if not memory:
            self._checkpointer = _Checkpointer(path)
        # SQLite before 3.32 binds at most 999 parameters in a statement, later ones 32,766.
        variables = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        fits = variables // (self._LOG_COLUMNS + 1)
        self._max_insert_rows = min(self.MAX_INSERT_ROWS, 1 << (fits.bit_length() - 1))

    @staticmethod
    def _open(path: str, busy_ms: int) -> sqlite3.Connection:
        conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=busy_ms / 1000
        )
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode loses nothing when the process dies, only on power loss.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        # The checkpointer's thread copies the log into the database (_Checkpointer); a commit
        # checkpoints only what it left, once the log passes this many pages.
        conn.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")
        # After a checkpoint has let the log start over, its file is cut back to 64 MiB.
        conn.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")
        return conn

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    @contextmanager
    def _write(self, lock: str = LOG_LOCK) -> Iterator[sqlite3.Cursor]:
        # SQLite has one write lock per database, whatever ``lock`` names.
        with self._lock, self._transaction(self._conn) as cur:
            yield cur

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Cursor]:
        """A write transaction on ``conn``; the caller holds :attr:`_lock`."""
        cur = conn.cursor()
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
            if self._checkpointer is not None:
                self._checkpointer.poke()
        except (sqlite3.Error, UnicodeEncodeError) as exc:
            if conn.in_transaction:
                conn.rollback()
            if conn is self._inline and isinstance(exc, sqlite3.Error) and _busy(exc):
                raise _Busy from None
            # A value SQLite cannot store (a lone surrogate cannot be UTF-8) is refused like a
            # constraint: the same write fails again, other writes do not.
            refused = isinstance(exc, sqlite3.IntegrityError | sqlite3.DataError | ValueError)
            raise StorageError(f"SQLite write failed: {exc}", refused=refused) from None
        finally:
            cur.close()

    # A group goes in with one statement per (up to) MAX_INSERT_ROWS rows: a multi-row VALUES
    # list, its parameters bound by the sqlite3 module in C, then one step of SQLite that runs
    # without the GIL, beside the event loop's work. With executemany every row is a step of its
    # own, after which the thread waits for the GIL again, behind a busy event loop (up to the
    # interpreter's 5 ms switch interval each time); reading the rows out of one JSON array
    # (json_each and json_extract) avoided that but cost more than the insert itself. Statements
    # come in power-of-two sizes (a handful per connection, each prepared once); a group that does
    # not fill one is padded with rows of NULLs, which the WHERE clause drops. The rows are
    # numbered and inserted in that order, so that ``seq`` follows the chain.
    MAX_INSERT_ROWS = 1024
    _LOG_COLUMNS = 9

    def _insert_rows(self, cur: Any, rows: list[Row]) -> None:
        most = self._max_insert_rows
        for start in range(0, len(rows), most):
            chunk = rows[start : start + most]
            size = 1 << (len(chunk) - 1).bit_length()
            params: list[Any] = []
            extend = params.extend
            for number, row in enumerate(chunk):
                extend(row)
                params.append(number)
            params.extend(_NULL_ROW * (size - len(chunk)))
            cur.execute(_padded_insert(size), params)

    async def append_decisions_async(self, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        """A small group is appended on the event loop itself: SQLite's append is a few
        in-process calls, cheaper than handing them to a thread. It never waits there: when a
        thread of this process (a consent event) or another process holds the write lock, or the
        group is large, the append goes to a worker thread, which may wait for the lock."""
        if len(entries) <= self.INLINE_APPEND and self._lock.acquire(blocking=False):
            try:
                with self._transaction(self._inline) as cur:
                    return self._append_rows(cur, entries)
            except _Busy:
                pass
            finally:
                self._lock.release()
        return await asyncio.to_thread(self.append_decisions, entries)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Cursor]:
        with self._read_lock:
            cur = self._reader.cursor()
            try:
                yield cur
            except sqlite3.Error as exc:
                raise StorageError(f"SQLite read failed: {exc}") from None
            finally:
                cur.close()

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        with self._lock:
            self._conn.close()
            if self._inline is not self._conn:
                self._inline.close()
        if self._reader is not self._conn:
            with self._read_lock:
                self._reader.close()


_NULL_ROW = (None,) * (SQLiteStorage._LOG_COLUMNS + 1)


@functools.lru_cache(maxsize=32)
def _padded_insert(size: int) -> str:
    """The statement that inserts up to ``size`` log rows, each bound as its nine columns and
    its number; rows whose ``id`` is NULL are padding (see :meth:`SQLiteStorage._insert_rows`)."""
    row = "(" + ", ".join(["?"] * (SQLiteStorage._LOG_COLUMNS + 1)) + ")"
    return (
        "INSERT INTO decision_log (id, time, subject, party, effect, policy_version, entry, "
        "prev_hash, hash) SELECT column1, column2, column3, column4, column5, column6, column7, "
        "column8, column9 FROM (VALUES " + ", ".join([row] * size) + ") "
        "WHERE column1 IS NOT NULL ORDER BY column10"
    )


class _Busy(Exception):
    """Another writer holds SQLite's write lock (on the connection that does not wait)."""


def _busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class PostgresStorage(Storage):
    """PostgreSQL through psycopg 3 and a small pool of connections (psycopg-pool): ledger reads,
    log queries and the log writer's groups each borrow one. Appends take a transaction-scoped
    advisory lock, so that replicas sharing the database keep one chain.

    Appending a group is one round trip: one call of ``policy_engine_append_log`` (schema
    version 2) with the rows as one JSON array. The hashes are computed beforehand from the
    chain head this process appended last; under the lock the function inserts the rows only if
    that is still the last hash in the table, and otherwise returns the head that is, after
    which the rows are chained again and sent again. Should other replicas keep appending in
    between, the group is appended the sure way: in a transaction holding the lock, read the
    head, then insert. The service's log writer does the same over an asynchronous connection of
    its own (:meth:`append_decisions_async`)."""

    placeholder = "%s"

    # The rows go as one JSON text (orjson): psycopg adapts a list per column in Python, at some
    # 15 µs a list, more than a whole group costs to write as JSON.
    _APPEND = "SELECT policy_engine_append_log(%s, %s::jsonb)"
    # Appends that find the head moved before the one that takes the lock first.
    _OPTIMISTIC_TRIES = 3

    def __init__(self, url: str, pool_size: int = DEFAULT_PG_POOL_SIZE) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise StorageError(
                "PostgreSQL needs psycopg 3 and psycopg-pool: pip install 'policy-engine[server]'"
            ) from None
        self._psycopg = psycopg
        self._url = url
        # The chain head this process appended last (None: not known, read it in the database).
        self._head: str | None = None
        self._append_lock = threading.Lock()
        # The log writer's connection on the event loop (append_decisions_async).
        self._aconn: Any = None
        try:
            # One plain connection first: an unreachable database fails now, with its reason.
            with psycopg.connect(url, autocommit=True, connect_timeout=10):
                pass
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to PostgreSQL at {self.url}: {exc}") from None
        self._pool: Any = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True},
            timeout=10.0,
            name="policy-engine",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=10.0)
            self._migrate(_POSTGRES_MIGRATIONS)
        except (psycopg.Error, StorageError) as exc:
            self._pool.close()
            if isinstance(exc, StorageError):
                raise
            raise StorageError(f"cannot connect to PostgreSQL at {self.url}: {exc}") from None

    @property
    def url(self) -> str:
        parts = urlsplit(self._url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        user = unquote(parts.username) + "@" if parts.username else ""
        return f"{parts.scheme}://{user}{netloc}{parts.path}"

    @staticmethod
    def _lock_sql(lock: str) -> str:
        # The key the service always used for the log ('.policy_engine_log'), schema by schema.
        key = f"current_schema() || '.policy_engine_{lock}'"
        return f"SELECT pg_advisory_xact_lock(hashtext({key}))"

    @contextmanager
    def _write(self, lock: str = LOG_LOCK) -> Iterator[Any]:
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                cur.execute(self._lock_sql(lock))
                yield cur
        except self._psycopg.Error as exc:
            raise self._write_error(exc) from None

    def _write_error(self, exc: Exception) -> StorageError:
        refused = isinstance(exc, self._psycopg.DataError | self._psycopg.IntegrityError)
        return StorageError(f"PostgreSQL write failed: {exc}", refused=refused)

    @contextmanager
    def _read(self) -> Iterator[Any]:
        try:
            with self._pool.connection() as conn, conn.cursor() as cur:
                yield cur
        except self._psycopg.Error as exc:
            raise StorageError(f"PostgreSQL read failed: {exc}") from None

    def append_decisions(self, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        if not entries:
            return []
        with self._append_lock:
            try:
                rows = self._append(entries)
            except self._psycopg.Error as exc:
                # The commit may or may not have happened: read the head again next time.
                self._head = None
                raise self._write_error(exc) from None
            except BaseException:
                self._head = None
                raise
            self._head = rows[-1][8]
        return [row[8] for row in rows]

    def _append(self, entries: Sequence[Mapping[str, Any]]) -> list[Row]:
        with self._pool.connection() as conn:
            expected = self._head
            if expected is None:
                expected = self._head_of(conn.execute(self._LAST_HASH).fetchone())
            for _ in range(self._OPTIMISTIC_TRIES):
                rows, _ = chain_rows(expected, entries)
                head = conn.execute(self._APPEND, (expected, _json_rows(rows))).fetchone()[0]
                if head is None:
                    return rows
                expected = head  # another replica appended meanwhile
            with conn.transaction():
                conn.execute(self._lock_sql(LOG_LOCK))
                expected = self._head_of(conn.execute(self._LAST_HASH).fetchone())
                rows, _ = chain_rows(expected, entries)
                conn.execute(self._APPEND, (expected, _json_rows(rows)))
            return rows

    @staticmethod
    def _head_of(row: Any) -> str:
        return str(row[0]) if row else GENESIS

    async def append_decisions_async(self, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        """The same append as :meth:`append_decisions`, over an asynchronous connection of the
        log writer's own, so that the event loop waits for PostgreSQL without blocking."""
        if not entries:
            return []
        try:
            conn = self._aconn
            if conn is None or conn.closed:
                conn = self._aconn = await self._psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, connect_timeout=10
                )
            rows = await self._append_async(conn, entries)
        except self._psycopg.Error as exc:
            self._head = None
            await self.aclose()
            raise self._write_error(exc) from None
        except BaseException:
            self._head = None
            await self.aclose()
            raise
        self._head = rows[-1][8]
        return [row[8] for row in rows]

    async def _append_async(self, conn: Any, entries: Sequence[Mapping[str, Any]]) -> list[Row]:
        # The same steps as _append, awaited.
        expected = self._head
        if expected is None:
            expected = self._head_of(await (await conn.execute(self._LAST_HASH)).fetchone())
        for _ in range(self._OPTIMISTIC_TRIES):
            rows, _ = chain_rows(expected, entries)
            cur = await conn.execute(self._APPEND, (expected, _json_rows(rows)))
            head = (await cur.fetchone())[0]
            if head is None:
                return rows
            expected = head
        async with conn.transaction():
            await conn.execute(self._lock_sql(LOG_LOCK))
            expected = self._head_of(await (await conn.execute(self._LAST_HASH)).fetchone())
            rows, _ = chain_rows(expected, entries)
            await conn.execute(self._APPEND, (expected, _json_rows(rows)))
        return rows

    async def aclose(self) -> None:
        conn, self._aconn = self._aconn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(self._psycopg.Error):
                await conn.close()

    def close(self) -> None:
        self._pool.close()


def _json_rows(rows: Sequence[Row]) -> str:
    """Rows as the JSON array of arrays ``policy_engine_append_log`` takes. What orjson refuses
    (a lone surrogate) is written escaped, for PostgreSQL to refuse in its turn, as a value it
    cannot store, rather than failing here."""
    if _orjson is not None:
        try:
            return str(_orjson.dumps(rows), "utf-8")
        except TypeError:
            pass
    return json.dumps(rows, separators=(",", ":"))


def open_storage(url: str | None = None, *, pool_size: int = DEFAULT_PG_POOL_SIZE) -> Storage:
    """``sqlite:///relative.db``, ``sqlite:////absolute.db``, a bare file path, or
    ``postgresql://user@host:port/db`` (libpq's ``?options=-csearch_path%3Dschema`` picks a
    schema). ``None`` is :data:`DEFAULT_DB_URL`, a file in the working directory."""
    url = url or DEFAULT_DB_URL
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        return PostgresStorage(url, pool_size)
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
