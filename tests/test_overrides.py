"""Overrides (docs/language.md#overrides, docs/semantics.md 37–40): the syntax and its formatting,
the checker's errors (located, with did-you-mean), lifting by citation with a source document,
the findings of ``check``, explanations, the matrix, the compiled image, ``diff`` of a change to
an override alone, and an override held equivalent to the hand-written ``unless`` it replaces on
random policies of every construct (the brute force of ``tests/soundness_model.py`` holds the
override's own semantics: ``test_soundness``, ``test_properties``, ``test_matrix``)."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from policy_engine import PolicyError, check_policy, load_policy_text
from policy_engine.analysis.diff import diff_policies
from policy_engine.language.formatter import format_source
from policy_engine.language.parser import parse_source
from policy_engine.language.source import Source
from policy_engine.traceability.matrix import build_matrix
from policy_engine.traceability.matrix_render import render_csv, render_text

from .soundness_model import (
    RandomChoices,
    SoundUniverse,
    Spec,
    cell_keys,
    cells_of,
    decide,
    fitted,
    gen_spec,
    outcome,
    spec_text,
)
from .test_properties import Request, lifted_ids

ROOT = Path(__file__).resolve().parent.parent

HEAD = """\
party staff
party clerk under staff
data record
data notes under record
purpose care, marketing
obligation record_communication, ask_not_to_redisclose
context emergency: boolean
context restricted: boolean
"""

RULES = """\
rule care_by_staff §1
  allow staff to use record for any purpose

rule agreed_restriction §2.1
  deny any party from using record for care
  when restricted

rule marketing_refusal §2(3)
  deny any party from using record for marketing
"""

EMERGENCY = """\
override emergency_lifts_restriction §9 "an emergency lifts an agreed restriction"
  lifts agreed_restriction, marketing_refusal
  when emergency
  with obligations record_communication, ask_not_to_redisclose
