"""A subject's disclosures from the decision log (Law 25 s. 27, GDPR Art. 15(1)(c)):
``GET /v1/subjects/{subject}/disclosures`` and ``policy-engine log disclosures``, on SQLite and
PostgreSQL: only allowed decisions, grouped by recipient, masked keys masked, the time window,
the read role, and an entry changed in place refused rather than reported."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import pytest

from .test_log_anchor import raw
from .test_service import Server, new_subject, run_cli, server  # noqa: F401 - the fixture

ALLOWED = [
    {
        "party": "delivery_partners",
        "data": "postal_address",
        "purpose": "order_delivery",
        "context": {
            "consented_purposes": ["order_delivery"],
            "destination": "US",
            "subject_age": 40,
        },
    },
    {
        "party": "cloud_providers",
        "data": "email",
        "purpose": "data_hosting",
        "context": {"destination": "CA-QC"},
    },
    {
        "party": "delivery_partners",
        "data": "postal_address",
        "purpose": "order_delivery",
        "context": {"consented_purposes": ["order_delivery"], "destination": "CA-QC"},
    },
]
DENIED = {"party": "delivery_partners", "data": "payment_details", "purpose": "order_delivery"}


def _decide_all(srv: Server, subject: str) -> list[dict[str, Any]]:
    answers = []
    for request in [*ALLOWED, DENIED]:
        status, answer = srv.call("POST", "/v1/decisions", {**request, "subject": subject})
        assert status == 200, answer
        answers.append(answer)
    assert [a["effect"] for a in answers] == ["allow", "allow", "allow", "deny"]
    return answers


def _disclosures(srv: Server, subject: str, query: str = "") -> dict[str, Any]:
    """The report, once the log writer has written the subject's three allowed decisions."""
    deadline = time.monotonic() + 10
    while True:
        status, report = srv.reader("GET", f"/v1/subjects/{subject}/disclosures{query}")
        assert status == 200, report
        if report["decisions"] >= len(ALLOWED) or query or time.monotonic() > deadline:
            return report
        time.sleep(0.05)


def test_allowed_decisions_grouped_by_recipient(server: Server) -> None:  # noqa: F811
    subject = new_subject()
    answers = _decide_all(server, subject)
    report = _disclosures(server, subject)
    assert report["subject"] == subject and report["decisions"] == 3
    by_party = {r["party"]: r for r in report["recipients"]}
    assert list(by_party) == ["cloud_providers", "delivery_partners"]
    delivery = by_party["delivery_partners"]
    assert delivery["decisions"] == 2
    assert delivery["data"] == ["postal_address"] and delivery["purposes"] == ["order_delivery"]
    assert delivery["rules"] == ["delivery_partners_addresses"]
    assert delivery["obligations"] == ["ensure_adequate_protection"]
    assert [e["id"] for e in delivery["entries"]] == [
        answers[0]["decision_id"],
        answers[2]["decision_id"],
    ]
    assert delivery["first"] <= delivery["last"]
    assert delivery["policy_versions"] == [answers[0]["policy_version"]]
    # the masked key stays masked; the denied decision is not a disclosure
    assert delivery["entries"][0]["context"]["subject_age"] == "***"
    assert all(e["data"] != "payment_details" for r in report["recipients"] for e in r["entries"])


def test_the_time_window_and_the_read_role(server: Server) -> None:  # noqa: F811
    subject = new_subject()
    _decide_all(server, subject)
    report = _disclosures(server, subject)
    last = max(r["last"] for r in report["recipients"])
    assert _disclosures(server, subject, f"?since={last}")["decisions"] >= 1
    assert _disclosures(server, subject, "?until=2000-01-01T00:00:00Z")["decisions"] == 0
    status, error = server.call("GET", f"/v1/subjects/{subject}/disclosures")
    assert status == 401 and error["diagnostics"][0]["code"] == "unauthorized"
    status, error = server.reader("GET", f"/v1/subjects/{subject}/disclosures?since=yesterday")
    assert status in (400, 422)


def test_the_command_answers_in_every_format(server: Server) -> None:  # noqa: F811
    subject = new_subject()
    _decide_all(server, subject)
    _disclosures(server, subject)
    done = run_cli("log", "disclosures", "--db", server.db_url, "--subject", subject)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decisions"] == 3
    done = run_cli(
        "log", "disclosures", "--db", server.db_url, "--subject", subject, "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["party"] for r in rows] == [
        "cloud_providers",
        "delivery_partners",
        "delivery_partners",
    ]
    done = run_cli(
        "log", "disclosures", "--db", server.db_url, "--subject", subject, "--format", "markdown"
    )
    assert "## `delivery_partners`: 2 decision(s)" in done.stdout
    done = run_cli(
        "log", "disclosures", "--db", server.db_url, "--subject", subject, "--since", "soon"
    )
    assert done.returncode == 2 and "ISO 8601" in done.stderr


def test_an_entry_changed_in_place_is_refused(server: Server) -> None:  # noqa: F811
    subject = new_subject()
    _decide_all(server, subject)
    _disclosures(server, subject)
    with raw(server.db_url, server.pg_schema or "") as conn:
        sql = (
            "UPDATE decision_log SET entry = replace(entry, 'order_delivery', 'data_hosting') "
            "WHERE subject = {} AND party = 'delivery_partners'"
        ).format("?" if not server.pg_schema else "%s")
        conn.execute(sql, (subject,))
    status, error = server.reader("GET", f"/v1/subjects/{subject}/disclosures")
    assert status == 503 and error["diagnostics"][0]["code"] == "log-integrity"
    assert "the entry was changed" in error["diagnostics"][0]["message"]
    done = run_cli("log", "disclosures", "--db", server.db_url, "--subject", subject)
    assert done.returncode == 1 and "cannot be reported" in done.stderr


@pytest.mark.parametrize("subject", ["a\u0000b"])
def test_a_bad_subject_is_a_400(server: Server, subject: str) -> None:  # noqa: F811
    status, error = server.reader(
        "GET", f"/v1/subjects/{subject.replace(chr(0), '%00')}/disclosures"
    )
    assert status == 400 and error["diagnostics"][0]["code"] == "bad-text"
