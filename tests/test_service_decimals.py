"""The decision service reads a decimal exactly as the command line does, decides as the library
does, and logs the number it was sent, so that the logged request decides the same again.

Generated numbers (more than 17 significant digits, exponents of every size, negative zero,
magnitudes beyond a float's) go to a running app (its ASGI interface, a SQLite log) as JSON text;
the reference is :meth:`Policy.decide` on the same text read by the command line's own reading
(:func:`policy_engine.cli.decide.parse_context`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi", reason="the service needs the server extra")

from fastapi.testclient import TestClient

from policy_engine import load_policy
from policy_engine.api import Policy
from policy_engine.cli.decide import parse_context
from policy_engine.engine.context import ExactFloat, exact_number
from policy_engine.service import create_app
from policy_engine.service.config import ServiceConfig
from policy_engine.service.exact_json import changed_by_float
from policy_engine.service.log_chain import canonical_json
from policy_engine.service.storage import open_storage

POLICY = """\
party a
data d
purpose p
obligation review(level: integer) "look again"
context risk: decimal
context limit: decimal
context record.score: decimal

rule below_the_limit §1
  allow a to use d for p
  when risk < limit
  with obligation review(level = 1) when risk < 0.1

rule at_the_limit §1
  deny a from using d for p
  when risk = limit

rule scored §2
  allow a to use d for p
  when record.score >= limit
"""

TOKEN = "read-token-for-the-decimal-tests"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path, Policy]]:
    """The app (log on, reads open to the token), its SQLite file and the library's policy."""
    folder = tmp_path_factory.mktemp("service-decimals")
    (folder / "p.policy").write_text(POLICY, encoding="utf-8")
    db = folder / "log.db"
    config = ServiceConfig(read_token=TOKEN)
    with TestClient(create_app(folder / "p.policy", f"sqlite:///{db}", config)) as client:
        yield client, db, load_policy(folder / "p.policy")


# ---- numbers as JSON writes them -----------------------------------------------------------------

DIGITS = st.text("0123456789", min_size=1, max_size=40)
TRICKY = [
    "0.1000000000000000055511151231257827",
    "0.10000000000000000000000000001",
    "0.30000000000000004",
    "-0.0",
    "-0",
    "0e0",
    "1e400",
    "-1e400",
    "1e-400",
    "5e-324",
    "2.5e-324",
    "1.7976931348623157e308",
    "1.7976931348623159e308",
    "9007199254740993",
    "9007199254740993.0",
    "123456789012345678901234567890",
    "1E+2",
    "0.25",
]


@st.composite
def number_texts(draw: st.DrawFn) -> str:
    """A JSON number: sign, whole part, an optional fraction and an optional exponent."""
    sign = draw(st.sampled_from(["", "-"]))
    whole = draw(st.sampled_from(["0", "0", "1", "12"]) | DIGITS.map(lambda d: "1" + d))
    fraction = draw(st.none() | DIGITS)
    exponent = draw(
        st.none()
        | st.tuples(
            st.sampled_from("eE"), st.sampled_from(["", "+", "-"]), st.integers(0, 450)
        ).map(lambda t: f"{t[0]}{t[1]}{t[2]}")
    )
    return sign + whole + (f".{fraction}" if fraction is not None else "") + (exponent or "")


NUMBERS = number_texts() | st.sampled_from(TRICKY)


