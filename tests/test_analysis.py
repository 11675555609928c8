"""`policy-engine check`: the linter, invariant proofs, exit codes and output formats.

The unit tests pin each finding's code, severity, message and place on small policies. The
property at the end checks invariant proofs against a brute-force search: random small policies
(the generator of ``test_properties``, plus a free string key and a list-of-strings key), random
``never`` invariants, and every request of an explicit finite universe of contexts built without
the engine's help (``Universe``). ``test_diff`` reuses that universe.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import shlex
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import policy_engine
from policy_engine import check_policy, load_policy_text
from policy_engine.analysis.findings import invariant_diagnostics
from policy_engine.cli.main import main
from policy_engine.language.errors import Diagnostic

from .conftest import PLANISO, planiso_texts
from .test_properties import (
    KINDS,
    OPS,
    Expr,
    PolicySpec,
    Reference,
    Request,
    RuleSpec,
    Vocab,
    ancestors,
    condition_declarations,
    draw_expr,
    draw_leaf,
    expr_text,
    flag,
    lifted_ids,
    number,
    pick,
    policies,
    policy_text,
    some,
)


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def write(directory: Path, text: str, name: str = "p.policy") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def at(text: str, snippet: str, skip: int = 0) -> tuple[int, int, int]:
    """(line, column, end column) of ``snippet`` in ``text``, 1-based, after ``skip`` characters
    of it (to point inside the snippet: ``at(text, "rule foo", 5)`` is the id ``foo``)."""
    index = text.index(snippet) + skip
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column, column + len(snippet) - skip


def place(d: Diagnostic) -> tuple[int, int, int]:
    assert d.span is not None
    assert d.span.line == d.span.end_line
    return d.span.line, d.span.column, d.span.end_column


def findings(
    tmp_path: Path, text: str, code: str | None = None, name: str = "p.policy"
) -> list[Diagnostic]:
    found = check_policy(write(tmp_path, text, name))
    return [d for d in found if code is None or d.code == code]


# Every test policy starts from this vocabulary; each test adds what it needs.
BASE = """\
party staff "employees"
party clerk, manager under staff
data email
purpose support
context age: integer
context verified: boolean
"""


# ---- the linter: one test per finding ---------------------------------------------------------


def test_never_applies_allow(tmp_path: Path) -> None:
    text = BASE + (
        "rule impossible §1\n"
        "  allow clerk to use email for support\n"
        "  when age < 10 and age > 20 and verified\n"
    )
    [d] = findings(tmp_path, text, "never-applies")
    assert d.severity == "warning"
    assert d.message == (
        "rule `impossible` can never apply: no request makes its condition true and its "
        "exceptions false"
    )
    assert d.help == "check the comparisons in its `when` and `unless` clauses"
    assert place(d) == at(text, "rule impossible", len("rule "))
    assert d.span is not None and d.span.source.name.endswith("p.policy")


def test_never_applies_deny_only_when_it_cannot_even_fail_closed(tmp_path: Path) -> None:
    # A deny whose condition is unknown denies (fail closed): `age < 10 and age > 20` is never
    # true, but it is unknown when `age` is missing, and then this rule is the one that denies.
    fails_closed = BASE + (
        "rule grant §1\n  allow clerk to use email for support\n"
        "rule odd §1\n  deny clerk from using email for support\n  when age < 10 and age > 20\n"
    )
    assert findings(tmp_path, fails_closed, "never-applies") == []
    decision = load_policy_text(fails_closed).decide("clerk", "email", "support", {})
    assert [r.id for r in decision.reasons] == ["odd"]
    # The overlap note names exactly that case.
    [note] = findings(tmp_path, fails_closed, "deny-overrides-allow")
    assert note.message.endswith("when both apply, e.g. when `age` is missing")

    never = fails_closed.replace("when age < 10", "when age is known and age < 10")
    [d] = findings(tmp_path, never, "never-applies")
    assert d.message.startswith("rule `odd` can never apply")
    assert place(d) == at(never, "rule odd", len("rule "))


def test_shadowed_by_deny(tmp_path: Path) -> None:
    text = BASE + (
        "rule managers_support §1\n"
        "  allow manager to use email for support\n"
        "  when verified\n"
        "rule no_staff §2\n"
        "  deny staff from using any data for any purpose\n"
    )
    [d] = findings(tmp_path, text, "shadowed-by-deny")
    assert d.severity == "warning"
    assert d.message == (
        "allow rule `managers_support` can never grant: the unconditional deny `no_staff` covers "
        "its whole scope"
    )
    assert d.help == "narrow the deny or remove this rule"
    assert place(d) == at(text, "rule managers_support", len("rule "))
    # A rule reported as shadowed is not also reported as never applying or overlapping.
    assert findings(tmp_path, text, "never-applies") == []
    assert findings(tmp_path, text, "deny-overrides-allow") == []


def test_a_conditional_deny_does_not_shadow(tmp_path: Path) -> None:
    text = BASE + (
        "rule managers_support §1\n  allow manager to use email for support\n"
        "rule no_staff §2\n  deny staff from using any data for any purpose\n  when age < 18\n"
    )
    assert findings(tmp_path, text, "shadowed-by-deny") == []
    [note] = findings(tmp_path, text, "deny-overrides-allow")
    assert note.message == (
        "deny `no_staff` overrides allow `managers_support` for `manager` using `email` for "
        "`support` when both apply, e.g. when `age` < 18"
    )


def test_redundant_rule(tmp_path: Path) -> None:
    text = BASE + (
        "obligation log_it\n"
        "rule broad §1\n"
        "  allow staff to use email for support\n"
        "  when verified\n"
        "  with obligation log_it\n"
        "rule narrow_copy §1\n"
        "  allow clerk to use email for support\n"
        "  when verified and age > 3\n"
        "  with obligation log_it\n"
    )
    [d] = findings(tmp_path, text, "redundant-rule")
    assert d.severity == "warning"
    assert d.message == (
        "rule `narrow_copy` is redundant: `broad` allows its whole scope whenever it does"
    )
    assert d.help == "remove it, or narrow `broad`"
    assert place(d) == at(text, "rule narrow_copy", len("rule "))


def test_redundant_needs_the_same_obligations_and_a_weaker_condition(tmp_path: Path) -> None:
    without_obligation = BASE + (
        "obligation log_it\n"
        "rule broad §1\n  allow staff to use email for support\n  when verified\n"
        "rule narrow §1\n  allow clerk to use email for support\n  when verified\n"
        "  with obligation log_it\n"
    )
    assert findings(tmp_path, without_obligation, "redundant-rule") == []
    wider_condition = BASE + (
        "rule broad §1\n  allow staff to use email for support\n  when verified\n"
        "rule narrow §1\n  allow clerk to use email for support\n  when verified or age > 3\n"
    )
    assert findings(tmp_path, wider_condition, "redundant-rule") == []


def test_two_identical_rules_report_only_the_later_id(tmp_path: Path) -> None:
    text = BASE + (
        "rule twin_b §1\n  allow clerk to use email for support\n  when verified\n"
        "rule twin_a §1\n  allow clerk to use email for support\n  when verified\n"
    )
    [d] = findings(tmp_path, text, "redundant-rule")
    assert (
        d.message == "rule `twin_b` is redundant: `twin_a` allows its whole scope whenever it does"
    )
    assert place(d) == at(text, "rule twin_b", len("rule "))


def test_unused_term(tmp_path: Path) -> None:
    text = BASE + (
        "party auditor\n"
        "data archive, letters\n"
        "data scans under letters\n"
        "purpose billing\n"
        "obligation log_it, spare\n"
        "rule staff_support §1\n"
        "  allow staff to use email, scans for support\n"
        "  when verified and age > 3\n"
        "  with obligation log_it\n"
    )
    found = findings(tmp_path, text, "unused-term")
    assert {d.severity for d in found} == {"warning"}
    messages = [d.message for d in found]
    suffix = "is declared but no rule or invariant uses it, or any term above or below it"
    assert messages == [
        f"party `auditor` {suffix}",
        f"data category `archive` {suffix}",
        f"purpose `billing` {suffix}",
        f"obligation `spare` {suffix}",
    ]
    # A term above or below a used one is used: `clerk` and `manager` (below `staff`), `letters`
    # (above `scans`).
    assert place(found[0]) == at(text, "party auditor", len("party "))
    assert place(found[1]) == at(text, "data archive", len("data "))
    assert place(found[3]) == at(text, "log_it, spare", len("log_it, "))
    assert all(d.help == "remove it, or write the rule that needs it" for d in found)


def test_terms_used_only_by_an_invariant_or_a_condition_are_used(tmp_path: Path) -> None:
    text = BASE + (
        "party auditor\n"
        "purpose billing\n"
        "rule clerk_support §1\n"
        "  allow clerk to use email for support\n"
        "  when party != auditor and verified and age > 3\n"
        "invariant no_billing\n"
        "  never manager use any data for billing\n"
    )
    assert findings(tmp_path, text, "unused-term") == []


def test_unused_context_key(tmp_path: Path) -> None:
    text = BASE + (
        'context channel: one of "email", "sms" §4.2\n'
        "context region: string\n"
        "rule clerk_support §1\n"
        "  allow clerk to use email for support\n"
        "  when verified\n"
        "invariant adults\n"
        "  never any party use any data when age is known and age < 18\n"
    )
    found = findings(tmp_path, text, "unused-context-key")
    assert [d.message for d in found] == [
        "context key `channel` is declared but no condition reads it",
        "context key `region` is declared but no condition reads it",
    ]
    assert {d.severity for d in found} == {"warning"}
    assert place(found[0]) == at(text, "context channel", len("context "))
    assert place(found[1]) == at(text, "context region", len("context "))


def test_deny_overrides_allow_is_information_with_a_note(tmp_path: Path) -> None:
    text = BASE + (
        "rule staff_email §1\n"
        "  allow staff to use email for support\n"
        "  when verified\n"
        "rule minors §3.2\n"
        "  deny any party from using any data for any purpose\n"
        "  when age < 14\n"
    )
    [d] = findings(tmp_path, text, "deny-overrides-allow")
    assert d.severity == "info"
    assert d.message == (
        "deny `minors` overrides allow `staff_email` for `staff` using `email` for `support` "
        "when both apply, e.g. when `age` < 14 and `verified` is true"
    )
    assert d.help is None
    assert place(d) == at(text, "rule staff_email", len("rule "))
    [(note, span)] = d.notes
    assert note == "deny `minors` is here"
    assert (span.line, span.column) == at(text, "rule minors", len("rule "))[:2]


def test_unconditional_overlap_reads_in_every_context(tmp_path: Path) -> None:
    text = BASE + (
        "rule staff_email §1\n  allow staff to use email for support\n"
        "rule no_managers §1\n  deny manager from using any data for any purpose\n"
    )
    [d] = findings(tmp_path, text, "deny-overrides-allow")
    assert d.message == (
        "deny `no_managers` overrides allow `staff_email` for `manager` using `email` for "
        "`support` when both apply, e.g. in every context"
    )


def test_planiso_has_no_errors_and_no_warnings() -> None:
    found = check_policy(PLANISO)
    assert [d for d in found if d.severity != "info"] == []
    # The notes are real overlaps: each names a deny and an allow of the policy.
    ids = {r.id for r in policy_engine.load_policy(PLANISO).rules}
    for d in found:
        assert d.code == "deny-overrides-allow"
        named = [w.strip("`") for w in d.message.split() if w.startswith("`")][:2]
        assert set(named) <= ids


# ---- exit codes, --strict and output formats --------------------------------------------------

WARNED = BASE + "rule staff_support\n  allow staff to use email for support\n  when verified\n"
"""A policy with warnings and no errors: a missing citation, an unused context key (`age`)."""
CLEAN = BASE.replace("context verified: boolean\n", "") + (
    "rule staff_support §1\n  allow staff to use email for support\n  when age > 3\n"
)


def test_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    clean = write(tmp_path, CLEAN)
    code, out, _ = run(capsys, "check", clean)
    assert code == 0
    assert out.strip().endswith("0 errors, 0 warnings, 0 notes; 0 invariants proven")

    warned = write(tmp_path, WARNED, "warned.policy")
    code, out, _ = run(capsys, "check", warned)
    assert code == 0
    assert out.strip().endswith("0 errors, 2 warnings, 0 notes; 0 invariants proven")

    broken = write(
        tmp_path, BASE + "rule r §1\n  allow clerks to use email for support\n", "b.policy"
    )
    code, out, _ = run(capsys, "check", broken)
    assert code == 1
    assert "error: unknown party `clerks`" in out

    code, out, _ = run(capsys, "check", tmp_path / "nowhere")
    assert code == 1
    assert "no such file or directory" in out

    with pytest.raises(SystemExit) as usage:
        main(["check", str(clean), "--format", "xml"])
    assert usage.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_strict_turns_warnings_into_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, WARNED)
    code, out, _ = run(capsys, "check", path, "--strict")
    assert code == 1
    assert "error: rule `staff_support` has no citation" in out
    assert "error: context key `age` is declared but no condition reads it" in out
    assert "warning:" not in out
    assert out.strip().endswith("2 errors, 0 warnings, 0 notes; 0 invariants proven")
    code, out, _ = run(capsys, "check", path, "--strict", "--format", "json")
    assert code == 1
    assert {d["severity"] for d in json.loads(out)} == {"error"}


def test_strict_leaves_notes_alone(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", PLANISO, "--strict")
    assert code == 0
    assert re.fullmatch(
        r".*: 0 errors, 0 warnings, [1-9][0-9]* notes; 11 invariants proven", out.splitlines()[-1]
    )


def test_json_format(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, WARNED)
    code, out, _ = run(capsys, "check", path, "--format", "json")
    assert code == 0
    printed = json.loads(out)
    assert isinstance(printed, list)
    assert all(isinstance(d, dict) for d in printed)
    assert [d["code"] for d in printed] == ["unused-context-key", "missing-citation"]
    line, column, end = at(WARNED, "context age", len("context "))
    assert printed[0] == {
        "code": "unused-context-key",
        "severity": "warning",
        "message": "context key `age` is declared but no condition reads it",
        "help": "remove it, or write the rule that needs it",
        "file": path.resolve().as_posix(),
        "line": line,
        "column": column,
        "end_line": line,
        "end_column": end,
    }


BROKEN_INVARIANT = BASE + (
    "rule clerk_support §1\n"
    "  allow clerk to use email for support\n"
    "  when verified\n"
    "# check: allow deny-on-missing-key\n"
    "rule minors §3.2\n"
    "  deny any party from using any data for any purpose\n"
    "  when age < 14\n"
    "invariant adults_only §3.2\n"
    "  never staff use email for support when age > 30\n"
)


def test_sarif_format(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, BROKEN_INVARIANT.replace("rule minors §3.2", "rule minors"), "my rules.policy")
    code, out, _ = run(capsys, "check", "my rules.policy", "--format", "sarif", "--notes")
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    [sarif_run] = log["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "policy-engine"
    assert driver["version"] == policy_engine.__version__
    rule_ids = [r["id"] for r in driver["rules"]]
    assert rule_ids == sorted(set(rule_ids))
    assert {"invariant-broken", "missing-citation", "deny-overrides-allow"} <= set(rule_ids)
    levels = {}
    for result in sarif_run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert isinstance(result["message"]["text"], str)
        [location] = result["locations"]
        physical = location["physicalLocation"]
        # A URI reference: the space is percent-encoded.
        assert physical["artifactLocation"]["uri"] == "my%20rules.policy"
        region = physical["region"]
        assert {"startLine", "startColumn", "endLine", "endColumn"} <= set(region)
        assert all(isinstance(v, int) and v >= 1 for v in region.values())
        levels[result["ruleId"]] = result["level"]
    assert levels == {
        "invariant-broken": "error",
        "missing-citation": "warning",
        "deny-overrides-allow": "note",
    }
    [broken] = [r for r in sarif_run["results"] if r["ruleId"] == "invariant-broken"]
    line, column, end = at(BROKEN_INVARIANT, "invariant adults_only", len("invariant "))
    assert broken["locations"][0]["physicalLocation"]["region"] == {
        "startLine": line,
        "startColumn": column,
        "endLine": line,
        "endColumn": end,
    }
    assert "\nhelp: counterexample: policy-engine decide" in broken["message"]["text"]


def test_sarif_of_a_clean_policy_has_no_results(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "check", write(tmp_path, CLEAN), "--format", "sarif")
    assert code == 0
    log = json.loads(out)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["tool"]["driver"]["rules"] == []


def test_github_format(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = BROKEN_INVARIANT.replace("rule minors §3.2", "rule minors")
    write(tmp_path, text, "a,b:c.policy")
    code, out, _ = run(capsys, "check", "a,b:c.policy", "--format", "github", "--notes")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 3
    by_command = {line.split(" ", 1)[0]: line for line in lines}
    assert set(by_command) == {"::error", "::warning", "::notice"}
    error = by_command["::error"]
    line, column, end = at(text, "invariant adults_only", len("invariant "))
    props, message = error[len("::error ") :].split("::", 1)
    assert props == (
        f"file=a%2Cb%3Ac.policy,line={line},col={column},endLine={line},endColumn={end},"
        "title=invariant-broken"
    )
    assert message.startswith("invariant `adults_only` is broken: ")
    # The help goes on a second line of the annotation, as %0A; nothing is left unescaped.
    assert "%0Ahelp: counterexample: policy-engine decide a,b:c.policy --party" in message
    assert "\n" not in message
    warning = by_command["::warning"]
    line, column, _ = at(text, "rule minors", len("rule "))
    assert warning.startswith(f"::warning file=a%2Cb%3Ac.policy,line={line},col={column},")
    assert warning.endswith(
        "::rule `minors` has no citation%0Ahelp: cite the section it encodes "
        "after its id, e.g. `rule minors §5.1`"
    )


def test_github_format_escapes_percent_and_reports_nothing_when_clean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, WARNED, "100%.policy")
    code, out, _ = run(capsys, "check", "100%.policy", "--format", "github")
    assert code == 0
    assert all(line.startswith("::warning file=100%25.policy,") for line in out.splitlines())
    write(tmp_path, CLEAN, "clean.policy")
    code, out, _ = run(capsys, "check", "clean.policy", "--format", "github")
    assert (code, out) == (0, "")


# ---- invariants ---------------------------------------------------------------------------------


def invariant_findings(tmp_path: Path, text: str) -> list[Diagnostic]:
    return findings(tmp_path, text, "invariant-broken")


def counterexample(d: Diagnostic) -> list[str]:
    """The arguments of the `policy-engine decide` command in a broken invariant's help."""
    assert d.help is not None and d.help.startswith("counterexample: policy-engine decide ")
    argv = shlex.split(d.help.removeprefix("counterexample: "))
    assert argv[:2] == ["policy-engine", "decide"]
    return argv[1:]


