"""The decision log under concurrency and failure: group commit, several replicas on one
PostgreSQL, refused and failed writes, the canonical JSON the hashes cover, decision ids.

Against real databases (SQLite files; PostgreSQL as chosen in :mod:`tests.test_service`, a schema
of each test's own) and, where it says so, real server processes on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi", reason="the service needs the server extra")
pytest.importorskip("uvicorn", reason="the service needs the server extra")

from policy_engine import RequestError, load_policy_text
from policy_engine.service import storage_sqlite
from policy_engine.service.config import ServiceConfig
from policy_engine.service.decision_ids import new_decision_ids
from policy_engine.service.log_writer import GATHER_UNTIL, DecisionLogWriter
from policy_engine.service.models import DecisionRequest
from policy_engine.service.policy_service import PolicyService
from policy_engine.service.storage import (
    PlainEntry,
    SQLiteStorage,
    Storage,
    StorageError,
    _plain,
    canonical_json,
    open_storage,
)

from .test_service import (
    HOSTING,
    MARKETING,
    PG_URL,
    Server,
    metric,
    new_subject,
    own_database,
    postgres_or_skip,
    run_cli,
    start_server,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(backend, db URL, PostgreSQL schema or "") of a database of this test's own."""
    yield from own_database(request.param, tmp_path, "log")


def entry(number: int, entry_id: str | None = None, subject: Any = "") -> dict[str, Any]:
    """A log entry with the indexed keys and a context of every JSON type."""
    return {
        "id": entry_id or str(uuid.uuid4()),
        "time": "2026-01-01T00:00:00.000000Z",
        "subject": f"org-{number % 3}" if subject == "" else subject,
        "party": "staff",
        "data": "email",
        "purpose": "marketing",
        "request": {"context": {"n": number, "ratio": number / 7, "ok": number % 2 == 0}},
        "effect": "deny",
        "policy_version": "v1",
    }


def logged_ids(storage: Storage) -> list[str]:
    return [e["id"] for e in storage.query_decisions(limit=1000)]


# ---- the text the hashes cover ------------------------------------------------------------------

LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.text(st.characters(categories=["Cs", "Cc", "Zl", "So"]), max_size=4)
)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES)
def test_canonical_json_is_the_standard_librarys_text(value: Any) -> None:
    """Whichever encoder writes it (orjson, or the standard library for floats, integers beyond
    64 bits, lone surrogates), the text is the one the hashes have always covered."""
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(value) == expected


def test_canonical_json_of_a_service_entry() -> None:
    value = {**entry(3), "obligations": ["a", "é"], "reasons": [], "missing": ["x"]}
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(value) == expected


EVERY_TYPE = """party a
data d
purpose p
purpose q
context b: boolean
context n: integer
context s: string
context c: one of "x", "y"
context l: list of "x", "y"
context ls: list of string
context t: set of purpose
"""


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["b", "n", "s", "c", "l", "ls", "t"]),
        # Values of the right types often enough for most contexts to be accepted.
        JSON_VALUES | st.sampled_from(["x", "y"]) | st.lists(st.sampled_from(["x", "y", "p"])),
    )
)
def test_a_valid_context_is_plain_json(context: dict[str, Any]) -> None:
    """The service writes its log entries as :class:`PlainEntry` (no float anywhere, nothing
    but JSON's own types) without checking: that holds only because every context the policy
    accepts is made of such values. A new context type that admits floats fails here."""
    policy = load_policy_text(EVERY_TYPE)
    try:
        decision = policy.decide("a", "d", "p", context)
    except RequestError:
        return
    request = decision.model_dump()["request"]
    assert _plain(request)
    entry = PlainEntry(request=request, reasons=[], subject=None)
    expected = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(entry) == expected


