"""The end of the decision log: entries cut off its end, every entry deleted, and a rewrite whose
chain was recomputed with the published function are caught by anchors kept outside the
database (``log anchor``, ``log verify --anchor``) and by each entry's keyed MAC (the log key).

Against real databases: a SQLite file, and a PostgreSQL schema of each test's own (skipped only
when PostgreSQL is unreachable and ``POLICY_ENGINE_REQUIRE_POSTGRES`` is unset).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policy_engine.cli.main import main
from policy_engine.service.log_chain import chain_hash
from policy_engine.service.log_mac import LogKey
from policy_engine.service.storage import Storage, open_storage

from .test_service import PG_URL, own_database
from .test_service_log import entry

KEY = "an-example-log-key-of-32-bytes!!"
OTHER_KEY = "another-log-key-nobody-should-use"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(backend, db URL, PostgreSQL schema or "") of a database of this test's own."""
    yield from own_database(request.param, tmp_path, "anchor")


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLICY_ENGINE_LOG_KEY", raising=False)
    monkeypatch.delenv("POLICY_ENGINE_LOG_KEY_FILE", raising=False)


@pytest.fixture
def with_key(monkeypatch: pytest.MonkeyPatch) -> LogKey:
    monkeypatch.setenv("POLICY_ENGINE_LOG_KEY", KEY)
    monkeypatch.delenv("POLICY_ENGINE_LOG_KEY_FILE", raising=False)
    return LogKey(KEY.encode())


def filled(db_url: str, count: int, key: LogKey | None = None) -> list[str]:
    """Append ``count`` entries (in groups) to the log at ``db_url``; their ids."""
    storage = open_storage(db_url, log_key=key)
    ids: list[str] = []
    try:
        for start in range(0, count, 250):
            group = [entry(n) for n in range(start, min(count, start + 250))]
            storage.append_decisions(group)
            ids += [e["id"] for e in group]
    finally:
        storage.close()
    return ids


@contextlib.contextmanager
def raw(db_url: str, schema: str) -> Iterator[Any]:
    """A connection to the database behind the service's back (autocommit), for tampering."""
    if not schema:
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as pg:
        pg.execute(f'SET search_path TO "{schema}"')
        yield pg


def tamper(db_url: str, schema: str, sql: str, params: tuple[Any, ...] = ()) -> None:
    with raw(db_url, schema) as conn:
        conn.execute(sql if not schema else sql.replace("?", "%s"), params)