def request_of(argv: Sequence[str]) -> tuple[str, str, str, dict[str, Any]]:
    options = dict(zip(argv[2::2], argv[3::2], strict=True))
    assert set(options) == {"--party", "--data", "--purpose", "--context"}
    context = json.loads(options["--context"])
    assert isinstance(context, dict)
    return options["--party"], options["--data"], options["--purpose"], context


def test_an_invariant_that_holds(tmp_path: Path) -> None:
    text = BROKEN_INVARIANT.replace("when age > 30", "when age < 14")
    assert invariant_findings(tmp_path, text) == []
    policy = load_policy_text(text)
    _, [result] = invariant_diagnostics(policy.compiled, "p.policy")
    assert result.counterexample is None
    assert result.requests > 0


def test_a_broken_invariant_and_its_counterexample_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, BROKEN_INVARIANT)
    [d] = invariant_findings(tmp_path, BROKEN_INVARIANT)
    assert d.severity == "error"
    assert d.message == (
        "invariant `adults_only` is broken: `clerk` may use `email` for `support` when `age` > 30 "
        "and `verified` is true (allowed by `clerk_support`)"
    )
    assert place(d) == at(BROKEN_INVARIANT, "invariant adults_only", len("invariant "))
    argv = counterexample(d)
    assert argv[1] == str(path)
    party, data, purpose, context = request_of(argv)
    # The request is one the invariant speaks of ...
    assert (party, data, purpose) == ("clerk", "email", "support")
    assert context["age"] > 30
    # ... and running the command shows the policy allows it: the invariant is really broken.
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "ALLOW"
    assert "reason: clerk_support (§1)" in out
    # The command line check reports it and fails.
    code, out, _ = run(capsys, "check", path)
    assert code == 1
    assert "error: invariant `adults_only` is broken" in out
    assert "= help: counterexample: policy-engine decide" in out


