"""Typed attributes of vocabulary terms: `attribute location of party: one of "CA-QC", "CA", "US"`,
a term's own value (`party us_processor under processors with location = "US"`), inherited down
the hierarchy, read in conditions as `party.location`; a term without a value leaves it unknown,
and a rule reading it fails closed.

Random policies of the soundness harness have attributes too (``test_properties.ATTRIBUTES``:
`party.level`, `data.zone`, `purpose.open`); the tests at the end draw only such policies.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from policy_engine import PolicyError, PolicyValidationError, check_policy, load_policy_text
from policy_engine.analysis.diff import diff_policies
from policy_engine.language.formatter import format_source
from policy_engine.traceability.matrix import build_matrix

from .soundness_model import (
    Key,
    RandomChoices,
    Spec,
    compare_check,
    compare_diff,
    compare_planted,
    fitted,
    flag,
    gen_spec,
    mutate,
    pick,
    spec_text,
)
from .test_properties import ATTRIBUTES, DateValue, Vocab
from .test_soundness import SOUNDNESS_SETTINGS

POLICY = """\
attribute location of party: one of "CA-QC", "CA", "US" "where the recipient processes the data"
attribute retention_years of data: integer default 5

party processors "processors of personal information"
party us_processor under processors "a processor in the US" with location = "US"
party us_subcontractor under us_processor
party qc_processor under processors with location = "CA-QC"
party new_processor under processors "not yet assessed"

data personal_information
data health_records under personal_information with retention_years = 10

purpose service_delivery

context years_kept: integer

rule outside_quebec_needs_assessment §17
  deny processors from using personal_information for service_delivery
  when party.location != "CA-QC"

rule processors_deliver §18
  allow processors to use personal_information for service_delivery
  when years_kept <= data.retention_years
