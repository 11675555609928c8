"""Where the service keeps its two records: the consent ledger and the decision log.

One small interface, two back ends: SQLite (WAL, the default, a file in the working directory,
no set-up) and PostgreSQL (psycopg 3), which several replicas can share. The schema is created on
open and versioned in ``schema_migrations``. :func:`open_storage` opens the one a URL names.

The decision log is a hash chain: each entry stores
``hash = sha256(previous_hash + canonical JSON of the entry)``, the first entry's previous hash
being :data:`GENESIS`. :meth:`Storage.verify_log` recomputes the chain and names the first entry
that does not match. With a log key each entry also carries a keyed MAC (:mod:`.log_mac`), and
anchors of the log's head kept outside the database (:mod:`.log_anchor`) show entries cut off its
end or a rewritten chain (:mod:`.log_verify`). This module imports neither FastAPI nor psycopg at
import time, so ``policy-engine log verify`` needs only what the back end itself needs.

:meth:`Storage.append_decisions` appends many entries in one transaction; the service funnels
every request's entries through one writer on its event loop (:mod:`.log_writer`), which calls
:meth:`Storage.append_decisions_async` once per group of concurrent requests (group commit).

The pieces live in modules of their own, and this one re-exports them: the shared error and
time format (:mod:`.storage_types`), the chain and its canonical JSON (:mod:`.log_chain`), the
schema (:mod:`.storage_schema`), the interface (:mod:`.storage_base`) and the back ends
(:mod:`.storage_sqlite`, :mod:`.storage_postgres`).
"""

from __future__ import annotations

from urllib.parse import unquote

from .log_chain import (
    GENESIS,
    PlainEntry,
    Row,
    VerifyResult,
    _plain,
    canonical_json,
    chain_hash,
    chain_rows,
)
from .log_mac import LogKey
from .storage_base import CONSENT_LOCK, LOG_LOCK, Storage
from .storage_postgres import DEFAULT_PG_POOL_SIZE, PostgresStorage
from .storage_schema import SCHEMA_VERSION
from .storage_sqlite import SQLiteStorage
from .storage_types import TIME_FORMAT, StorageError, format_time, now_text

__all__ = [
    "CONSENT_LOCK",
    "DEFAULT_DB_URL",
    "DEFAULT_PG_POOL_SIZE",
    "GENESIS",
    "LOG_LOCK",
    "SCHEMA_VERSION",
    "TIME_FORMAT",
    "PlainEntry",
    "PostgresStorage",
    "Row",
    "SQLiteStorage",
    "Storage",
    "StorageError",
    "VerifyResult",
    "_plain",
    "canonical_json",
    "chain_hash",
    "chain_rows",
    "format_time",
    "now_text",
    "open_storage",
]

DEFAULT_DB_URL = "sqlite:///policy-engine.db"


def open_storage(
    url: str | None = None,
    *,
    pool_size: int = DEFAULT_PG_POOL_SIZE,
    existing: bool = False,
    log_key: LogKey | None = None,
    allow_readable: bool = False,
) -> Storage:
    """``sqlite:///relative.db``, ``sqlite:////absolute.db``, a bare file path, or
    ``postgresql://user@host:port/db`` (libpq's ``?options=-csearch_path%3Dschema`` picks a
    schema). ``None`` is :data:`DEFAULT_DB_URL`, a file in the working directory. With
    ``existing`` the database must already hold this build's schema: nothing is created or
    migrated (``log verify``). With ``log_key`` appended entries carry their MACs and
    ``verify_log`` checks them. A SQLite file other users may read or write is refused unless
    ``allow_readable`` (or ``existing``: then it is in :attr:`Storage.warnings`)."""
    url = url or DEFAULT_DB_URL
    scheme = url.split("://", 1)[0] if "://" in url else ""
    storage: Storage
    if scheme in ("postgresql", "postgres"):
        storage = PostgresStorage(url, pool_size, existing=existing)
    elif scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise StorageError(f"a SQLite URL looks like `sqlite:///file.db`, got `{url}`")
        storage = SQLiteStorage(unquote(path), existing=existing, allow_readable=allow_readable)
    elif not scheme:
        storage = SQLiteStorage(url, existing=existing, allow_readable=allow_readable)
    else:
        raise StorageError(
            f"unsupported database URL `{url}`: use sqlite:///FILE or postgresql://…"
        )
    storage.log_key = log_key
    return storage
