"""Policy tests beside the rules: ``policy-engine test`` and ``policy_engine.testing``."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from policy_engine.cli.main import main
from policy_engine.language.errors import PolicyError
from policy_engine.testing.model import TestFileError, TestReport
from policy_engine.testing.reader import read_test_file
from policy_engine.testing.report import render_coverage
from policy_engine.testing.runner import run_tests

from .conftest import PLANISO, ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "testing"
SHOP = FIXTURES / "shop"  # passing cases; `staff_billing` never exercised (2 of 3 rules)
FAILING = FIXTURES / "failing"  # one pass, one wrong expectation, two requests the engine refuses
EMPTY = FIXTURES / "empty"  # a policy and no test file


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# ---- PLANISO -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planiso_report() -> TestReport:
    return run_tests(PLANISO)


def test_planiso_cases_all_pass(planiso_report: TestReport) -> None:
    failed = [(r.name, r.failures, r.error) for r in planiso_report.results if not r.passed]
    assert failed == []
    assert planiso_report.files == ("rules/planiso/planiso.tests.toml",)
    assert planiso_report.passed == len(planiso_report.results) > 0


def test_planiso_cases_exercise_every_rule_and_condition_outcome(
    planiso_report: TestReport,
) -> None:
    coverage = planiso_report.coverage
    never = [r.id for r in coverage.rules if not r.exercised]
    assert never == []
    assert coverage.rule_percent == 100.0
    unseen = [
        (r.id, c.label, c.text)
        for r in coverage.rules
        for c in r.conditions
        if not (c.seen_true and c.seen_false)
    ]
    assert unseen == []
    assert coverage.condition_percent == 100.0


def test_planiso_cases_each_cite_a_section(planiso_report: TestReport) -> None:
    uncited = [r.name for r in planiso_report.results if not r.case.cite]
    assert uncited == []
    assert all(re.fullmatch(r"§\d+(\.\d+)?", r.case.cite or "") for r in planiso_report.results)


def test_cli_planiso_exits_0_with_full_coverage(
    capsys: pytest.CaptureFixture[str], planiso_report: TestReport
) -> None:
    code, out, err = run(capsys, "test", PLANISO, "--coverage", "--min-coverage", "100")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[-1] == f"{len(planiso_report.results)} passed, 0 failed"
    rules = len(planiso_report.coverage.rules)
    assert f"rules exercised: {rules} of {rules} (100.0%)" in lines
    assert "FAIL" not in out


# ---- results and failure output ----------------------------------------------------------------


def test_report_gives_each_case_its_file_line_and_decision() -> None:
    report = run_tests(SHOP)
    first, second = report.results
    assert (first.name, first.file, first.line) == (
        "a clerk supports a consenting adult",
        "tests/fixtures/testing/shop/shop.tests.toml",
        3,
    )
    assert second.line == 15
    assert first.passed and first.decision is not None
    assert first.decision.effect == "allow"
    assert first.decision.obligations == ["log_access", "notify_manager"]
    assert report.summary == "2 passed, 0 failed"


def test_failing_case_reports_expected_got_and_trace(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "test", FAILING)
    assert (code, err) == (1, "")
    assert (
        "FAIL tests/fixtures/testing/failing/shop.tests.toml:9: wrong expectations (§2)\n"
        '  request: clerk / email / support, context { consented = ["support"], age = 12 }\n'
        "  expected allow, got deny\n"
        "  expected obligations `log_access`, got none\n"
        "  expected deciding rules `clerk_support`, got `minors`\n"
        "  expected missing context `age`, got none\n"
        "\n"
        "    DENY: `clerk` may not use `email` for `support`, because deny rule `minors` (§2) "
        "applies.\n"
    ) in out
    # The explanation trace shows the rules considered and the values their conditions saw.
    assert "      [applies] deny `minors`  §2  tests/fixtures/testing/failing/shop.policy:17" in out
    assert "when age < 18  → true (`age` is 12)" in out
    assert "1 passed, 3 failed" in out.splitlines()
    assert out.splitlines()[-1] == "1 passed, 3 failed"
    assert "FAIL tests/fixtures/testing/failing/shop.tests.toml:1: passes" not in out


def test_request_the_engine_refuses_is_an_error_of_that_case() -> None:
    report = run_tests(FAILING)
    errors = {r.name: r.error for r in report.results if r.error is not None}
    assert errors == {
        "unknown party": "error: unknown party `clrk`\n  = help: did you mean `clerk`?",
        "bad context": 'error: context key `age` must be a whole number, got "12"\n'
        "  = help: send the number without quotes",
    }
    refused = [r for r in report.results if r.error is not None]
    assert all(not r.passed and r.decision is None for r in refused)
    assert (report.passed, report.failed) == (1, 3)


def test_error_cases_are_printed_with_the_engine_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(capsys, "test", FAILING)
    assert (
        "ERROR tests/fixtures/testing/failing/shop.tests.toml:21: unknown party\n"
        "  request: clrk / email / support, context (none)\n"
        "  error: unknown party `clrk`\n"
        "    = help: did you mean `clerk`?\n"
    ) in out


def test_expected_names_the_policy_lacks_are_failures_with_suggestions(tmp_path: Path) -> None:
    shutil.copy(SHOP / "shop.policy", tmp_path)
    (tmp_path / "t.tests.toml").write_text(
        '[[case]]\nname = "typos"\nparty = "clerk"\ndata = "email"\npurpose = "support"\n'
        'context = { consented = ["support"], age = 30 }\nexpect = "allow"\n'
        'rules = ["clerk_suport"]\nobligations = ["log_acces"]\nmissing = ["ages"]\n'
    )
    (result,) = run_tests(tmp_path).results
    assert result.failures == (
        "`log_acces` in `obligations` is not an obligation of this policy "
        "(did you mean `log_access`?)",
        "expected obligations `log_acces`, got `log_access`, `notify_manager`",
        "`clerk_suport` in `rules` is not a rule of this policy (did you mean `clerk_support`?)",
        "expected deciding rules `clerk_suport`, got `clerk_support`",
        "`ages` in `missing` is not a context key of this policy (did you mean `age`?)",
        "expected missing context `ages`, got none",
    )


def test_obligations_and_sets_compare_in_any_order(tmp_path: Path) -> None:
    shutil.copy(SHOP / "shop.policy", tmp_path)
    (tmp_path / "t.tests.toml").write_text(
        '[[case]]\nname = "order"\nparty = "clerk"\ndata = "email"\npurpose = "support"\n'
        'context = { consented = ["support"], age = 40 }\nexpect = "allow"\n'
        'obligations = ["notify_manager", "log_access"]\n'
        'rules = ["clerk_support", "clerk_support"]\n'
        "\n"
        '[[case]]\nname = "twice"\nparty = "clerk"\ndata = "email"\npurpose = "support"\n'
        'context = { consented = ["support"], age = 40 }\nexpect = "allow"\n'
        'obligations = ["log_access", "log_access", "notify_manager"]\n'
    )
    ordered, twice = run_tests(tmp_path).results
    assert ordered.passed
    # Obligations are an exact list: a repeated name is one too many.
    assert twice.failures == (
        "expected obligations `log_access`, `log_access`, `notify_manager`, "
        "got `log_access`, `notify_manager`",
    )


# ---- test file format errors ---------------------------------------------------------------------

BASE = """[[case]]
name = "one"
party = "clerk"
data = "email"
purpose = "support"
expect = "allow"
"""


@pytest.mark.parametrize(
    ("text", "line", "column", "message", "help"),
    [
        (
            BASE.replace("expect =", "expct ="),
            6,
            1,
            "unknown field `expct` in case `one`",
            "did you mean `expect`?",
        ),
        (
            BASE + "colour = 1\n",
            7,
            1,
            "unknown field `colour` in case `one`",
            "a case has the fields `name`, `cite`, `party`, `data`, `purpose`, `context`, "
            "`expect`, `obligations`, `rules`, `missing`",
        ),
        (
            "cases = []\n" + BASE,
            1,
            1,
            "unknown field `cases` at the top of a test file",
            "did you mean `case`?",
        ),
        (
            BASE.replace('data = "email"\n', ""),
            1,
            1,
            "case `one` is missing the required field `data`",
            None,
        ),
        (
            BASE.replace('name = "one"\n', ""),
            1,
            1,
            "a case is missing the required field `name`",
            None,
        ),
        (
            BASE.replace('"clerk"', "3"),
            3,
            1,
            "field `party` must be a string, got the number 3",
            None,
        ),
        (
            BASE.replace('"allow"', '"permit"'),
            6,
            1,
            'field `expect` must be "allow" or "deny", got "permit"',
            None,
        ),
        (
            BASE + 'obligations = "log_access"\n',
            7,
            1,
            'field `obligations` must be a list of names, got "log_access"',
            None,
        ),
        (
            BASE + "rules = [1]\n",
            7,
            1,
            "field `rules` must be a list of names, got a list",
            None,
        ),
        (
            BASE + 'context = ["age"]\n',
            7,
            1,
            "field `context` must be a table such as `{ subject_age = 30 }`, got a list",
            None,
        ),
        (
            BASE.replace('name = "one"', 'name = ""'),
            2,
            1,
            'field `name` must be a non-empty string, got ""',
            None,
        ),
        (
            '[case]\nname = "one"\n',
            1,
            2,
            "`case` must be an array of tables, got a table",
            "write each test case under its own `[[case]]` header",
        ),
        (
            BASE + BASE.replace('"allow"', '"deny"'),
            8,
            1,
            "duplicate case name `one`",
            "give every case of a file its own name",
        ),
        (BASE + "data =\n", 7, 7, "invalid TOML: invalid value", None),
        (
            BASE + 'party = "clerk"\n',
            7,
            16,
            "invalid TOML: cannot overwrite a value",
            "a key is written twice in the same table (or case)",
        ),
        (
            BASE + 'cite = "§1',
            7,
            11,
            "invalid TOML: unterminated string",
            None,
        ),
    ],
    ids=[
        "unknown-field-did-you-mean",
        "unknown-field",
        "unknown-top-level",
        "missing-field",
        "missing-name",
        "wrong-type-string",
        "wrong-expect",
        "wrong-type-list",
        "wrong-type-list-item",
        "wrong-type-context",
        "empty-name",
        "case-not-array",
        "duplicate-name",
        "bad-toml",
        "duplicate-key",
        "unterminated",
    ],
)
def test_format_errors_have_place_and_message(
    tmp_path: Path, text: str, line: int, column: int, message: str, help: str | None
) -> None:
    file = tmp_path / "t.tests.toml"
    file.write_text(text, encoding="utf-8")
    _, problems = read_test_file(file)
    assert len(problems) == 1, [p.message for p in problems]
    (problem,) = problems
    assert problem.span is not None
    assert (problem.span.line, problem.span.column) == (line, column)
    assert problem.location.endswith(f"t.tests.toml:{line}:{column}")
    assert (problem.message, problem.help) == (message, help)


def test_duplicate_name_points_at_the_first_use(tmp_path: Path) -> None:
    file = tmp_path / "t.tests.toml"
    file.write_text(BASE + "\n" + BASE.replace('"allow"', '"deny"'), encoding="utf-8")
    _, (problem,) = read_test_file(file)
    assert problem.span is not None and problem.span.line == 9
    ((note, span),) = problem.notes
    assert (note, span.line) == ("first used here", 2)


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    file = tmp_path / "t.tests.toml"
    file.write_text(BASE.replace('"allow"', '"permit"') + "extra = 1\n", encoding="utf-8")
    _, problems = read_test_file(file)
    assert [p.code for p in problems] == ["unknown-field", "wrong-type"]


def test_not_utf8_is_reported(tmp_path: Path) -> None:
    file = tmp_path / "t.tests.toml"
    file.write_bytes(b'name = "\xff"\n')
    _, (problem,) = read_test_file(file)
    assert problem.message.endswith("t.tests.toml` is not UTF-8 text: invalid start byte")


def test_inline_array_of_cases_runs_without_lines(tmp_path: Path) -> None:
    shutil.copy(SHOP / "shop.policy", tmp_path)
    (tmp_path / "t.tests.toml").write_text(
        'case = [{ name = "inline", party = "clerk", data = "email", purpose = "billing", '
        'expect = "allow" }]\n'
    )
    (result,) = run_tests(tmp_path).results
    assert (result.name, result.line, result.passed) == ("inline", None, True)


def test_invalid_test_file_stops_the_run_and_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copy(SHOP / "shop.policy", tmp_path)
    shutil.copy(SHOP / "shop.tests.toml", tmp_path / "good.tests.toml")
    (tmp_path / "bad.tests.toml").write_text(BASE.replace("expect =", "expct ="))
    with pytest.raises(TestFileError):
        run_tests(tmp_path)
    code, out, err = run(capsys, "test", tmp_path)
    assert (code, out) == (2, "")
    assert err.startswith(f"{tmp_path.as_posix()}/bad.tests.toml:6:1: error: unknown field")
    assert '6 | expct = "allow"\n  | ^^^^^\n  = help: did you mean `expect`?' in err


# ---- exit codes ------------------------------------------------------------------------------


def test_all_passing_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "test", SHOP)
    assert code == 0
    assert out == "2 passed, 0 failed\n"


def test_policy_file_path_finds_the_tests_in_its_folder(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "test", SHOP / "shop.policy")
    assert (code, out) == (0, "2 passed, 0 failed\n")


def test_tests_are_found_in_subfolders(tmp_path: Path) -> None:
    shutil.copy(SHOP / "shop.policy", tmp_path)
    (tmp_path / "deep" / "er").mkdir(parents=True)
    shutil.copy(SHOP / "shop.tests.toml", tmp_path / "deep" / "er" / "x.tests.toml")
    (tmp_path / "notes.toml").write_text("not = 'a test file'\n")
    report = run_tests(tmp_path)
    assert [Path(f).name for f in report.files] == ["x.tests.toml"]
    assert report.passed == 2


def test_any_failure_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "test", FAILING)
    assert code == 1


def test_no_test_cases_exits_1_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "test", EMPTY)
    assert code == 1
    assert out.splitlines() == [f"no test cases found under {EMPTY}", "0 passed, 0 failed"]


def test_file_without_cases_counts_as_no_test_cases(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copy(SHOP / "shop.policy", tmp_path)
    (tmp_path / "t.tests.toml").write_text("# nothing yet\n")
    code, out, _ = run(capsys, "test", tmp_path)
    assert code == 1
    assert f"no test cases found under {tmp_path}" in out


def test_missing_path_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "test", tmp_path / "nope")
    assert (code, out) == (2, "")
    assert "error: no such file or directory" in err


def test_unloadable_policy_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "bad.policy").write_text("rule r1\n  allow nobody to use x for y\n")
    shutil.copy(SHOP / "shop.tests.toml", tmp_path)
    with pytest.raises(PolicyError):
        run_tests(tmp_path)
    code, out, err = run(capsys, "test", tmp_path)
    assert (code, out) == (2, "")
    assert "bad.policy:2:9: error: unknown party `nobody`" in err


def test_bad_min_coverage_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["test", str(SHOP), "--min-coverage", "150"])
    assert exit_.value.code == 2
    assert "must be a number from 0 to 100, got `150`" in capsys.readouterr().err


# ---- coverage --------------------------------------------------------------------------------


def test_coverage_counts_rules_and_condition_outcomes() -> None:
    coverage = run_tests(SHOP).coverage
    by_id = {r.id: r for r in coverage.rules}
    assert [(r.id, r.cases) for r in coverage.rules] == [
        ("clerk_support", 2),
        ("minors", 2),
        ("staff_billing", 0),
    ]
    assert (coverage.rules_exercised, round(coverage.rule_percent, 1)) == (2, 66.7)
    support = by_id["clerk_support"].conditions
    assert [(c.label, c.text, c.seen_true, c.seen_false) for c in support] == [
        ("when", "purpose in consented", True, True)
    ]
    minors = by_id["minors"].conditions
    assert [(c.label, c.text, c.seen_true, c.seen_false) for c in minors] == [
        ("when", "age < 18", False, True),
        ("unless", "purpose = billing", False, True),
    ]
    assert (coverage.outcomes_seen, coverage.outcomes_total) == (4, 6)


def test_coverage_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "test", SHOP, "--coverage")
    assert code == 0
    assert out == (
        "Coverage\n"
        "  rule           cases  when  unless\n"
        "  clerk_support      2  T F\n"
        "  minors             2  - F   - F\n"
        "  staff_billing      0\n"
        "  (T, F: the condition was seen true, false in some case; -: never)\n"
        "\n"
        "rules exercised: 2 of 3 (66.7%)\n"
        "condition outcomes seen: 4 of 6 (66.7%)\n"
        "rules never exercised:\n"
        "  staff_billing (§3) at tests/fixtures/testing/shop/shop.policy:23\n"
        "condition outcomes never seen (in exercised rules):\n"
        "  minors: when age < 18  never true\n"
        "  minors: unless purpose = billing  never true\n"
        "\n"
        "2 passed, 0 failed\n"
    )


def test_unknown_condition_values_are_seen_but_not_counted(tmp_path: Path) -> None:
    shutil.copy(SHOP / "shop.policy", tmp_path)
    (tmp_path / "t.tests.toml").write_text(
        '[[case]]\nname = "unknown age"\nparty = "clerk"\ndata = "email"\npurpose = "support"\n'
        'context = { consented = ["support"] }\nexpect = "deny"\nrules = ["minors"]\n'
        'missing = ["age"]\n'
    )
    coverage = run_tests(tmp_path).coverage
    (when, _) = next(r for r in coverage.rules if r.id == "minors").conditions
    assert (when.seen_true, when.seen_false, when.seen_unknown) == (False, False, True)
    assert "minors: when age < 18  never true nor false" in render_coverage(coverage)


def test_failed_cases_still_count_for_coverage_but_errors_do_not() -> None:
    coverage = run_tests(FAILING).coverage
    assert {r.id: r.cases for r in coverage.rules} == {
        "clerk_support": 2,
        "minors": 2,
        "staff_billing": 0,
    }


@pytest.mark.parametrize(("minimum", "code"), [("0", 0), ("60", 0), ("66", 0), ("70", 1)])
def test_min_coverage_threshold(
    capsys: pytest.CaptureFixture[str], minimum: str, code: int
) -> None:
    got, out, _ = run(capsys, "test", SHOP, "--min-coverage", minimum)
    assert got == code
    lines = out.splitlines()
    assert "2 passed, 0 failed" in lines
    if code:
        assert lines[-1] == f"rule coverage 66.7% is below the minimum of {minimum}%"
    else:
        assert "below the minimum" not in out


def test_min_coverage_does_not_excuse_failures(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "test", FAILING, "--min-coverage", "0")
    assert code == 1


# ---- JUnit --------------------------------------------------------------------------------------


def test_junit_counts_failures_and_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    junit = tmp_path / "out" / "junit.xml"
    junit.parent.mkdir()
    code, _, _ = run(capsys, "test", FAILING, "--junit", junit)
    assert code == 1
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "2")
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "tests/fixtures/testing/failing/shop.tests.toml"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "2")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["passes", "wrong expectations", "unknown party", "bad context"]
    assert list(cases["passes"]) == []
    (failure,) = cases["wrong expectations"].findall("failure")
    assert failure.get("message", "").startswith("expected allow, got deny; ")
    assert "DENY: `clerk` may not use `email`" in (failure.text or "")
    assert cases["wrong expectations"].get("line") == "9"
    (error,) = cases["unknown party"].findall("error")
    assert error.get("message") == "error: unknown party `clrk`"


def test_junit_has_a_suite_per_file(tmp_path: Path) -> None:
    shutil.copy(SHOP / "shop.policy", tmp_path)
    shutil.copy(SHOP / "shop.tests.toml", tmp_path / "a.tests.toml")
    shutil.copy(SHOP / "shop.tests.toml", tmp_path / "b.tests.toml")
    junit = tmp_path / "junit.xml"
    assert main(["test", str(tmp_path), "--junit", str(junit)]) == 0
    root = ET.parse(junit).getroot()
    suites = root.findall("testsuite")
    assert [Path(s.get("name", "")).name for s in suites] == ["a.tests.toml", "b.tests.toml"]
    assert [s.get("tests") for s in suites] == ["2", "2"]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "0", "0")


def test_junit_for_planiso(tmp_path: Path, planiso_report: TestReport) -> None:
    junit = tmp_path / "junit.xml"
    assert main(["test", str(PLANISO), "--junit", str(junit)]) == 0
    root = ET.parse(junit).getroot()
    assert root.get("tests") == str(len(planiso_report.results))
    assert root.findall(".//failure") == [] and root.findall(".//error") == []


def test_unwritable_junit_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "test", SHOP, "--junit", tmp_path / "no" / "such" / "j.xml")
    assert code == 2
    assert "error: cannot write" in err and "No such file or directory" in err