"""


def decide(party: str, data: str = "health_records", **context: object) -> tuple[str, list[str]]:
    d = load_policy_text(POLICY).decide(party, data, "service_delivery", context)
    return d.effect, [r.id for r in d.reasons]


def test_a_term_has_its_own_value_or_its_parents() -> None:
    assert decide("qc_processor", years_kept=10) == ("allow", ["processors_deliver"])
    assert decide("us_processor", years_kept=1) == ("deny", ["outside_quebec_needs_assessment"])
    # inherited from us_processor
    assert decide("us_subcontractor", years_kept=1)[0] == "deny"
    # health records keep 10 years, other personal information the default 5
    assert decide("qc_processor", years_kept=11)[0] == "deny"
    assert decide("qc_processor", "personal_information", years_kept=6)[0] == "deny"
    assert decide("qc_processor", "personal_information", years_kept=5)[0] == "allow"


def test_an_unknown_attribute_fails_closed_and_is_no_missing_key() -> None:
    policy = load_policy_text(POLICY)
    d = policy.decide("new_processor", "health_records", "service_delivery", {"years_kept": 1})
    assert (d.effect, [r.id for r in d.reasons], d.missing) == (
        "deny",
        ["outside_quebec_needs_assessment"],
        [],
    )
    text = d.explain()
    assert "(fail closed: `party.location` is unknown)" in text
    assert "`party.location` is unknown: `new_processor` has no `location`" in text


def test_the_explanation_says_where_a_value_comes_from() -> None:
    policy = load_policy_text(POLICY)
    text = policy.decide(
        "us_subcontractor", "personal_information", "service_delivery", {"years_kept": 2}
    ).explain()
    assert '`party.location` is "US" (from `us_processor`)' in text
    assert "`data.retention_years` is 5 (the default)" in text
    trace = policy.decide("qc_processor", "health_records", "service_delivery", {"years_kept": 1})
    assert "`data.retention_years` is 10 (from `health_records`)" in trace.explain()


def test_the_fast_path_and_the_evaluator_agree_on_every_term() -> None:
    policy = load_policy_text(POLICY)
    for party in policy.terms("party"):
        for data in policy.terms("data"):
            for kept in (None, 1, 5, 6, 10, 11):
                context = {} if kept is None else {"years_kept": kept}
                d = policy.decide(party, data, "service_delivery", context)
                trace = d.trace()
                applying = sorted(
                    t.id
                    for t in trace.considered
                    if (t.value == "true") or (t.effect == "deny" and t.value == "unknown")
                )
                assert [r.id for r in d.reasons] == [
                    i for i in applying if d.effect == "allow" or i.startswith("outside")
                ]


ERRORS = [
    (
        'attribute location of party: one of "CA", "US"\nparty a with location = "FR"\n',
        "bad-attribute-value",
        'the value of `location` must be one of "CA", "US"',
        '`party.location` is declared as one of "CA", "US"',
    ),
    (
        'attribute location of party: string\nparty a with locaton = "FR"\n',
        "unknown-attribute",
        "unknown attribute `locaton` of party terms",
        "did you mean `location`?",
    ),
    (
        'attribute location of data: string\nparty a with location = "FR"\n',
        "unknown-attribute",
        "unknown attribute `location` of party terms",
        "`location` is an attribute of data, not of party",
    ),
    (
        'attribute location of party: string\nparty a with location < "FR"\n',
        "bad-attribute-value",
        "`<` cannot give a value; write `location = …`",
        'a term\'s attribute is given with `=`, e.g. `with location = "US"`',
    ),
    (
        "attribute tags of party: list of string\n",
        "attribute-type",
        "attribute `tags` is declared as list of string, but an attribute holds one value",
        "declare it boolean, integer, decimal, string, one of listed strings, date or instant",
    ),
    (
        'attribute location of party: string\nparty a with location = "US"\n'
        'party b with location = "CA"\nparty c under a, b\n',
        "conflicting-attribute",
        '`c` inherits two values of `party.location`: "US" from `a` and "CA" from `b`',
        "give `c` its own value: `party c … with location = …`",
    ),
    (
        "attribute level of party: integer\nparty a\n"
        "rule r §1\n  allow any party to use any data for any purpose\n  when party.levl > 1\n",
        "unknown-attribute",
        "unknown attribute `levl` of party terms",
        "did you mean `level`?",
    ),
    (
        'attribute location of party: one of "CA", "US"\nparty a\n'
        "rule r §1\n  allow any party to use any data for any purpose\n"
        '  when party.location = "FR"\n',
        "unknown-value",
        '`"FR"` is not a value of `party.location`',
        'its values are "CA", "US"',
    ),
    (
        "attribute location of party: string\nparty a\n"
        "rule r §1\n  allow any party to use any data for any purpose\n  when party.location > 1\n",
        "type-mismatch",
        "`>` compares numbers, but `party.location` is a string",
        "strings can only be tested with `=`, `!=` and `in`",
    ),
]


@pytest.mark.parametrize(("text", "code", "message", "help"), ERRORS)
def test_errors_are_located_with_did_you_mean(
    text: str, code: str, message: str, help: str
) -> None:
    with pytest.raises(Exception) as raised:
        load_policy_text("data d\npurpose u\n" + text)
    found = [e for e in raised.value.diagnostics if e.severity == "error"]  # type: ignore[attr-defined]
    assert [(e.code, e.message, e.help) for e in found] == [(code, message, help)]
    assert found[0].span is not None


def test_a_term_can_settle_a_conflict_with_its_own_value() -> None:
    text = (
        'attribute location of party: string\nparty a with location = "US"\n'
        'party b with location = "CA"\nparty c under a, b with location = "CA"\ndata d\npurpose u\n'
    )
    assert load_policy_text(text).compiled.attributes[("party", "location")].values["c"] == "CA"
    with pytest.raises(PolicyValidationError):
        load_policy_text(text.replace(' with location = "CA"\ndata', "\ndata"))


def test_the_formatter_keeps_attributes() -> None:
    formatted = format_source(POLICY)
    assert format_source(formatted) == formatted
    assert 'with location = "US"' in formatted
    assert "attribute retention_years of data: integer default 5" in formatted


def test_check_proves_invariants_that_read_attributes(tmp_path: Path) -> None:
    invariant = (
        "\ninvariant quebec_only §17\n"
        "  never processors except qc_processor use personal_information for service_delivery\n"
    )
    path = tmp_path / "p.policy"
    path.write_text(POLICY + invariant, encoding="utf-8")
    assert [d.code for d in check_policy(path) if d.severity == "error"] == []
    # Only the US denied: a processor in the rest of Canada passes (one with no location still
    # fails closed).
    canada = POLICY.replace('!= "CA-QC"', '= "US"').replace(
        '"not yet assessed"', '"not yet assessed" with location = "CA"'
    )
    path.write_text(canada + invariant, encoding="utf-8")
    [broken] = [d for d in check_policy(path) if d.code == "invariant-broken"]
    assert broken.help is not None and "--party new_processor" in broken.help
    path.write_text(POLICY.replace('!= "CA-QC"', '= "US"') + invariant, encoding="utf-8")
    assert [d.code for d in check_policy(path) if d.code == "invariant-broken"] == []


def test_the_matrix_splits_cells_by_attribute_and_writes_the_value() -> None:
    matrix = build_matrix(load_policy_text(POLICY), "p", prove=True)
    verdicts = matrix.verdicts
    assert ("us_processor", "health_records", "service_delivery") not in verdicts
    assert ("new_processor", "health_records", "service_delivery") not in verdicts
    qc = verdicts[("qc_processor", "health_records", "service_delivery")]
    assert qc.status == "conditional" and qc.condition is not None
    from policy_engine.traceability.cell_conditions import words

    assert words(qc.condition) == "`years_kept <= 10`"
    other = verdicts[("qc_processor", "personal_information", "service_delivery")]
    assert other.condition is not None and words(other.condition) == "`years_kept <= 5`"


def test_diff_sees_a_changed_attribute_value() -> None:
    old = load_policy_text(POLICY)
    new = load_policy_text(
        POLICY.replace(
            'new_processor under processors "not yet assessed"',
            'new_processor under processors "assessed" with location = "CA-QC"',
        )
    )
    report = diff_policies(old, new)
    assert report.context_changes == [
        'attribute `party.location` of `new_processor`: unknown → "CA-QC"'
    ]
    [group] = report.groups
    assert (group.kind, group.parties) == ("widened", ["new_processor"])


def test_a_restored_policy_reads_attributes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLICY_ENGINE_CACHE_DIR", str(tmp_path / "cache"))
    fresh = load_policy_text(POLICY)
    restored = load_policy_text(POLICY)
    assert all(rule._source is None for rule in restored.compiled.rules)
    for party in fresh.terms("party"):
        args = (party, "health_records", "service_delivery", {"years_kept": 6})
        assert restored.decide(*args).explain() == fresh.decide(*args).explain()


# ---- against the brute force ---------------------------------------------------------------


READ = ("party.level", "data.zone", "purpose.open")


def _reads_attributes(spec: Spec | None) -> bool:
    return spec is not None and any(a in spec_text(spec) for a in READ)


@settings(SOUNDNESS_SETTINGS, max_examples=15)
@given(st.integers(0, 2**32 - 1))
def test_check_of_policies_with_attributes_matches_brute_force(seed: int) -> None:
    spec = fitted(gen_spec(RandomChoices(random.Random(seed)), (1, 2)), 2500)
    assume(_reads_attributes(spec))
    assert spec is not None
    _, found = compare_check(spec)
    assert found == [], found[0].render()


@settings(SOUNDNESS_SETTINGS, max_examples=15)
@given(st.integers(0, 2**32 - 1))
def test_diff_of_policies_with_attributes_matches_brute_force(seed: int) -> None:
    """A policy and a mutation of it (a rule, a constant, ...) or of one term's value."""
    c = RandomChoices(random.Random(seed))
    old = fitted(gen_spec(c, (0, 0)), 2500)
    assume(_reads_attributes(old))
    assert old is not None
    new, _ = mutate(c, old)
    if flag(c):
        name = pick(c, sorted(old.vocab.attributes))
        kind, _, base = ATTRIBUTES[name]
        values = dict(old.vocab.attributes[name])
        term = pick(c, old.vocab.terms(kind))
        choices: list[object] = {
            "int": [0, 3],
            "str": ["x", "z"],
            "bool": [True, False],
            "date": [DateValue("2024-02-29"), DateValue("2023-12-31")],
        }[base]
        if term in values and flag(c):
            del values[term]
        else:
            values[term] = pick(c, choices)
        attributes = {**old.vocab.attributes, name: values}
        new = replace(old, vocab=replace(old.vocab, attributes=attributes))
        try:
            load_policy_text(spec_text(new))
        except PolicyError:  # the value made two parents disagree
            assume(False)
    _, found = compare_diff(old, new)
    assert found == [], found[0].render()


@pytest.mark.parametrize(
    ("condition", "values"),
    [
        # A key compared with an attribute only: its classes must be cut at the attribute's
        # values (no other constant says where `ki0` may stand).
        (("cmp", ">", ("key", "ki0"), ("attr", "party", "level")), {"pa0": 4}),
        (("cmp", "=", ("key", "ks0"), ("attr", "data", "zone")), {}),
        (("in", False, ("attr", "data", "zone"), ("key", "km0")), {}),
    ],
)
def test_planted_attribute_conditions_match_brute_force(
    condition: tuple[object, ...], values: dict[str, object]
) -> None:
    vocab = Vocab(
        {
            "party": {"pa0": (), "pa1": ("pa0",)},
            "data": {"da0": (), "da1": ()},
            "purpose": {"pu0": ()},
        },
        ("ob0",),
        {"level": values, "zone": {"da0": "z"}},
    )
    keys = (Key("ki0", "int"), Key("ks0", "str"), Key("km0", "anylist"))
    found = compare_planted(vocab, keys, condition)
    assert found == [], found[0].render()