def rewrite_and_rechain(db_url: str, schema: str, seq: int, *, drop_macs: bool = False) -> str:
    """Turn entry ``seq``'s deny into an allow and recompute the hash of it and of every entry
    after it with the published chain function, as someone with write access to the database
    (and without the log key) would; returns its id."""
    mark = "?" if not schema else "%s"
    with raw(db_url, schema) as conn:
        previous = conn.execute(
            f"SELECT hash FROM decision_log WHERE seq < {mark} ORDER BY seq DESC LIMIT 1", (seq,)
        ).fetchone()[0]
        rows = conn.execute(
            f"SELECT seq, id, entry FROM decision_log WHERE seq >= {mark} ORDER BY seq", (seq,)
        ).fetchall()
        for number, _, text in rows:
            item = json.loads(text)
            if number == seq:
                item["effect"] = "allow"
            digest = chain_hash(previous, item)
            update = (
                "UPDATE decision_log SET entry = ?, effect = ?, prev_hash = ?, hash = ?"
                + (", mac = NULL" if drop_macs else "")
                + " WHERE seq = ?"
            )
            params = (json.dumps(item), item["effect"], previous, digest, number)
            conn.execute(update if not schema else update.replace("?", "%s"), params)
            previous = digest
        return str(rows[0][1])


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def anchor_to(path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """``log anchor``, its line appended to ``path``; the anchor."""
    code, out, err = cli(capsys, "log", "anchor", "--db", db_url)
    assert code == 0, err
    with path.open("a", encoding="utf-8") as file:
        file.write(out)
    anchor: dict[str, Any] = json.loads(out)
    return anchor


def verify(capsys: pytest.CaptureFixture[str], db_url: str, *anchors: Path) -> tuple[int, str]:
    args = ["log", "verify", "--db", db_url]
    for path in anchors:
        args += ["--anchor", str(path)]
    code, out, err = cli(capsys, *args)
    return code, out + err


# ---- the end of the log: anchors -----------------------------------------------------------------


def test_truncating_the_newest_500_entries_is_caught_by_an_anchor(
    database: tuple[str, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], no_key: None
) -> None:
    _, db_url, schema = database
    filled(db_url, 1500)
    anchors = tmp_path / "anchors.jsonl"
    anchor = anchor_to(anchors, db_url, capsys)
    assert anchor["entries"] == 1500 and anchor["mac"] is None and anchor["key_id"] is None
    assert verify(capsys, db_url, anchors)[0] == 0

    tamper(db_url, schema, "DELETE FROM decision_log WHERE seq > ?", (anchor["last_seq"] - 500,))
    code, said = verify(capsys, db_url)
    assert code == 0 and "intact: 1000 entries" in said  # the chain alone cannot tell
    code, said = verify(capsys, db_url, anchors)
    assert code == 1, said
    assert f"recorded 1500 entries up to seq {anchor['last_seq']}" in said
    assert "the log ends at seq" in said and "with 1000 entries" in said
    assert "500 or more entries were removed from its end" in said
    assert "Traceback" not in said


def test_deleting_every_entry_is_caught_by_an_anchor(
    database: tuple[str, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], no_key: None
) -> None:
    _, db_url, schema = database
    filled(db_url, 40)
    anchors = tmp_path / "anchors.jsonl"
    anchor_to(anchors, db_url, capsys)
    tamper(db_url, schema, "DELETE FROM decision_log")
    assert verify(capsys, db_url)[0] == 0  # an empty log is an unbroken chain
    code, said = verify(capsys, db_url, anchors)
    assert code == 1
    assert "recorded 40 entries" in said and "the log is empty: every entry was removed" in said


def test_entries_appended_after_an_anchor_still_verify(
    database: tuple[str, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], no_key: None
) -> None:
    """Anchors taken over time, one per line: the log may grow past them, never shrink."""
    _, db_url, _ = database
    anchors = tmp_path / "anchors.jsonl"
    open_storage(db_url).close()
    assert anchor_to(anchors, db_url, capsys)["last_id"] is None  # of the empty log
    for _ in range(3):
        filled(db_url, 30)
        anchor_to(anchors, db_url, capsys)
    filled(db_url, 5)
    code, said = verify(capsys, db_url, anchors)
    assert code == 0, said
    assert "intact: 95 entries" in said
    assert "4 anchors checked, the latest at seq" in said
    assert "0 signed and checked, 4 unsigned or not checked (no log key)" in said


def test_rewriting_entry_100_and_rechaining_is_caught_by_an_anchor_without_a_key(
    database: tuple[str, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], no_key: None
) -> None:
    _, db_url, schema = database
    filled(db_url, 300)
    anchors = tmp_path / "anchors.jsonl"
    anchor = anchor_to(anchors, db_url, capsys)
    victim = rewrite_and_rechain(db_url, schema, 100)
    code, said = verify(capsys, db_url)
    assert code == 0, said  # the recomputed chain holds: the chain alone cannot tell
    code, said = verify(capsys, db_url, anchors)
    assert code == 1
    assert f"entry seq {anchor['last_seq']} (id {anchor['last_id']}) has hash" in said
    assert f"recorded id {anchor['last_id']}, hash {anchor['last_hash']} there" in said
    assert "the log was rewritten and its chain recomputed" in said
    assert victim != anchor["last_id"]


def test_deleting_a_middle_entry_and_rechaining_is_caught_by_the_count(
    database: tuple[str, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], no_key: None
) -> None:
    """An anchor of an earlier head, then entry 20 deleted and everything after it re-chained:
    the anchored entry is there, with a new hash."""
    _, db_url, schema = database
    filled(db_url, 50)
    anchors = tmp_path / "anchors.jsonl"
    anchor_to(anchors, db_url, capsys)
    filled(db_url, 10)
    tamper(db_url, schema, "DELETE FROM decision_log WHERE seq = 20")
    rewrite_and_rechain(db_url, schema, 21)
    code, said = verify(capsys, db_url, anchors)
    assert code == 1 and "the log was rewritten and its chain recomputed" in said


# ---- the keyed MAC -------------------------------------------------------------------------------


def test_rewriting_entry_100_and_rechaining_is_caught_by_the_mac(
    database: tuple[str, str, str], capsys: pytest.CaptureFixture[str], with_key: LogKey
) -> None:
    _, db_url, schema = database
    ids = filled(db_url, 300, with_key)
    code, said = verify(capsys, db_url)
    assert code == 0 and "300 MACs checked with the log key" in said, said
    victim = rewrite_and_rechain(db_url, schema, 100)
    assert victim == ids[99]
    code, said = verify(capsys, db_url)
    assert code == 1
    assert f"decision log broken at entry 100 (seq 100, id {victim})" in said
    assert "its MAC does not match its hash" in said


def test_dropping_the_macs_of_rewritten_entries_is_caught(
    database: tuple[str, str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    with_key: LogKey,
) -> None:
    """A rewriter who cannot compute MACs removes them from the entries rewritten: an entry
    without a MAC after one with a MAC is refused, with the key and without it."""
    _, db_url, schema = database
    filled(db_url, 150, with_key)
    victim = rewrite_and_rechain(db_url, schema, 100, drop_macs=True)
    code, said = verify(capsys, db_url)
    assert code == 1 and f"(seq 100, id {victim})" in said
    assert "it carries no MAC, while the entries from seq 1 on do" in said
    monkeypatch.delenv("POLICY_ENGINE_LOG_KEY")
    code, said = verify(capsys, db_url)
    assert code == 1 and "it carries no MAC" in said


def test_entries_from_before_the_key_are_reported(
    database: tuple[str, str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    with_key: LogKey,
) -> None:
    _, db_url, _ = database
    filled(db_url, 7)  # no key yet
    filled(db_url, 5, with_key)
    code, said = verify(capsys, db_url)
    assert code == 0, said
    assert "5 MACs checked with the log key" in said
    assert "7 entries carry no MAC (written before a log key was configured)" in said
    monkeypatch.setenv("POLICY_ENGINE_LOG_KEY", OTHER_KEY)
    code, said = verify(capsys, db_url)
    assert code == 1 and "(seq 8," in said and "its MAC does not match its hash" in said
    monkeypatch.delenv("POLICY_ENGINE_LOG_KEY")
    code, said = verify(capsys, db_url)
    assert code == 0 and "5 entries carry a MAC that was not checked: no log key" in said


def test_the_key_can_come_from_a_file_named_in_the_environment_or_the_config(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_key: None,
) -> None:
    db_url = f"sqlite:///{tmp_path / 'log.db'}"
    filled(db_url, 3, LogKey(KEY.encode()))
    key_file = tmp_path / "log.key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    config = tmp_path / "service.toml"
    config.write_text(f'[service]\nlog_key_file = "{key_file}"\n', encoding="utf-8")
    key_file.chmod(0o640)  # a key others can read is refused: they could forge entries
    code, out, err = cli(capsys, "log", "verify", "--db", db_url, "--config", str(config))
    assert code == 1 and "Traceback" not in out + err
    assert f"the log key file `{key_file}` may be read or written by other users (mode 0640)" in (
        out + err
    )
    key_file.chmod(0o600)
    code, said = verify(capsys, db_url)
    assert code == 0 and "3 entries carry a MAC that was not checked" in said
    code, out, _ = cli(capsys, "log", "verify", "--db", db_url, "--config", str(config))
    assert code == 0 and "3 MACs checked" in out
    monkeypatch.setenv("POLICY_ENGINE_LOG_KEY_FILE", str(key_file))
    assert "3 MACs checked" in verify(capsys, db_url)[1]
    key_file.write_text("short\n", encoding="utf-8")
    code, said = verify(capsys, db_url)
    assert code == 1 and "is 5 bytes long; a log key is at least 16 bytes" in said
    monkeypatch.setenv("POLICY_ENGINE_LOG_KEY_FILE", str(tmp_path / "none.key"))
    code, said = verify(capsys, db_url)
    assert code == 1 and "cannot read the log key file" in said and "Traceback" not in said


# ---- anchors that cannot be read, or are forged ------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read anchors at `{path}`: No such file or directory"),
        ("", "`{path}` holds no anchor"),
        ("[]", "`{path}` holds no anchor"),
        ('{"entries": 1', "`{path}` line 1 is not JSON"),
        ('{"entries": 3}', "`{path}` line 1 is not an anchor (no `last_seq`, `last_hash`, `time`)"),
        ("\xff", "anchor file `{path}` is not UTF-8 text"),
    ],
)
def test_an_anchor_file_that_is_missing_or_unreadable_is_an_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    expected: str,
    no_key: None,
) -> None:
    db_url = f"sqlite:///{tmp_path / 'log.db'}"
    filled(db_url, 3)
    path = tmp_path / "anchors.jsonl"
    if content == "\xff":
        path.write_bytes(b"\xff\xfe")
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    code, said = verify(capsys, db_url, path)
    assert code == 1
    assert "error: " + expected.format(path=path) in said
    assert "Traceback" not in said


