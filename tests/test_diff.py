"""`policy-engine diff`: the exact set of requests whose decision or obligations change.

PLANISO is compared with edited copies of itself (a widened scope, a narrowed one, an obligation
dropped, vocabulary added and removed, and versions read from a temporary git repository). A
property then compares the diff of random small policies and mutated versions of them (a rule
added, removed or altered, or a term moved in its hierarchy) with a brute-force enumeration over
the explicit finite universe of contexts of ``test_analysis``.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import policy_engine
from policy_engine.analysis import diff as diff_module
from policy_engine.analysis.budget import Budget
from policy_engine.analysis.diff import DiffReport, diff_policies, read_version
from policy_engine.cli.main import main
from policy_engine.language.errors import PolicyError

from .conftest import PLANISO
from .test_analysis import (
    UNIVERSE_LIMIT,
    Universe,
    cell_keys,
    cells_of,
    draw_string_leaf,
    full_text,
    near,
    policy_exprs,
    string_policies,
    with_string_tests,
)
from .test_properties import (
    ATTRIBUTES,
    KINDS,
    Expr,
    PolicySpec,
    RuleSpec,
    Vocab,
    ancestors,
    draw_expr,
    draw_rule,
    flag,
    number,
    pick,
    some,
)

# ---- PLANISO and edited copies ------------------------------------------------------------------

_REPORTS: dict[tuple[str, str], DiffReport] = {}


@pytest.fixture(autouse=True)
def remember_diffs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Diffing PLANISO takes seconds, and several tests run the command line on the same pair of
    versions (to see each output format and exit code). The first diff of each pair of contents
    is computed for real; later ones reuse it. The version is the SHA-256 of the files' names and
    texts, so equal versions are equal policies."""
    real = diff_module.diff_policies

    def remembered(
        old: policy_engine.Policy,
        new: policy_engine.Policy,
        old_name: str = "OLD",
        new_name: str = "NEW",
        budget: Budget | None = None,
    ) -> DiffReport:
        key = (old.version, new.version)
        if key not in _REPORTS:
            _REPORTS[key] = real(old, new)
        return _REPORTS[key].model_copy(update={"old": old_name, "new": new_name}, deep=True)

    monkeypatch.setattr(diff_module, "diff_policies", remembered)


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def copy_planiso(root: Path) -> Path:
    target = root / "planiso"
    shutil.copytree(PLANISO, target)
    return target


def rule_block(folder: Path, rule_id: str) -> tuple[Path, str, str]:
    """The file holding rule ``rule_id``, its text, and the rule's own text (up to the next
    statement or blank line)."""
    for path in sorted(folder.glob("*.policy")):
        text = path.read_text(encoding="utf-8")
        found = re.search(rf"^rule {rule_id}\b.*?(?=^\S|^\s*$|\Z)", text, re.M | re.S)
        if found:
            return path, text, found.group(0)
    raise AssertionError(f"no rule `{rule_id}` in {folder}")


def edit_rule(folder: Path, rule_id: str, change: Callable[[str], str]) -> None:
    path, text, block = rule_block(folder, rule_id)
    changed = change(block)
    assert changed != block, f"the edit of `{rule_id}` changed nothing"
    path.write_text(text.replace(block, changed, 1), encoding="utf-8")


def add_data(term: str) -> Callable[[str], str]:
    """Add a data category to an allow rule's scope."""

    def change(block: str) -> str:
        return re.sub(r"(to use [\w, ]+?)( for )", rf"\g<1>, {term}\g<2>", block, count=1)

    return change


def drop_obligations(block: str) -> str:
    """Remove every `with obligation …` clause (with its continuation lines) from a rule."""
    kept: list[str] = []
    clause_indent: int | None = None
    for line in block.splitlines(keepends=True):
        indent = len(line) - len(line.lstrip())
        if line.lstrip().startswith("with obligation"):
            clause_indent = indent
            continue
        if clause_indent is not None and line.strip() and indent > clause_indent:
            continue
        clause_indent = None
        kept.append(line)
    return "".join(kept)


