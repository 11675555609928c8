"""Soundness of `check` and `diff` (docs/analysis.md) against a brute-force enumeration.

Random small policies that use every construct of the language (``soundness_model``) are checked
and diffed by the engine, and every verdict is compared with a walk over an explicit finite
universe of requests built from the policy text alone (never from the engine's own partition,
``policy_engine/analysis/space.py``):

1. an invariant is reported broken exactly when some request in its scope (``when`` true, no
   ``unless`` certainly true) breaks it, and a reported counterexample breaks it when decided;
2. a rule is reported as never applying exactly when it applies to no request (an allow applies
   when it is true, a deny also when it is unknown);
3. an allow reported as shadowed by a deny never grants;
4. removing a rule reported as redundant changes no decision's effect or obligations;
5. a deny-overrides-allow note is given exactly when some request has both rules applying (an
   allow reported as shadowed gets no notes: its warning says it already);
6. ``diff`` of a policy and a mutation of it (a rule, a constant, a default, an override, a term's
   attribute value, …) reports, for every cell, exactly the kinds of change the brute force finds
   there, each group's example changes as the group says, and a group described by the rules'
   tests holds exactly on the requests of its cells that change as it says;
7. ``obligation-attribute-unknown`` names exactly the obligations, and the terms, for which some
   allowed request leaves the obligation off because its condition is unknown for want of the
   term's value of an attribute (and never one the allow carries anyway).

Every example also compares each decision with the reference evaluator of ``test_properties``
(taught the per-policy schema): that is what says when a rule applies, so it must read every
construct as the engine does. An exception raised by ``check`` or ``diff`` is a disagreement too.

The regression cases at the end were soundness bugs: ``check`` proving an invariant (and calling
the rule unable to apply) that ``decide`` breaks, and ``diff`` missing the changes a new default
makes through a test that compares the key with another key.

A failing property prints its policy twice: greedily minimised (hypothesis' own shrinking is off:
each step would be a whole brute force) and as drawn, with the seed that regenerates it.
``benchmarks/soundness.py`` runs the same comparisons on many more random policies;
``tests/test_soundness_packages.py`` runs them on the same policies written in package folders.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st

from policy_engine import check_policy, load_policy_text
from policy_engine.analysis import diff as diff_module
from policy_engine.analysis.diff import diff_policies

from .soundness_model import (
    Choices,
    Disagreement,
    RandomChoices,
    Spec,
    compare_check,
    compare_diff,
    counterexample_request,
    decide,
    fitted,
    gen_spec,
    minimise,
    mutate,
    universe_cost,
    with_attribute_obligation,
)
from .test_properties import Request, lifted_ids

LIMIT = 2500
"""At most this many requests per example (the brute force decides every one)."""

MINIMISE_BUDGET = 150
"""Attempts at a smaller failing policy (each one a whole brute force)."""

# Hypothesis' shrinking is off: every step would run a whole brute force (minutes per failing
# test); `assert_agree` minimises the failing policy itself, greedily and within a budget.
SOUNDNESS_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


def generated(seed: int) -> Choices:
    return RandomChoices(random.Random(seed))


# The generators are driven by a seed hypothesis draws (and remembers when it fails), not by
# hypothesis' own choices: a seed gives every construct its fair chance, where hypothesis' choices
# keep returning to the simplest policies.
seeds = st.integers(0, 2**32 - 1)


@st.composite
def specs(
    draw: st.DrawFn, invariants: tuple[int, int] = (0, 2), derived: bool | None = None
) -> Spec:
    seed = draw(seeds)
    note(f"fitted(gen_spec(RandomChoices(Random({seed})), {invariants}, {derived}), {LIMIT})")
    spec = fitted(gen_spec(generated(seed), invariants, derived), LIMIT)
    assume(spec is not None)
    assert spec is not None
    return spec


@st.composite
def versions(draw: st.DrawFn, kind: str | None = None) -> tuple[Spec, Spec, str]:
    """A policy and a mutation of it (of ``kind``, see ``MUTATIONS``; None: any)."""
    seed = draw(seeds)
    note(f"c = RandomChoices(Random({seed})); fitted(gen_spec(c, (0, 0)), {LIMIT}); mutate(c, …)")
    c = generated(seed)
    old = fitted(gen_spec(c, invariants=(0, 0)), LIMIT)
    assume(old is not None)
    assert old is not None
    new, change = mutate(c, old, kind)
    assume(kind != "default" or change.startswith("key "))  # some key could take a default
    assume(universe_cost([old, new]) <= LIMIT)
    return old, new, change


Recheck = Callable[[tuple[Spec, ...]], list[Disagreement]]


def recheck_check(versions: tuple[Spec, ...]) -> list[Disagreement]:
    return compare_check(versions[0])[1]


def recheck_diff(versions: tuple[Spec, ...]) -> list[Disagreement]:
    return compare_diff(versions[0], versions[1])[1]


def recheck_described(versions: tuple[Spec, ...]) -> list[Disagreement]:
    return compare_diff(versions[0], versions[1], descriptions=True)[1]


def assert_agree(
    found: list[Disagreement],
    verdicts: tuple[str, ...],
    versions: tuple[Spec, ...],
    recheck: Recheck,
) -> None:
    """No disagreement of these verdicts; when there is one, the message shows it on the
    smallest policy (greedy minimisation: hypothesis' own shrinking is off, each example runs a
    whole brute force) and on the drawn one."""
    wrong = [d for d in found if d.verdict in verdicts]
    if not wrong:
        return
    small = minimise(
        versions, lambda v: any(d.verdict in verdicts for d in recheck(v)), MINIMISE_BUDGET
    )
    smallest = [d for d in recheck(small) if d.verdict in verdicts]
    raise AssertionError(
        f"{len(wrong)} disagreement(s); minimised:\n\n{smallest[0].render()}\n"
        f"as drawn:\n\n{wrong[0].render()}"
    )


# ---- the harness itself: the engine decides as the reference on the whole universe ---------------


@settings(SOUNDNESS_SETTINGS, max_examples=30)
@given(specs())
def test_engine_decides_every_request_of_the_universe_as_the_reference(spec: Spec) -> None:
    """Not a verdict of the analysis: it makes sure the reference evaluator (which says when a
    rule applies) reads every construct as the engine does."""
    _, found = compare_check(spec)
    assert_agree(found, ("decide", "crash"), (spec,), recheck_check)


# ---- check ---------------------------------------------------------------------------------------


@settings(SOUNDNESS_SETTINGS, max_examples=120)
@given(specs(invariants=(1, 3)))
def test_invariant_verdicts_match_brute_force(spec: Spec) -> None:
    _, found = compare_check(spec)
    assert_agree(found, ("invariant", "crash"), (spec,), recheck_check)


@settings(SOUNDNESS_SETTINGS, max_examples=120)
@given(specs())
def test_never_applies_matches_brute_force(spec: Spec) -> None:
    _, found = compare_check(spec)
    assert_agree(found, ("never-applies", "crash"), (spec,), recheck_check)


@SOUNDNESS_SETTINGS
@given(specs(derived=True))
def test_shadowed_and_redundant_rules_change_nothing(spec: Spec) -> None:
    _, found = compare_check(spec)
    assert_agree(found, ("shadowed-by-deny", "redundant-rule", "crash"), (spec,), recheck_check)


@SOUNDNESS_SETTINGS
@given(specs(derived=True))
def test_overlap_notes_match_brute_force(spec: Spec) -> None:
    _, found = compare_check(spec)
    assert_agree(found, ("deny-overrides-allow", "crash"), (spec,), recheck_check)


@settings(SOUNDNESS_SETTINGS, max_examples=20)
@given(specs())
def test_override_findings_match_brute_force(spec: Spec) -> None:
    """``override-never-lifts`` and ``override-changes-nothing`` exactly when the brute force
    finds no request where the override lifts a deny (that is then allowed)."""
    assume(any(lifted_ids(spec.rules, o) for o in spec.overrides))
    _, found = compare_check(spec)
    assert_agree(found, ("override", "decide", "crash"), (spec,), recheck_check)


@settings(SOUNDNESS_SETTINGS, max_examples=40)
@given(seeds)
def test_obligations_left_off_for_want_of_an_attribute_match_brute_force(seed: int) -> None:
    """``obligation-attribute-unknown`` names exactly the (rule or override, obligation,
    attribute, term) for which the brute force finds an allowed request that the rule grants
    without the obligation, its condition unknown through the attribute (docs/semantics.md,
    48); the decisions' ``undetermined_obligations`` are held to the reference's too."""
    c = generated(seed)
    note(f"c = RandomChoices(Random({seed})); gen_spec(c, (0, 0), attributes=True); …")
    drawn = with_attribute_obligation(c, gen_spec(c, (0, 0), attributes=True))
    spec = fitted(drawn, LIMIT)
    assume(spec is not None and spec.vocab.attributes)
    assert spec is not None
    _, found = compare_check(spec)
    assert_agree(found, ("left-off", "decide", "crash"), (spec,), recheck_check)


# ---- diff ----------------------------------------------------------------------------------------


@settings(SOUNDNESS_SETTINGS, max_examples=120)
@given(versions())
def test_diff_matches_brute_force(case: tuple[Spec, Spec, str]) -> None:
    """Every group, and each group's description read back as a condition (on the requests of
    its cells it holds exactly where they change as the group says)."""
    old, new, _change = case
    _, found = compare_diff(old, new, descriptions=True)
    assert_agree(found, ("diff", "crash"), (old, new), recheck_described)


@settings(SOUNDNESS_SETTINGS, max_examples=60)
@given(seeds)
def test_diff_of_changed_attribute_values_matches_brute_force(seed: int) -> None:
    """Two versions that give a term another value of an attribute (or none): the cells whose
    rules read it change, the others are proven unchanged, and each change is described with
    each version's test written with its own value (one text never stands for both)."""
    c = generated(seed)
    note(f"c = RandomChoices(Random({seed})); gen_spec(c, (0, 0), attributes=True); mutate(…)")
    old = fitted(gen_spec(c, (0, 0), attributes=True), LIMIT)
    assume(old is not None and old.vocab.attributes)
    assert old is not None
    new, change = mutate(c, old, "attribute")
    assume(universe_cost([old, new]) <= LIMIT)
    _, found = compare_diff(old, new, change, descriptions=True)
    assert_agree(found, ("diff", "crash"), (old, new), recheck_described)


