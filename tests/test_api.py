"""The public API: loading from files and folders, the policy summary, packaging of the grammar."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pytest

import policy_engine
from policy_engine import PolicyError, PolicyValidationError

from .conftest import PLANISO, ROOT

SMALL = """
party a
data d
purpose p
rule r1 §1.1 "grants" allow a to use d for p
"""


def test_public_names_are_exported() -> None:
    for name in (
        "load_policy",
        "load_policy_text",
        "check_policy",
        "Policy",
        "Decision",
        "PolicyError",
        "PolicySyntaxError",
        "PolicyValidationError",
        "UnknownTermError",
        "RequestError",
    ):
        assert hasattr(policy_engine, name), name
    assert issubclass(policy_engine.PolicySyntaxError, PolicyError)
    assert issubclass(policy_engine.PolicyValidationError, PolicyError)
    assert issubclass(policy_engine.UnknownTermError, PolicyError)
    assert issubclass(policy_engine.RequestError, PolicyError)


def test_grammar_ships_inside_the_package() -> None:
    shipped = resources.files("policy_engine.grammar").joinpath("policy.lark").read_text("utf-8")
    assert shipped == (ROOT / "grammar" / "policy.lark").read_text("utf-8")


def test_folder_is_read_recursively_as_one_policy(tmp_path: Path) -> None:
    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "terms.policy").write_text("party a\ndata d\npurpose p\n")
    (tmp_path / "rules.policy").write_text("rule r1 §1.1 allow a to use d for p\n")
    (tmp_path / "notes.txt").write_text("not a policy file {{{")
    policy = policy_engine.load_policy(tmp_path)
    assert policy.decide("a", "d", "p").allowed
    assert [r.id for r in policy.rules] == ["r1"]


def test_single_file_loads(tmp_path: Path) -> None:
    file = tmp_path / "one.policy"
    file.write_text(SMALL)
    assert policy_engine.load_policy(file).decide("a", "d", "p").allowed
    assert policy_engine.load_policy(str(file)).decide("a", "d", "p").allowed


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"no `\.policy` files in"):
        policy_engine.load_policy(tmp_path)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such file or directory"):
        policy_engine.load_policy(tmp_path / "absent")


def test_non_utf8_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "bad.policy").write_bytes(b"party \xff\n")
    with pytest.raises(PolicyError, match="is not UTF-8 text"):
        policy_engine.load_policy(tmp_path)


def test_text_mapping_is_read_as_one_policy() -> None:
    policy = policy_engine.load_policy_text(
        {"terms.policy": "party a\ndata d\npurpose p\n", "rules.policy": SMALL.split("\n", 4)[4]}
    )
    assert policy.decide("a", "d", "p").allowed
    assert policy.rules[0].file == "rules.policy"


def test_rule_summary_has_citation_and_place(planiso: policy_engine.Policy) -> None:
    by_id = {r.id: r for r in planiso.rules}
    rule = by_id["cloud_providers_hosting"]
    assert rule.effect == "allow"
    assert rule.citation == "§5.1"
    assert rule.file == "rules/planiso/access.policy" or rule.file.endswith(
        "rules/planiso/access.policy"
    )
    assert rule.location == f"{rule.file}:{rule.line}"
    text = (PLANISO / "access.policy").read_text().splitlines()
    assert text[rule.line - 1].startswith("rule cloud_providers_hosting")


def test_version_does_not_depend_on_working_directory(tmp_path: Path) -> None:
    first = policy_engine.load_policy(PLANISO).decide("planiso", "email", "emergency")
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        second = policy_engine.load_policy(PLANISO).decide("planiso", "email", "emergency")
    finally:
        os.chdir(cwd)
    assert first.policy_version == second.policy_version
    assert len(first.policy_version) == 64


def test_terms_lists_a_hierarchy(planiso: policy_engine.Policy) -> None:
    assert "delivery_partners" in planiso.terms("party")
    assert "ensure_adequate_protection" in planiso.terms("obligation")


def test_ledger_key_is_the_key_marked_from_consent_ledger(planiso: policy_engine.Policy) -> None:
    assert planiso.ledger_key == "consented_purposes"
    assert policy_engine.load_policy_text(SMALL).ledger_key is None
    unmarked = "purpose p\ncontext consented_purposes: set of purpose\n"
    assert policy_engine.load_policy_text(unmarked).ledger_key is None
    marked = (
        "party a\ndata d\npurpose p\n"
        "context x: set of purpose\ncontext y: set of purpose from consent ledger\n"
    )
    policy = policy_engine.load_policy_text(marked)
    assert policy.ledger_key == "y"
    with pytest.raises(AttributeError):
        policy.ledger_key = "x"  # type: ignore[misc]
    # The mark is for the service: the library decides with the key as the request gives it.
    assert policy.decide("a", "d", "p").model_dump()["request"]["context"] == {}


def test_check_policy_never_raises_for_rule_problems(tmp_path: Path) -> None:
    (tmp_path / "p.policy").write_text("party a under a\n")
    [problem] = policy_engine.check_policy(tmp_path)
    assert problem.code == "cycle"
    assert problem.message == "`a` is declared under itself"
    findings = policy_engine.check_policy(PLANISO)
    assert [d for d in findings if d.severity != "info"] == []
    assert all(d.code == "deny-overrides-allow" for d in findings)


def test_validation_error_carries_every_problem() -> None:
    with pytest.raises(PolicyValidationError) as info:
        policy_engine.load_policy_text("party a under b\nparty c under d\n", name="x.policy")
    assert [(d.span.line, d.span.column) for d in info.value.errors if d.span] == [
        (1, 15),
        (2, 15),
    ]
    assert str(info.value).startswith("x.policy:1:15: error: unknown party `b`")


def test_decide_accepts_positional_arguments(planiso: policy_engine.Policy) -> None:
    d = planiso.decide("law_enforcement", "email", "law_enforcement_request", {})
    assert d.effect == "allow"
    assert repr(d).startswith("Decision(effect='allow'")