def load(path: Path | str) -> policy_engine.Policy:
    return policy_engine.load_policy(path)


def check_example(report: DiffReport, old: policy_engine.Policy, new: policy_engine.Policy) -> None:
    """Each group's example request really changes the way the group says."""
    for group in report.groups:
        example = group.example
        args = (example["party"], example["data"], example["purpose"], example["context"])
        before = old.decide(*args)  # type: ignore[arg-type]
        after = new.decide(*args)  # type: ignore[arg-type]
        assert (before.effect, after.effect) == (group.before, group.after)
        assert sorted(r.id for r in before.reasons) == group.old_rules
        assert sorted(r.id for r in after.reasons) == group.new_rules
        if group.kind == "obligations":
            assert before.obligations == group.old_obligations
            assert after.obligations == group.new_obligations
            assert before.obligations != after.obligations


@pytest.fixture(scope="module")
def planiso() -> policy_engine.Policy:
    return load(PLANISO)


@pytest.fixture
def widened(tmp_path: Path) -> Path:
    """Delivery partners may now use technical information (a category with two children) for
    order delivery."""
    copy = copy_planiso(tmp_path)
    edit_rule(copy, "delivery_partners_addresses", add_data("technical_information"))
    return copy


def test_a_widened_scope_is_one_widened_group(
    capsys: pytest.CaptureFixture[str], planiso: policy_engine.Policy, widened: Path
) -> None:
    new = load(widened)
    report = diff_module.diff_policies(planiso, new)
    [group] = report.groups
    assert group.kind == "widened"
    # The three categories collapse to the one that covers exactly them.
    assert (group.parties, group.data, group.purposes) == (
        ["delivery_partners"],
        ["technical_information"],
        ["order_delivery"],
    )
    assert group.exact == []
    assert (group.before, group.after) == ("deny", "allow")
    assert (group.old_rules, group.new_rules) == ([], ["delivery_partners_addresses"])
    assert group.requests > 0
    assert report.requests_changed == group.requests
    assert report.terms_added == report.terms_removed == {}
    check_example(report, planiso, new)
    # Consent is what the rule asks for: the change happens only with it.
    assert "`purpose in consented_purposes`" in group.when

    assert run(capsys, "diff", PLANISO, widened)[0] == 0
    assert run(capsys, "diff", PLANISO, widened, "--fail-on", "widen")[0] == 1
    assert run(capsys, "diff", PLANISO, widened, "--fail-on", "narrow")[0] == 0
    assert run(capsys, "diff", PLANISO, widened, "--fail-on", "any")[0] == 1
    # The same change read backwards narrows.
    code, out, _ = run(capsys, "diff", widened, PLANISO, "--fail-on", "narrow", "--format", "json")
    assert code == 1
    [back] = DiffReport.model_validate_json(out).groups
    assert back.kind == "narrowed"
    assert (back.old_rules, back.new_rules) == (["delivery_partners_addresses"], [])
    assert run(capsys, "diff", widened, PLANISO, "--fail-on", "widen")[0] == 0


def test_a_narrowed_scope_is_one_narrowed_group(
    capsys: pytest.CaptureFixture[str], planiso: policy_engine.Policy, tmp_path: Path
) -> None:
    copy = copy_planiso(tmp_path)
    # Payment providers keep payment processing, lose the rest of transaction management.
    edit_rule(
        copy,
        "payment_providers_financial",
        lambda b: b.replace("for transaction_management", "for payment_processing"),
    )
    new = load(copy)
    report = diff_module.diff_policies(planiso, new)
    [group] = report.groups
    assert group.kind == "narrowed"
    assert (group.parties, group.data, group.purposes) == (
        ["payment_providers"],
        ["financial_information"],
        ["receipts", "transaction_management"],
    )
    # A request for `transaction_management` itself changes; its child `payment_processing`
    # does not, so the parent stands only for itself.
    assert group.exact == ["transaction_management"]
    assert (group.before, group.after) == ("allow", "deny")
    assert (group.old_rules, group.new_rules) == (["payment_providers_financial"], [])
    check_example(report, planiso, new)
    assert run(capsys, "diff", PLANISO, copy, "--fail-on", "narrow")[0] == 1
    assert run(capsys, "diff", PLANISO, copy, "--fail-on", "widen")[0] == 0
    assert run(capsys, "diff", PLANISO, copy, "--fail-on", "any")[0] == 1
    assert "`transaction_management` itself" in run(capsys, "diff", PLANISO, copy)[1]


