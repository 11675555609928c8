"""Obligations an allow leaves off because the request's term has no value of an attribute their
condition reads (docs/semantics.md, 48): the decision lists them (`undetermined_obligations`,
in the JSON of the command line, the service and its schema), the explanation says why, and
`check` names them beforehand (`obligation-attribute-unknown`), wherever the condition comes
from (the clause, the obligation's declaration, an override, a named condition). The finding is
held to a brute force over random policies in ``tests/test_soundness.py``; here, its wording and
places, and that the harness would catch a finding the engine got wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policy_engine import check_policy, load_policy_text
from policy_engine.cli.main import main

from .soundness_model import Key, Spec, compare_check
from .test_properties import RuleSpec, Vocab

HOSTING = """
attribute location of party: one of "CA-QC", "US"
party processors
party us_processor under processors with location = "US"
party qc_processor under processors with location = "CA-QC"
party new_processor under processors
data pi
purpose hosting
context emergency: boolean
obligation assess_transfer when party.location != "CA-QC"
obligation log_access, notify
condition abroad means party.location != "CA-QC" or emergency

rule hosting §1
  allow processors to use pi for hosting
  with obligations assess_transfer, log_access
  with obligation notify when abroad
"""


def findings(tmp_path: Path, text: str) -> list[Any]:
    file = tmp_path / "p.policy"
    file.write_text(text, encoding="utf-8")
    return [d for d in check_policy(file) if d.code == "obligation-attribute-unknown"]


def test_each_obligation_is_named_at_its_place_with_its_terms(tmp_path: Path) -> None:
    found = findings(tmp_path, HOSTING)
    said = {(d.message.split("`")[1], d.span.line, d.span.column) for d in found}
    # `assess_transfer` by its declared condition, at its use; `notify` through the named
    # condition (unknown where `emergency` is false: `false or unknown`).
    assert said == {("assess_transfer", 16, 20), ("notify", 17, 19)}
    for d in found:
        assert d.severity == "warning"
        assert d.message.endswith("`party.location` has no value for `new_processor`, `processors`")


def test_nothing_to_say_when_every_term_has_a_value(tmp_path: Path) -> None:
    with_default = HOSTING.replace('"US"\n', '"US" default "US"\n', 1)
    assert findings(tmp_path, with_default) == []
    refused = (
        HOSTING + "\nrule nothing_new deny new_processor, processors from using pi for hosting\n"
    )
    assert findings(tmp_path, refused) == []


def test_an_override_clause_is_named_under_the_override(tmp_path: Path) -> None:
    text = HOSTING + (
        "\nrule no_hosting_abroad §2\n  deny processors from using pi for hosting\n"
        "  when emergency\n\noverride emergencies §3\n  lifts no_hosting_abroad\n"
        '  when emergency\n  with obligation record_it when party.location = "US"\n'
        "obligation record_it\n"
    )
    found = findings(tmp_path, text)
    by_override = [d for d in found if "of `emergencies`" in d.message]
    assert len(by_override) == 1
    assert (
        by_override[0].span.line
        == text.splitlines().index('  with obligation record_it when party.location = "US"') + 1
    )
    assert by_override[0].message.startswith("obligation `record_it` of `emergencies`")


def test_the_decision_the_explanation_and_the_json_say_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = load_policy_text(HOSTING)
    d = policy.decide("new_processor", "pi", "hosting", {"emergency": False})
    assert d.obligations == ["log_access"]
    assert [(u.name, u.required_by, u.unknown_attributes) for u in d.undetermined_obligations] == [
        ("assess_transfer", "hosting", ["party.location"]),
        ("notify", "hosting", ["party.location"]),
    ]
    trace = d.trace()
    assert [u.name for u in trace.decision.undetermined_obligations] == [
        "assess_transfer",
        "notify",
    ]
    assert "obligation `notify` of `hosting` is not attached" in trace.summary
    # With `emergency` true, `abroad` is true: only the declared condition is unknown.
    known = policy.decide("new_processor", "pi", "hosting", {"emergency": True})
    assert known.obligations == ["log_access", "notify"]
    assert [u.name for u in known.undetermined_obligations] == ["assess_transfer"]
    file = tmp_path / "p.policy"
    file.write_text(HOSTING, encoding="utf-8")
    args = ["decide", str(file), "--party", "new_processor", "--data", "pi", "--purpose", "hosting"]
    assert main([*args, "--context", '{"emergency": true}']) == 0
    assert (
        "not attached: assess_transfer of hosting (condition unknown: party.location)"
        in capsys.readouterr().out
    )
    assert main([*args, "--format", "json"]) == 0
    dumped = json.loads(capsys.readouterr().out)
    assert dumped["undetermined_obligations"][0] == {
        "name": "assess_transfer",
        "parameters": {},
        "required_by": "hosting",
        "missing": [],
        "unknown_attributes": ["party.location"],
    }
    assert dumped["missing"] == ["emergency"]


def test_the_service_answers_with_them_and_its_schema_says_so(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="the service needs the server extra")
    from fastapi.testclient import TestClient

    from policy_engine.service.app import create_app

    (tmp_path / "p.policy").write_text(HOSTING, "utf-8")
    app = create_app(tmp_path, f"sqlite:///{tmp_path / 'log.db'}")
    with TestClient(app) as client:
        body = {"party": "new_processor", "data": "pi", "purpose": "hosting", "context": {}}
        answer = client.post("/v1/decisions", json=body).json()
        schema = client.get("/openapi.json").json()["components"]["schemas"]
    expected = load_policy_text(HOSTING).decide("new_processor", "pi", "hosting", {})
    assert answer["undetermined_obligations"] == expected.model_dump()["undetermined_obligations"]
    assert [u["name"] for u in answer["undetermined_obligations"]] == ["assess_transfer", "notify"]
    field = schema["DecisionResponse"]["properties"]["undetermined_obligations"]
    assert field["items"] == {"$ref": "#/components/schemas/UndeterminedObligationModel"}
    assert set(schema["UndeterminedObligationModel"]["properties"]) == {
        "name",
        "parameters",
        "required_by",
        "missing",
        "unknown_attributes",
    }


def _one_cell(obligation_when: Any, attribute_values: dict[str, Any]) -> Spec:
    vocab = Vocab(
        {"party": {"pa0": (), "pa1": ("pa0",)}, "data": {"da0": ()}, "purpose": {"pu0": ()}},
        ("ob0",),
        {"level": attribute_values},
    )
    rule = RuleSpec(
        "r0", "allow", (None, None, None), None, (), ((("ob0",), obligation_when),), "§1", None
    )
    return Spec(vocab, (Key("ki0", "int"),), (rule,))


def test_the_harness_agrees_on_a_planted_case() -> None:
    """`pa0` has no level: `ob0` is left off its allows; `pa1` has one."""
    spec = _one_cell(("cmp", ">", ("attr", "party", "level"), ("key", "ki0")), {"pa1": 1})
    _, found = compare_check(spec)
    assert found == []


def test_the_harness_reports_a_finding_the_engine_would_get_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from policy_engine.analysis import findings as findings_module

    monkeypatch.setattr(findings_module, "obligation_attribute_findings", lambda search: [])
    spec = _one_cell(("cmp", ">", ("attr", "party", "level"), ("key", "ki0")), {"pa1": 1})
    _, found = compare_check(spec)
    assert [d.verdict for d in found] == ["left-off"]
    assert "`ob0` of `r0` is left off for want of `party.level` of `pa0`" in found[0].message
    assert found[0].request is not None and found[0].request.party == "pa0"


def test_no_planted_finding_for_an_obligation_carried_anyway() -> None:
    spec = _one_cell(("cmp", ">", ("attr", "party", "level"), ("key", "ki0")), {"pa1": 1})
    rule = spec.rules[0]
    carried = RuleSpec(*[getattr(rule, f) for f in ("id", "effect", "scopes", "condition")],
                       (), (*rule.obligations, (("ob0",), None)), "§1", None)  # fmt: skip
    _, found = compare_check(Spec(spec.vocab, spec.keys, (carried,)))
    assert found == []