@SOUNDNESS_SETTINGS
@given(versions("default"))
def test_diff_of_a_changed_default_matches_brute_force(case: tuple[Spec, Spec, str]) -> None:
    """A request that leaves a key out reads each version's default: the two versions must be
    compared on the defaults of both (and, when they differ, on the key missing)."""
    old, new, _change = case
    _, found = compare_diff(old, new)
    assert_agree(found, ("diff", "crash"), (old, new), recheck_diff)


@settings(SOUNDNESS_SETTINGS, max_examples=20)
@given(versions("override"))
def test_diff_of_a_changed_override_matches_brute_force(case: tuple[Spec, Spec, str]) -> None:
    """An override added, removed or changed changes what the rules it lifts decide (and the
    obligations of the allows where it lifts them), though no rule's text changes."""
    old, new, _change = case
    _, found = compare_diff(old, new)
    assert_agree(found, ("diff", "crash"), (old, new), recheck_diff)


@settings(SOUNDNESS_SETTINGS, max_examples=120)
@given(versions())
def test_diff_leaf_by_leaf_matches_brute_force(case: tuple[Spec, Spec, str]) -> None:
    """Every changed cell compared leaf by leaf (as cells too large for their classes are)."""
    old, new, _change = case
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(diff_module, "LEAF_MODE_MIN_CLASSES", 0)
        _, found = compare_diff(old, new)
    assert_agree(found, ("diff", "crash"), (old, new), recheck_diff)


