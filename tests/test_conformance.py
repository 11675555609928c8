"""`conforms` (docs/analysis.md): the requests a policy allows that a package it uses does not,
and the package's obligations its decision lacks, exactly, against a brute force over random
policies of every construct (``conformance_model``)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from policy_engine import load_policy, load_policy_text
from policy_engine.analysis import diff as diff_module
from policy_engine.analysis.conformance import conformance
from policy_engine.analysis.conformance_target import conforms

from . import conformance_model as conformance_module
from .conformance_model import Split, compare_conformance, gen_case
from .soundness_model import Key, RandomChoices, Spec, spec_text
from .test_properties import KINDS, RuleSpec, Vocab
from .test_soundness import LIMIT, SOUNDNESS_SETTINGS


@st.composite
def cases(draw: st.DrawFn) -> tuple[Spec, Split]:
    seed = draw(st.integers(0, 2**32 - 1))
    note(f"gen_case(RandomChoices(Random({seed})), {LIMIT})")
    case = gen_case(RandomChoices(random.Random(seed)), LIMIT)
    assume(case is not None)
    assert case is not None
    return case


def assert_agree(spec: Spec, split: Split) -> None:
    _, found = compare_conformance(spec, split)
    if found:
        raise AssertionError(f"{len(found)} disagreement(s):\n\n{found[0].render()}")


@settings(SOUNDNESS_SETTINGS, max_examples=150)
@given(cases())
def test_conforms_matches_brute_force(case: tuple[Spec, Split]) -> None:
    assert_agree(*case)


@settings(SOUNDNESS_SETTINGS, max_examples=100)
@given(cases())
def test_conforms_leaf_by_leaf_matches_brute_force(case: tuple[Spec, Split]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(diff_module, "LEAF_MODE_MIN_CLASSES", 0)
        assert_agree(*case)


def planted() -> tuple[Spec, Split]:
    """The policy allows `pa0` everything with `ob0`; the package allows it only when `kb0`
    (held absent), with `ob0` and `ob1`."""
    vocab = Vocab(
        {"party": {"pa0": ()}, "data": {"da0": ()}, "purpose": {"pu0": ()}}, ("ob0", "ob1")
    )
    own = RuleSpec("r0", "allow", (None, None, None), None, (), ((("ob0",), None),), "§1", None)
    law = RuleSpec(
        "p0",
        "allow",
        (None, None, None),
        ("truth", ("key", "kb0")),
        (),
        ((("ob0", "ob1"), None),),
        "§1",
        None,
    )
    spec = Spec(vocab, (Key("kb0", "bool"),), (own, law))
    return spec, Split(frozenset({"p0"}), frozenset({"kb0"}), {k: vocab.terms(k) for k in KINDS})


def test_the_harness_sees_a_finding_the_engine_would_miss(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that ignored ``absent`` would find that the package allows `kb0` requests
    without `ob1`; the brute force knows no request of the policy sends `kb0`, and says so."""
    spec, split = planted()
    requests, found = compare_conformance(spec, split)
    assert found == [] and requests == 2  # one request (no key sent) and one example
    report = conformance(load_policy_text(spec_text(spec)).compiled, split.package, split.absent)
    assert [(g.kind, g.example["context"]) for g in report.groups] == [("not-allowed", {})]
    monkeypatch.setattr(conformance_module, "conformance", _ignoring_absent(conformance))
    _, found = compare_conformance(spec, split)
    messages = [d.message.split(" [")[0] for d in found]
    assert messages == [
        "cell ('pa0', 'da0', 'pu0'): conforms reports obligations, but no request of it is "
        "obligations",
        "the example of a group sends a key no request sends",
    ]


def _ignoring_absent(real: Any) -> Any:
    def wrong(*args: Any, **kwargs: Any) -> Any:
        return real(args[0], args[1], (), **kwargs)

    return wrong


def test_an_absent_key_the_policy_does_not_declare_is_an_error() -> None:
    spec, split = planted()
    compiled = load_policy_text(spec_text(spec)).compiled
    with pytest.raises(ValueError, match="not context keys of the policy: nope"):
        conformance(compiled, split.package, iter(["kb0", "nope"]))


# ---- regressions found by the package layouts (tests/test_soundness_packages.py) -----------------

LAW = """\
party staff
data health
purpose care
context emergency: boolean
context x: integer
rule care §1
  allow staff to use health for care
rule no_health §2
  deny any party from using health for any purpose
  when x > 1
"""

ORG = """\
use law from "../law"
party nurse under law.staff
data records under law.health
purpose treat under law.care
context duty: boolean
rule nurses §1
  allow nurse to use records for treat
override lift §1
  lifts law.no_health
  when {condition}
"""


def _org_conforms(tmp_path: Path, condition: str) -> Any:
    (tmp_path / "law").mkdir()
    (tmp_path / "law" / "rules.policy").write_text(LAW, encoding="utf-8")
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "rules.policy").write_text(ORG.format(condition=condition), "utf-8")
    return conforms(load_policy(tmp_path / "org"), "law", "org")


def test_the_policys_override_of_a_package_deny_lifts_nothing_on_the_packages_side(
    tmp_path: Path,
) -> None:
    """The law denies health data while `x` (a fact the org does not have) may exceed 1; the
    org lifts that deny when `duty`. The law alone lifts nothing: every request the org allows
    is a finding, `duty` or not (the org's override was applied on the law's side)."""
    report = _org_conforms(tmp_path, "duty")
    assert report.absent_keys == ["law.emergency", "law.x"]
    [group] = report.groups
    assert (group.kind, group.package_rules) == ("not-allowed", ["law.no_health"])
    assert report.requests_found == report.requests_compared
    # Counted among the package's statements, the override lifts the law's deny when `duty`.
    compiled = load_policy(tmp_path / "org").compiled
    sides = conformance(compiled, {"law.care", "law.no_health", "lift"}, report.absent_keys)
    assert 0 < sides.requests_found < sides.requests_compared


def test_a_package_key_the_policys_override_mentions_is_a_fact_of_its_requests(
    tmp_path: Path,
) -> None:
    """`law.emergency` is read by no rule of the org's, but its override mentions it: the org's
    requests carry it (it was held absent, as if the org had no such fact)."""
    report = _org_conforms(tmp_path, "duty and law.emergency")
    assert report.absent_keys == ["law.x"]
