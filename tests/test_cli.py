"""The command line: output formats, exit codes and error messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import policy_engine
from policy_engine.cli.main import main

from .conftest import PLANISO

CONSENTED_EMAIL = {
    "consented_purposes": ["marketing"],
    "channel": "email",
    "opted_out_channels": ["sms"],
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def request_args(party: str, data: str, purpose: str, context: dict[str, object]) -> list[str]:
    return [
        "--party",
        party,
        "--data",
        data,
        "--purpose",
        purpose,
        "--context",
        json.dumps(context),
    ]


def test_decide_allow_exits_0_and_prints_effect(capsys: pytest.CaptureFixture[str]) -> None:
    args = request_args("marketing_department", "email", "marketing_communication", CONSENTED_EMAIL)
    code, out, err = run(capsys, "decide", PLANISO, *args)
    assert code == 0
    assert out.splitlines()[0] == "ALLOW"
    assert "reason: marketing_department_communication (§4.1, §4.2)" in out
    assert err == ""


def test_decide_deny_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    context = dict(CONSENTED_EMAIL, opted_out_channels=["email"])
    args = request_args("marketing_department", "email", "marketing_communication", context)
    code, out, _ = run(capsys, "decide", PLANISO, *args)
    assert code == 1
    assert out.splitlines()[0] == "DENY"
    assert "communication_channel_opt_out (§4.2)" in out


def test_decide_json_equals_model_dump(capsys: pytest.CaptureFixture[str]) -> None:
    context = {"destination": "US"}
    args = request_args("cloud_providers", "email", "data_hosting", context)
    code, out, _ = run(capsys, "decide", PLANISO, *args, "--format", "json")
    assert code == 0
    printed = json.loads(out)
    policy = policy_engine.load_policy(PLANISO)
    expected = policy.decide("cloud_providers", "email", "data_hosting", context).model_dump()
    assert printed == expected
    assert printed["obligations"] == ["ensure_adequate_protection"]


def test_context_from_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    file = tmp_path / "ctx.json"
    file.write_text(json.dumps({"identity_verified": True}))
    code, out, _ = run(
        capsys,
        "decide",
        PLANISO,
        "--party",
        "data_subject",
        "--data",
        "email",
        "--purpose",
        "access_request",
        "--context",
        f"@{file}",
    )
    assert code == 0, out


def test_explain_prints_trace_with_values(capsys: pytest.CaptureFixture[str]) -> None:
    context = {"consented_purposes": [], "channel": "email", "opted_out_channels": []}
    args = request_args("marketing_department", "email", "marketing_communication", context)
    code, out, _ = run(capsys, "explain", PLANISO, *args)
    assert code == 1
    assert out.startswith("DENY: `marketing_department` may not use `email`")
    assert "[does not apply] allow `marketing_department_communication`" in out
    assert "`consented_purposes` is []" in out


def test_explain_json_is_the_trace(capsys: pytest.CaptureFixture[str]) -> None:
    args = request_args("marketing_department", "email", "marketing_communication", {})
    code, out, _ = run(capsys, "explain", PLANISO, *args, "--format", "json")
    assert code == 1
    trace = json.loads(out)
    assert trace["decision"]["effect"] == "deny"
    ids = {rule["id"] for rule in trace["considered"]}
    assert "communication_channel_opt_out" in ids
    assert set(trace["decision"]["missing"]) >= {"channel", "opted_out_channels"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--party", "custmer_service", "--data", "email", "--purpose", "respond_to_requests"],
            "error: unknown party `custmer_service`\n  = help: did you mean `customer_service`?",
        ),
        (
            ["--party", "it_department", "--data", "ip_adress", "--purpose", "technical_support"],
            "error: unknown data category `ip_adress`\n  = help: did you mean `ip_address`?",
        ),
        (
            ["--party", "email", "--data", "email", "--purpose", "marketing"],
            "error: `email` is a data category, not a party",
        ),
        (
            [
                *("--party", "planiso", "--data", "email", "--purpose", "registrations"),
                *("--context", '{"subject_age": "12"}'),
            ],
            'error: context key `subject_age` must be a whole number, got "12"\n'
            "  = help: send the number without quotes",
        ),
        (
            [
                *("--party", "planiso", "--data", "email", "--purpose", "registrations"),
                *("--context", '{"subject_age": 12,}'),
            ],
            "error: --context is not valid JSON: Expecting property name enclosed in double "
            "quotes at line 1 column 20",
        ),
        (
            [
                *("--party", "planiso", "--data", "email", "--purpose", "registrations"),
                *("--context", "[1]"),
            ],
            "error: --context must be a JSON object",
        ),
        (
            [
                *("--party", "planiso", "--data", "email", "--purpose", "registrations"),
                *("--context", "@/nonexistent/ctx.json"),
            ],
            "error: cannot read context file `/nonexistent/ctx.json`: No such file or directory",
        ),
    ],
    ids=[
        "unknown-party",
        "unknown-data",
        "wrong-kind",
        "wrong-type",
        "bad-json",
        "not-object",
        "no-file",
    ],
)
def test_request_errors_exit_2_with_message(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, "decide", PLANISO, *args)
    assert code == 2
    assert out == ""
    assert message in err


def test_missing_policy_path_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(
        capsys, "decide", tmp_path / "nope", "--party", "a", "--data", "b", "--purpose", "c"
    )
    assert code == 2
    assert "error: no such file or directory" in err


def test_check_clean_policy_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", PLANISO)
    assert code == 0
    assert out.strip().endswith("0 errors, 0 warnings, 38 notes; 11 invariants proven")


def test_check_reports_errors_with_caret_and_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.policy").write_text(
        "party customer_service\ndata email\npurpose respond_to_requests\n"
        "rule r1 §5.1\n  allow custmer_service to use email for respond_to_requests\n"
    )
    (broken / "b.policy").write_text("party x under stafff\nparty staff\n")
    code, out, _ = run(capsys, "check", broken)
    assert code == 1
    assert "a.policy:5:9: error: unknown party `custmer_service`" in out
    assert "5 |   allow custmer_service to use email for respond_to_requests" in out
    assert "  |         ^^^^^^^^^^^^^^^" in out
    assert "= help: did you mean `customer_service`?" in out
    assert "b.policy:1:15: error: unknown party `stafff`" in out
    assert "= help: did you mean `staff`?" in out
    assert out.strip().endswith("2 errors, 0 warnings, 0 notes; 0 invariants proven")


def test_check_reports_syntax_errors_of_every_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "a.policy").write_text("party a\nrulle r1 allow a to use b for c\n")
    (tmp_path / "b.policy").write_text('party x "unterminated\n')
    code, out, _ = run(capsys, "check", tmp_path)
    assert code == 1
    assert "a.policy:2:1: error: unknown keyword `rulle`" in out
    assert "= help: did you mean `rule`?" in out
    assert "b.policy:1:9: error: unterminated string" in out
    assert out.index("a.policy:2:1") < out.index("b.policy:1:9")
    assert out.strip().endswith("2 errors, 0 warnings, 0 notes; 0 invariants proven")


def test_check_warns_about_missing_citation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "p.policy"
    file.write_text("party a\ndata b\npurpose c\nrule r allow a to use b for c\n")
    code, out, _ = run(capsys, "check", file)
    assert code == 0
    assert "p.policy:4:6: warning: rule `r` has no citation" in out


def test_check_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    file = tmp_path / "p.policy"
    file.write_text("party a under b\n")
    code, out, _ = run(capsys, "check", file, "--format", "json")
    assert code == 1
    [problem] = json.loads(out)
    assert problem["code"] == "unknown-parent"
    assert (problem["line"], problem["column"]) == (1, 15)
    assert problem["message"] == "unknown party `b`"


def test_module_entry_point_runs_as_a_process() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "policy_engine",
            "decide",
            str(PLANISO),
            *request_args("law_enforcement", "email", "law_enforcement_request", {}),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ALLOW\n")


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decide", str(PLANISO), "--party", "x"]) == 2
    assert "error: --data, --purpose required (or --batch FILE)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["decide", str(PLANISO), "--format", "yaml"])
    assert exc.value.code == 2