def test_an_obligations_only_change(
    capsys: pytest.CaptureFixture[str], planiso: policy_engine.Policy, tmp_path: Path
) -> None:
    copy = copy_planiso(tmp_path)
    edit_rule(copy, "cloud_providers_hosting", drop_obligations)
    new = load(copy)
    report = diff_module.diff_policies(planiso, new)
    assert report.groups
    assert report.kinds() == {"obligations"}
    covered: set[str] = set()
    for group in report.groups:
        assert (group.before, group.after) == ("allow", "allow")
        assert (group.old_obligations, group.new_obligations) == (
            ["ensure_adequate_protection"],
            [],
        )
        assert group.old_rules == group.new_rules == ["cloud_providers_hosting"]
        assert (group.parties, group.purposes) == (["cloud_providers"], ["data_hosting"])
        assert "destination" in group.when
        for term in group.data:
            covered |= {term} if term in group.exact else set(_below(new, "data", term))
    # Every category the rule covers, and nothing else.
    assert covered == set(_below(new, "data", "personal_information"))
    check_example(report, planiso, new)
    assert run(capsys, "diff", PLANISO, copy, "--fail-on", "widen")[0] == 0
    assert run(capsys, "diff", PLANISO, copy, "--fail-on", "narrow")[0] == 0
    code, out, _ = run(capsys, "diff", PLANISO, copy, "--fail-on", "any")
    assert code == 1
    assert "Obligations changed: " in out
    assert (
        "before: allow by `cloud_providers_hosting` (§5.1) with `ensure_adequate_protection`; "
        in out
    )
    assert "after: allow by `cloud_providers_hosting` (§5.1)\n" in out


def _below(policy: policy_engine.Policy, kind: str, term: str) -> list[str]:
    return sorted(policy.compiled.hierarchies[kind].descendants[term])


