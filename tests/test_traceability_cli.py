"""``policy-engine matrix`` and ``policy-engine register`` from the command line: on PLANISO, on
a copy with an added rule, on the generated 1,000-rule policy; their errors (exit 2, never a
traceback), the budget (exit 3, no partial answer) and what the register derives from the
matrix."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

import policy_engine
from policy_engine.cli.main import main
from policy_engine.traceability.matrix import build_matrix
from policy_engine.traceability.matrix_models import MatrixDocument
from policy_engine.traceability.register import Register, build_register

from .conftest import PLANISO, ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from analysis_policies import large

ADDED = """
rule delivery_partners_name §5.1
  "Delivery partners receive the recipient's name with the address"
  ground §5.1 "order delivery the client asked for"
  allow delivery_partners to use name for order_delivery
  with obligation ensure_adequate_protection when destination is known and destination != "CA-QC"
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def planiso_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "planiso"
    shutil.copytree(PLANISO, copy, ignore=shutil.ignore_patterns("*.tests.toml"))
    (copy / "added.policy").write_text(ADDED, encoding="utf-8")
    return copy


@pytest.mark.parametrize("form", ["text", "json", "csv", "markdown", "html"])
def test_matrix_of_a_copy_with_an_added_rule(
    capsys: pytest.CaptureFixture[str], planiso_copy: Path, form: str
) -> None:
    code, out, err = run(
        capsys, "matrix", planiso_copy, "--party", "delivery_partners", "--format", form
    )
    assert (code, err) == (0, "")
    assert "delivery_partners_name" in out
    if form == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert list(rows[0]) == [
            "party", "data", "purpose", "status", "condition", "obligations", "rules", "citations"
        ]  # fmt: skip
        name = [r for r in rows if (r["data"], r["purpose"]) == ("name", "order_delivery")]
        assert name[0]["status"] == "conditional"  # the children's deny still applies
        assert name[0]["condition"] == "`subject_age is missing` or `subject_age >= 14`"
        assert name[0]["rules"] == "delivery_partners_name; children_under_14"
        assert {r["status"] for r in rows} == {"conditional", "never"}
    if form == "json":
        document = MatrixDocument.model_validate_json(out)
        assert [p.term for p in document.parties] == ["delivery_partners"]
    if form == "html":
        assert out.startswith("<!DOCTYPE html>") and "<script" not in out and "http" not in out


@pytest.mark.parametrize("form", ["json", "csv", "markdown", "html"])
def test_register_of_a_copy_with_an_added_rule(
    capsys: pytest.CaptureFixture[str], planiso_copy: Path, form: str
) -> None:
    code, out, err = run(capsys, "register", planiso_copy, "--format", form)
    assert (code, err) == (0, "")
    assert "order delivery the client asked for" in out


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["matrix", "--party", "staf"], "unknown party `staf`\n  = help: did you mean `staff`?"),
        (["matrix", "--data", "emial"], "did you mean `email`?"),
        (["matrix", "--purpose", "email"], "`email` is a data category, not a purpose"),
        (["register", "--organisation", "planso"], "did you mean `planiso`?"),
        (["register", "--organisation", "email"], "not a party"),
    ],
)
def test_unknown_terms_exit_2_with_did_you_mean(
    capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    code, out, err = run(capsys, args[0], PLANISO, *args[1:])
    assert code == 2
    assert out == ""
    assert said in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["matrix", "register"])
def test_a_spent_budget_exits_3_without_an_answer(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, out, err = run(capsys, command, PLANISO, "--budget-steps", "200")
    assert code == 3
    assert out == ""
    assert f"the {command} could not be decided" in err
    assert "200 steps ran out" in err and "while deciding `" in err


def test_bad_depth_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["matrix", str(PLANISO), "--party-depth", "-1"])
    assert raised.value.code == 2
    assert "must be a whole number from 0" in capsys.readouterr().err