def test_a_decimal_context_is_logged_as_the_standard_library_writes_it(tmp_path: Path) -> None:
    """A `decimal` key takes floats, which orjson and the standard library write differently
    (``1e-07``, ``1e-7``): such an entry is no :class:`PlainEntry`, and the chain verifies."""
    policy = tmp_path / "p.policy"
    policy.write_text(
        "party a\ndata d\npurpose p\ncontext risk: decimal\ncontext record.id: string\n"
        "rule r §1\n  allow a to use d for p\n  when risk < 0.5\n",
        encoding="utf-8",
    )
    storage = open_storage(f"sqlite:///{tmp_path / 'log.db'}")
    try:
        service = PolicyService(str(policy), storage, ServiceConfig())
        context = {"risk": 1e-07, "record": {"id": "r1"}}
        request = DecisionRequest.model_validate(
            {"party": "a", "data": "d", "purpose": "p", "context": context}
        )
        ((decision, _, logged), (_, _, plain)) = service.decide(
            [request, request.model_copy(update={"context": {"record": {"id": "r2"}}})]
        )
        assert decision.allowed and type(logged) is dict and type(plain) is PlainEntry
        result = storage.verify_log()  # logged (and committed) by decide
        assert result.ok and result.entries == 2
    finally:
        storage.close()


def test_decision_ids_are_unique_time_ordered_uuids() -> None:
    before = time.time_ns() // 1_000_000
    ids = new_decision_ids(20_000)
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    assert len({text[14:] for text in ids}) == len(ids)  # the random part differs, not the time
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # the usual lowercase 8-4-4-4-12 form
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert before <= int.from_bytes(parsed.bytes[:6], "big") <= after
    time.sleep(0.002)
    assert new_decision_ids(1)[0] > ids[-1]  # later ids sort after earlier ones
    assert new_decision_ids(0) == []


# ---- group commit -------------------------------------------------------------------------------


def test_concurrent_appends_share_transactions_and_keep_their_order(
    database: tuple[str, str, str],
) -> None:
    _, db_url, _ = database
    storage = open_storage(db_url)
    writer = DecisionLogWriter(storage)
    requests = [[entry(i)] for i in range(60)] + [[entry(100 + i) for i in range(5)]]

    async def main() -> None:
        await asyncio.gather(*(writer.append(entries) for entries in requests))
        await writer.close()

    try:
        asyncio.run(main())
        assert 1 <= writer.groups < len(requests) / 4, writer.groups
        assert logged_ids(storage) == [e["id"] for entries in requests for e in entries]
        result = storage.verify_log()
        assert result.ok and result.entries == 65, result
    finally:
        storage.close()


def test_a_group_waits_for_the_requests_still_being_decided(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'log.db'}")
    first, late = entry(1), entry(2)

    async def run(expect_late: bool) -> DecisionLogWriter:
        writer = DecisionLogWriter(storage, gather=5.0)

        async def quick() -> None:
            with writer.expecting():
                await writer.append([dict(first, id=str(uuid.uuid4()))])

        async def slow() -> None:
            with writer.expecting() if expect_late else contextlib.nullcontext():
                await asyncio.sleep(0.05)  # still deciding when the quick one appends
                await writer.append([dict(late, id=str(uuid.uuid4()))])

        started = time.monotonic()
        await asyncio.gather(quick(), slow())
        await writer.close()
        assert time.monotonic() - started < 4.0  # the wait ended when the late one appended
        return writer

    try:
        assert asyncio.run(run(expect_late=True)).groups == 1
        # Without the slow request announced, the quick one is written on its own at once.
        assert asyncio.run(run(expect_late=False)).groups == 2
        assert storage.verify_log().ok
    finally:
        storage.close()


def test_a_large_group_does_not_wait_for_more(tmp_path: Path) -> None:
    """A batch already big enough is written at once, even while another request is expected:
    waiting would only delay it."""
    storage = open_storage(f"sqlite:///{tmp_path / 'log.db'}")

    async def run() -> tuple[DecisionLogWriter, float]:
        writer = DecisionLogWriter(storage, gather=5.0)
        batch = [entry(n) for n in range(GATHER_UNTIL)]
        written_after = 0.0

        async def large() -> None:
            nonlocal written_after
            began = time.monotonic()
            with writer.expecting():
                await writer.append(batch)
            written_after = time.monotonic() - began

        async def slow() -> None:
            with writer.expecting():
                await asyncio.sleep(1.0)  # still deciding long after the batch appended
                await writer.append([entry(GATHER_UNTIL)])

        await asyncio.gather(large(), slow())
        await writer.close()
        return writer, written_after

    try:
        writer, written_after = asyncio.run(run())
        assert writer.groups == 2
        assert written_after < 0.9  # not held back until the slow request appended
        assert storage.verify_log().entries == GATHER_UNTIL + 1
    finally:
        storage.close()


