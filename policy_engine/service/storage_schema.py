"""The database schema, per dialect, and the migrations that build it.

The schema is created on open and versioned in ``schema_migrations``: each version is a list of
statements, applied once, in version order, in the transaction that opens the database
(:func:`apply_migrations`). The versions go in step on both back ends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .storage_types import now_text

# Migrations: version → statements, per dialect. Append new versions; never edit old ones.
SQLITE_MIGRATIONS: dict[int, list[str]] = {
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
    # The entry's keyed MAC (log_mac), NULL when no log key was configured.
    3: ["ALTER TABLE decision_log ADD COLUMN mac TEXT"],
    # 4 (consent instants as timestamptz) is PostgreSQL's: SQLite keeps the fixed-width text,
    # whose order is time order.
    4: [],
}

POSTGRES_MIGRATIONS: dict[int, list[str]] = {
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
    # The entry's keyed MAC (log_mac), NULL when no log key was configured; the append function
    # takes it as each row's tenth value (a row of nine, from a replica not yet upgraded, gives
    # NULL).
    3: [
        "ALTER TABLE decision_log ADD COLUMN mac TEXT",
        """CREATE OR REPLACE FUNCTION policy_engine_append_log(expected TEXT, rows JSONB)
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
                                      prev_hash, hash, mac)
            SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8, r->>9
            FROM jsonb_array_elements(rows) WITH ORDINALITY AS t(r, n)
            ORDER BY n;
            RETURN NULL;
        END
        $$""",
    ],
    # Consent instants are instants: stored, ordered and compared as timestamptz (the text they
    # were is the fixed-width UTC form, which PostgreSQL reads as is). Read back, they are
    # written in that form again (storage_base.Storage.consent_events).
    4: [
        "ALTER TABLE consent_events "
        "ALTER COLUMN timestamp TYPE TIMESTAMPTZ USING timestamp::timestamptz, "
        "ALTER COLUMN expires_at TYPE TIMESTAMPTZ USING expires_at::timestamptz, "
        "ALTER COLUMN recorded_at TYPE TIMESTAMPTZ USING recorded_at::timestamptz",
    ],
}
SCHEMA_VERSION = max(SQLITE_MIGRATIONS)


def apply_migrations(
    cur: Any, migrations: Mapping[int, list[str]], sql: Callable[[str], str]
) -> None:
    """Apply the versions of ``migrations`` not yet recorded, with ``cur``, inside a write
    transaction; ``sql`` puts the back end's placeholder in a statement."""
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
            sql("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)"),
            (version, now_text()),
        )


def applied_version(cur: Any) -> int | None:
    """The highest schema version recorded in the database, or None when it has no schema (no
    ``schema_migrations`` table): read only, for ``log verify``, which never creates or
    migrates anything."""
    try:
        cur.execute("SELECT max(version) FROM schema_migrations")
    except Exception:  # no such table (either back end's error): not a policy-engine database
        return None
    row = cur.fetchone()
    return None if row is None or row[0] is None else int(row[0])