"""


def load(*parts: str) -> object:
    return load_policy_text(HEAD + "\n".join(parts))


def errors_of(text: str) -> list[tuple[str, int, int, str, str | None]]:
    with pytest.raises(PolicyError) as raised:
        load_policy_text(text)
    return [
        (d.code, d.span.line, d.span.column, d.message, d.help)
        for d in raised.value.errors
        if d.span is not None
    ]


# ---- syntax ------------------------------------------------------------------------------------


def test_an_override_reads_and_formats_canonically() -> None:
    written = (
        'override o1 §9   "why"  lifts   a ,b\n'
        "  when emergency   with obligation x when restricted\n"
        "override o2\n  lifts denies citing §2,  s.12 para 2   when emergency\n"
    )
    formatted = format_source(written)
    assert formatted == (
        'override o1 §9\n  "why"\n  lifts a, b\n  when emergency\n'
        "  with obligation x when restricted\n\n"
        "override o2\n  lifts denies citing §2, s.12 para 2\n  when emergency\n"
    )
    assert format_source(formatted) == formatted
    parsed = parse_source(Source("a.policy", written))
    assert parse_source(Source("a.policy", formatted)) == parsed
    first, second = parsed.items
    assert [n.value for n in first.lifts] == ["a", "b"]  # type: ignore[union-attr]
    assert [c.text for c in second.citing] == ["§2", "s.12 para 2"]  # type: ignore[union-attr]


def test_an_override_needs_what_it_lifts_and_a_condition() -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy_text(HEAD + RULES + "override o §9\n  when emergency\n")
    assert "`lifts`" in raised.value.errors[0].message
    with pytest.raises(PolicyError) as raised:
        load_policy_text(HEAD + RULES + "override o §9\n  lifts agreed_restriction\n")
    assert "`when`" in raised.value.errors[0].message


def test_the_language_reference_example_loads() -> None:
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    section = text[text.index("## Overrides") :]
    example = re.findall(r"```text\n(override emergency.*?)```", section, re.S)[0]
    vocabulary = (
        "party p\ndata d\npurpose u\n"
        "obligation record_communication, ask_not_to_redisclose\n"
        "context emergency: boolean\ncontext legal_obligation: boolean\n"
        "rule agreed_restriction s.12 para 1\n  deny p from using d for u\n"
        "rule marketing_refusal s.12 para 2\n  deny p from using d for u\n"
    )
    policy = load_policy_text(vocabulary + example)
    lifted = {o.id: o.lifts for o in policy.compiled.overrides}
    assert lifted == {
        "emergency_lifts_restriction": ("agreed_restriction", "marketing_refusal"),
        "legal_duty": ("marketing_refusal",),
    }


# ---- the checker -----------------------------------------------------------------------------


def test_what_an_override_cannot_lift_is_an_error_where_it_is_written() -> None:
    text = (
        HEAD
        + RULES
        + (
            "override o1 §9\n  lifts agreed_restrictoin, care_by_staff, o2\n  when emergency\n"
            "override o2 §9\n  lifts denies citing §1, §7\n  when emergency\n"
            "  with obligation unknown_duty\n"
        )
    )
    found = errors_of(text)
    assert [(code, line, column) for code, line, column, *_ in found] == [
        ("unknown-rule", 19, 9),
        ("override-lifts-allow", 19, 29),
        ("override-lifts-override", 19, 44),
        ("override-lifts-nothing", 22, 23),
        ("override-lifts-nothing", 22, 27),
        ("unknown-term", 24, 19),
    ]
    assert found[0][3:] == (
        "no rule `agreed_restrictoin` to lift",
        "did you mean `agreed_restriction`?",
    )
    assert found[1][3] == "`care_by_staff` is an allow rule; an override lifts deny rules only"
    assert (
        found[3][4]
        == "only allow rules cite it (`care_by_staff`); an override lifts deny rules only"
    )
    assert found[4][3] == (
        "no deny rule cites `§7` or a section within it, so the override lifts nothing there"
    )


def test_overrides_and_rules_share_their_ids() -> None:
    found = errors_of(
        HEAD + RULES + "override care_by_staff §9\n  lifts agreed_restriction\n  when emergency\n"
    )
    assert [(code, message) for code, _, _, message, _ in found] == [
        ("duplicate-rule", "override id `care_by_staff` is used twice")
    ]


def test_an_override_without_a_citation_is_warned_about(tmp_path: Path) -> None:
    (tmp_path / "p.policy").write_text(
        HEAD + RULES + "override o\n  lifts agreed_restriction\n  when emergency\n", "utf-8"
    )
    found = [(d.code, d.message) for d in check_policy(tmp_path, analyze=False)]
    assert ("missing-citation", "override `o` has no citation") in found


def test_lifting_by_citation_follows_the_source_document() -> None:
    """With a document, `s.18` does not cover `s.18.1` (a section of its own), a paragraph names
    that paragraph only, and an override's citations must resolve like a rule's."""
    document = (
        "18. Communication without consent is allowed:\n(1) to an attorney;\n(2) to a prosecutor.\n"
        "A second paragraph of section 18.\n"
        "18.1. A section of its own.\n"
    )
    rules = (
        'source law "law.txt"\n'
        "party p\ndata d\npurpose u, v, w, x\ncontext e: boolean\n"
        "rule ok s.18\n  allow p to use d for any purpose\n"
        "rule d1 s.18(2)\n  deny p from using d for u\n"
        "rule d2 s.18.1\n  deny p from using d for v\n"
        "rule d3 s.18 para 2\n  deny p from using d for w\n"
        "rule d4 s.18 para 1\n  deny p from using d for x\n"
        "override whole s.18\n  lifts denies citing s.18\n  when e\n"
        "override para s.18\n  lifts denies citing s.18 para 2\n  when e\n"
    )
    policy = load_policy_text({"rules.policy": rules, "law.txt": document})
    lifted = {o.id: o.lifts for o in policy.compiled.overrides}
    assert lifted == {"whole": ("d1", "d3", "d4"), "para": ("d3",)}
    with pytest.raises(PolicyError) as raised:
        load_policy_text(
            {
                "rules.policy": rules.replace("citing s.18 para 2", "citing s.19"),
                "law.txt": document,
            }
        )
    assert [d.code for d in raised.value.errors] == ["unknown-citation", "override-lifts-nothing"]


# ---- what check finds --------------------------------------------------------------------------


def test_check_names_overrides_that_lift_nothing_or_change_nothing(tmp_path: Path) -> None:
    (tmp_path / "p.policy").write_text(
        HEAD
        + RULES
        + "rule no_notes §3\n  deny clerk from using notes for care\n"
        + "rule never_notes §4\n  deny clerk from using notes for care\n"
        + "override never_there §9\n  lifts agreed_restriction\n  when not restricted\n"
        + "override still_denied §9\n  lifts no_notes\n  when emergency\n"
        + EMERGENCY,
        "utf-8",
    )
    found = {d.code: d for d in check_policy(tmp_path) if d.code.startswith("override-")}
    assert sorted(found) == ["override-changes-nothing", "override-never-lifts"]
    never = found["override-never-lifts"]
    assert never.span is not None and (never.span.line, never.span.column) == (22, 10)
    assert never.message.startswith("override `never_there` never lifts anything")
    nothing = found["override-changes-nothing"]
    assert nothing.message.startswith("override `still_denied` changes no decision")


# ---- explanations and the matrix -------------------------------------------------------------


def test_an_explanation_says_which_override_lifted_which_deny() -> None:
    policy = load(RULES, EMERGENCY)
    d = policy.decide("clerk", "notes", "care", {"emergency": True, "restricted": True})  # type: ignore[attr-defined]
    assert (d.effect, d.obligations) == ("allow", ["ask_not_to_redisclose", "record_communication"])
    text = d.explain()
    assert text.startswith(
        "ALLOW: `clerk` may use `notes` for `care`, because `care_by_staff` (§1) applies and no "
        "deny rule applies; deny `agreed_restriction` would apply; lifted by override "
        "`emergency_lifts_restriction` (§9) because emergency."
    )
    assert "lifts `agreed_restriction`, which would otherwise apply" in text
    assert "with obligation record_communication, ask_not_to_redisclose  → attached" in text
    # The allow rule's own account leaves the override's obligations to the override.
    assert "applies: grants the request\n" in text + "\n"


def test_the_matrix_names_the_overrides_a_cell_owes_its_allow_to() -> None:
    policy = load(RULES, EMERGENCY)
    matrix = build_matrix(policy, "p", prove=True)  # type: ignore[arg-type]
    verdict = matrix.verdicts[("clerk", "notes", "care")]
    assert [o.id for o in verdict.overrides] == ["emergency_lifts_restriction"]
    [*obligations] = verdict.obligations
    assert [(o.name, [x.id for x in o.overrides], o.rules) for o in obligations] == [
        ("ask_not_to_redisclose", ["emergency_lifts_restriction"], ()),
        ("record_communication", ["emergency_lifts_restriction"], ()),
    ]
    text = render_text(matrix)
    assert (
        "      obligations: ask_not_to_redisclose when `emergency` and (`restricted is missing` or "
        "`restricted`) (override emergency_lifts_restriction)"
    ) in text
    assert "rules: care_by_staff (§1), agreed_restriction (§2.1), override emergency_lifts_" in text
    assert (
        "clerk,notes,marketing,conditional,`emergency`,ask_not_to_redisclose when `emergency` "
        "(override emergency_lifts_restriction); record_communication when `emergency` (override "
        "emergency_lifts_restriction),care_by_staff; marketing_refusal; override "
        "emergency_lifts_restriction,§1; §2(3); §9"
    ) in render_csv(matrix)


# ---- the compiled image, diff ------------------------------------------------------------------


def test_a_policy_restored_from_the_compiled_cache_keeps_its_overrides() -> None:
    text = HEAD + RULES + EMERGENCY
    fresh, restored = load_policy_text(text), load_policy_text(text)
    assert all(rule._source is None for rule in restored.compiled.rules)  # really restored
    assert restored.compiled.overrides == fresh.compiled.overrides
    request = ("clerk", "notes", "care", {"emergency": True})
    assert restored.decide(*request).explain() == fresh.decide(*request).explain()


def test_diff_sees_a_change_to_an_override_alone() -> None:
    """The rules' text is the same in both versions; what the override lifts is not."""
    old = load_policy_text(HEAD + RULES + EMERGENCY)
    new = load_policy_text(HEAD + RULES + EMERGENCY.replace("when emergency", "when restricted"))
    report = diff_policies(old, new)
    assert {g.kind for g in report.groups} == {"widened", "narrowed"}
    fewer = load_policy_text(HEAD + RULES + EMERGENCY.replace(", ask_not_to_redisclose", ""))
    changes = {
        (g.kind, g.purposes[0], tuple(g.old_obligations), tuple(g.new_obligations))
        for g in diff_policies(old, fewer).groups
    }
    before, after = ("ask_not_to_redisclose", "record_communication"), ("record_communication",)
    assert changes == {
        ("obligations", "care", before, after),
        ("obligations", "marketing", before, after),
    }


