"""`policy-engine check` ends with what it proved; notes are opt-in where they become CI
annotations (`--format github`) or code-scanning alerts (`--format sarif`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy_engine.analysis.budget import Budget
from policy_engine.api import check_policy, check_report
from policy_engine.cli.main import main

from .conftest import PLANISO

BASE = """\
party staff "employees"
party clerk, manager under staff
data email
purpose support
context age: integer
context verified: boolean
"""

BROKEN = BASE + (
    "rule clerk_support §1\n"
    "  allow clerk to use email for support\n"
    "  when verified\n"
    "rule minors §3.2\n"
    "  deny any party from using any data for any purpose\n"
    "  when age is known and age < 14\n"
    "invariant adults_only §3.2\n"
    "  never staff use email for support when age > 30\n"
    "invariant no_managers §1\n"
    "  never manager use email for support\n"
)
"""Two invariants: `adults_only` is broken, `no_managers` holds; one overlap note."""

OVERLAP = BASE + (
    "rule staff_email §1\n"
    "  allow staff to use email for support\n"
    "  when verified\n"
    "rule minors §3.2\n"
    "  deny any party from using any data for any purpose\n"
    "  when age is known and age < 14\n"
)
"""No errors, no warnings, no invariants: only a deny overriding an allow (a note)."""


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().out


def write(directory: Path, text: str, name: str = "p.policy") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# ---- the summary line ---------------------------------------------------------------------------


def test_a_clean_policy_says_how_many_invariants_it_proved(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = check_report(PLANISO)
    code, out = run(capsys, "check", PLANISO)
    assert (code, report.errors) == (0, 0)
    assert out.splitlines()[-1] == (
        f"{PLANISO}: 0 errors, {report.warnings} warnings, {report.notes} notes; "
        "11 invariants proven"
    )


def test_a_broken_invariant_is_counted_apart(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, BROKEN)
    code, out = run(capsys, "check", path)
    assert code == 1
    assert out.splitlines()[-1] == (
        f"{path}: 1 error, 0 warnings, 1 note; 1 of 2 invariants proven, 1 broken, 0 undecided"
    )


def test_an_undecided_invariant_is_never_counted_proven(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, BROKEN)
    code, out = run(capsys, "check", path, "--budget-steps", "1")
    assert code == 3
    # Every question was left open: the rules' own findings too, each an error.
    errors = len(check_policy(path, budget=Budget(steps=1)))
    assert out.splitlines()[-1] == (
        f"{path}: {errors} errors, 0 warnings, 0 notes; "
        "0 of 2 invariants proven, 0 broken, 2 undecided"
    )
    code, out = run(capsys, "check", PLANISO, "--budget-steps", "1")
    assert code == 3
    assert out.splitlines()[-1].endswith("; 0 of 11 invariants proven, 0 broken, 11 undecided")


def test_a_policy_that_does_not_load_proves_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, BROKEN.replace("allow clerk ", "allow clerks "))
    code, out = run(capsys, "check", path)
    assert code == 1
    assert out.splitlines()[-1] == f"{path}: 1 error, 0 warnings, 0 notes; 0 invariants proven"
    code, out = run(capsys, "check", tmp_path / "nowhere")
    assert code == 1
    assert out.splitlines()[-1].endswith(": 1 error, 0 warnings, 0 notes; 0 invariants proven")


def test_the_summary_line_counts_notes_and_strict_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, OVERLAP.replace("rule minors §3.2", "rule minors"))
    code, out = run(capsys, "check", path, "--strict")
    assert code == 1
    assert out.splitlines()[-1] == f"{path}: 1 error, 0 warnings, 1 note; 0 invariants proven"


# ---- the library ------------------------------------------------------------------------------


def test_check_report_counts_proofs_and_findings(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    report = check_report(path)
    assert list(report.diagnostics) == check_policy(path)
    assert [d.code for d in report.diagnostics] == ["deny-overrides-allow", "invariant-broken"]
    assert report.summary() == {
        "errors": 1,
        "warnings": 0,
        "notes": 1,
        "findings": 1,
        "invariants": 2,
        "proven": 1,
        "broken": 1,
        "undecided": 0,
    }


def test_check_report_of_an_exhausted_budget_and_of_a_failed_load(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    report = check_report(path, budget=Budget(seconds=60, steps=1))
    assert (report.invariants, report.proven, report.broken, report.undecided) == (2, 0, 0, 2)
    assert {d.code for d in report.diagnostics} == {"analysis-undecided"}
    # The rules' own questions were left undecided too: those are findings, not invariants.
    assert report.findings == report.errors - 2 > 0
    failed = check_report(write(tmp_path, "party a under b\n", "bad.policy"))
    assert (failed.invariants, failed.proven, failed.errors, failed.findings) == (0, 0, 1, 1)
    unanalyzed = check_report(path, analyze=False)
    assert (unanalyzed.invariants, unanalyzed.proven, unanalyzed.diagnostics) == (2, 0, ())


# ---- JSON and SARIF -----------------------------------------------------------------------------


def test_json_stays_a_bare_list_of_every_diagnostic(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A list today: an object with a `summary` key would break every reader of it.
    code, out = run(capsys, "check", write(tmp_path, BROKEN), "--format", "json")
    assert code == 1
    printed = json.loads(out)
    assert isinstance(printed, list)
    assert [(d["code"], d["severity"]) for d in printed] == [
        ("deny-overrides-allow", "info"),
        ("invariant-broken", "error"),
    ]


def test_json_with_summary_holds_the_diagnostics_and_the_counts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, BROKEN)
    code, out = run(capsys, "check", path, "--format", "json", "--summary")
    assert code == 1
    printed = json.loads(out)
    assert [d["code"] for d in printed["diagnostics"]] == [
        "deny-overrides-allow",
        "invariant-broken",
    ]
    assert printed["summary"] == {
        "errors": 1,
        "warnings": 0,
        "notes": 1,
        "findings": 1,
        "invariants": 2,
        "proven": 1,
        "broken": 1,
        "undecided": 0,
    }


def test_sarif_run_carries_the_counts_in_its_property_bag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out = run(capsys, "check", write(tmp_path, BROKEN), "--format", "sarif")
    assert code == 1
    [sarif_run] = json.loads(out)["runs"]
    assert sarif_run["properties"] == {
        "errors": 1,
        "warnings": 0,
        "notes": 1,
        "findings": 1,
        "invariants": 2,
        "proven": 1,
        "broken": 1,
        "undecided": 0,
    }
    code, out = run(capsys, "check", PLANISO, "--format", "sarif")
    assert code == 0
    counts = json.loads(out)["runs"][0]["properties"]
    assert (counts["invariants"], counts["proven"], counts["errors"]) == (11, 11, 0)


def test_sarif_counts_follow_strict(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, OVERLAP.replace("rule minors §3.2", "rule minors"))
    code, out = run(capsys, "check", path, "--format", "sarif", "--strict")
    assert code == 1
    counts = json.loads(out)["runs"][0]["properties"]
    assert (counts["errors"], counts["warnings"], counts["notes"]) == (1, 0, 1)


# ---- notes are opt-in in CI formats ------------------------------------------------------------


def test_github_leaves_notes_out_unless_asked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, OVERLAP)
    assert run(capsys, "check", "p.policy", "--format", "github") == (0, "")
    code, out = run(capsys, "check", "p.policy", "--format", "github", "--notes")
    assert code == 0
    [line] = out.splitlines()
    assert line.startswith("::notice file=p.policy,line=7,col=6,")
    assert "title=deny-overrides-allow::deny `minors` overrides allow `staff_email`" in line


def test_github_without_notes_keeps_errors_and_warnings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, BROKEN.replace("rule minors §3.2", "rule minors"))
    code, out = run(capsys, "check", "p.policy", "--format", "github")
    assert code == 1
    assert [line.split(" ", 1)[0] for line in out.splitlines()] == ["::warning", "::error"]


def test_sarif_leaves_notes_out_unless_asked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, OVERLAP)
    code, out = run(capsys, "check", path, "--format", "sarif")
    assert code == 0
    [sarif_run] = json.loads(out)["runs"]
    assert sarif_run["results"] == []
    assert sarif_run["tool"]["driver"]["rules"] == []
    # Left out of the results, still counted.
    assert sarif_run["properties"]["notes"] == 1

    code, out = run(capsys, "check", path, "--format", "sarif", "--notes")
    assert code == 0
    [sarif_run] = json.loads(out)["runs"]
    [result] = sarif_run["results"]
    assert (result["ruleId"], result["level"]) == ("deny-overrides-allow", "note")
    assert [r["id"] for r in sarif_run["tool"]["driver"]["rules"]] == ["deny-overrides-allow"]


def test_text_and_json_always_show_notes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, OVERLAP)
    code, out = run(capsys, "check", path)
    assert code == 0
    assert ": note: deny `minors` overrides allow `staff_email`" in out
    code, out = run(capsys, "check", path, "--format", "json")
    assert [d["code"] for d in json.loads(out)] == ["deny-overrides-allow"]
