"""The PostgreSQL back end (psycopg 3 and psycopg-pool, imported only when it is opened), which
several replicas can share: appends take a transaction-scoped advisory lock, so that they keep
one chain, and a group of log entries goes in with one round trip
(``policy_engine_append_log``, schema version 2; its rows carry their MACs since version 3).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from .log_chain import GENESIS, Row, chain_rows, json_rows
from .storage_base import LOG_LOCK, Storage
from .storage_schema import POSTGRES_MIGRATIONS
from .storage_types import StorageError

#: Connections a PostgreSQL-backed process's pool keeps at most, for ledger reads, log queries
#: and consent events (the log writer has one more of its own, on the event loop).
DEFAULT_PG_POOL_SIZE = 8


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

    def __init__(
        self, url: str, pool_size: int = DEFAULT_PG_POOL_SIZE, *, existing: bool = False
    ) -> None:
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
            if existing:  # log verify: read what is there, create nothing
                self._require_schema()
            else:
                self._migrate(POSTGRES_MIGRATIONS)
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
                rows, _ = chain_rows(expected, entries, self.log_key)
                head = conn.execute(self._APPEND, (expected, json_rows(rows))).fetchone()[0]
                if head is None:
                    return rows
                expected = head  # another replica appended meanwhile
            with conn.transaction():
                conn.execute(self._lock_sql(LOG_LOCK))
                expected = self._head_of(conn.execute(self._LAST_HASH).fetchone())
                rows, _ = chain_rows(expected, entries, self.log_key)
                conn.execute(self._APPEND, (expected, json_rows(rows)))
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
            rows, _ = chain_rows(expected, entries, self.log_key)
            cur = await conn.execute(self._APPEND, (expected, json_rows(rows)))
            head = (await cur.fetchone())[0]
            if head is None:
                return rows
            expected = head
        async with conn.transaction():
            await conn.execute(self._lock_sql(LOG_LOCK))
            expected = self._head_of(await (await conn.execute(self._LAST_HASH)).fetchone())
            rows, _ = chain_rows(expected, entries, self.log_key)
            await conn.execute(self._APPEND, (expected, json_rows(rows)))
        return rows

    async def aclose(self) -> None:
        conn, self._aconn = self._aconn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(self._psycopg.Error):
                await conn.close()

    def close(self) -> None:
        self._pool.close()