def test_sqlite_log_file_stays_bounded_under_steady_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits that never pause still let the write-ahead log start over: past
    ``WRITER_CHECKPOINT_PAGES`` the writer checkpoints what the checkpointer thread left."""
    monkeypatch.setattr(storage_sqlite, "WRITER_CHECKPOINT_PAGES", 100)
    path = tmp_path / "log.db"
    storage = open_storage(f"sqlite:///{path}")
    try:
        for start in range(0, 6000, 200):  # some 1,500 pages in all, back to back
            storage.append_decisions([entry(start + i) for i in range(200)])
        with contextlib.closing(sqlite3.connect(path)) as conn:
            _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert 0 < frames < 300, frames  # the bound and the last group, not all 1,500 pages
        assert storage.verify_log().entries == 6000
    finally:
        storage.close()


def test_a_refused_request_fails_alone(database: tuple[str, str, str]) -> None:
    """A request whose entries the database refuses (here: an id already logged) fails; the
    requests that shared its group are written all the same."""
    _, db_url, _ = database
    storage = open_storage(db_url)
    taken = entry(0)
    storage.append_decisions([taken])
    writer = DecisionLogWriter(storage)
    good = [[entry(1)], [entry(2)], [entry(3)]]
    bad = [entry(9, entry_id=taken["id"])]

    async def main() -> list[BaseException | None]:
        results = await asyncio.gather(
            writer.append(good[0]),
            writer.append(bad),
            writer.append(good[1]),
            writer.append(good[2]),
            return_exceptions=True,
        )
        await writer.close()
        return list(results)

    try:
        results = asyncio.run(main())
        assert results[0] is None and results[2] is None and results[3] is None, results
        assert isinstance(results[1], StorageError) and results[1].refused
        assert logged_ids(storage) == [taken["id"]] + [e[0]["id"] for e in good]
        assert storage.verify_log().ok
    finally:
        storage.close()


ODD_SUBJECTS = [None, 'quote " backslash \\ slash /', "é 😀 \u2028", "tab\tnew\nline", "a\x00b"]


@pytest.mark.parametrize("sizes", [(1, 150, 256), (SQLiteStorage.MAX_INSERT_ROWS + 3, 2)])
def test_groups_store_every_value_exactly_in_order(
    database: tuple[str, str, str], sizes: tuple[int, ...]
) -> None:
    """Groups of every shape the insert handles (SQLite: one statement per 1,024 rows at most,
    padded up to a power of two), with text of every kind in the indexed columns: what is
    stored is what was hashed, NUL included, in the order of the chain."""
    _, db_url, _ = database
    storage = open_storage(db_url)
    odd = ODD_SUBJECTS if db_url.startswith("sqlite") else ODD_SUBJECTS[:4]
    try:
        appended: list[dict[str, Any]] = []
        for size in sizes:
            group = [entry(len(appended) + i, subject=odd[i % len(odd)]) for i in range(size)]
            storage.append_decisions(group)
            appended += group
        # PostgreSQL cannot store NUL at all (see the next test); SQLite can.
        logged = storage.query_decisions(limit=len(appended))
        assert [(e["id"], e["subject"]) for e in logged] == [
            (e["id"], e["subject"]) for e in appended
        ]
        result = storage.verify_log()  # checks every indexed column against the hashed entry
        assert result.ok and result.entries == len(appended), result
    finally:
        storage.close()


def test_sqlite_checkpoints_outside_the_commit(tmp_path: Path) -> None:
    """Commits leave the write-ahead log to the checkpointer thread, which copies it into the
    database file soon after: the file holds every entry without its -wal beside it."""
    path = tmp_path / "log.db"
    storage = open_storage(f"sqlite:///{path}")
    assert isinstance(storage, SQLiteStorage)
    try:
        for start in range(0, 3000, 500):
            storage.append_decisions([entry(start + i) for i in range(500)])
        checkpointer = storage._checkpointer
        assert checkpointer is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            # Every page of the log written back: a copy of the database file alone has them.
            copy = tmp_path / "copy.db"
            copy.write_bytes(path.read_bytes())
            with (
                contextlib.closing(sqlite3.connect(copy)) as conn,
                contextlib.suppress(
                    sqlite3.DatabaseError  # copied in the middle of a checkpoint: look again
                ),
            ):
                if conn.execute("SELECT count(*) FROM decision_log").fetchone()[0] == 3000:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the checkpointer did not copy the log into the database in 10 s")
        assert checkpointer.checkpoints >= 1
        assert storage.verify_log().entries == 3000
    finally:
        storage.close()


def test_a_value_the_database_cannot_store_fails_alone(database: tuple[str, str, str]) -> None:
    """A subject with a lone surrogate (no UTF-8 form: it cannot even be hashed), and on
    PostgreSQL one with a NUL character: that request fails, the others in its group do not."""
    backend, db_url, _ = database
    subjects = ["\ud800 lone surrogate"]
    if backend == "postgresql":
        subjects.append("nul \x00 inside")  # SQLite stores it (the previous test)
    storage = open_storage(db_url)
    expected: list[str] = []

    async def main(writer: DecisionLogWriter, subject: str) -> list[BaseException | None]:
        good = [[entry(i)] for i in range(3)] + [[entry(10 + i) for i in range(80)]]
        expected.extend(e["id"] for entries in good for e in entries)
        results = await asyncio.gather(
            writer.append(good[0]),
            writer.append([entry(5, subject=subject)]),
            *(writer.append(entries) for entries in good[1:]),
            return_exceptions=True,
        )
        await writer.close()
        return list(results)

    try:
        for subject in subjects:
            results = asyncio.run(main(DecisionLogWriter(storage), subject))
            assert isinstance(results[1], StorageError) and results[1].refused, results[1]
            assert [r for i, r in enumerate(results) if i != 1] == [None] * 4
        assert logged_ids(storage) == expected
        assert storage.verify_log().ok
    finally:
        storage.close()


def test_replicas_sharing_postgresql_keep_one_chain(tmp_path: Path) -> None:
    """Two processes' storages on one schema, appending in turn and at once, synchronously and
    through their log writers: each keeps the chain head it wrote last, finds it stale when the
    other has appended since, and chains after the real head."""
    conn = postgres_or_skip()
    schema = f"pe_replicas_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    one, two = open_storage(url), open_storage(url)
    try:
        expected: list[str] = []
        for number in range(6):  # strictly in turn: every append finds the other's entry
            storage = one if number % 2 == 0 else two
            batch = [entry(number), entry(number + 50)]
            storage.append_decisions(batch)
            expected += [e["id"] for e in batch]

        async def writers() -> None:
            first, second = DecisionLogWriter(one), DecisionLogWriter(two)
            for round_ in range(5):
                await asyncio.gather(
                    *(first.append([entry(1000 + 10 * round_ + i)]) for i in range(3)),
                    *(second.append([entry(2000 + 10 * round_ + i)]) for i in range(3)),
                )
            await first.close()
            await second.close()

        asyncio.run(writers())

        def append_twenty(storage: Storage, first: int) -> None:
            for number in range(first, first + 20):
                storage.append_decisions([entry(number)])

        threads = [
            threading.Thread(target=append_twenty, args=(storage, 5000 + 100 * k))
            for k, storage in enumerate((one, two, one, two))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        logged = [e["id"] for e in one.query_decisions(limit=1000)]
        assert logged[: len(expected)] == expected
        assert len(logged) == len(expected) + 30 + 80
        result = two.verify_log()
        assert result.ok and result.entries == len(logged), result
    finally:
        one.close()
        two.close()
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


# ---- real servers -------------------------------------------------------------------------------


def _hammer(server: Server, request: dict[str, Any], threads: int, each: int) -> list[str]:
    """``threads`` clients sending ``each`` decisions at once; the decision ids, all 200."""
    ids: list[str] = []
    failures: list[Any] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(each):
            status, body = server.call("POST", "/v1/decisions", request)
            with lock:
                if status == 200:
                    ids.append(body["decision_id"])
                else:
                    failures.append((status, body))

    pool = [threading.Thread(target=client) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert not failures, failures[:3]
    return ids


def test_concurrent_decisions_are_all_logged_in_one_chain(
    database: tuple[str, str, str], tmp_path: Path
) -> None:
    backend, db_url, schema = database
    subject = new_subject()
    server = start_server(tmp_path, db_url, backend, schema or None)
    try:
        ids = _hammer(server, {**MARKETING, "subject": subject}, threads=12, each=15)
        status, page = server.reader("GET", f"/v1/decisions?subject={subject}&limit=1000")
        assert status == 200
        assert sorted(e["id"] for e in page["decisions"]) == sorted(ids)
        assert len(set(ids)) == len(ids) == 180
    finally:
        server.stop()
    result = run_cli("log", "verify", "--db", db_url)
    assert result.returncode == 0, result.stdout + result.stderr


def test_two_replicas_on_one_postgresql_keep_one_chain(tmp_path: Path) -> None:
    conn = postgres_or_skip()
    schema = f"pe_two_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    subject = new_subject()
    request = {**MARKETING, "subject": subject}
    servers = [
        start_server(tmp_path / "a", url, "postgresql", schema),
        start_server(tmp_path / "b", url, "postgresql", schema),
    ]
    try:
        ids: list[str] = []
        lock = threading.Lock()

        def load(server: Server) -> None:
            got = _hammer(server, request, threads=6, each=15)
            with lock:
                ids.extend(got)

        pool = [threading.Thread(target=load, args=(server,)) for server in servers]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        status, page = servers[1].reader("GET", f"/v1/decisions?subject={subject}&limit=1000")
        assert status == 200
        assert sorted(e["id"] for e in page["decisions"]) == sorted(ids)
        assert len(set(ids)) == 180
        result = run_cli("log", "verify", "--db", url)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "decision log intact: 180 entries" in result.stdout
    finally:
        for server in servers:
            server.stop()
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


def _rename_log_table(server: Server, old: str, new: str) -> None:
    """Rename the decision log's table under the running server, from another connection."""
    sql = f"ALTER TABLE {old} RENAME TO {new}"
    if server.backend == "sqlite":
        with sqlite3.connect(server.db_url.removeprefix("sqlite:///")) as db:
            db.execute(sql)
        db.close()
        return
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as pg:
        pg.execute(f'SET search_path TO "{server.pg_schema}"')
        pg.execute(sql)