@st.composite
def close_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two numbers a float cannot tell apart (the same 17 leading digits), or any two."""
    if draw(st.booleans()):
        return draw(NUMBERS), draw(NUMBERS)
    head = draw(st.sampled_from(["0.", "1.", "-0.", "42."]))
    common = draw(st.text("0123456789", min_size=17, max_size=25))
    exponent = draw(st.sampled_from(["", "e5", "E-3", "e+300", "e-320"]))
    one = head + common + draw(st.text("0123456789", max_size=4)) + exponent
    other = head + common + draw(st.text("0123456789", max_size=4)) + exponent
    return one, other


# ---- the reading --------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(NUMBERS, st.sampled_from([b'{"x": %s}', b"[%s]", b'{"x": [1, %s, "a.5e"]}']))
@example("0.1000000000000000055511151231257827", b'{"x": %s}')
@example("1e400", b"[%s]")
@example("12345678901234567e0", b"[%s]")
def test_a_body_is_read_again_exactly_when_and_only_when_a_float_would_change_it(
    text: str, frame: bytes
) -> None:
    """The scan of the bytes (:func:`changed_by_float`) misses no number a float changes and
    names no other (a string that looks like a number is only scanned)."""
    whole = not any(mark in text for mark in ".eE")  # an integer: read as one, exactly
    changed = not whole and Decimal(repr(float(text))) != Decimal(text)
    assert changed_by_float(frame % text.encode()) == changed


def test_the_scan_finds_a_number_among_many() -> None:
    long = "0.10000000000000000000000000001"
    body = json.dumps({"requests": [{"context": {"n": n, "r": 0.5}} for n in range(300)]})
    assert not changed_by_float(body.encode())
    assert changed_by_float(body.replace("0.5", long, 1).encode())
    assert changed_by_float(body.replace("0.5", "7e-400", 1).encode())


# ---- the service against the library -----------------------------------------------------------


def context_text(pair: tuple[str, str], nested: bool) -> str:
    risk, limit = pair
    if nested:
        return f'{{"risk": 1000, "limit": {limit}, "record": {{"score": {risk}}}}}'
    return f'{{"risk": {risk}, "limit": {limit}}}'


def library_answer(policy: Policy, text: str) -> dict[str, Any]:
    """The library's decision on the context as the command line reads it."""
    decision = policy.decide("a", "d", "p", parse_context(text))
    found = decision.model_dump()
    return {k: found[k] for k in ("effect", "obligations", "obligation_details", "missing")} | {
        "reasons": [r["id"] for r in found["reasons"]]
    }


def service_answer(found: dict[str, Any]) -> dict[str, Any]:
    keys = ("effect", "obligations", "obligation_details", "missing")
    return {k: found[k] for k in keys} | {"reasons": [r["id"] for r in found["reasons"]]}