def test_identical_copies(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    copy = copy_planiso(tmp_path)
    code, out, _ = run(capsys, "diff", PLANISO, copy, "--fail-on", "any")
    assert code == 0
    assert "no decision changes" in out
    assert re.search(r"\n0 of [1-9]\d* requests change", out)
    code, out, _ = run(capsys, "diff", PLANISO, copy, "--format", "json", "--fail-on", "any")
    assert code == 0
    report = DiffReport.model_validate_json(out)
    assert report.groups == []
    assert report.requests_changed == 0
    assert report.old_version == report.new_version
    code, out, _ = run(capsys, "diff", PLANISO, copy, "--format", "markdown")
    assert code == 0
    assert "No decision changes." in out
    assert "| who |" not in out


def test_terms_added_and_removed(
    capsys: pytest.CaptureFixture[str], planiso: policy_engine.Policy, tmp_path: Path
) -> None:
    copy = copy_planiso(tmp_path)
    vocabulary = copy / "vocabulary.policy"
    text = vocabulary.read_text(encoding="utf-8")
    assert ", receipts under" in text
    text = text.replace(", receipts under", " under", 1)
    text += "\ndata fax_number under contact_information §3.1\nparty auditors §5.1\n"
    vocabulary.write_text(text, encoding="utf-8")
    report = diff_module.diff_policies(planiso, load(copy))
    assert report.terms_added == {"party": ["auditors"], "data": ["fax_number"]}
    assert report.terms_removed == {"purpose": ["receipts"]}
    # New and removed terms are not compared: on the shared ones nothing changes.
    assert report.groups == []
    code, out, _ = run(capsys, "diff", PLANISO, copy, "--fail-on", "any")
    assert code == 1
    assert "party terms added: `auditors`" in out
    assert "data category terms added: `fax_number`" in out
    assert "purpose terms removed: `receipts`" in out
    assert "no decision changes" in out
    assert run(capsys, "diff", PLANISO, copy, "--fail-on", "widen")[0] == 0
    assert run(capsys, "diff", PLANISO, copy, "--fail-on", "narrow")[0] == 0
    code, out, _ = run(capsys, "diff", PLANISO, copy, "--format", "markdown")
    assert "- data category terms added: `fax_number`" in out
    assert "No decision changes." not in out
    code, out, _ = run(capsys, "diff", PLANISO, copy, "--format", "json")
    assert json.loads(out)["terms_removed"] == {"purpose": ["receipts"]}


def test_context_key_changes_are_shown(
    capsys: pytest.CaptureFixture[str], planiso: policy_engine.Policy, tmp_path: Path
) -> None:
    """Callers send the context keys: a key added, retyped, or no longer filled by the service's
    consent ledger changes what they must send, even where no decision changes."""
    copy = copy_planiso(tmp_path)
    vocabulary = copy / "vocabulary.policy"
    text = vocabulary.read_text(encoding="utf-8")
    edits = [
        (
            "context consented_purposes: set of purpose from consent ledger",
            "context consented_purposes: set of purpose",
        ),
        (
            'context channel: one of "email", "sms", "phone"',
            'context channel: one of "email", "sms", "phone", "fax"',
        ),
    ]
    for before, after in edits:
        assert before in text
        text = text.replace(before, after, 1)
    vocabulary.write_text(text + '\ncontext region: string default "CA-QC"\n', encoding="utf-8")
    report = diff_module.diff_policies(planiso, load(copy))
    assert report.context_changes == [
        'context key `channel`: one of "email", "sms", "phone" → '
        'one of "email", "sms", "phone", "fax"',
        "context key `consented_purposes`: no longer filled from the consent ledger by the service",
        'context key `region` added: string, default "CA-QC"',
    ]
    code, out, _ = run(capsys, "diff", PLANISO, copy, "--fail-on", "any")
    assert code == 1
    assert "context key `region` added" in out
    code, out, _ = run(capsys, "diff", PLANISO, copy, "--format", "markdown")
    assert "- context key `consented_purposes`: no longer filled" in out
    assert "No decision changes." not in out
    code, out, _ = run(capsys, "diff", copy, PLANISO, "--format", "json")
    assert json.loads(out)["context_changes"] == [
        'context key `channel`: one of "email", "sms", "phone", "fax" → '
        'one of "email", "sms", "phone"',
        "context key `consented_purposes`: now filled from the consent ledger by the service",
        "context key `region` removed: requests that send it are now refused",
    ]


def test_a_changed_default_is_a_context_change() -> None:
    base = "party a\ndata d\npurpose p\nrule r allow a to use d for p when flag\n"
    old = policy_engine.load_policy_text(base + "context flag: boolean default false\n")
    new = policy_engine.load_policy_text(base + "context flag: boolean default true\n")
    report = diff_policies(old, new)
    assert report.context_changes == ["context key `flag`: default false → true"]
    # A request that leaves the key out was denied and is now allowed: the diff says so.
    (group,) = report.groups
    assert group.kind == "widened" and "`flag`" in group.when
    assert group.example["context"] == {}  # the key left out
    assert old.decide("a", "d", "p").effect == "deny"
    assert new.decide("a", "d", "p").effect == "allow"
    # A default that appears: the key left out was missing (no rule applies), now it is true.
    none = policy_engine.load_policy_text(base + "context flag: boolean\n")
    report = diff_policies(none, new)
    assert report.context_changes == ["context key `flag`: default none → true"]
    assert [g.kind for g in report.groups] == ["widened"]
    # The same default on both sides: leaving the key out is that default, nothing changes.
    assert diff_policies(new, new).groups == []


def test_output_formats(capsys: pytest.CaptureFixture[str], widened: Path) -> None:
    code, text, _ = run(capsys, "diff", PLANISO, widened)
    assert code == 0
    code, raw, _ = run(capsys, "diff", PLANISO, widened, "--format", "json")
    assert code == 0
    report = DiffReport.model_validate_json(raw)
    assert json.loads(raw) == report.model_dump(mode="json")
    assert (report.old, report.new) == (str(PLANISO), str(widened))
    [group] = report.groups

    lines = text.splitlines()
    assert lines[0] == f"policy diff {PLANISO} → {widened}"
    assert "Widened (deny → allow): 1 group" in lines
    index = lines.index("Widened (deny → allow): 1 group")
    assert lines[index + 1] == (
        f"  `delivery_partners` using `technical_information` for `order_delivery` {group.when}"
    )
    assert lines[index + 2] == (
        "    before: deny (no rule grants it); after: allow by `delivery_partners_addresses` (§5.1)"
    )
    assert lines[-1] == (
        f"{report.requests_changed} of {report.requests_compared} requests change "
        "(each request stands for a class of contexts)"
    )

    code, markdown, _ = run(capsys, "diff", PLANISO, widened, "--format", "markdown")
    assert code == 0
    rows = markdown.splitlines()
    assert rows[0] == f"### Policy diff: `{PLANISO}` → `{widened}`"
    assert "#### Widened (deny → allow)" in rows
    header = rows.index("| who | data | purpose | when | before | after |")
    assert rows[header + 1] == "|---|---|---|---|---|---|"
    cells = rows[header + 2].strip("|").split(" | ")
    assert [c.strip() for c in cells] == [
        "`delivery_partners`",
        "`technical_information`",
        "`order_delivery`",
        group.when.removeprefix("when "),
        "deny (no rule grants it)",
        "allow by `delivery_partners_addresses` (§5.1)",
    ]
    assert rows[-1].startswith(f"{report.requests_changed} of {report.requests_compared} ")
    assert f"`{report.old_version[:12]}` → `{report.new_version[:12]}`" in rows[-1]

    with pytest.raises(SystemExit) as usage:
        main(["diff", str(PLANISO), str(widened), "--format", "sarif"])
    assert usage.value.code == 2
    capsys.readouterr()


def test_a_term_moved_in_its_hierarchy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Moving `pu1` under `pu0` makes a consent to `pu0` cover `pu1`: a context that names only
    the new parent changes the decision, though no rule changed."""
    old_text = (
        "party p\ndata d\npurpose pu0\npurpose pu1\ncontext kp: set of purpose\n"
        "rule r §1\n  allow p to use d for any purpose\n  when purpose in kp\n"
    )
    new_text = old_text.replace("purpose pu1\n", "purpose pu1 under pu0\n")
    (tmp_path / "old.policy").write_text(old_text)
    (tmp_path / "new.policy").write_text(new_text)
    old, new = load(tmp_path / "old.policy"), load(tmp_path / "new.policy")
    assert not old.decide("p", "d", "pu1", {"kp": ["pu0"]}).allowed
    assert new.decide("p", "d", "pu1", {"kp": ["pu0"]}).allowed
    report = diff_policies(old, new)
    [group] = report.groups
    assert (group.kind, group.parties, group.data, group.purposes) == (
        "widened",
        ["p"],
        ["d"],
        ["pu1"],
    )
    assert group.example["context"] == {"kp": ["pu0"]}
    check_example(report, old, new)
    code, _, _ = run(
        capsys, "diff", tmp_path / "old.policy", tmp_path / "new.policy", "--fail-on", "widen"
    )
    assert code == 1


def test_missing_path_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "diff", PLANISO, tmp_path / "nowhere")
    assert (code, out) == (2, "")
    assert "no such file or directory" in err


# ---- git:REV:path ------------------------------------------------------------------------------

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git repository with PLANISO at `rules/` in its first commit and the widened edit in its
    second."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "--quiet")
    git(repo, "config", "user.name", "Policy Tester")
    git(repo, "config", "user.email", "tester@example.com")
    git(repo, "config", "commit.gpgsign", "false")
    shutil.copytree(PLANISO, repo / "rules")
    git(repo, "add", "rules")
    git(repo, "commit", "--quiet", "-m", "PLANISO")
    edit_rule(repo / "rules", "delivery_partners_addresses", add_data("technical_information"))
    git(repo, "commit", "--quiet", "-am", "delivery partners get technical information")
    return repo


@needs_git
def test_versions_read_from_git(
    capsys: pytest.CaptureFixture[str],
    repository: Path,
    widened: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(repository)
    sources = read_version("git:HEAD~1:rules")
    assert [s.name for s in sources] == sorted(
        f"HEAD~1:rules/{p.name}" for p in PLANISO.glob("*.policy")
    )
    # What git holds is exactly PLANISO and the widened copy: the same contents, the same version.
    planiso, edited = load(PLANISO), load(widened)
    assert diff_module.load_version("git:HEAD~1:rules").version == planiso.version
    assert diff_module.load_version("git:HEAD:rules").version == edited.version

    code, out, err = run(
        capsys,
        "diff",
        "git:HEAD~1:rules",
        "git:HEAD:rules",
        "--format",
        "json",
        "--fail-on",
        "widen",
    )
    assert (code, err) == (1, "")
    report = DiffReport.model_validate_json(out)
    assert (report.old, report.new) == ("git:HEAD~1:rules", "git:HEAD:rules")
    [group] = report.groups
    assert (group.kind, group.data, group.new_rules) == (
        "widened",
        ["technical_information"],
        ["delivery_partners_addresses"],
    )
    # A revision against a folder; a subfolder's path is relative to the current folder.
    code, out, _ = run(capsys, "diff", "git:HEAD~1:rules", PLANISO, "--fail-on", "any")
    assert code == 0
    assert "no decision changes" in out
    monkeypatch.chdir(repository / "rules")
    code, out, _ = run(capsys, "diff", "git:HEAD~1:.", "git:HEAD:.", "--fail-on", "narrow")
    assert code == 0
    assert "Widened (deny → allow): 1 group" in out
    # The work tree was not touched.
    assert git(repository, "status", "--porcelain") == ""


@needs_git
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("git:HEAD", "`git:HEAD` is not of the form `git:REV:path`"),
        ("git:", "`git:` is not of the form `git:REV:path`"),
        ("git:no-such-revision:rules", "no-such-revision"),
        ("git:HEAD:nowhere", "no `.policy` files at `nowhere` in revision `HEAD`"),
    ],
)
def test_bad_git_versions_are_clear_errors(
    capsys: pytest.CaptureFixture[str],
    repository: Path,
    monkeypatch: pytest.MonkeyPatch,
    spec: str,
    message: str,
) -> None:
    monkeypatch.chdir(repository)
    code, out, err = run(capsys, "diff", spec, "git:HEAD:rules")
    assert (code, out) == (2, "")
    assert message in err
    assert "Traceback" not in err
    with pytest.raises(PolicyError) as raised:
        read_version(spec)
    assert message in str(raised.value)


@needs_git
def test_git_outside_a_repository(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    code, _, err = run(capsys, "diff", "git:HEAD:rules", PLANISO)
    assert code == 2
    assert "git ls-tree: fatal: not a git repository" in err


# ---- property: the diff agrees with brute force on random small policies -----------------------

ChangeKinds = dict[tuple[str, str, str], set[str]]


def mutate_condition(draw: st.DrawFn, vocab: Vocab, rule: RuleSpec) -> RuleSpec:
    choice = number(draw, 0, 4)
    if choice == 0:
        return replace(rule, condition=None)
    if choice == 1:
        return replace(rule, condition=draw_expr(draw, vocab, time=False))
    if choice == 2 and rule.condition is not None:
        # A nearby test in place of one leaf: small, sharp changes.
        return replace(rule, condition=swap_leaf(draw, rule.condition))
    if choice == 3:
        return replace(rule, exceptions=(*rule.exceptions, draw_expr(draw, vocab, 1, False)))
    if rule.exceptions:
        dropped = number(draw, 0, len(rule.exceptions) - 1)
        return replace(rule, exceptions=rule.exceptions[:dropped] + rule.exceptions[dropped + 1 :])
    return with_string_tests(draw, rule)


def swap_leaf(draw: st.DrawFn, expr: Expr) -> Expr:
    if expr[0] in ("and", "or"):
        index = number(draw, 0, len(expr[1]) - 1)
        operands = list(expr[1])
        operands[index] = swap_leaf(draw, operands[index])
        return (expr[0], tuple(operands))
    if expr[0] == "not":
        return ("not", swap_leaf(draw, expr[1]))
    return near(draw, expr) if flag(draw) else draw_string_leaf(draw)


def mutate(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    rules = list(spec.rules)
    vocab = spec.vocab
    choice = number(draw, 0, 6)
    if choice == 6:
        return moved(draw, spec)
    if choice == 0 or not rules:
        rule_id = f"added{sum(r.id.startswith('added') for r in rules)}"
        rules.insert(number(draw, 0, len(rules)), draw_rule(draw, vocab, rule_id, time=False))
        return replace(spec, rules=tuple(rules))
    index = number(draw, 0, len(rules) - 1)
    rule = rules[index]
    if choice == 1:
        del rules[index]
    elif choice == 2:
        rules[index] = mutate_condition(draw, vocab, rule)
    elif choice == 3:  # another scope in one dimension
        scopes = list(rule.scopes)
        kind = number(draw, 0, 2)
        scopes[kind] = None if flag(draw) else tuple(some(draw, vocab.terms(KINDS[kind]), 1, 2))
        rules[index] = replace(rule, scopes=tuple(scopes))
    elif choice == 4:  # obligations: other names or another condition
        if rule.effect == "allow":
            names = tuple(some(draw, vocab.obligations, 1, 2))
            condition = None if flag(draw) else draw_expr(draw, vocab, depth=1, time=False)
            obligations = (*rule.obligations[: number(draw, 0, len(rule.obligations))],)
            rules[index] = replace(rule, obligations=(*obligations, (names, condition)))
        else:
            rules[index] = replace(rule, effect="allow")
    else:  # the other effect (a deny carries no obligations)
        effect = "deny" if rule.effect == "allow" else "allow"
        rules[index] = replace(rule, effect=effect, obligations=())
    return replace(spec, rules=tuple(rules))


def moved(draw: st.DrawFn, spec: PolicySpec) -> PolicySpec:
    """The same terms with other parents for one of them (still only earlier terms, so no cycle):
    rules and set-valued keys then cover other requests. (Not in a hierarchy whose terms have
    attributes: another parent could give a term two values, which the checker refuses.)"""
    with_attributes = {ATTRIBUTES[name][0] for name in spec.vocab.attributes}
    kinds = [k for k in KINDS if k not in with_attributes]
    if not kinds:
        return spec
    kind = pick(draw, kinds)
    terms = spec.vocab.terms(kind)
    if len(terms) < 2:
        return spec
    index = number(draw, 1, len(terms) - 1)
    parents = dict(spec.vocab.parents)
    parents[kind] = dict(parents[kind])
    parents[kind][terms[index]] = tuple(sorted(some(draw, terms[:index], 0, 2)))
    return replace(spec, vocab=replace(spec.vocab, parents=parents))


def universe_for(*specs: PolicySpec) -> Universe:
    return Universe(specs[0].vocab, [e for s in specs for e in policy_exprs(s)])


def cost(old: PolicySpec, new: PolicySpec) -> int:
    universe = universe_for(old, new)
    return sum(
        universe.size(cell_keys(old, cell) | cell_keys(new, cell)) for cell in cells_of(old.vocab)
    )


@st.composite
def policy_pairs(draw: st.DrawFn) -> tuple[PolicySpec, PolicySpec]:
    old = draw(string_policies())
    while len(old.rules) > 1 and cost(old, old) > UNIVERSE_LIMIT // 2:
        old = replace(old, rules=old.rules[:-1])
    new = old
    for _ in range(number(draw, 1, 2)):
        new = mutate(draw, new)
    if flag(draw):  # sometimes the new version is the one first written
        old, new = new, old
    return old, new


def brute_force(
    old: PolicySpec, new: PolicySpec, a: policy_engine.Policy, b: policy_engine.Policy
) -> ChangeKinds:
    """For every cell, the kinds of change some context of the universe shows."""
    universe = universe_for(old, new)
    found: ChangeKinds = {}
    for cell in cells_of(old.vocab):
        kinds: set[str] = set()
        for context in universe.contexts(cell_keys(old, cell) | cell_keys(new, cell)):
            before, after = a.decide(*cell, context), b.decide(*cell, context)
            if before.allowed != after.allowed:
                kinds.add("widened" if after.allowed else "narrowed")
            elif before.allowed and before.obligations != after.obligations:
                kinds.add("obligations")
            if len(kinds) == 3:
                break
        found[cell] = kinds
    return found


def below(vocab: Vocab, kind: str, term: str) -> set[str]:
    return {t for t in vocab.terms(kind) if term in ancestors(vocab, kind, t)}


def group_cells(vocab: Vocab, report: DiffReport) -> ChangeKinds:
    """For every cell, the kinds of the groups whose scope contains it: a listed term covers the
    terms below it, except a term listed in ``exact``, which covers only itself."""
    found: ChangeKinds = defaultdict(set)
    for group in report.groups:
        covered = []
        for kind, terms in zip(KINDS, (group.parties, group.data, group.purposes), strict=True):
            cover: set[str] = set()
            for term in terms:
                cover |= {term} if term in group.exact else below(vocab, kind, term)
            covered.append(sorted(cover))
        for cell in itertools.product(*covered):
            found[cell].add(group.kind)  # type: ignore[index]
    return found


def describe(old: PolicySpec, new: PolicySpec) -> str:
    return f"--- old ---\n{full_text(old)}\n--- new ---\n{full_text(new)}"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(policy_pairs())
def test_diff_agrees_with_brute_force(pair: tuple[PolicySpec, PolicySpec]) -> None:
    """Diff against brute-force enumeration on random small policies: the same answer, nothing
    missed, nothing invented."""
    old, new = pair
    assume(cost(old, new) <= UNIVERSE_LIMIT)
    a = policy_engine.load_policy_text(full_text(old), "old.policy")
    b = policy_engine.load_policy_text(full_text(new), "new.policy")
    report = diff_policies(a, b)
    expected = brute_force(old, new, a, b)
    # Groups name the terms of the new version's hierarchy.
    reported = group_cells(new.vocab, report)
    for cell in cells_of(old.vocab):
        assert reported.get(cell, set()) == expected[cell], f"{cell}\n{describe(old, new)}"
    assert set(reported) <= set(expected)
    assert (report.requests_changed > 0) == bool(report.groups)
    for group in report.groups:
        assert group.requests > 0
        example: dict[str, Any] = group.example
        cell = (example["party"], example["data"], example["purpose"])
        assert group.kind in reported[cell]
        before = a.decide(*cell, example["context"])
        after = b.decide(*cell, example["context"])
        if group.kind == "obligations":
            assert before.allowed and after.allowed
            assert (before.obligations, after.obligations) == (
                group.old_obligations,
                group.new_obligations,
            )
            assert before.obligations != after.obligations
        else:
            assert (before.effect, after.effect) == (group.before, group.after)
            assert after.allowed == (group.kind == "widened")