# ---- an override is the hand-written `unless` it replaces --------------------------------------


def written_as_unless(spec: Spec) -> Spec:
    """The policy with each override's condition as one more `unless` of each deny it lifts, and
    no override."""
    rules = []
    for rule in spec.rules:
        lifting = [o for o in spec.overrides if rule.id in lifted_ids(spec.rules, o)]
        rules.append(replace(rule, exceptions=(*rule.exceptions, *(o.condition for o in lifting))))
    return replace(spec, rules=tuple(rules), overrides=())


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32 - 1))
def test_an_override_decides_as_the_unless_it_stands_for(seed: int) -> None:
    """On random policies of every construct: every request of the universe gets the same
    effect, reasons and missing keys with the override as with the `unless`; without obligations
    on the overrides, the same obligations too, and diff finds no change."""
    fit = fitted(gen_spec(RandomChoices(random.Random(seed)), (0, 0)), 2500)
    assume(fit is not None and any(lifted_ids(fit.rules, o) for o in fit.overrides))
    assert fit is not None
    plain = replace(fit, overrides=tuple(replace(o, obligations=()) for o in fit.overrides))
    a = load_policy_text(spec_text(fit))
    b = load_policy_text(spec_text(written_as_unless(fit)))
    c = load_policy_text(spec_text(plain))
    universe = SoundUniverse([fit])
    for cell in cells_of(fit.vocab):
        for context in universe.contexts(cell_keys([fit], cell)):
            request = Request(*cell, context)
            with_override, with_unless = decide(a, request), decide(b, request)
            assert with_override.effect == with_unless.effect, request
            assert [r.id for r in with_override.reasons] == [r.id for r in with_unless.reasons]
            if set(with_override.missing) != set(with_unless.missing):
                # Only an unknown override whose obligations may be owed adds keys (33).
                assert with_override.allowed and set(with_unless.missing) < set(
                    with_override.missing
                ), request
            assert outcome(decide(c, request)) == outcome(with_unless), request
    report = diff_policies(b, c)
    assert report.groups == [] and report.requests_changed == 0, report


def test_a_deny_on_time_that_would_fail_closed_is_lifted_with_the_obligations() -> None:
    """Whether a deny would apply reads every key its tests read, `now` and a moved date's base
    included: with the time unstated the deny would fail closed, so the override lifted it."""
    policy = load_policy_text(
        "party p\ndata d\npurpose u\nobligation ob\n"
        "context decided_at: instant is now\ncontext consent_given_at: instant\n"
        "context e: boolean\n"
        "rule a §1\n  allow p to use d for any purpose\n"
        "rule expired §1\n  deny p from using d for u\n  when consent_given_at + 13 months < now\n"
        "override o §2\n  lifts expired\n  when e\n  with obligation ob\n"
    )
    given = {"e": True, "consent_given_at": "2025-06-01T00:00:00Z"}
    in_time = {**given, "decided_at": "2026-01-01T00:00:00Z"}
    expired = {**given, "decided_at": "2027-01-01T00:00:00Z"}
    assert [policy.decide("p", "d", "u", c).obligations for c in (given, in_time, expired)] == [
        ["ob"],
        [],
        ["ob"],
    ]