def test_the_1000_rule_policy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "large.policy"
    path.write_text(large()[0], encoding="utf-8")
    code, out, _ = run(capsys, "matrix", path, "--party", "org0_team1", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 6 * 200 * 40  # the team and its five agents
    assert {r["status"] for r in rows} == {"conditional", "never"}
    code, out, _ = run(capsys, "register", path, "--format", "json")
    register = Register.model_validate_json(out)
    assert code == 0 and register.organisation == "org0"
    assert {g.basis for a in register.activities for g in a.grounds} == {"not stated"}


# ---- what the register says ----------------------------------------------------------------


def test_the_register_is_the_matrix_by_purpose(planiso: policy_engine.Policy) -> None:
    register = build_register(planiso, "planiso")
    verdicts = build_matrix(planiso, "planiso").verdicts
    allowed: dict[str, set[str]] = {}
    for party, _, purpose in verdicts:
        allowed.setdefault(purpose, set()).add(party)
    assert {a.purpose: {p.party for p in a.parties} for a in register.activities} == allowed
    assert set(register.never_allowed).isdisjoint(allowed)
    terms = planiso.compiled.hierarchies["purpose"].terms
    assert len(register.activities) + len(register.never_allowed) == len(terms)


def activity(register: Register, purpose: str) -> Any:
    found = next(a for a in register.activities if a.purpose == purpose)
    return json.loads(found.model_dump_json())


def test_planiso_grounds_recipients_and_transfers(planiso: policy_engine.Policy) -> None:
    register = build_register(planiso, "planiso")
    assert register.organisation == "planiso"
    marketing = activity(register, "marketing_communication")
    assert marketing["grounds"] == [
        {
            "ground": "consent",
            "basis": "consent",
            "citations": [],
            "rules": ["marketing_department_communication", "marketing_communication_with_consent"],
        }
    ]
    assert marketing["recipients_outside"] == []
    assert marketing["obligations"] == [
        {
            "obligation": "ensure_adequate_protection",
            "description": "ensure adequate protection of information transferred outside Québec",
            "when": "ensure_adequate_protection when `destination is known` and "
            '`destination != "CA-QC"`',
            "rules": ["marketing_department_communication", "marketing_communication_with_consent"],
        }
    ]
    law = activity(register, "law_enforcement_request")
    assert [(g["basis"], g["citations"]) for g in law["grounds"]] == [
        ("stated", ["§1.4"]),
        ("stated", ["§1.4"]),
    ]
    assert law["recipients_outside"] == ["law_enforcement"]
    hosting = activity(register, "data_hosting")
    assert hosting["grounds"][0]["basis"] == "not stated"
    assert hosting["recipients_outside"] == ["cloud_providers"]
    assert hosting["categories"]["highest"] == ["personal_information"]
    complaint = activity(register, "complaint")
    assert complaint["obligations"][0]["rules"] == ["customer_service_handles_rights_requests"]


def test_another_organisation(planiso: policy_engine.Policy) -> None:
    register = build_register(planiso, "planiso", organisation="staff")
    hr = activity(register, "hr_management")
    assert hr["recipients_outside"] == ["planiso"]


def test_a_policy_without_parties(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "data.policy"
    path.write_text("data email\n", encoding="utf-8")
    code, out, _ = run(capsys, "register", path, "--format", "json")
    register = Register.model_validate_json(out)
    assert (code, register.organisation, register.activities) == (0, None, [])
    code, out, _ = run(capsys, "matrix", path, "--format", "json")
    assert code == 0 and MatrixDocument.model_validate_json(out).entries == []


@pytest.mark.parametrize("command", ["matrix", "register"])
def test_proving_changes_nothing_but_the_time(
    capsys: pytest.CaptureFixture[str], planiso_copy: Path, command: str
) -> None:
    """`--prove` checks each condition against the policy by one more search; on PLANISO with an
    added rule every one holds, and the answer is the same."""
    code, plain, _ = run(capsys, command, planiso_copy, "--format", "json")
    proven_code, proven, _ = run(capsys, command, planiso_copy, "--format", "json", "--prove")
    assert (code, proven_code) == (0, 0)
    assert proven == plain


def test_html_escapes_what_the_rules_say(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "odd.policy"
    path.write_text(
        'party staff "<b>employees</b>"\ndata email\npurpose support "<i>help</i> & care"\n'
        "obligation log_it\ncontext destination: string\n"
        'rule r §1\n  ground §1 "<script>alert(1)</script>"\n'
        "  allow staff to use email for support\n"
        '  when destination != "</td><script>x</script>"\n'
        '  with obligation log_it when destination = "a<b"\n',
        encoding="utf-8",
    )
    for command in ("matrix", "register"):
        code, out, _ = run(capsys, command, path, "--format", "html")
        assert code == 0
        assert "<script" not in out and "<b>" not in out and "<i>" not in out
        assert "&lt;/td&gt;&lt;script&gt;x&lt;/script&gt;" in out
    assert "&lt;i&gt;help&lt;/i&gt; &amp; care" in out  # the register shows the description
