"""The SQLite back end: one file in WAL mode, the default, with no set-up.

:class:`SQLiteStorage` appends a group of log entries with a few multi-row inserts, on the event
loop itself when SQLite's write lock is free; :class:`_Checkpointer` copies the write-ahead log
back into the database file in a thread of its own, off the path every logged decision takes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import sqlite_files
from .log_chain import Row
from .storage_base import LOG_LOCK, Storage
from .storage_schema import SQLITE_MIGRATIONS
from .storage_types import StorageError

logger = logging.getLogger("policy_engine.service")

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

    def __init__(self, path: str, *, existing: bool = False, allow_readable: bool = False) -> None:
        """``existing``: the database must be there already, with this build's schema; nothing
        is created, migrated or checkpointed (``log verify``), and files others may read are
        only warned about (:attr:`warnings`). Otherwise a database file others may read or
        write is refused unless ``allow_readable``, and a new one is created 0600
        (:mod:`.sqlite_files`)."""
        self.path = path
        memory = path == ":memory:"
        if existing and not (memory or Path(path).is_file()):
            raise StorageError(f"no SQLite database at `{path}`")
        if not memory:
            self._check_files(path, existing, allow_readable)
        try:
            setup = not existing
            self._conn = self._open(path, busy_ms=10_000, setup=setup)
            # Every connection to ":memory:" is a database of its own: there, one does all.
            self._reader = self._conn if memory else self._open(path, 10_000, setup=setup)
            self._inline = self._conn if memory else self._open(path, 0, setup=setup)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite database `{path}`: {exc}") from None
        self._lock = threading.Lock()
        self._read_lock = self._lock if memory else threading.Lock()
        self._checkpointer: _Checkpointer | None = None
        if existing:
            self._require_schema()
            return
        self._migrate(SQLITE_MIGRATIONS)
        if not memory:
            if not allow_readable:
                sqlite_files.make_private(path)
            self._checkpointer = _Checkpointer(path)
        # SQLite before 3.32 binds at most 999 parameters in a statement, later ones 32,766.
        variables = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        fits = variables // (self._LOG_COLUMNS + 1)
        self._max_insert_rows = min(self.MAX_INSERT_ROWS, 1 << (fits.bit_length() - 1))

    def _check_files(self, path: str, existing: bool, allow_readable: bool) -> None:
        found = sqlite_files.exposed(path)
        if existing:
            if found:
                self.warnings = (sqlite_files.warning(path, found),)
            return
        if found and not allow_readable:
            raise StorageError(sqlite_files.refusal(path, found))
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            sqlite_files.create_private(path)
        except OSError as exc:
            raise StorageError(f"cannot create SQLite database `{path}`: {exc.strerror}") from None

    @staticmethod
    def _open(path: str, busy_ms: int, *, setup: bool = True) -> sqlite3.Connection:
        """A connection; with ``setup``, the database is also put in WAL mode with this
        engine's checkpointing (a write: not for a database only read, as ``log verify`` does)."""
        conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=busy_ms / 1000
        )
        conn.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        if not setup:
            return conn
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
    _LOG_COLUMNS = 10

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
    """The statement that inserts up to ``size`` log rows, each bound as its ten columns and
    its number; rows whose ``id`` is NULL are padding (see :meth:`SQLiteStorage._insert_rows`)."""
    row = "(" + ", ".join(["?"] * (SQLiteStorage._LOG_COLUMNS + 1)) + ")"
    return (
        "INSERT INTO decision_log (id, time, subject, party, effect, policy_version, entry, "
        "prev_hash, hash, mac) SELECT column1, column2, column3, column4, column5, column6, "
        "column7, column8, column9, column10 FROM (VALUES " + ", ".join([row] * size) + ") "
        "WHERE column1 IS NOT NULL ORDER BY column11"
    )


class _Busy(Exception):
    """Another writer holds SQLite's write lock (on the connection that does not wait)."""


def _busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