# ---- the harness finds what it must --------------------------------------------------------------


def planted() -> Spec:
    """One rule that allows when `ki0 > 2`, and an invariant that says it never allows."""
    from .soundness_model import InvariantSpec, Key
    from .test_properties import RuleSpec, Vocab

    vocab = Vocab({"party": {"pa0": ()}, "data": {"da0": ()}, "purpose": {"pu0": ()}}, ("ob0",))
    condition = ("cmp", ">", ("key", "ki0"), ("lit", 2))
    rule = RuleSpec("r0", "allow", (None, None, None), condition, (), (), "§1", None)
    scope = (None, ())
    never = InvariantSpec("inv0", "never", (scope, scope, scope), None, ())
    return Spec(vocab, (Key("ki0", "int"),), (rule,), (never,))


def test_the_brute_force_agrees_with_the_engine_on_a_planted_broken_invariant() -> None:
    spec = planted()
    requests, found = compare_check(spec)
    assert found == []
    assert requests == 7  # `ki0` missing or 0..4 (the constant 2 ± (one key + 1)); the witness
    _, diff_found = compare_diff(spec, Spec(spec.vocab, spec.keys, ()))
    assert diff_found == []


def test_the_harness_reports_verdicts_the_engine_would_get_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the engine's answers tampered with (the broken invariant and the rule's widening
    hidden), the harness reports exactly those verdicts, with a request that shows them."""
    import policy_engine.analysis.diff as diff_module

    from . import soundness_model

    real_check, real_diff = soundness_model.check_text, diff_module.diff_policies

    def blind_check(text: str) -> tuple[list[Any], str]:
        diagnostics, path = real_check(text)
        return [d for d in diagnostics if d.code != "invariant-broken"], path

    def blind_diff(old: Any, new: Any) -> Any:
        return real_diff(old, new).model_copy(update={"groups": []})

    monkeypatch.setattr(soundness_model, "check_text", blind_check)
    monkeypatch.setattr(diff_module, "diff_policies", blind_diff)
    spec = planted()
    _, found = compare_check(spec)
    assert {d.verdict for d in found} == {"invariant"}
    [witness] = [d.request for d in found if d.request is not None]
    assert witness is not None and witness.context["ki0"] > 2
    _, diff_found = compare_diff(Spec(spec.vocab, spec.keys, ()), spec)
    assert {d.verdict for d in diff_found} == {"diff"}
    assert any("widened here" in d.message for d in diff_found)


# ---- regressions: check proved an invariant that decide breaks -----------------------------------

HEAD = "party staff\ndata email\npurpose support\n"

REGRESSIONS: dict[str, tuple[str, str, dict[str, object]]] = {
    # (declarations, condition, a request the rule allows)
    "one_string_key_in_two_lists": (
        "context channel: string\n"
        "context consented_channels: list of string\n"
        'context enabled_channels: list of "c0", "c1", "c2"\n',
        "channel in consented_channels and channel in enabled_channels",
        {"channel": "c1", "consented_channels": ["c1"], "enabled_channels": ["c1"]},
    ),
    "three_integer_keys_in_a_chain": (
        "context a: integer\ncontext b: integer\ncontext c: integer\n",
        "a < b and b < c",
        {"a": 1, "b": 2, "c": 3},
    ),
    "consent_window": (
        "context consent_given_at: integer\n"
        "context request_at: integer\n"
        "context consent_expires_at: integer\n",
        "consent_given_at < request_at and request_at < consent_expires_at",
        {"consent_given_at": 1, "request_at": 2, "consent_expires_at": 3},
    ),
    "two_string_keys_in_one_list": (
        "context requester_country: string\n"
        "context subject_country: string\n"
        "context allowed_countries: list of string\n",
        "requester_country in allowed_countries and subject_country in allowed_countries "
        "and requester_country != subject_country",
        {"requester_country": "FR", "subject_country": "DE", "allowed_countries": ["FR", "DE"]},
    ),
}

RULE = "rule contact §4.2\n  allow staff to use email for support\n  when {condition}\n"
INVARIANT = "invariant never_contact §4.2\n  never staff use email for support\n"


def regression_texts(name: str) -> tuple[str, str, Request]:
    """(the policy without the rule, with it, a request the rule allows)."""
    declarations, condition, context = REGRESSIONS[name]
    without = HEAD + declarations + "\n" + INVARIANT
    with_rule = HEAD + declarations + "\n" + RULE.format(condition=condition) + "\n" + INVARIANT
    return without, with_rule, Request("staff", "email", "support", context)


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regression_check_reports_the_invariant_broken(tmp_path: Path, name: str) -> None:
    _, text, request = regression_texts(name)
    policy = load_policy_text(text)
    assert decide(policy, request).allowed  # the premise: the rule grants this request
    path = tmp_path / "p.policy"
    path.write_text(text, encoding="utf-8")
    found = check_policy(path)
    never = [d.message for d in found if d.code == "never-applies"]
    broken = [d for d in found if d.code == "invariant-broken"]
    assert broken, f"check proves `never_contact`, yet {request.context} is allowed" + (
        f"; it also says: {never}" if never else ""
    )
    assert never == []
    counterexample = counterexample_request(broken[0].help)
    assert decide(policy, counterexample).allowed


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regression_diff_reports_the_rule_widening(name: str) -> None:
    without, text, request = regression_texts(name)
    old, new = load_policy_text(without), load_policy_text(text)
    assert not decide(old, request).allowed and decide(new, request).allowed  # the premise
    report = diff_policies(old, new)
    widened = [g for g in report.groups if g.kind == "widened"]
    assert widened, f"diff reports no widening, yet {request.context} goes from deny to allow"
    for group in widened:
        example = group.example
        context = example["context"]
        assert isinstance(context, dict)
        cell = (str(example["party"]), str(example["data"]), str(example["purpose"]))
        changed = Request(*cell, context)
        assert not decide(old, changed).allowed
        assert decide(new, changed).allowed


# ---- regressions: diff missed what a new default changes through another key ---------------------

DEFAULTS: dict[str, tuple[str, str, str, dict[str, object], str]] = {
    # (declarations, the declaration changed, what it becomes, a request that changes, the kind)
    "integer_key_compared_with_a_key_given_a_default": (
        "context ki0: integer\ncontext ki1: integer\n",
        "context ki0: integer\n",
        "context ki0: integer default 0\n",
        {"ki1": -1},
        "widened",
    ),
    "string_key_in_a_list_key_with_another_default": (
        'context ks0: string default "zz"\ncontext km0: list of string\n',
        'context ks0: string default "zz"\n',
        'context ks0: string default "c0"\n',
        {"km0": ["c0"]},
        "narrowed",
    ),
}

DEFAULT_RULES = {
    "integer_key_compared_with_a_key_given_a_default": "when ki1 < ki0",
    "string_key_in_a_list_key_with_another_default": "unless ks0 in km0",
}


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_regression_diff_reports_what_a_changed_default_changes(name: str) -> None:
    declarations, before, after, context, kind = DEFAULTS[name]
    rule = f"rule r §1\n  allow staff to use email for support\n  {DEFAULT_RULES[name]}\n"
    old_text = HEAD + declarations + "\n" + rule
    new_text = old_text.replace(before, after)
    old, new = load_policy_text(old_text), load_policy_text(new_text)
    request = Request("staff", "email", "support", context)
    effects = (decide(old, request).effect, decide(new, request).effect)
    assert effects == (("deny", "allow") if kind == "widened" else ("allow", "deny"))  # premise
    report = diff_policies(old, new)
    groups = [g for g in report.groups if g.kind == kind]
    assert groups, f"diff reports no {kind} group, yet {context} goes {effects[0]} → {effects[1]}"
    for group in groups:
        example = group.example
        example_context = example["context"]
        assert isinstance(example_context, dict)
        changed = Request(
            str(example["party"]), str(example["data"]), str(example["purpose"]), example_context
        )
        assert (decide(old, changed).effect, decide(new, changed).effect) == effects
