"""Batch decisions: Policy.decide_many and `policy-engine decide --batch`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import policy_engine
from policy_engine.cli.batch import run_batch
from policy_engine.cli.main import main

from .conftest import PLANISO

REQUESTS = [
    {"party": "cloud_providers", "data": "email", "purpose": "data_hosting",
     "context": {"destination": "US"}},
    {"party": "marketing_department", "data": "email", "purpose": "marketing_communication",
     "context": {"consented_purposes": ["marketing"], "channel": "email",
                 "opted_out_channels": []}},
    {"party": "marketing_department", "data": "email", "purpose": "marketing_communication"},
    {"party": "delivery_partners", "data": "payment_details", "purpose": "order_delivery",
     "context": {}},
]  # fmt: skip


def test_decide_many_equals_decide_one_by_one(planiso: policy_engine.Policy) -> None:
    many = planiso.decide_many(REQUESTS)
    one = [planiso.decide(r["party"], r["data"], r["purpose"], r.get("context")) for r in REQUESTS]
    assert [d.model_dump() for d in many] == [d.model_dump() for d in one]
    assert [d.effect for d in many] == ["allow", "allow", "deny", "deny"]


def test_decide_many_names_the_bad_request(planiso: policy_engine.Policy) -> None:
    bad = [*REQUESTS[:2], {"party": "custmer_service", "data": "email", "purpose": "complaint"}]
    with pytest.raises(policy_engine.UnknownTermError) as info:
        planiso.decide_many(bad)
    assert "in request 2" in info.value.__notes__
    with pytest.raises(policy_engine.RequestError, match="request 0 must be an object"):
        planiso.decide_many([{"party": "planiso"}])


def test_fast_dump_equals_the_pydantic_dump(planiso: policy_engine.Policy) -> None:
    for request in REQUESTS:
        d = planiso.decide(
            request["party"], request["data"], request["purpose"], request.get("context")
        )
        assert d.model_dump() == d.to_model().model_dump(mode="json")
        assert d.model_dump() == json.loads(d.model_dump_json())


def test_a_dump_is_the_callers_to_change(planiso: policy_engine.Policy) -> None:
    """The reasons are built once per set of deciding rules; a caller editing one dump must
    not change the next."""
    request = next(r for r in REQUESTS if planiso.decide(**r).reasons)
    first = planiso.decide(**request).model_dump()
    first["reasons"][0]["id"] = "edited"
    first["reasons"][0]["citations"] = []
    again = planiso.decide(**request)
    assert again.model_dump() == again.to_model().model_dump(mode="json")
    assert again.model_dump()["reasons"][0]["id"] != "edited"


def test_cli_batch_streams_one_line_per_request(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, planiso: policy_engine.Policy
) -> None:
    file = tmp_path / "requests.jsonl"
    lines = [json.dumps(r) for r in REQUESTS]
    file.write_text("\n".join([*lines[:2], "", *lines[2:]]) + "\n")
    code = main(["decide", str(PLANISO), "--batch", str(file)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [json.loads(line) for line in out] == [
        d.model_dump() for d in planiso.decide_many(REQUESTS)
    ]


@pytest.mark.parametrize(
    ("line", "code", "message"),
    [
        ("{not json", "bad-json", "not valid JSON: Expecting property name enclosed in double "
         "quotes at column 2"),
        ("[1, 2]", "bad-request", "each line must be a JSON object"),
        ('{"party": "planiso", "data": "email"}', "bad-request", "missing field `purpose`"),
        ('{"party": "planiso", "data": "email", "purpose": "registrations", "ctx": {}}',
         "bad-request", "unknown field `ctx`"),
        ('{"party": "planiso", "data": "emial", "purpose": "registrations"}', "unknown-term",
         "unknown data category `emial`"),
        ('{"party": "planiso", "data": "email", "purpose": "registrations", '
         '"context": {"subject_age": "9"}}', "wrong-context-type",
         'context key `subject_age` must be a whole number, got "9"'),
    ],
    ids=["json", "not-object", "missing-field", "unknown-field", "unknown-term", "wrong-type"],
)  # fmt: skip
def test_cli_batch_reports_bad_lines_and_goes_on(
    tmp_path: Path, planiso: policy_engine.Policy, line: str, code: str, message: str
) -> None:
    file = tmp_path / "requests.jsonl"
    file.write_text(line + "\n" + json.dumps(REQUESTS[0]) + "\n")
    out, err = io.StringIO(), io.StringIO()
    assert run_batch(planiso, str(file), out, err) == 2
    first, second = (json.loads(x) for x in out.getvalue().splitlines())
    assert first["line"] == 1
    assert first["error"]["code"] == code
    assert first["error"]["message"] == message
    assert second["effect"] == "allow"
    assert err.getvalue() == ""  # not a terminal: no progress line


def test_cli_batch_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decide", str(PLANISO), "--batch", "/nonexistent.jsonl"]) == 2
    assert "cannot read `/nonexistent.jsonl`" in capsys.readouterr().err


def test_decide_without_terms_or_batch_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["decide", str(PLANISO), "--party", "planiso"]) == 2
    assert "--data, --purpose required (or --batch FILE)" in capsys.readouterr().err


def test_a_line_with_a_term_of_the_wrong_type_is_reported_and_the_batch_goes_on(
    planiso: policy_engine.Policy, tmp_path: Path
) -> None:
    """A party given as a list raised TypeError, and a 5,000-digit number ValueError, out of the
    batch; each is now that line's error, and the batch goes on."""
    good = {"party": "delivery_partners", "data": "payment_details", "purpose": "order_delivery"}
    file = tmp_path / "requests.jsonl"
    huge = json.dumps(good).replace('"delivery_partners"', "9" * 5000)
    lines = [json.dumps(good), json.dumps({**good, "party": ["delivery_partners"]}), huge]
    file.write_text("\n".join([*lines, json.dumps(good)]) + "\n")
    out, err = io.StringIO(), io.StringIO()
    assert run_batch(planiso, str(file), out, err) == 2
    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [p.get("line") for p in printed] == [None, 2, 3, None]
    assert printed[1]["error"]["message"] == "the party must be a name, got a list"
    assert printed[2]["error"] == {
        "code": "bad-json",
        "message": "not valid JSON here: a number is too long",
        "help": None,
    }
    assert printed[0]["effect"] == printed[3]["effect"] == "deny"