def test_an_always_invariant_broken_by_a_deny(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = (
        BROKEN_INVARIANT
        + "invariant clerks_can §1\n  always allow clerk to use email for support\n"
    )
    write(tmp_path, text)
    found = invariant_findings(tmp_path, text)
    [d] = [d for d in found if "clerks_can" in d.message]
    assert d.message.startswith("invariant `clerks_can` is broken: `clerk` may not use `email`")
    code, out, _ = run(capsys, *counterexample(d))
    assert code == 1
    assert out.splitlines()[0] == "DENY"


def test_planiso_invariants_hold_and_a_broken_one_is_caught(tmp_path: Path) -> None:
    policy = policy_engine.load_policy(PLANISO)
    broken, results = invariant_diagnostics(policy.compiled, str(PLANISO))
    assert broken == []
    assert len(results) == len(policy.compiled.checked.invariants) > 0
    assert all(r.requests > 0 for r in results)
    # Customer service may use contact information (with consent): a claim that it never may is
    # refuted with a request the policy really allows.
    extra = "invariant wrong §1\n  never customer_service use email for respond_to_requests\n"
    policy = load_policy_text({**planiso_texts(), "wrong.policy": extra})
    broken, _ = invariant_diagnostics(policy.compiled, "wrong.policy")
    [d] = broken
    party, data, purpose, context = request_of(counterexample(d))
    assert policy.decide(party, data, purpose, context).allowed


UNLESS = BASE + (
    "rule clerk_when_unverified §1\n"
    "  allow clerk to use email for support\n"
    "  when verified is missing\n"
    "invariant only_verified §9\n"
    "  never clerk use email for support unless verified\n"
)


def test_never_unless_covers_requests_where_the_exception_is_unknown(tmp_path: Path) -> None:
    # `unless verified` leaves out the requests where `verified` is sure to hold; a request that
    # does not say is still covered, and the policy allows exactly that one.
    [d] = invariant_findings(tmp_path, UNLESS)
    assert d.message == (
        "invariant `only_verified` is broken: `clerk` may use `email` for `support` when "
        "`verified` is missing (allowed by `clerk_when_unverified`)"
    )
    _, _, _, context = request_of(counterexample(d))
    assert context == {}
    # Where the policy only allows with the fact stated, the invariant holds.
    assert invariant_findings(tmp_path, UNLESS.replace("verified is missing", "verified")) == []


def test_never_unless_excludes_requests_where_the_exception_holds(tmp_path: Path) -> None:
    text = UNLESS.replace("when verified is missing", "when verified")
    text = text.replace("unless verified", "unless age > 17")
    # Allowed when verified; the exception spares only those that state an adult age.
    [d] = invariant_findings(tmp_path, text)
    _, _, _, context = request_of(counterexample(d))
    assert context["verified"] is True
    assert "age" not in context or context["age"] <= 17
    several = text.replace("unless age > 17", "unless age > 17\n  unless age is missing")
    [d] = invariant_findings(tmp_path, several)
    assert request_of(counterexample(d))[3]["age"] <= 17
    guarded = several.replace("when verified\n", "when verified and age > 17\n", 1)
    assert invariant_findings(tmp_path, guarded) == []


EXCEPT = """\
party staff
party clerk, manager under staff
data contact
data email, phone under contact
purpose support, billing

rule clerk_phone_billing §1
  allow clerk to use phone for billing
"""


@pytest.mark.parametrize(
    ("claim", "holds"),
    [
        ("never staff except clerk use any data", True),
        ("never staff except manager use any data", False),
        ("never any party use contact except phone", True),
        ("never any party use contact except email", False),
        ("never any party use any data for any purpose except billing", True),
        ("never any party use any data for any purpose except support", False),
        ("never any party except staff use any data except contact for support", True),
        ("never staff except clerk, manager use any data", True),
    ],
)
def test_except_in_every_scope(tmp_path: Path, claim: str, holds: bool) -> None:
    text = EXCEPT + f"invariant claim §1\n  {claim}\n"
    found = invariant_findings(tmp_path, text)
    assert (found == []) == holds
    if not holds:
        [d] = found
        assert d.message == (
            "invariant `claim` is broken: `clerk` may use `phone` for `billing` in every context "
            "(allowed by `clerk_phone_billing`)"
        )
        assert request_of(counterexample(d)) == ("clerk", "phone", "billing", {})


@pytest.mark.parametrize(
    ("claim", "code", "message", "where"),
    [
        ("never clerks use email", "unknown-term", "unknown party `clerks`", "never |clerks"),
        (
            "never clerk use support",
            "wrong-kind",
            "`support` is a purpose, not a data category",
            "use |support",
        ),
        (
            "never clerk use email except support",
            "wrong-kind",
            "`support` is a purpose, not a data category",
            "except |support",
        ),
        (
            "never clerk use email for support except clerk",
            "wrong-kind",
            "`clerk` is a party, not a purpose",
            "except |clerk",
        ),
        (
            'never clerk use email when age = "ten"',
            "type-mismatch",
            'cannot compare `age` (integer) with `"ten"` (string)',
            'when |age = "ten"',
        ),
        (
            "never clerk use email unless age",
            "not-a-condition",
            "`age` is an integer, not a condition",
            "unless |age",
        ),
        (
            "never clerk use email when nobody is known",
            "not-a-context-key",
            "unknown context key `nobody`",
            "when |nobody",
        ),
    ],
)
def test_invariant_errors_in_the_checker(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    claim: str,
    code: str,
    message: str,
    where: str,
) -> None:
    text = BASE + f"invariant claim §1\n  {claim}\n"
    [d] = [d for d in findings(tmp_path, text) if d.severity == "error"]
    assert (d.code, d.message) == (code, message)
    before, _ = where.split("|")
    assert place(d) == at(text, where.replace("|", ""), len(before))
    assert run(capsys, "check", tmp_path / "p.policy")[0] == 1


def test_duplicate_invariant_id(tmp_path: Path) -> None:
    text = BASE + (
        "invariant claim §1\n  never manager use email\n"
        "invariant claim §2\n  never clerk use email\n"
    )
    [d] = findings(tmp_path, text)
    assert (d.code, d.severity) == ("duplicate-invariant", "error")
    assert d.message == "invariant id `claim` is used twice"
    assert d.help == "give each invariant its own id"
    line, column, _ = at(text, "invariant claim §2", len("invariant "))
    assert place(d) == (line, column, column + len("claim"))
    [(note, span)] = d.notes
    assert note == "first used here"
    assert (span.line, span.column) == at(text, "invariant claim §1", len("invariant "))[:2]


def test_an_invariant_and_a_rule_may_share_an_id(tmp_path: Path) -> None:
    text = BASE + (
        "rule same §1\n  allow clerk to use email for support\n  when verified and age > 3\n"
        "invariant same §1\n  never manager use email\n"
    )
    assert findings(tmp_path, text) == []


# ---- property: invariant proofs agree with a brute-force search --------------------------------
#
# The generated policies use the schema of test_properties plus two keys it lacks: a free string
# (`kt0`) and a list of strings (`kl1`), compared with constants that include the engine's own
# choice of "fresh" values ("other", "other-1"), so the space must still find a value different
# from every constant.

EXTRA_KEYS = {"kt0": "string", "kl1": "list of string"}
EXTRA_DECLARATIONS = "".join(f"context {k}: {t}\n" for k, t in EXTRA_KEYS.items())
STRING_POOL = ("x", "other", "other-1")
FRESH = "fresh~value"
"""A string no generated condition mentions."""
UNIVERSE_LIMIT = 5000
"""At most this many (cell, context) requests per example (the brute force runs on all)."""


def draw_string_leaf(draw: st.DrawFn) -> Expr:
    text_key: Expr = ("key", "kt0")
    strings: Expr = ("key", "kl1")
    literal: Expr = ("lit", pick(draw, STRING_POOL))
    choice = number(draw, 0, 5)
    if choice == 0:
        left, right = (text_key, literal) if flag(draw) else (literal, text_key)
        return ("cmp", pick(draw, ["=", "!="]), left, right)
    if choice == 1:
        items = tuple(("lit", s) for s in some(draw, STRING_POOL, 1, 2))
        return ("in", flag(draw), text_key, ("list", None, items))
    if choice == 2:
        return ("in", flag(draw), text_key, strings)
    if choice == 3:
        return ("in", flag(draw), literal, strings)
    if choice == 4:  # against the one-of key and the list of literals of test_properties
        which = number(draw, 0, 2)
        if which == 0:
            left, right = (text_key, ("key", "ks0")) if flag(draw) else (("key", "ks0"), text_key)
            return ("cmp", pick(draw, ["=", "!="]), left, right)
        if which == 1:
            return ("in", flag(draw), ("key", "ks0"), strings)
        return ("in", flag(draw), text_key, ("key", "kl0"))
    return ("known", pick(draw, sorted(EXTRA_KEYS)), flag(draw))


def with_string_tests(draw: st.DrawFn, rule: RuleSpec) -> RuleSpec:
    """Sometimes mix a test of the string keys into a rule's condition or exceptions."""
    choice = number(draw, 0, 5)
    if choice == 1:
        leaf = draw_string_leaf(draw)
        operands = (leaf,) if rule.condition is None else (rule.condition, leaf)
        condition = operands[0] if len(operands) == 1 else (pick(draw, ["and", "or"]), operands)
        return replace(rule, condition=condition)
    if choice == 2:
        return replace(rule, exceptions=(*rule.exceptions, draw_string_leaf(draw)))
    return rule


@st.composite
def string_policies(draw: st.DrawFn) -> PolicySpec:
    spec = draw(policies(time=False))
    return replace(spec, rules=tuple(with_string_tests(draw, r) for r in spec.rules))


def full_text(spec: PolicySpec, extra: str = "") -> str:
    return policy_text(spec) + "\n" + EXTRA_DECLARATIONS + extra


class StringReference(Reference):
    """The reference evaluator of test_properties, taught the two extra keys."""

    def __init__(self, spec: PolicySpec, request: Request) -> None:
        super().__init__(spec, request)
        for key in EXTRA_KEYS:
            value = request.context.get(key)
            if value is not None:
                self.ctx[key] = value

    def kind_of(self, node: Expr) -> str | None:
        if node[0] == "key" and node[1] in EXTRA_KEYS:
            return None
        return super().kind_of(node)


def leaves(expr: Expr) -> Iterator[Expr]:
    if expr[0] in ("and", "or"):
        for operand in expr[1]:
            yield from leaves(operand)
    elif expr[0] == "not":
        yield from leaves(expr[1])
    elif expr[0] == "named":
        yield from leaves(expr[2])
    else:
        yield expr


def leaf_operands(leaf: Expr) -> list[Expr]:
    if leaf[0] == "truth":
        return [leaf[1]]
    if leaf[0] in ("cmp", "in"):
        return [leaf[2], leaf[3]]
    return []


def flatten(operand: Expr) -> list[Expr]:
    return list(operand[2]) if operand[0] == "list" else [operand]


def expr_keys(expr: Expr) -> set[str]:
    found: set[str] = set()
    for leaf in leaves(expr):
        if leaf[0] == "known":
            found.add(leaf[1])
        found |= {o[1] for o in leaf_operands(leaf) if o[0] == "key"}
    return found


def rule_exprs(rule: RuleSpec) -> list[Expr]:
    exprs = [rule.condition] if rule.condition is not None else []
    exprs += list(rule.exceptions)
    exprs += [c for _, c in rule.obligations if c is not None]
    return exprs


def policy_exprs(spec: PolicySpec) -> list[Expr]:
    """Every condition of the rules and of the overrides."""
    exprs = [e for r in spec.rules for e in rule_exprs(r)]
    for override in spec.overrides:
        exprs += [override.condition, *(w for _, w in override.obligations if w is not None)]
    return exprs


def in_scope(vocab: Vocab, kind: str, term: str, names: Iterable[str] | None) -> bool:
    return names is None or bool(set(names) & ancestors(vocab, kind, term))


def rule_covers(vocab: Vocab, rule: RuleSpec, cell: tuple[str, str, str]) -> bool:
    return all(in_scope(vocab, k, t, s) for k, t, s in zip(KINDS, cell, rule.scopes, strict=True))


def subsets(items: Sequence[Any]) -> list[list[Any]]:
    return [list(c) for n in range(len(items) + 1) for c in itertools.combinations(items, n)]


class Universe:
    """An explicit finite set of contexts, built from the conditions' text alone: each key is
    missing or takes one of a few values that include every constant the conditions mention
    (integers ± 1, or ± 2 when two integer keys are compared with each other, so both can fall in
    the same gap in either order), one fresh string (and the values of the one-of key and the list
    of literals when the string keys are compared with them), every subset for list keys and every
    subset of the terms for set-of-term keys."""

    def __init__(self, vocab: Vocab, exprs: Iterable[Expr]) -> None:
        ints: set[int] = {0}
        decimals: set[Decimal] = set()
        strings: set[str] = set()
        spread = 1
        for leaf in (leaf for e in exprs for leaf in leaves(e)):
            operands = [i for o in leaf_operands(leaf) for i in flatten(o)]
            keys = {o[1] for o in operands if o[0] == "key"}
            for o in operands:
                if o[0] == "lit" and isinstance(o[1], int) and not isinstance(o[1], bool):
                    ints.add(o[1])
                if o[0] == "lit" and isinstance(o[1], Decimal):
                    decimals.add(o[1])
                    ints |= {math.floor(o[1]), math.ceil(o[1])}
                if o[0] == "attr" and o[2] == "level":  # every level a term may have
                    levels = [*vocab.attributes.get("level", {}).values()]
                    levels += [vocab.attribute_defaults.get("level", 0)]
                    ints |= set(levels)
                if o[0] == "lit" and isinstance(o[1], str) and keys & set(EXTRA_KEYS):
                    strings.add(o[1])
            if keys & set(EXTRA_KEYS) and keys & {"ks0", "kl0"}:
                strings |= {"x", "y", "z"}  # the values of `ks0` and `kl0`
            if len(keys & {"ki0", "ki1", "kr0"}) == 2:
                spread = 2
        numbers = sorted({c + d for c in ints for d in range(-spread, spread + 1)})
        # A decimal equals a whole number or a decimal constant, or lies between two (at one
        # or two places: two keys compared may both fall in the same gap, in either order).
        points = sorted({Decimal(n) for n in numbers} | decimals)
        fractions = [Decimal(k) / (spread + 1) for k in range(1, spread + 1)]
        inside = [a + (b - a) * f for a, b in itertools.pairwise(points) for f in fractions]
        texts = [*sorted(strings), FRESH]
        self.values: dict[str, list[Any]] = {
            "kb0": [True, False],
            "kb1": [True, False],
            "ki0": numbers,
            "ki1": numbers,
            "kr0": sorted(points + inside),
            "ks0": ["x", "y", "z"],
            "kl0": subsets(["x", "y", "z"]),
            "kp0": subsets(vocab.terms("purpose")),
            "kq0": subsets(vocab.terms("party")),
            "kt0": texts,
            "kl1": subsets(texts),
        }
        for key in self.values:
            self.values[key] = [None, *self.values[key]]  # None: the key is missing

    def size(self, keys: Iterable[str]) -> int:
        n = 1
        for key in keys:
            n *= len(self.values[key])
        return n

    def contexts(self, keys: Iterable[str]) -> Iterator[dict[str, Any]]:
        ordered = sorted(keys)
        for combo in itertools.product(*(self.values[k] for k in ordered)):
            yield {k: v for k, v in zip(ordered, combo, strict=True) if v is not None}


def cells_of(vocab: Vocab) -> Iterator[tuple[str, str, str]]:
    return itertools.product(*(vocab.terms(k) for k in KINDS))  # type: ignore[return-value]


def cell_keys(spec: PolicySpec, cell: tuple[str, str, str]) -> set[str]:
    """The context keys the rules covering a cell read, and the overrides of its deny rules: no
    other key can change its decision."""
    keys: set[str] = set()
    covering: set[str] = set()
    for rule in spec.rules:
        if rule_covers(spec.vocab, rule, cell):
            covering.add(rule.id)
            for expr in rule_exprs(rule):
                keys |= expr_keys(expr)
    for override in spec.overrides:
        if covering & set(lifted_ids(spec.rules, override)):
            keys |= expr_keys(override.condition)
            keys |= {k for _, w in override.obligations if w is not None for k in expr_keys(w)}
    return keys


# An invariant: (parties, data, purposes), each (names or None, excepts), and a condition.
Scope = tuple[tuple[str, ...] | None, tuple[str, ...]]
InvariantSpec = tuple[str, tuple[Scope, Scope, Scope], Expr | None, bool]


def draw_scope(draw: st.DrawFn, vocab: Vocab, kind: str, names: Any = ()) -> Scope:
    """``names`` () draws them too; None (any) or a tuple is taken as given."""
    if names == ():
        names = None if number(draw, 0, 2) == 0 else tuple(some(draw, vocab.terms(kind), 1, 2))
    # Excepted terms come after every named one: they cannot sit above a named term (parents are
    # earlier terms), so the scope keeps at least its names.
    terms = vocab.terms(kind)
    after = max((terms.index(n) for n in names), default=0) + 1 if names else 1
    excepts = tuple(some(draw, terms[after:], 1, 2)) if terms[after:] and flag(draw) else ()
    return names, excepts


def draw_invariant_condition(draw: st.DrawFn, spec: PolicySpec, rule: RuleSpec | None) -> Expr:
    """A conjunction of a few tests (sometimes one negated), sometimes with a rule's own
    condition: narrow regions that meet the allowed requests in few contexts, or none."""
    parts: list[Expr] = []
    if rule is not None and rule.condition is not None and flag(draw):
        parts.append(rule.condition)
    seen = [leaf for r in spec.rules for e in rule_exprs(r) for leaf in leaves(e)]
    for _ in range(number(draw, 1, 3) - len(parts)):
        choice = number(draw, 0, 3)
        if choice == 0:
            leaf = draw_string_leaf(draw)
        elif choice == 1 or not seen:
            leaf = draw_leaf(draw, spec.vocab, time=False)
        else:
            leaf = near(draw, pick(draw, seen))
        parts.append(("not", leaf) if number(draw, 0, 3) == 0 else leaf)
    if number(draw, 0, 4) == 0:
        parts.append(draw_expr(draw, spec.vocab, depth=1, time=False))
    return parts[0] if len(parts) == 1 else ("and", tuple(parts))


def near(draw: st.DrawFn, leaf: Expr) -> Expr:
    """A test close to one the rules make: the same integer key against a neighbouring constant
    with any operator, whether a key it reads is known, or the test itself."""
    operands = leaf_operands(leaf)
    keys = sorted(
        {o[1] for o in operands if o[0] == "key"} | ({leaf[1]} if leaf[0] == "known" else set())
    )
    constants = [o[1] for o in operands if o[0] == "lit" and type(o[1]) is int]
    choice = number(draw, 0, 2)
    if choice == 1 and constants and set(keys) & {"ki0", "ki1"}:
        key = ("key", pick(draw, sorted(set(keys) & {"ki0", "ki1"})))
        value = ("lit", pick(draw, constants) + number(draw, -1, 1))
        return ("cmp", pick(draw, OPS), key, value)
    if choice == 2 and keys:
        return ("known", pick(draw, keys), flag(draw))
    return leaf


@st.composite
def invariant_cases(draw: st.DrawFn) -> tuple[PolicySpec, list[InvariantSpec]]:
    spec = draw(string_policies())
    allows = [r for r in spec.rules if r.effect == "allow"]
    invariants: list[InvariantSpec] = []
    for i in range(number(draw, 1, 3)):
        # Often about the requests some allow rule speaks of.
        rule = pick(draw, allows) if allows and flag(draw) else None
        scopes = tuple(
            draw_scope(draw, spec.vocab, k, rule.scopes[n] if rule else ())
            for n, k in enumerate(KINDS)
        )
        condition = None
        if number(draw, 0, 4):
            condition = draw_invariant_condition(draw, spec, rule)
        invariants.append((f"inv{i}", scopes, condition, flag(draw)))  # type: ignore[arg-type]
    return spec, invariants


def scope_words(kind: str, scope: Scope) -> str:
    names, excepts = scope
    text = f"any {kind}" if names is None else ", ".join(names)
    return text + (f" except {', '.join(excepts)}" if excepts else "")


def invariant_text(invariant: InvariantSpec) -> str:
    name, (parties, data, purposes), condition, say_purposes = invariant
    text = f"invariant {name}\n  never {scope_words('party', parties)} use "
    text += scope_words("data", data)
    if purposes != (None, ()) or say_purposes:
        text += f" for {scope_words('purpose', purposes)}"
    if condition is not None:
        text += f"\n  when {expr_text(condition)}"
    return text + "\n"


def invariant_covers(vocab: Vocab, invariant: InvariantSpec, cell: tuple[str, str, str]) -> bool:
    for kind, term, (names, excepts) in zip(KINDS, cell, invariant[1], strict=True):
        if not in_scope(vocab, kind, term, names):
            return False
        if excepts and in_scope(vocab, kind, term, excepts):
            return False
    return True


def brute_force_broken(
    spec: PolicySpec, policy: policy_engine.Policy, universe: Universe, invariant: InvariantSpec
) -> bool:
    condition = invariant[2]
    for cell in cells_of(spec.vocab):
        if not invariant_covers(spec.vocab, invariant, cell):
            continue
        keys = cell_keys(spec, cell) | (expr_keys(condition) if condition else set())
        for context in universe.contexts(keys):
            if condition is not None:
                holds, _ = StringReference(spec, Request(*cell, context)).value(condition)
                if holds is not True:
                    continue
            if policy.decide(*cell, context).allowed:
                return True
    return False


def universe_cost(spec: PolicySpec, universe: Universe, invariants: list[InvariantSpec]) -> int:
    total = 0
    for invariant in invariants:
        extra = expr_keys(invariant[2]) if invariant[2] else set()
        for cell in cells_of(spec.vocab):
            if invariant_covers(spec.vocab, invariant, cell):
                total += universe.size(cell_keys(spec, cell) | extra)
    return total


def trimmed(spec: PolicySpec, fits: Any) -> PolicySpec:
    """The policy with its last rules dropped until ``fits(spec)``: keeps the brute force fast
    without throwing examples away."""
    while len(spec.rules) > 1 and not fits(spec):
        spec = replace(spec, rules=spec.rules[:-1])
    return spec


PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY_SETTINGS
@given(invariant_cases())
def test_invariant_proofs_agree_with_brute_force(
    case: tuple[PolicySpec, list[InvariantSpec]],
) -> None:
    spec, invariants = case
    conditions = [i[2] for i in invariants if i[2] is not None]

    def universe_of(s: PolicySpec) -> Universe:
        return Universe(s.vocab, [*policy_exprs(s), *conditions])

    spec = trimmed(spec, lambda s: universe_cost(s, universe_of(s), invariants) <= UNIVERSE_LIMIT)
    universe = universe_of(spec)
    assume(universe_cost(spec, universe, invariants) <= UNIVERSE_LIMIT)
    # The named conditions only invariants use are declared with them (the rules' already are).
    declared = condition_declarations(e for r in spec.rules for e in rule_exprs(r))
    named = [d for d in condition_declarations(conditions) if d not in declared]
    text = full_text(spec, "".join(named) + "".join(invariant_text(i) for i in invariants))
    policy = load_policy_text(text)
    diagnostics, results = invariant_diagnostics(policy.compiled, "p.policy")
    assert [r.invariant.id.value for r in results] == [i[0] for i in invariants]
    assert len(diagnostics) == sum(r.counterexample is not None for r in results)
    for invariant, result in zip(invariants, results, strict=True):
        expected = brute_force_broken(spec, policy, universe, invariant)
        assert (result.counterexample is not None) == expected, (
            f"{invariant[0]}: brute force says {'broken' if expected else 'holds'}\n{text}"
        )
        if result.counterexample is None:
            continue
        cell, klass, effect, _ = result.counterexample
        context = klass.request_context()
        assert effect == "allow"
        assert invariant_covers(spec.vocab, invariant, cell)
        assert policy.decide(*cell, context).allowed
        if invariant[2] is not None:
            holds, _ = StringReference(spec, Request(*cell, context)).value(invariant[2])
            assert holds is True
