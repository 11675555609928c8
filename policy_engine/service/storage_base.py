"""The storage interface: :class:`Storage`, the consent ledger and the decision log over a few
primitives each back end supplies (a write transaction under a named lock, a read cursor).

Everything that is plain SQL lives here, written with ``?`` placeholders: appending to the log
(chained by :mod:`.log_chain`), querying and verifying it, recording and reading consent events,
and applying the schema's migrations (:mod:`.storage_schema`). The back ends
(:mod:`.storage_sqlite`, :mod:`.storage_postgres`) supply the connections and their faster paths
to append a group of entries.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ..engine.context import ExactFloat
from .log_anchor import EMPTY_HEAD, Anchor, LogHead
from .log_chain import GENESIS, Row, VerifyResult, canonical_json, chain_rows
from .log_mac import LogKey
from .log_verify import VERIFY_COLUMNS, verify_rows
from .storage_schema import SCHEMA_VERSION, applied_version, apply_migrations
from .storage_types import StorageError, format_time, now_text

#: Names of the write locks: appends to the log, and consent events, are each serialized (across
#: processes too) so that ``seq`` order is commit order.
LOG_LOCK = "log"
CONSENT_LOCK = "consent"


class Storage(ABC):
    """The ledger and the log. Methods are thread-safe; each call is one transaction."""

    placeholder = "?"
    log_key: LogKey | None = None
    """With a key, each appended entry carries its MAC (:mod:`.log_mac`), and
    :meth:`verify_log` checks them."""
    warnings: tuple[str, ...] = ()
    """What opening the database found worth saying (a file others may read)."""

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
        "prev_hash, hash, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    _LAST_HASH = "SELECT hash FROM decision_log ORDER BY seq DESC LIMIT 1"

    #: Groups up to this many entries may be appended on the event loop itself by
    #: :meth:`append_decisions_async` (SQLite: some 5 µs an entry); larger ones in a thread.
    INLINE_APPEND = 256

    def append_decisions(self, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        """Append entries (each with at least the :data:`.log_chain._INDEXED` keys) in order,
        chaining their hashes; returns the hashes. All or nothing: one transaction."""
        if not entries:
            return []
        with self._write() as cur:
            return self._append_rows(cur, entries)

    def _append_rows(self, cur: Any, entries: Sequence[Mapping[str, Any]]) -> list[str]:
        """Chain ``entries`` after the last entry and insert them, in the transaction of ``cur``,
        which holds the log's write lock."""
        cur.execute(self._LAST_HASH)
        row = cur.fetchone()
        rows, _ = chain_rows(row[0] if row else GENESIS, entries, self.log_key)
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
        after: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Logged entries, oldest first, filtered (``after``: a ``seq``, for the next page);
        each with its ``seq`` and ``hash``."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("subject", subject), ("party", party), ("seq", after)):
            if value is not None:
                where.append(f"{column} {'>' if column == 'seq' else '='} ?")
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
            item = json.loads(entry, parse_float=ExactFloat)  # numbers as logged
            item["seq"] = int(seq)
            item["hash"] = digest
            out.append(item)
        return out

    def allowed_for_subject(
        self, subject: str, since: str | None = None, until: str | None = None
    ) -> list[Row]:
        """The stored rows (:data:`VERIFY_COLUMNS`) of every allowed decision logged for
        ``subject``, oldest first, between the instants ``since`` and ``until`` (inclusive)."""
        sql = f"SELECT {VERIFY_COLUMNS} FROM decision_log WHERE subject = ? AND effect = 'allow'"
        params: list[Any] = [subject]
        for bound, op in ((since, ">="), (until, "<=")):
            if bound is not None:
                sql += f" AND time {op} ?"
                params.append(bound)
        with self._read() as cur:
            cur.execute(self._sql(sql + " ORDER BY seq"), params)
            return list(cur.fetchall())

    def verify_log(self, batch: int = 5000, anchors: Sequence[Anchor] = ()) -> VerifyResult:
        """Recompute the chain from the first entry, check each entry's MAC (with
        :attr:`log_key`; entries after the first that carries one must all carry one), and that
        the log still reaches every anchored head; stop at the first problem
        (:func:`.log_verify.verify_rows`)."""
        return verify_rows(self._log_batches(batch), self.log_key, anchors)

    def _log_batches(self, batch: int) -> Iterator[list[Row]]:
        select = self._sql(
            f"SELECT {VERIFY_COLUMNS} FROM decision_log WHERE seq > ? ORDER BY seq LIMIT ?"
        )
        last_seq = 0
        while True:
            with self._read() as cur:
                cur.execute(select, (last_seq, batch))
                rows = cur.fetchall()
            if not rows:
                return
            yield rows
            last_seq = int(rows[-1][0])

    def log_head(self, since: LogHead | None = None) -> LogHead:
        """The log's head now, read in one statement (one snapshot). With ``since``, an earlier
        head of this log, only the entries after it are counted (unless the log no longer
        reaches it: then all of them)."""
        base = since or EMPTY_HEAD
        select = self._sql(
            "SELECT seq, id, hash, (SELECT count(*) FROM decision_log WHERE seq > ? "
            "AND seq <= d.seq) FROM decision_log d ORDER BY seq DESC LIMIT 1"
        )
        with self._read() as cur:
            cur.execute(select, (base.last_seq,))
            row = cur.fetchone()
        if row is None:
            return EMPTY_HEAD
        if int(row[0]) < base.last_seq:
            return self.log_head()
        return LogHead(base.entries + int(row[3]), int(row[0]), str(row[1]), str(row[2]))

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
            item["timestamp"] = _instant_text(item["timestamp"])
            item["expires_at"] = _instant_text(item["expires_at"])
            item["recorded_at"] = _instant_text(row[7])
            out.append(item)
        return out

    # ---- migrations ----------------------------------------------------------------------------

    def _migrate(self, migrations: Mapping[int, list[str]]) -> None:
        with self._write() as cur:
            apply_migrations(cur, migrations, self._sql)

    def _require_schema(self) -> None:
        """For a database that must already exist (``log verify``): its schema is this build's,
        read without writing anything."""
        with self._read() as cur:
            version = applied_version(cur)
        if version is None:
            raise StorageError(f"{self.url} holds no decision log (no policy-engine tables)")
        if version != SCHEMA_VERSION:
            raise StorageError(
                f"{self.url} has schema version {version}, this build reads {SCHEMA_VERSION}: "
                "verify it with the build that wrote it, or let `serve` migrate it first"
            )


def _instant_text(value: Any) -> Any:
    """A consent instant as the API shows it: PostgreSQL's ``timestamptz`` (a datetime) in the
    fixed-width UTC text SQLite stores (None stays None)."""
    return format_time(value) if isinstance(value, datetime) else value
