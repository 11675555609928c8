"""The lazy search behind ``check``: its cost follows what the question needs, its budget is
honest (an undecided question is said, with exit code 3), and its counterexamples are the
plainest requests."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from policy_engine import check_policy, load_policy_text
from policy_engine.analysis.budget import Budget, BudgetExceeded, Meter
from policy_engine.analysis.findings import invariant_diagnostics
from policy_engine.cli import main

HEAD = "party staff\ndata email\npurpose support\n"


def booleans(k: int) -> str:
    keys = "".join(f"context b{i}: boolean\n" for i in range(k))
    condition = " and ".join(f"b{i}" for i in range(k))
    return (
        HEAD
        + keys
        + f"rule r §1\n  allow staff to use email for support\n  when {condition}\n"
        + "invariant inv §1\n  never staff use email for support\n  when not b0\n"
    )


def write(tmp_path: Path, text: str, name: str = "p.policy") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_rule_reading_24_booleans_is_checked_in_few_steps(tmp_path: Path) -> None:
    """Enumerating the classes would take 3^24 steps; the search needs a few per key."""
    path = write(tmp_path, booleans(24))
    found = check_policy(path, budget=Budget(seconds=60, steps=20_000))
    assert [d.code for d in found] == []


def test_a_set_key_tested_against_forty_purposes_is_checked_in_few_steps(tmp_path: Path) -> None:
    purposes = "".join(f"purpose p{i}\n" for i in range(40))
    condition = " or ".join(f"p{i} in consented" for i in range(40))
    text = (
        "party staff\ndata email\n"
        + purposes
        + "context consented: set of purpose\n"
        + f"rule r §1\n  allow staff to use email for any purpose\n  when {condition}\n"
        + "invariant inv §1\n  never staff use email for p0\n  when consented is missing\n"
    )
    found = check_policy(write(tmp_path, text), budget=Budget(seconds=60, steps=50_000))
    assert [d.code for d in found] == []


def test_an_exhausted_budget_names_what_is_undecided(tmp_path: Path) -> None:
    path = write(tmp_path, booleans(12))
    found = check_policy(path, budget=Budget(seconds=60, steps=1))
    undecided = [d for d in found if d.code == "analysis-undecided"]
    assert undecided, found
    messages = [d.message for d in undecided]
    assert "invariant `inv` could not be decided: the analysis budget of 1 step ran out " in (
        " ".join(messages)
    )
    assert any(m.startswith("whether rule `r` can apply could not be decided") for m in messages)
    for diagnostic in undecided:
        assert diagnostic.severity == "error"
        assert diagnostic.help == (
            "nothing is proven about it; `check` exits with 3 until it is decided"
        )
    assert not any(d.code == "never-applies" for d in found)


def test_check_exits_3_when_undecided_and_0_with_enough_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(write(tmp_path, booleans(12)))
    assert main(["check", path, "--budget-steps", "5"]) == 3
    assert "could not be decided" in capsys.readouterr().out
    assert main(["check", path, "--budget-steps", "100000"]) == 0


def test_a_time_budget_stops_the_search() -> None:
    meter = Meter(Budget(seconds=1e-9, steps=10**9))
    with pytest.raises(BudgetExceeded, match="time budget"):
        for _ in range(Meter.CLOCK_EVERY + 1):
            meter.spend()


def test_budget_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_ENGINE_ANALYSIS_SECONDS", "2.5")
    monkeypatch.setenv("POLICY_ENGINE_ANALYSIS_STEPS", "1000")
    assert Budget.from_environment() == Budget(seconds=2.5, steps=1000)
    monkeypatch.setenv("POLICY_ENGINE_ANALYSIS_STEPS", "lots")
    with pytest.raises(ValueError, match="`POLICY_ENGINE_ANALYSIS_STEPS` must be a number"):
        Budget.from_environment()


def test_a_bad_budget_in_the_environment_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POLICY_ENGINE_ANALYSIS_SECONDS", "-1")
    assert main(["check", str(write(tmp_path, booleans(2)))]) == 2
    assert "`POLICY_ENGINE_ANALYSIS_SECONDS` must be positive" in capsys.readouterr().err


def test_diff_exits_3_when_its_budget_runs_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write(tmp_path, booleans(6), "old.policy")
    new = write(tmp_path, booleans(6).replace("allow staff", "deny staff"), "new.policy")
    assert main(["diff", str(old), str(new), "--budget-steps", "3"]) == 3
    err = capsys.readouterr().err
    assert "error: the diff could not be decided: " in err
    assert "nothing is reported as unchanged" in err


def test_the_counterexample_sends_no_key_it_does_not_need() -> None:
    """Only `b0` matters to the invariant; the deny reads `age`, which may stay out."""
    text = (
        HEAD
        + "context b0: boolean\ncontext age: integer\ncontext note: string\n"
        + 'rule r §1\n  allow staff to use email for support\n  when b0 or note = "x"\n'
        + "rule d §1\n  deny staff from using email for support\n  when age < 14 and age is known\n"
        + "invariant inv §1\n  never staff use email for support\n"
    )
    policy = load_policy_text(text)
    found, results = invariant_diagnostics(policy.compiled, "p.policy")
    assert results[0].counterexample is not None
    cell, klass, effect, ids = results[0].counterexample
    assert (effect, ids) == ("allow", ("r",))
    context = klass.request_context()
    assert len(context) == 1, context
    assert policy.decide(*cell, context).allowed
    command = found[0].help or ""
    sent = json.loads(shlex.split(command)[-1])
    assert sent == context


def test_a_deny_that_fails_closed_counts_for_always_deny() -> None:
    """`always deny` holds where a deny's condition is unknown: the deny fails closed."""
    text = (
        HEAD
        + "context age: integer\n"
        + "rule r §1\n  allow staff to use email for support\n"
        + "rule d §1\n  deny staff from using email for support\n  when age < 14\n"
        + "invariant inv §1\n  always deny staff to use email for support\n  when age is missing\n"
    )
    policy = load_policy_text(text)
    found, results = invariant_diagnostics(policy.compiled, "p.policy")
    assert found == [] and results[0].counterexample is None