FAILURES = "policy_engine_decision_log_write_failures_total"
ALLOWED = 'policy_engine_decisions_total{effect="allow"}'


def test_a_failed_log_write_is_counted_and_nothing_is_decided(
    database: tuple[str, str, str], tmp_path: Path
) -> None:
    """The log's table disappears under the server: a decision that cannot be logged is not
    answered (503, and no allow without a logged record), the failure is counted in
    ``/metrics``, and the service logs again once the table is back."""
    backend, db_url, schema = database
    server = start_server(tmp_path, db_url, backend, schema or None)
    try:
        status, first = server.call("POST", "/v1/decisions", HOSTING)
        assert status == 200 and first["effect"] == "allow"
        before = server.text("/metrics")
        assert metric(before, FAILURES) == 0

        _rename_log_table(server, "decision_log", "decision_log_away")
        status, error = server.call("POST", "/v1/decisions", HOSTING)
        assert status == 503, error
        assert error["diagnostics"][0]["code"] == "storage-unavailable"
        assert "effect" not in error and "allowed" not in error and "decision_id" not in error
        status, error = server.call("POST", "/v1/decisions/batch", {"requests": [HOSTING] * 3})
        assert status == 503 and "decisions" not in error, error
        failed = server.text("/metrics")
        assert metric(failed, FAILURES) == 2
        assert metric(failed, ALLOWED) == metric(before, ALLOWED)  # nothing counted as decided

        _rename_log_table(server, "decision_log_away", "decision_log")
        status, again = server.call("POST", "/v1/decisions", HOSTING)
        assert status == 200 and again["effect"] == "allow", again
        after = server.text("/metrics")
        assert metric(after, FAILURES) == 2
        assert metric(after, ALLOWED) == metric(before, ALLOWED) + 1
        status, page = server.reader("GET", "/v1/decisions?party=cloud_providers&limit=1000")
        assert [e["id"] for e in page["decisions"]] == [first["decision_id"], again["decision_id"]]
    finally:
        server.stop()
    result = run_cli("log", "verify", "--db", db_url)
    assert result.returncode == 0, result.stdout + result.stderr