def test_an_anchor_cut_off_while_being_appended_is_left_out_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_key: None
) -> None:
    """A crash in the middle of an append leaves a last line without its line break: the
    anchors before it still verify; the same torn text anywhere else is an error."""
    db_url = f"sqlite:///{tmp_path / 'log.db'}"
    filled(db_url, 3)
    anchors = tmp_path / "anchors.jsonl"
    anchor_to(anchors, db_url, capsys)
    whole = anchors.read_text(encoding="utf-8")
    anchors.write_text(whole + whole[: len(whole) // 2], encoding="utf-8")
    code, said = verify(capsys, db_url, anchors)
    assert code == 0, said
    assert "1 anchor checked" in said
    assert f"warning: `{anchors}` line 2 was left out: an anchor whose writing was cut off" in said

    anchors.write_text(whole + whole[: len(whole) // 2] + "\n", encoding="utf-8")
    code, said = verify(capsys, db_url, anchors)
    assert code == 1 and f"`{anchors}` line 2 is not JSON" in said
    anchors.write_text(whole[: len(whole) // 2] + "\n" + whole, encoding="utf-8")
    code, said = verify(capsys, db_url, anchors)
    assert code == 1 and f"`{anchors}` line 1 is not JSON" in said


def test_a_folder_of_anchors_is_read_and_an_empty_one_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_key: None
) -> None:
    db_url = f"sqlite:///{tmp_path / 'log.db'}"
    folder = tmp_path / "anchors"
    folder.mkdir()
    code, said = verify(capsys, db_url, folder)
    assert code == 1 and f"the folder `{folder}` holds no anchor files" in said
    filled(db_url, 3)
    anchor_to(folder / "one.json", db_url, capsys)
    filled(db_url, 3)
    anchor_to(folder / "two.json", db_url, capsys)
    (folder / "notes.txt").write_text("not an anchor", encoding="utf-8")
    code, said = verify(capsys, db_url, folder)
    assert code == 0 and "2 anchors checked" in said, said


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("last_hash", "0" * 64),
        ("entries", 2),
        ("last_seq", 31),
        ("last_id", "someone-else"),
        ("mac", "ab" * 32),
    ],
)
def test_a_forged_anchor_is_refused(
    database: tuple[str, str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    with_key: LogKey,
    field: str,
    value: Any,
) -> None:
    _, db_url, _ = database
    filled(db_url, 30, with_key)
    anchors = tmp_path / "anchors.jsonl"
    anchor = anchor_to(anchors, db_url, capsys)
    assert anchor["key_id"] == with_key.key_id and len(anchor["mac"]) == 64
    code, said = verify(capsys, db_url, anchors)
    assert code == 0 and "1 signed and checked, 0 unsigned" in said, said
    forged = tmp_path / "forged.jsonl"
    forged.write_text(json.dumps({**anchor, field: value}) + "\n", encoding="utf-8")
    code, said = verify(capsys, db_url, forged)
    assert code == 1
    assert (
        f"the anchor in `{forged}` line 1 (taken {anchor['time']}) is forged or edited: its MAC "
        "does not match its contents"
    ) in said


def test_an_anchor_signed_with_another_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db_url = f"sqlite:///{tmp_path / 'log.db'}"
    monkeypatch.setenv("POLICY_ENGINE_LOG_KEY", OTHER_KEY)
    filled(db_url, 3)
    anchors = tmp_path / "anchors.jsonl"
    anchor_to(anchors, db_url, capsys)
    monkeypatch.setenv("POLICY_ENGINE_LOG_KEY", KEY)
    code, said = verify(capsys, db_url, anchors)
    assert code == 1 and "was signed with another log key" in said


# ---- replicas ------------------------------------------------------------------------------------


def test_two_replicas_appending_at_once_then_anchor_and_verify_pass(
    database: tuple[str, str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    with_key: LogKey,
) -> None:
    """Two storages (as two replicas have) on one database, four threads appending at once
    with the key, and a third process appending too: one chain, every entry MACed."""
    _, db_url, _ = database
    one, two = open_storage(db_url, log_key=with_key), open_storage(db_url, log_key=with_key)

    def append(storage: Storage, first: int) -> None:
        for number in range(first, first + 40):
            storage.append_decisions([entry(number), entry(number + 1000)])

    threads = [
        threading.Thread(target=append, args=(storage, 100 * k))
        for k, storage in enumerate((one, two, one, two))
    ]
    script = (
        "import sys\n"
        "from policy_engine.service.log_mac import load_log_key\n"
        "from policy_engine.service.storage import open_storage\n"
        "from tests.test_service_log import entry\n"
        "s = open_storage(sys.argv[1], log_key=load_log_key())\n"
        "for n in range(60):\n"
        "    s.append_decisions([entry(5000 + n)])\n"
        "s.close()\n"
    )
    root = Path(__file__).resolve().parent.parent
    try:
        other = subprocess.Popen([sys.executable, "-c", script, db_url], cwd=root)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert other.wait(timeout=120) == 0
    finally:
        one.close()
        two.close()
    anchors = tmp_path / "anchors.jsonl"
    anchor = anchor_to(anchors, db_url, capsys)
    assert anchor["entries"] == 4 * 80 + 60
    code, said = verify(capsys, db_url, anchors)
    assert code == 0, said
    assert "intact: 380 entries" in said and "380 MACs checked" in said