AGE_DENY = (
    HEAD
    + "context age: integer\n"
    + "rule r §1\n  allow staff to use email for support\n"
    + "{comment}rule minors §3.2\n  deny staff from using email for support\n  when age < 14\n"
)


@pytest.mark.parametrize(
    ("comment", "codes"),
    [
        ("", ["deny-on-missing-key"]),
        ("# check: allow deny-on-missing-key\n", []),
        (
            "# refusing a request without an age is intended\n# check: allow deny-on-missing-key\n",
            [],
        ),
        ("# check: allow redundant-rule, deny-on-missing-key\n", []),
        ("# check: allow redundant-rule\n", ["deny-on-missing-key"]),
        ("# check: allow deny-on-missing-key\n\n", ["deny-on-missing-key"]),
    ],
)
def test_a_comment_says_a_warning_is_expected(
    tmp_path: Path, comment: str, codes: list[str]
) -> None:
    """`# check: allow CODE` on the rule's line or the line above silences that warning there
    (a blank line between breaks the link)."""
    path = write(tmp_path, AGE_DENY.format(comment=comment))
    found = [d for d in check_policy(path) if d.severity == "warning"]
    assert [d.code for d in found] == codes


def test_a_comment_cannot_silence_an_error(tmp_path: Path) -> None:
    text = AGE_DENY.format(comment="") + (
        "# check: allow invariant-broken\ninvariant inv §1\n  never staff use email for support\n"
    )
    found = check_policy(write(tmp_path, text))
    assert "invariant-broken" in [d.code for d in found]


