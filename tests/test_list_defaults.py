"""Defaults of `list of` and `set of` keys (`context restrictions: list of string default []`): a
request that leaves the key out has the default, so no analysis may treat the key as missing.

The soundness harness generates such defaults on random policies (``soundness_model.gen_keys``);
these are the cases written out, each one what a wrong analysis would get wrong.
"""

from __future__ import annotations

from pathlib import Path

from policy_engine import check_policy, load_policy_text
from policy_engine.analysis.diff import diff_policies
from policy_engine.language.formatter import format_source
from policy_engine.traceability.matrix import build_matrix

HEAD = """\
party staff
data email
purpose marketing
purpose newsletter under marketing
purpose support
context restrictions: list of string default [] "restrictions agreed with the subject"
context allowed_purposes: set of purpose default [marketing]
context channels: list of "email", "sms" default ["email"]
"""

RULES = """
rule newsletter §1
  allow staff to use email for any purpose
  when purpose in allowed_purposes and "email" in channels
  unless "no_contact" in restrictions
"""


def test_a_request_without_the_key_gets_its_default() -> None:
    policy = load_policy_text(HEAD + RULES)
    assert policy.decide("staff", "email", "newsletter").allowed
    assert policy.decide("staff", "email", "support").effect == "deny"
    assert policy.decide("staff", "email", "support").missing == []
    denied = policy.decide("staff", "email", "newsletter", {"restrictions": ["no_contact"]})
    assert not denied.allowed
    assert not policy.decide("staff", "email", "newsletter", {"channels": ["sms"]}).allowed
    assert policy.decide("staff", "email", "support", {"allowed_purposes": ["support"]}).allowed
    # `null` is the default too, like an absent key.
    assert policy.decide("staff", "email", "newsletter", {"restrictions": None}).allowed


def test_the_explanation_shows_the_default() -> None:
    text = load_policy_text(HEAD + RULES).decide("staff", "email", "newsletter").explain()
    assert "`allowed_purposes` is [marketing]" in text
    assert "`restrictions` is []" in text


def _check(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    path = tmp_path / "p.policy"
    path.write_text(text, encoding="utf-8")
    quiet = ("missing-citation", "unused-term")
    return [(d.code, d.message) for d in check_policy(path) if d.code not in quiet]


def test_check_never_treats_a_key_with_a_default_as_missing(tmp_path: Path) -> None:
    """Without the default the invariant breaks on a request that leaves `restrictions` out (the
    exception is unknown, so the rule does not grant); with it, it holds."""
    invariant = (
        "\ninvariant newsletters_flow §1\n"
        "  always allow staff to use email for newsletter\n"
        '  unless "no_contact" in restrictions or "email" not in channels\n'
        "  unless purpose not in allowed_purposes\n"
    )
    assert _check(tmp_path, HEAD + RULES + invariant) == []
    without = HEAD.replace(" default []", "") + RULES + invariant
    found = _check(tmp_path, without)
    assert ("invariant-broken", "invariant `newsletters_flow` is broken") in [
        (code, message.split(":")[0]) for code, message in found
    ]


def test_a_deny_on_a_key_with_a_default_is_no_missing_key_finding(tmp_path: Path) -> None:
    deny = (
        "\nrule no_contact §1\n  deny any party from using email for any purpose\n"
        '  when "no_contact" in restrictions\n'
    )
    assert _check(tmp_path, HEAD + RULES + deny) == []
    codes = [code for code, _ in _check(tmp_path, HEAD.replace(" default []", "") + RULES + deny)]
    assert "deny-on-missing-key" in codes


def test_the_matrix_reads_the_default() -> None:
    matrix = build_matrix(load_policy_text(HEAD + RULES), "p", prove=True)
    verdict = matrix.verdicts[("staff", "email", "newsletter")]
    assert verdict.status == "conditional"
    assert ("staff", "email", "support") in matrix.verdicts  # when support is allowed


def test_diff_of_a_changed_list_default() -> None:
    old = load_policy_text(HEAD + RULES)
    new = load_policy_text(HEAD.replace("default [marketing]", "default [newsletter]") + RULES)
    report = diff_policies(old, new)
    assert report.context_changes == [
        "context key `allowed_purposes`: default [marketing] → [newsletter]"
    ]
    narrowed = [g for g in report.groups if g.kind == "narrowed"]
    assert [g.purposes for g in narrowed] == [["marketing"]]
    context = narrowed[0].example["context"]
    assert isinstance(context, dict) and "allowed_purposes" not in context
    assert old.decide("staff", "email", "marketing", context).allowed
    assert not new.decide("staff", "email", "marketing", context).allowed
    assert not new.decide("staff", "email", "marketing").allowed
    assert new.decide("staff", "email", "newsletter").allowed


def test_the_formatter_keeps_list_defaults() -> None:
    formatted = format_source(HEAD + RULES)
    assert "default [marketing]" in formatted
    assert 'default ["email"]' in formatted
    assert "default []" in formatted
    assert format_source(formatted) == formatted