def logged_entry(db: Path, decision_id: str) -> tuple[str, dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        (text,) = conn.execute(
            "SELECT entry FROM decision_log WHERE id = ?", (decision_id,)
        ).fetchone()
    return text, json.loads(text, parse_float=ExactFloat)


def test_the_service_decides_every_number_as_the_library_and_logs_it_exactly(
    served: tuple[TestClient, Path, Policy],
) -> None:
    client, db, policy = served

    @settings(max_examples=150, deadline=None)
    @given(close_pairs(), st.booleans())
    @example(("0.1000000000000000055511151231257827", "0.1"), False)
    @example(("0.10000000000000000000000000001", "0.1"), True)
    @example(("-0.0", "0"), False)
    @example(("1e-400", "0"), False)
    @example(("1e400", "1.7976931348623157e308"), True)
    def decides_alike(pair: tuple[str, str], nested: bool) -> None:
        text = context_text(pair, nested)
        body = f'{{"party": "a", "data": "d", "purpose": "p", "context": {text}}}'
        answer = client.post(
            "/v1/decisions", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 200, answer.text
        found = answer.json()
        expected = library_answer(policy, text)
        assert service_answer(found) == expected
        # The log holds the numbers sent (exactly; as written when a float would change them)
        # and the logged request decides the same again.
        stored, entry = logged_entry(db, found["decision_id"])
        assert stored == canonical_json(entry)
        logged = entry["request"]["context"]
        sent = parse_context(text)
        assert _numbers(logged) == _numbers(sent)
        again = policy.decide(entry["party"], entry["data"], entry["purpose"], logged)
        assert entry["effect"] == again.effect == expected["effect"]
        assert entry["reasons"] == [r.id for r in again.reasons]
        assert entry["obligations"] == again.obligations

    decides_alike()
    storage = open_storage(f"sqlite:///{db}")
    try:
        result = storage.verify_log()
    finally:
        storage.close()
    assert result.ok, result.problem


def _numbers(value: Any) -> Any:
    """A context's numbers as exact decimals (keys and structure kept)."""
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, float | int) and not isinstance(value, bool):
        return exact_number(value)
    return value


def test_a_batch_decides_as_the_library(served: tuple[TestClient, Path, Policy]) -> None:
    client, _, policy = served
    texts = [
        context_text(("0.1000000000000000055511151231257827", "0.1"), False),
        context_text(("0.1", "0.1"), False),
        context_text(("0.09999999999999999999999", "0.1"), False),
        context_text(("0.1", "0.10000000000000000000001"), True),
    ]
    requests = ", ".join(
        f'{{"party": "a", "data": "d", "purpose": "p", "context": {text}}}' for text in texts
    )
    answer = client.post(
        "/v1/decisions/batch",
        content=f'{{"requests": [{requests}]}}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    found = [service_answer(d) for d in answer.json()["decisions"]]
    assert found == [library_answer(policy, text) for text in texts]
    assert [d["effect"] for d in found] == ["deny", "deny", "allow", "deny"]


def test_the_answers_and_the_log_show_the_number_as_sent(
    served: tuple[TestClient, Path, Policy],
) -> None:
    """The decision's echo of the request, the explanation and ``GET /v1/decisions`` write the
    number as it was sent, not the float nearest to it."""
    client, _, _ = served
    long = "0.1000000000000000055511151231257827"
    body = f'{{"party": "a", "data": "d", "purpose": "p", "context": {{"risk": {long}}}}}'
    headers = {"content-type": "application/json"}
    decided = client.post("/v1/decisions", content=body, headers=headers)
    assert f'"risk":{long}' in decided.text
    explained = client.post("/v1/explain", content=body, headers=headers)
    assert f'"risk":{long}' in explained.text
    assert f"`risk` is {long}" in explained.json()["explanation"]
    decision_id = decided.json()["decision_id"]
    page = client.get(
        "/v1/decisions", params={"limit": 1000}, headers={"authorization": f"Bearer {TOKEN}"}
    )
    assert page.status_code == 200, page.text
    [logged] = [d for d in json.loads(page.text)["decisions"] if d["id"] == decision_id]
    assert f'"risk":{long}' in page.text
    assert logged["request"]["context"] == {"risk": 0.1}  # as a float reads it back


def test_a_policy_without_decimals_never_scans_the_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan costs nothing where a float's precision cannot matter: a policy with no
    ``decimal`` key refuses every fractional number whatever its digits."""
    (tmp_path / "p.policy").write_text(
        "party a\ndata d\npurpose p\ncontext n: integer\nrule r §1\n  allow a to use d for p\n"
        "  when n > 1\n",
        encoding="utf-8",
    )

    def no_scan(raw: bytes) -> bool:
        raise AssertionError("the body was scanned")

    monkeypatch.setattr("policy_engine.service.body.changed_by_float", no_scan)
    headers = {"content-type": "application/json"}
    request = '{"party": "a", "data": "d", "purpose": "p", "context": {"n": %s}}'
    with TestClient(create_app(tmp_path / "p.policy", f"sqlite:///{tmp_path / 'l.db'}")) as client:
        allowed = client.post("/v1/decisions", content=request % 2, headers=headers)
        assert allowed.json()["effect"] == "allow"
        long = "0.1000000000000000055511151231257827"
        refused = client.post("/v1/decisions", content=request % long, headers=headers)
        assert refused.status_code == 400
        assert "must be a whole number, got the number 0.1" in refused.text


# ---- the log's text ------------------------------------------------------------------------------


FRACTIONAL = NUMBERS.filter(lambda text: any(mark in text for mark in ".eE"))
"""What JSON reads as a float (``parse_float``): a number with a fraction or an exponent."""


@settings(max_examples=200, deadline=None)
@given(st.lists(FRACTIONAL, min_size=1, max_size=4), st.text(max_size=4))
def test_a_logged_number_keeps_its_text_and_the_entry_its_hash(texts: list[str], word: str) -> None:
    """An entry holding numbers read as written is written with them as written; read back the
    same way, it is written to the same text (what ``log verify`` recomputes)."""
    entry = {
        "id": "x",
        "request": {"context": {f"k{i}": ExactFloat(t) for i, t in enumerate(texts)}},
        "word": word,
        "ratio": 1 / 3,
    }
    text = canonical_json(entry)
    for number in texts:
        assert f":{number}" in text
    assert canonical_json(json.loads(text, parse_float=ExactFloat)) == text
    # Without numbers read as written, the text is the standard library's, as before.
    plain = {**entry, "request": {"context": {f"k{i}": float(t) for i, t in enumerate(texts)}}}
    reference = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(plain) == reference


# ---- obligations in the log ----------------------------------------------------------------------

OBLIGATIONS = """\
party a
data d
purpose p
context risk: decimal
obligation cap(share: decimal default 0.25, years: integer default 6)
obligation log_access

rule r §1
  allow a to use d for p
  with obligations log_access, cap(share = 0.1000000000000000055511151231257827)
  with obligation cap(years = 10) when risk < 0.5
"""


def test_the_log_records_each_obligation_with_its_arguments_and_old_entries_still_verify(
    tmp_path: Path,
) -> None:
    """An entry logged before ``obligation_details`` existed (names only) and the entries after
    it chain and verify; a logged entry's details are the decision's, decimals exact, and a
    replay of its request gives them again."""
    (tmp_path / "p.policy").write_text(OBLIGATIONS, encoding="utf-8")
    db = tmp_path / "log.db"
    storage = open_storage(f"sqlite:///{db}")
    old = {
        "id": "00000000-0000-7000-8000-000000000001",
        "time": "2026-01-01T00:00:00.000000Z",
        "subject": None,
        "party": "a",
        "data": "d",
        "purpose": "p",
        "request": {"party": "a", "data": "d", "purpose": "p", "context": {"risk": 1e-07}},
        "context_sources": {},
        "effect": "allow",
        "obligations": ["cap", "log_access"],
        "reasons": ["r"],
        "missing": [],
        "policy_version": "old",
    }
    try:
        storage.append_decisions([old])
    finally:
        storage.close()
    with TestClient(create_app(tmp_path / "p.policy", f"sqlite:///{db}")) as client:
        body = '{"party": "a", "data": "d", "purpose": "p", "context": {"risk": 0.2}}'
        answer = client.post(
            "/v1/decisions", content=body, headers={"content-type": "application/json"}
        ).json()
    text, entry = logged_entry(db, answer["decision_id"])
    assert '"share":0.1000000000000000055511151231257827' in text
    assert entry["obligation_details"] == answer["obligation_details"]
    policy = load_policy(tmp_path / "p.policy")
    again = policy.decide("a", "d", "p", entry["request"]["context"])
    assert [o.text for o in again.obligation_details] == [
        "cap(share = 0.1000000000000000055511151231257827, years = 6)",
        "cap(share = 0.25, years = 10)",
        "log_access",
    ]
    assert [
        (o["name"], {k: exact_number(v) if k == "share" else v for k, v in o["parameters"].items()})
        for o in entry["obligation_details"]
    ] == [(o.name, dict(o.parameters)) for o in again.obligation_details]
    storage = open_storage(f"sqlite:///{db}")
    try:
        result = storage.verify_log()
    finally:
        storage.close()
    assert result.ok and result.entries == 2, result.problem