def test_diff_compares_against_a_default_one_version_adds() -> None:
    """`ki1` gains a default of 2: a request that leaves it out is now compared with 2, so
    `ki2 = 3` widens (found by tests/test_soundness.py)."""
    from policy_engine.analysis.diff import diff_policies

    body = "rule r7 §1\n  allow any party to use any data for pu2\n  when ki2 > ki1\n"
    head = "party pa0\ndata da0\npurpose pu2\ncontext ki2: integer\n"
    old = load_policy_text(head + "context ki1: integer\n" + body)
    new = load_policy_text(head + "context ki1: integer default 2\n" + body)
    assert not old.decide("pa0", "da0", "pu2", {"ki2": 3}).allowed
    assert new.decide("pa0", "da0", "pu2", {"ki2": 3}).allowed
    report = diff_policies(old, new)
    assert "widened" in {g.kind for g in report.groups}


def test_a_witness_the_evaluator_does_not_confirm_is_reported_not_trusted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were the search and the evaluator ever to disagree, the invariant is undecided and the
    message says it is a bug; it is neither proven nor reported broken."""
    from policy_engine.analysis import invariants
    from policy_engine.analysis.search_values import AnalysisDisagreement

    def disagree(*args: object) -> None:
        raise AnalysisDisagreement("the policy decides deny on {}")

    monkeypatch.setattr(invariants, "confirm_breaks", disagree)
    policy = load_policy_text(booleans(2).replace("  when not b0\n", ""))
    found, results = invariant_diagnostics(policy.compiled, "p.policy")
    assert results[0].counterexample is None
    assert [d.code for d in found] == ["analysis-undecided"]
    assert found[0].message == (
        "invariant `inv` could not be decided: the analysis and the evaluator disagree (the "
        "policy decides deny on {}); this is a bug, please report it"
    )


def test_fresh_values_stay_distinct_when_a_rule_names_other() -> None:
    """The values no rule names were "other", "other-1", …; with "other" named by a rule, two
    keys both got "other-1", so two distinct unnamed values were never tried."""
    text = (
        HEAD
        + "context ks0: string\ncontext ks1: string\n"
        + "rule r §1\n  allow staff to use email for support\n"
        + '  when ks0 != ks1 and ks0 != "other" and ks1 != "other"\n'
        + "invariant inv §1\n  never staff use email for support\n"
    )
    policy = load_policy_text(text)
    _, results = invariant_diagnostics(policy.compiled, "p.policy")
    assert results[0].counterexample is not None
    cell, klass, _, _ = results[0].counterexample
    assert policy.decide(*cell, klass.request_context()).allowed


def test_a_memory_budget_stops_the_search(monkeypatch: pytest.MonkeyPatch) -> None:
    from policy_engine.analysis import budget as budget_module

    sizes = iter([100 * 2**20, 100 * 2**20 + 2 * 2**20])
    monkeypatch.setattr(budget_module, "resident_bytes", lambda: next(sizes))
    meter = Meter(Budget(seconds=60, steps=10**9, memory_mb=1))
    with pytest.raises(BudgetExceeded, match="memory budget of 1 MiB ran out"):
        meter.check_clock()


def test_the_memory_budget_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_ENGINE_ANALYSIS_MEMORY_MB", "256")
    assert Budget.from_environment().memory_mb == 256


def test_leaves_that_do_not_cover_the_cell_are_reported_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Were the leaves' counts ever not to add up to the cell's classes, diff says it could not
    decide (exit 3) and names it a bug."""
    from policy_engine.analysis import diff as diff_module
    from policy_engine.analysis import diff_leaves

    monkeypatch.setattr(diff_module, "LEAF_MODE_MIN_CLASSES", 0)
    monkeypatch.setattr(diff_leaves, "_count", lambda *args: 0)
    old = write(tmp_path, booleans(3), "old.policy")
    new = write(tmp_path, booleans(3).replace("allow staff", "deny staff"), "new.policy")
    assert main(["diff", str(old), str(new)]) == 3
    err = capsys.readouterr().err
    assert (
        "error: the diff could not be decided: the analysis and the evaluator disagree (the " in err
    )
    assert "stand for 0 context classes, not 27); this is a bug, please report it" in err
