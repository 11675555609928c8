"""One test (or a small group) per numbered sentence of docs/semantics.md, named after it.

``test_doc_example`` also runs every example decision written in docs/semantics.md, so the page
cannot drift from the engine.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from policy_engine import (
    Decision,
    Policy,
    PolicyError,
    RequestError,
    UnknownTermError,
    load_policy,
    load_policy_text,
)
from policy_engine.engine.context import ExactFloat

ROOT = Path(__file__).resolve().parent.parent
SEMANTICS = ROOT / "docs" / "semantics.md"

VOCABULARY = """\
party staff
party customer_service, marketing_department under staff
party partners
party delivery_partners under partners
party auditor under staff, partners

data personal_information
data contact_information, financial_information under personal_information
data email, postal_address under contact_information
data billing_address under postal_address, financial_information

purpose marketing
purpose newsletter, advertising under marketing
purpose support
purpose order_delivery

obligation ensure_adequate_protection, log_access

context consented_purposes: set of purpose
context subject_age: integer
context identity_verified: boolean
context channel: one of "email", "sms", "phone"
context opted_out_channels: list of "email", "sms", "phone"
context destination: string
context profiling_enabled: boolean default false
context a: boolean
context b: boolean
"""


def policy(rules: str = "") -> Policy:
    """The test vocabulary and schema plus ``rules``."""
    return load_policy_text(VOCABULARY + "\n" + rules)


def outcome(d: Decision) -> tuple[str, list[str], list[str], list[str]]:
    """(effect, reason ids, obligations, missing): what most promises are about."""
    return d.effect, [r.id for r in d.reasons], d.obligations, d.missing


def decide(p: Policy, party: str, data: str, purpose: str, **context: Any) -> Decision:
    return p.decide(party, data, purpose, context)


# ---- the examples written in docs/semantics.md --------------------------------------------------


@dataclass(frozen=True)
class DocExample:
    sentence: int
    policy_text: str
    line: str


def doc_examples() -> Iterator[DocExample]:
    """Every line of every ```decisions block, with the policy it refers to: the page's first
    ```policy block (the shared vocabulary) plus the latest ```policy block before it."""
    text = SEMANTICS.read_text(encoding="utf-8")
    shared: str | None = None
    current = ""
    for match in re.finditer(r"^```(\w+)\n(.*?)^```", text, re.S | re.M):
        numbers = re.findall(r"^\*\*(\d+)\. ", text[: match.start()], re.M)
        sentence = int(numbers[-1]) if numbers else 0
        lang, body = match.group(1), match.group(2)
        if lang == "policy":
            if shared is None:
                shared = current = body
            else:
                current = shared + "\n" + body
        elif lang == "decisions":
            for line in body.strip().splitlines():
                yield DocExample(sentence, current, line)


DOC_EXAMPLES = list(doc_examples())


def test_the_doc_has_examples_for_every_decision_sentence() -> None:
    sentences = {e.sentence for e in DOC_EXAMPLES}
    assert set(range(1, 25)) <= sentences | {25}
    assert 25 in sentences
    assert len(DOC_EXAMPLES) > 60


@pytest.mark.parametrize(
    "example",
    DOC_EXAMPLES,
    ids=[f"s{e.sentence}-{i}" for i, e in enumerate(DOC_EXAMPLES)],
)
def test_doc_example(example: DocExample) -> None:
    """Each example decision written in docs/semantics.md is what the engine answers."""
    request, arrow, answer = example.line.partition("→")
    assert arrow, example.line
    parts = [p.strip() for p in request.strip().split(",", 3)]
    context = json.loads(parts[3], parse_float=ExactFloat) if len(parts) > 3 else None
    fields = [f.strip() for f in answer.split("|")]
    p = load_policy_text(example.policy_text)
    if fields[0] in ("allow", "deny"):
        d = p.decide(parts[0], parts[1], parts[2], context)
        got = [d.effect]
        for label, values in (
            ("reasons", [r.id for r in d.reasons]),
            ("obligations", d.obligations),
            ("missing", d.missing),
            ("undetermined", [u.text for u in d.undetermined_obligations]),
        ):
            if values:
                got.append(f"{label}: {', '.join(values)}")
        assert got == fields, example.line
    else:
        error, _, message = fields[0].partition(":")
        with pytest.raises(PolicyError) as info:
            p.decide(parts[0], parts[1], parts[2], context)
        assert type(info.value).__name__ == error.strip()
        assert message.strip() in str(info.value)


# ---- 1-4: which rules cover a request ------------------------------------------------------------


def test_s1_term_covers_itself_and_everything_below_it() -> None:
    """Sentence 1: a term covers itself and every term below it, at any depth (and nothing
    above it)."""
    p = policy("rule r allow staff to use personal_information for marketing\n")
    for party in ("staff", "customer_service", "marketing_department", "auditor"):
        for data in ("personal_information", "contact_information", "email", "billing_address"):
            for purpose in ("marketing", "newsletter", "advertising"):
                assert decide(p, party, data, purpose).allowed, (party, data, purpose)
    narrow = policy("rule r allow customer_service to use email for newsletter\n")
    assert decide(narrow, "customer_service", "email", "newsletter").allowed
    assert not decide(narrow, "staff", "email", "newsletter").allowed
    assert not decide(narrow, "customer_service", "contact_information", "newsletter").allowed
    assert not decide(narrow, "customer_service", "email", "marketing").allowed


def test_s2_a_term_with_several_parents_is_covered_by_each() -> None:
    """Sentence 2: a term with several parents is covered by each parent and all their
    ancestors."""
    for data in ("postal_address", "financial_information", "contact_information"):
        p = policy(f"rule r allow auditor to use {data} for support\n")
        assert decide(p, "auditor", "billing_address", "support").allowed, data
    for party in ("staff", "partners"):
        p = policy(f"rule r allow {party} to use email for support\n")
        assert decide(p, "auditor", "email", "support").allowed, party
    # A sibling under only one of the parents is not covered by the other.
    p = policy("rule r allow auditor to use financial_information for support\n")
    assert not decide(p, "auditor", "email", "support").allowed
    p = policy("rule r allow partners to use email for support\n")
    assert not decide(p, "customer_service", "email", "support").allowed


def test_s2_deny_reaches_a_term_through_either_parent() -> None:
    """Sentence 2: the same holds for deny rules (a diamond: two paths to the same ancestor)."""
    p = policy(
        "rule ok allow any party to use any data for any purpose\n"
        "rule no_finance deny any party from using financial_information for any purpose\n"
    )
    assert outcome(decide(p, "auditor", "billing_address", "support"))[:2] == (
        "deny",
        ["no_finance"],
    )
    assert decide(p, "auditor", "postal_address", "support").allowed


@pytest.mark.parametrize(
    ("scope", "kind"),
    [
        ("allow any party to use email for support", "party"),
        ("allow staff to use any data for support", "data"),
        ("allow staff to use email for any purpose", "purpose"),
    ],
)
def test_s3_any_covers_every_term(scope: str, kind: str) -> None:
    """Sentence 3: `any party`, `any data` and `any purpose` cover every term of that kind."""
    p = policy(f"rule r {scope}\n")
    request = {"party": "staff", "data": "email", "purpose": "support"}
    for term in p.terms(kind):
        d = p.decide(**{**request, kind: term})
        assert d.allowed, term
    # ... and only that kind: the other two terms must still match.
    other = "data" if kind != "data" else "party"
    alien = {"data": "financial_information", "party": "delivery_partners"}[other]
    assert not p.decide(**{**request, other: alien}).allowed


def test_s3_any_any_any_covers_every_request() -> None:
    """Sentence 3: a rule for any party, any data and any purpose covers every request."""
    p = policy("rule r deny any party from using any data for any purpose\n")
    for party in p.terms("party"):
        for data in p.terms("data"):
            for purpose in p.terms("purpose"):
                assert outcome(p.decide(party, data, purpose))[:2] == ("deny", ["r"])


def test_s4_all_three_lists_must_cover_the_request() -> None:
    """Sentence 4: a rule covers a request only when its party, data and purpose lists each cover
    the request's term; several terms in one list mean any of them."""
    p = policy(
        "rule r allow marketing_department, delivery_partners to use email, postal_address "
        "for newsletter, order_delivery\n"
    )
    for party in ("marketing_department", "delivery_partners"):
        for data in ("email", "postal_address", "billing_address"):
            for purpose in ("newsletter", "order_delivery"):
                assert decide(p, party, data, purpose).allowed
    assert not decide(p, "customer_service", "email", "newsletter").allowed
    assert not decide(p, "marketing_department", "financial_information", "newsletter").allowed
    assert not decide(p, "marketing_department", "email", "advertising").allowed


# ---- 5-8: how rules combine ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "applies"),
    [
        ({"a": True, "b": False, "identity_verified": False}, True),
        ({"a": False, "b": False, "identity_verified": False}, False),  # when is false
        ({"a": True, "b": True, "identity_verified": False}, False),  # first unless holds
        ({"a": True, "b": False, "identity_verified": True}, False),  # second unless holds
        ({"a": True, "b": True, "identity_verified": True}, False),
    ],
)
def test_s5_a_rule_applies_when_covered_and_condition_holds_and_no_exception(
    context: dict[str, bool], applies: bool
) -> None:
    """Sentence 5: a rule applies when it covers the request, its `when` is true and none of its
    `unless` exceptions is true."""
    allow = policy(
        "rule r allow staff to use email for support when a unless b unless identity_verified\n"
    )
    deny = policy(
        "rule ok allow any party to use any data for any purpose\n"
        "rule r deny staff from using email for support when a unless b unless identity_verified\n"
    )
    assert decide(allow, "staff", "email", "support", **context).allowed is applies
    assert decide(deny, "staff", "email", "support", **context).allowed is not applies
    # Not covered: the condition does not matter.
    assert not decide(allow, "partners", "email", "support", **context).allowed
    assert decide(deny, "partners", "email", "support", **context).allowed


def test_s6_default_deny() -> None:
    """Sentence 6: when no rule applies the answer is deny, with no reasons."""
    empty = load_policy_text(VOCABULARY)
    assert outcome(decide(empty, "staff", "email", "support")) == ("deny", [], [], [])
    p = policy(
        "rule r allow customer_service to use email for support when a\n"
        "  with obligation log_access\n"
    )
    d = decide(p, "customer_service", "email", "support", a=False)
    assert outcome(d) == ("deny", [], [], [])
    assert d.allowed is False
    assert outcome(decide(p, "customer_service", "email", "marketing")) == ("deny", [], [], [])


@pytest.mark.parametrize("deny_first", [True, False])
def test_s7_deny_overrides_allow(deny_first: bool) -> None:
    """Sentence 7: when a deny rule applies the answer is deny, whatever allow rules apply."""
    allows = (
        "rule a1 allow staff to use personal_information for support\n"
        "  with obligation log_access\n"
        "rule a2 allow customer_service to use billing_address for support\n"
    )
    deny = "rule d1 deny any party from using financial_information for support\n"
    p = policy(deny + allows if deny_first else allows + deny)
    assert outcome(decide(p, "customer_service", "billing_address", "support")) == (
        "deny",
        ["d1"],
        [],
        [],
    )
    assert outcome(decide(p, "customer_service", "email", "support")) == (
        "allow",
        ["a1"],
        ["log_access"],
        [],
    )


RULES_8 = [
    "rule r1 allow staff to use email for support when a\n  with obligation log_access\n",
    "rule r2 deny customer_service from using email for any purpose when b\n",
    "rule r3 allow any party to use contact_information for support unless b\n",
    "rule r4 deny any party from using billing_address for any purpose when subject_age < 14\n",
    "rule r5 allow auditor to use any data for any purpose\n"
    '  with obligation ensure_adequate_protection when destination != "CA-QC"\n',
]
REQUESTS_8 = [
    (party, data, purpose, context)
    for party in ("customer_service", "auditor", "delivery_partners")
    for data in ("email", "billing_address")
    for purpose in ("support", "newsletter")
    for context in (
        {},
        {"a": True, "b": False},
        {"a": True, "b": True, "subject_age": 9},
        {"b": False, "subject_age": 30, "destination": "US"},
    )
]


def _answers(p: Policy) -> list[tuple[str, list[str], list[str], list[str]]]:
    return [outcome(p.decide(*r)) for r in REQUESTS_8]


def test_s8_rule_order_does_not_matter() -> None:
    """Sentence 8: decisions do not depend on the order of the rules in a file."""
    expected = _answers(policy("".join(RULES_8)))
    assert _answers(policy("".join(reversed(RULES_8)))) == expected
    assert _answers(policy("".join(RULES_8[2:] + RULES_8[:2]))) == expected


def test_s8_file_order_and_split_do_not_matter(tmp_path: Path) -> None:
    """Sentence 8: ... nor on the order of the files or how the rules are split across them."""
    expected = _answers(policy("".join(RULES_8)))
    split = {
        "z_vocabulary.policy": VOCABULARY,
        "a_rules.policy": RULES_8[4] + RULES_8[0],
        "m_rules.policy": "".join(RULES_8[1:4]),
    }
    assert _answers(load_policy_text(split)) == expected
    assert _answers(load_policy_text(dict(reversed(list(split.items()))))) == expected
    one_per_file = {f"rule{9 - i}.policy": rule for i, rule in enumerate(RULES_8)}
    one_per_file["vocabulary.policy"] = VOCABULARY
    assert _answers(load_policy_text(one_per_file)) == expected
    for name, text in split.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert _answers(load_policy(tmp_path)) == expected


# ---- 9-18: when a fact is missing ---------------------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        "subject_age >= 18",
        "subject_age < 18",
        "not subject_age < 18",
        'channel = "email"',
        'channel != "email"',
        'channel in ["email", "sms"]',
        "channel not in opted_out_channels",
        "purpose in consented_purposes",
        "purpose not in consented_purposes",
        "identity_verified",
        "not identity_verified",
        "identity_verified = false",
    ],
)
def test_s9_a_missing_key_makes_its_tests_unknown(condition: str) -> None:
    """Sentence 9: a key left out or sent as null is unknown, and so is every test reading it;
    never false (so `not` of it is not true either)."""
    allow = policy(f"rule r allow staff to use email for support when {condition}\n")
    deny = policy(
        "rule ok allow any party to use any data for any purpose\n"
        f"rule r deny staff from using email for support when {condition}\n"
    )
    keys = {
        "subject_age",
        "channel",
        "opted_out_channels",
        "consented_purposes",
        "identity_verified",
    }
    needed = sorted(
        k
        for k in keys
        if k in condition or (k == "consented_purposes" and "consented" in condition)
    )
    for context in ({}, dict.fromkeys(needed)):
        d = decide(allow, "customer_service", "email", "support", **context)
        assert outcome(d) == ("deny", [], [], needed), context
        d = decide(deny, "customer_service", "email", "support", **context)
        assert outcome(d) == ("deny", ["r"], [], needed), context
        trace = d.trace().considered
        assert [t.value for t in trace if t.id == "r"] == ["unknown"]


# Three-valued truth: T, F and U (the key is missing).
T, F, U = True, False, None
AND = {
    (T, T): T, (T, F): F, (T, U): U,
    (F, T): F, (F, F): F, (F, U): F,
    (U, T): U, (U, F): F, (U, U): U,
}  # fmt: skip
OR = {
    (T, T): T, (T, F): T, (T, U): T,
    (F, T): T, (F, F): F, (F, U): U,
    (U, T): T, (U, F): U, (U, U): U,
}  # fmt: skip
NOT = {T: F, F: T, U: U}


def _context(**values: bool | None) -> dict[str, bool]:
    return {k: v for k, v in values.items() if v is not None}


def _check_truth(p: Policy, context: dict[str, bool], expected: bool | None) -> None:
    """An allow rule `r` on staff/email/support and a deny rule `d` with the same condition on
    staff/email/newsletter: the allow grants only when true; the deny denies unless false."""
    allow = decide(p, "staff", "email", "support", **context)
    deny = decide(p, "staff", "email", "newsletter", **context)
    assert allow.allowed is (expected is True)
    assert (allow.missing != []) is (expected is None)
    assert deny.allowed is (expected is False)
    assert [r.id for r in deny.reasons] == (["ok"] if expected is False else ["d"])
    assert deny.trace().considered[0].value == {T: "true", F: "false", U: "unknown"}[expected]


def _truth_policy(condition: str) -> Policy:
    return policy(
        f"rule r allow staff to use email for support when {condition}\n"
        "rule ok allow staff to use email for newsletter\n"
        f"rule d deny staff from using email for newsletter when {condition}\n"
    )


@pytest.mark.parametrize(("a", "b"), sorted(AND, key=str))
def test_s10_and_truth_table(a: bool | None, b: bool | None) -> None:
    """Sentence 10: `and` in Kleene's three-valued logic."""
    for condition in ("a and b", "b and a", "(a) and (b)"):
        _check_truth(_truth_policy(condition), _context(a=a, b=b), AND[a, b])


@pytest.mark.parametrize(("a", "b"), sorted(OR, key=str))
def test_s10_or_truth_table(a: bool | None, b: bool | None) -> None:
    """Sentence 10: `or` in Kleene's three-valued logic."""
    for condition in ("a or b", "b or a"):
        _check_truth(_truth_policy(condition), _context(a=a, b=b), OR[a, b])


@pytest.mark.parametrize("a", [T, F, U])
def test_s10_not_truth_table(a: bool | None) -> None:
    """Sentence 10: `not` of unknown is unknown."""
    _check_truth(_truth_policy("not a"), _context(a=a), NOT[a])
    _check_truth(_truth_policy("not not a"), _context(a=a), a)


def test_s10_precedence_not_and_or() -> None:
    """Sentence 10: `not` binds tighter than `and`, which binds tighter than `or`."""
    p = _truth_policy("not a and b or identity_verified")
    for a in (T, F, U):
        for b in (T, F, U):
            for v in (T, F, U):
                ctx = {
                    k: x for k, x in (("a", a), ("b", b), ("identity_verified", v)) if x is not None
                }
                _check_truth(p, ctx, OR[AND[NOT[a], b], v])


def test_s11_unknown_allow_does_not_grant() -> None:
    """Sentence 11: an allow rule whose condition is unknown does not grant."""
    p = policy(
        "rule r allow customer_service to use personal_information for support\n"
        "  when identity_verified\n"
        "  with obligation log_access\n"
    )
    assert outcome(decide(p, "customer_service", "email", "support")) == (
        "deny",
        [],
        [],
        ["identity_verified"],
    )
    assert outcome(decide(p, "customer_service", "email", "support", identity_verified=True)) == (
        "allow",
        ["r"],
        ["log_access"],
        [],
    )


def test_s12_unknown_deny_denies() -> None:
    """Sentence 12: a deny rule whose condition is unknown denies (fail closed) and is listed
    among the reasons."""
    p = policy(
        "rule ok allow staff to use personal_information for support\n"
        "  with obligation log_access\n"
        "rule children deny any party from using any data for any purpose when subject_age < 14\n"
    )
    d = decide(p, "customer_service", "email", "support")
    assert outcome(d) == ("deny", ["children"], [], ["subject_age"])
    assert "fail closed" in d.explain()
    assert outcome(decide(p, "customer_service", "email", "support", subject_age=30)) == (
        "allow",
        ["ok"],
        ["log_access"],
        [],
    )


def test_s13_unknown_exception_never_lets_an_allow_grant() -> None:
    """Sentence 13: an unknown `unless` never lets an allow grant."""
    p = policy(
        "rule r allow staff to use email for newsletter unless channel in opted_out_channels\n"
    )
    d = decide(p, "staff", "email", "newsletter", channel="email")
    assert outcome(d) == ("deny", [], [], ["opted_out_channels"])
    d = decide(p, "staff", "email", "newsletter", channel="email", opted_out_channels=["email"])
    assert outcome(d) == ("deny", [], [], [])
    d = decide(p, "staff", "email", "newsletter", channel="email", opted_out_channels=[])
    assert outcome(d) == ("allow", ["r"], [], [])


def test_s13_unknown_exception_never_lifts_a_deny() -> None:
    """Sentence 13: an unknown `unless` never lifts a deny."""
    p = policy(
        "rule ok allow staff to use email for any purpose\n"
        "rule consent deny any party from using any data for marketing\n"
        "  unless purpose in consented_purposes\n"
    )
    d = decide(p, "staff", "email", "advertising")
    assert outcome(d) == ("deny", ["consent"], [], ["consented_purposes"])
    d = decide(p, "staff", "email", "advertising", consented_purposes=["advertising"])
    assert outcome(d) == ("allow", ["ok"], [], [])
    d = decide(p, "staff", "email", "advertising", consented_purposes=["newsletter"])
    assert outcome(d) == ("deny", ["consent"], [], [])


def test_s13_an_exception_that_holds_decides_despite_an_unknown_condition() -> None:
    """Sentence 13: the rule's value is `when and not unless…`: a true exception makes the rule
    false even when its condition is unknown (false and unknown = false)."""
    p = policy(
        "rule ok allow staff to use email for support\n"
        "rule d deny any party from using any data for any purpose\n"
        "  when subject_age < 14 unless identity_verified\n"
    )
    assert outcome(decide(p, "staff", "email", "support", identity_verified=True)) == (
        "allow",
        ["ok"],
        [],
        [],
    )
    assert outcome(decide(p, "staff", "email", "support", identity_verified=False)) == (
        "deny",
        ["d"],
        [],
        ["subject_age"],
    )
    assert outcome(decide(p, "staff", "email", "support")) == (
        "deny",
        ["d"],
        [],
        ["identity_verified", "subject_age"],
    )


def test_s14_missing_lists_every_needed_key_once_sorted() -> None:
    """Sentence 14: `missing` lists, once and sorted, every absent key that left a covering rule
    unknown, allow or deny."""
    p = policy(
        "rule v allow staff to use email for support when identity_verified and a\n"
        "rule w allow customer_service to use email for support when subject_age >= 18 or a\n"
        'rule x deny any party from using email for support when channel = "sms"\n'
        'rule y allow partners to use email for support when destination = "US"\n'
    )
    d = decide(p, "customer_service", "email", "support")
    assert outcome(d) == ("deny", ["x"], [], ["a", "channel", "identity_verified", "subject_age"])
    # `destination` belongs to a rule that does not cover the request: never listed.
    assert "destination" not in d.missing


def test_s14_keys_not_needed_are_not_listed() -> None:
    """Sentence 14: a key whose test did not matter (the other side decided) is not listed."""
    p = policy("rule w allow staff to use email for support when subject_age >= 18 or a\n")
    assert outcome(decide(p, "staff", "email", "support", a=True)) == ("allow", ["w"], [], [])
    p = policy("rule w allow staff to use email for support when subject_age >= 18 and a\n")
    assert outcome(decide(p, "staff", "email", "support", a=False)) == ("deny", [], [], [])


def test_s14_an_allow_lists_the_keys_of_other_unknown_allow_rules() -> None:
    """Sentence 14: on an allow, an unknown allow rule's keys are still listed (had it applied,
    it would have added its reasons and obligations)."""
    p = policy(
        "rule granted allow staff to use email for support\n"
        "rule maybe allow staff to use email for support when identity_verified\n"
        "  with obligation log_access\n"
    )
    assert outcome(decide(p, "staff", "email", "support")) == (
        "allow",
        ["granted"],
        [],
        ["identity_verified"],
    )


def test_s14_a_certain_deny_needs_no_missing_key() -> None:
    """Sentence 14: when a deny rule applies for certain, `missing` is empty."""
    p = policy(
        "rule maybe_allow allow staff to use email for support when identity_verified\n"
        "rule maybe_deny deny staff from using email for support when subject_age < 14\n"
        'rule certain deny any party from using email for support when channel = "sms"\n'
    )
    d = decide(p, "staff", "email", "support", channel="sms")
    assert outcome(d) == ("deny", ["certain", "maybe_deny"], [], [])
    d = decide(p, "staff", "email", "support", channel="email")
    assert outcome(d) == ("deny", ["maybe_deny"], [], ["identity_verified", "subject_age"])


def test_s14_missing_lists_unknown_obligation_keys_only_on_an_allow() -> None:
    """Sentence 14: obligation conditions count only on an allow (a deny carries none)."""
    p = policy(
        "rule r allow staff to use email for support\n"
        '  with obligation ensure_adequate_protection when destination != "CA-QC"\n'
        "rule d deny staff from using email for support when a\n"
    )
    assert decide(p, "staff", "email", "support", a=False).missing == ["destination"]
    assert decide(p, "staff", "email", "support", a=True).missing == []
    assert outcome(decide(p, "staff", "email", "support")) == ("deny", ["d"], [], ["a"])


def test_s15_is_known_and_is_missing_are_never_unknown() -> None:
    """Sentence 15: `key is known` / `key is missing` are never unknown; they let the author say
    how a missing fact is treated."""
    p = policy(
        "rule ok allow staff to use email for any purpose\n"
        "rule children deny any party from using any data for any purpose\n"
        "  when subject_age is known and subject_age < 14\n"
        "rule unstated deny any party from using any data for marketing\n"
        "  when subject_age is missing\n"
    )
    assert outcome(decide(p, "staff", "email", "support")) == ("allow", ["ok"], [], [])
    assert outcome(decide(p, "staff", "email", "support", subject_age=9)) == (
        "deny",
        ["children"],
        [],
        [],
    )
    assert outcome(decide(p, "staff", "email", "newsletter")) == ("deny", ["unstated"], [], [])
    assert outcome(decide(p, "staff", "email", "newsletter", subject_age=None)) == (
        "deny",
        ["unstated"],
        [],
        [],
    )
    assert outcome(decide(p, "staff", "email", "newsletter", subject_age=30)) == (
        "allow",
        ["ok"],
        [],
        [],
    )


@pytest.mark.parametrize("given", [{}, {"profiling_enabled": None}])
def test_s16_a_default_fills_an_absent_key(given: dict[str, Any]) -> None:
    """Sentence 16: a declared `default` fills a key left out or sent as null; the key is then
    known."""
    p = policy(
        "rule ads allow staff to use email for advertising when not profiling_enabled\n"
        "rule stated allow staff to use email for newsletter when profiling_enabled is known\n"
        "rule unstated allow staff to use email for support when profiling_enabled is missing\n"
    )
    assert outcome(p.decide("staff", "email", "advertising", given)) == ("allow", ["ads"], [], [])
    assert outcome(p.decide("staff", "email", "newsletter", given)) == ("allow", ["stated"], [], [])
    assert outcome(p.decide("staff", "email", "support", given)) == ("deny", [], [], [])
    stated = p.decide("staff", "email", "advertising", {"profiling_enabled": True})
    assert outcome(stated) == ("deny", [], [], [])
    # The decision reports the context as the caller gave it.
    assert (
        p.decide("staff", "email", "advertising", given).model_dump()["request"]["context"] == given
    )


def test_s16_default_does_not_make_other_keys_known() -> None:
    """Sentence 16: only a key with a declared default is filled."""
    p = policy(
        "rule r allow staff to use email for support when identity_verified or profiling_enabled\n"
    )
    assert outcome(decide(p, "staff", "email", "support")) == (
        "deny",
        [],
        [],
        ["identity_verified"],
    )


@pytest.mark.parametrize(
    ("context", "code"),
    [
        ({"subject_age": "12"}, "wrong-context-type"),
        ({"subject_age": 12.5}, "wrong-context-type"),
        ({"subject_age": True}, "wrong-context-type"),
        ({"identity_verified": "yes"}, "wrong-context-type"),
        ({"identity_verified": 1}, "wrong-context-type"),
        ({"channel": "fax"}, "wrong-context-type"),
        ({"opted_out_channels": "sms"}, "wrong-context-type"),
        ({"opted_out_channels": ["fax"]}, "wrong-context-type"),
        ({"consented_purposes": "marketing"}, "wrong-context-type"),
        ({"consented_purposes": ["marketting"]}, "unknown-term"),
        ({"consented_purposes": ["email"]}, "unknown-term"),
        ({"destination": 7}, "wrong-context-type"),
        ({"subject_agee": 12}, "unknown-context-key"),
    ],
)
def test_s17_a_bad_context_is_a_request_error(context: dict[str, Any], code: str) -> None:
    """Sentence 17: a value of the wrong type, an undeclared key or an undeclared term in a set is
    a RequestError, never a decision."""
    p = policy(
        "rule r allow staff to use email for support\n"
        "rule d deny staff from using email for support when a\n"
    )
    with pytest.raises(RequestError) as info:
        p.decide("staff", "email", "support", context)
    assert not isinstance(info.value, UnknownTermError)
    assert [d.code for d in info.value.diagnostics] == [code]


def test_s17_every_problem_is_reported_at_once() -> None:
    """Sentence 17: a request with several problems reports them all."""
    p = policy("rule r allow staff to use email for support\n")
    with pytest.raises(RequestError) as info:
        p.decide("staff", "email", "support", {"subject_age": "12", "identity_verified": "yes"})
    assert len(info.value.diagnostics) == 2


@pytest.mark.parametrize(
    ("request_", "kind", "suggestion"),
    [
        (("custmer_service", "email", "support"), "party", "customer_service"),
        (("staff", "emial", "support"), "data", "email"),
        (("staff", "email", "marketting"), "purpose", "marketing"),
        (("staff", "email", "Support"), "purpose", "support"),
    ],
)
def test_s18_unknown_term_is_an_error_with_did_you_mean(
    request_: tuple[str, str, str], kind: str, suggestion: str
) -> None:
    """Sentence 18: an undeclared party, data category or purpose is an UnknownTermError with
    did-you-mean suggestions, never a decision."""
    p = policy("rule r allow any party to use any data for any purpose\n")
    with pytest.raises(UnknownTermError) as info:
        p.decide(*request_)
    assert info.value.kind == kind
    assert suggestion in info.value.suggestions
    assert f"did you mean `{suggestion}`" in str(info.value)


def test_s18_a_term_of_the_wrong_kind_is_an_error() -> None:
    """Sentence 18: a declared term used as the wrong kind is an error too."""
    p = policy("rule r allow any party to use any data for any purpose\n")
    with pytest.raises(UnknownTermError, match="`email` is a data category, not a party"):
        p.decide("email", "email", "support")
    with pytest.raises(UnknownTermError, match="not a purpose"):
        p.decide("staff", "email", "staff")
    with pytest.raises(RequestError):
        p.decide("staff", 3, "support")  # type: ignore[arg-type]


# ---- 19-21: what conditions test ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("consented", "purpose", "holds"),
    [
        (["marketing"], "newsletter", True),
        (["marketing"], "marketing", True),
        (["newsletter"], "newsletter", True),
        (["newsletter"], "marketing", False),
        (["newsletter"], "advertising", False),
        (["support", "advertising"], "advertising", True),
        ([], "newsletter", False),
    ],
)
def test_s19_set_membership_uses_ancestors(consented: list[str], purpose: str, holds: bool) -> None:
    """Sentence 19: `x in key` on a `set of purpose` key holds when x or one of its ancestors is in
    the set."""
    p = policy(
        "rule r allow staff to use email for any purpose when purpose in consented_purposes\n"
        "rule n allow staff to use postal_address for any purpose\n"
        "  when purpose not in consented_purposes\n"
        "rule t allow staff to use financial_information for any purpose\n"
        "  when newsletter in consented_purposes\n"
    )
    assert decide(p, "staff", "email", purpose, consented_purposes=consented).allowed is holds
    assert (
        decide(p, "staff", "postal_address", purpose, consented_purposes=consented).allowed
        is not holds
    )
    # A vocabulary term on the left works the same way.
    named = decide(p, "staff", "financial_information", purpose, consented_purposes=consented)
    assert named.allowed is bool({"newsletter", "marketing"} & set(consented))


def test_s19_set_membership_follows_every_parent() -> None:
    """Sentence 19: with several parents, consent to either parent (or above) covers the term."""
    p = load_policy_text(
        "party staff\ndata email\n"
        "purpose marketing\npurpose analytics\n"
        "purpose campaign_analytics under marketing, analytics\n"
        "purpose top\npurpose analytics_parent under top\n"
        "context parties: set of party\ncontext consented: set of purpose\n"
        "rule r allow staff to use email for any purpose when purpose in consented\n"
        "rule q allow staff to use email for top when party in parties\n"
    )
    for consented in (["marketing"], ["analytics"], ["campaign_analytics"]):
        assert p.decide("staff", "email", "campaign_analytics", {"consented": consented}).allowed
    assert not p.decide(
        "staff", "email", "marketing", {"consented": ["campaign_analytics"]}
    ).allowed
    assert p.decide("staff", "email", "top", {"parties": ["staff"]}).allowed
    assert not p.decide("staff", "email", "top", {"parties": []}).allowed


@pytest.mark.parametrize(
    ("condition", "holds_for"),
    [
        ("party in staff", {"staff", "customer_service", "marketing_department", "auditor"}),
        ("party in partners", {"partners", "delivery_partners", "auditor"}),
        ("party not in staff", {"partners", "delivery_partners"}),
        (
            "party in [customer_service, partners]",
            {"customer_service", "partners", "delivery_partners", "auditor"},
        ),
        ("party in []", set()),
        ("auditor in party", {"auditor", "staff", "partners"}),
        (
            "customer_service in staff",
            {
                "staff",
                "customer_service",
                "marketing_department",
                "auditor",
                "partners",
                "delivery_partners",
            },
        ),
        ("staff in customer_service", set()),
    ],
)
def test_s20_membership_in_a_term_or_a_list_of_terms(condition: str, holds_for: set[str]) -> None:
    """Sentence 20: `x in term` holds when x is that term or below it; `x in [t1, t2]` when x is
    one of them or below one of them."""
    p = policy(f"rule r allow any party to use email for support when {condition}\n")
    for party in p.terms("party"):
        assert decide(p, party, "email", "support").allowed is (party in holds_for), party


def test_s21_string_membership_is_plain_and_equality_is_exact() -> None:
    """Sentence 21: `in` on a list of strings is exact membership; `=` and `!=` are exact for
    strings and terms (no hierarchy)."""
    p = policy(
        "rule opted deny any party from using any data for newsletter\n"
        "  when channel in opted_out_channels\n"
        "rule news allow staff to use email for newsletter\n"
        "rule exact allow any party to use email for support when party = staff\n"
        "rule other allow any party to use email for order_delivery when party != staff\n"
        "rule literal allow any party to use email for advertising\n"
        '  when "sms" in opted_out_channels\n'
    )
    assert not decide(
        p, "staff", "email", "newsletter", channel="sms", opted_out_channels=["sms"]
    ).allowed
    assert decide(
        p, "staff", "email", "newsletter", channel="email", opted_out_channels=["sms"]
    ).allowed
    assert decide(p, "staff", "email", "newsletter", channel="email", opted_out_channels=[]).allowed
    assert decide(p, "staff", "email", "support").allowed
    assert not decide(p, "customer_service", "email", "support").allowed
    assert decide(p, "customer_service", "email", "order_delivery").allowed
    assert not decide(p, "staff", "email", "order_delivery").allowed
    assert decide(p, "staff", "email", "advertising", opted_out_channels=["phone", "sms"]).allowed
    assert not decide(p, "staff", "email", "advertising", opted_out_channels=["phone"]).allowed


def test_s21_exact_equality_inside_and_or() -> None:
    """Sentence 21: an exact test of the request's own term keeps its value inside `and`, `or`
    and `not`."""
    p = policy(
        "rule r allow any party to use email for support when party = staff and a\n"
        "rule s allow any party to use email for newsletter when party = staff or a\n"
        "rule t allow any party to use email for advertising when not (party != staff) and a\n"
    )
    for purpose in ("support", "advertising"):
        assert decide(p, "staff", "email", purpose, a=True).allowed
        assert not decide(p, "customer_service", "email", purpose, a=True).allowed
        assert outcome(decide(p, "customer_service", "email", purpose)) == ("deny", [], [], [])
        assert outcome(decide(p, "staff", "email", purpose)) == ("deny", [], [], ["a"])
    assert outcome(decide(p, "staff", "email", "newsletter")) == ("allow", ["s"], [], [])
    assert decide(p, "customer_service", "email", "newsletter", a=True).allowed
    assert outcome(decide(p, "customer_service", "email", "newsletter")) == ("deny", [], [], ["a"])


def test_s21_string_comparisons() -> None:
    """Sentence 21: free strings compare exactly (case matters)."""
    p = policy(
        'rule r allow staff to use email for support when destination = "CA-QC"\n'
        'rule s allow staff to use email for newsletter when destination != "CA-QC"\n'
    )
    assert decide(p, "staff", "email", "support", destination="CA-QC").allowed
    assert not decide(p, "staff", "email", "support", destination="ca-qc").allowed
    assert decide(p, "staff", "email", "newsletter", destination="ca-qc").allowed


# ---- 22-24: obligations -------------------------------------------------------------------------


def test_s22_an_allow_carries_the_union_of_obligations() -> None:
    """Sentence 22: an allow carries the union of the obligations of every allow rule that
    applied, each once, sorted."""
    p = policy(
        "rule a allow delivery_partners to use postal_address for order_delivery\n"
        "  with obligation log_access\n"
        "rule b allow partners to use contact_information for order_delivery\n"
        "  with obligations log_access, ensure_adequate_protection\n"
        "rule c allow delivery_partners to use email for order_delivery\n"
        "rule d allow delivery_partners to use billing_address for order_delivery when a\n"
        "  with obligation ensure_adequate_protection\n"
    )
    assert outcome(decide(p, "delivery_partners", "postal_address", "order_delivery")) == (
        "allow",
        ["a", "b"],
        ["ensure_adequate_protection", "log_access"],
        [],
    )
    assert outcome(decide(p, "delivery_partners", "email", "order_delivery")) == (
        "allow",
        ["b", "c"],
        ["ensure_adequate_protection", "log_access"],
        [],
    )
    # A rule that does not apply contributes nothing.
    d = decide(p, "delivery_partners", "billing_address", "order_delivery", a=False)
    assert d.obligations == ["ensure_adequate_protection", "log_access"]
    assert [r.id for r in d.reasons] == ["a", "b"]
    solo = policy(
        "rule a allow delivery_partners to use postal_address for order_delivery\n"
        "  with obligation log_access\n"
        "rule c allow delivery_partners to use postal_address for order_delivery\n"
    )
    assert decide(solo, "delivery_partners", "postal_address", "order_delivery").obligations == [
        "log_access"
    ]


@pytest.mark.parametrize(
    ("context", "obligations", "missing"),
    [
        ({"destination": "US"}, ["ensure_adequate_protection", "log_access"], []),
        ({"destination": "CA-QC"}, ["log_access"], []),
        ({}, ["log_access"], ["destination"]),
        ({"destination": None}, ["log_access"], ["destination"]),
    ],
)
def test_s23_conditional_obligations(
    context: dict[str, Any], obligations: list[str], missing: list[str]
) -> None:
    """Sentence 23: an obligation with `when` attaches only when true; when unknown it is not
    attached and its key is listed in `missing`."""
    p = policy(
        "rule r allow delivery_partners to use postal_address for order_delivery\n"
        '  with obligation ensure_adequate_protection when destination != "CA-QC"\n'
        "  with obligation log_access\n"
    )
    d = p.decide("delivery_partners", "postal_address", "order_delivery", context)
    assert outcome(d) == ("allow", ["r"], obligations, missing)


def test_s23_an_obligation_given_unconditionally_elsewhere_stays() -> None:
    """Sentence 23: an unknown conditional clause does not remove the same obligation attached by
    another rule or clause."""
    p = policy(
        "rule r allow delivery_partners to use postal_address for order_delivery\n"
        '  with obligation ensure_adequate_protection when destination != "CA-QC"\n'
        "rule s allow partners to use postal_address for order_delivery\n"
        "  with obligation ensure_adequate_protection\n"
    )
    d = decide(p, "delivery_partners", "postal_address", "order_delivery")
    assert outcome(d) == ("allow", ["r", "s"], ["ensure_adequate_protection"], ["destination"])


def test_s24_a_deny_carries_no_obligations() -> None:
    """Sentence 24: a deny carries no obligations, even when an allow rule with obligations also
    applied (and also when the deny fails closed)."""
    p = policy(
        "rule r allow delivery_partners to use postal_address for order_delivery\n"
        "  with obligations ensure_adequate_protection, log_access\n"
        "rule d deny delivery_partners from using billing_address for any purpose when a\n"
    )
    assert decide(p, "delivery_partners", "postal_address", "order_delivery").obligations == [
        "ensure_adequate_protection",
        "log_access",
    ]
    for context in ({"a": True}, {}):
        d = p.decide("delivery_partners", "billing_address", "order_delivery", context)
        assert d.effect == "deny"
        assert d.obligations == []
        assert d.model_dump()["obligations"] == []
    assert decide(p, "delivery_partners", "billing_address", "order_delivery", a=False).allowed


# ---- 25-29: what a decision tells ---------------------------------------------------------------

FILES_25 = {
    "access.policy": (
        "# staff rules\n"
        'rule z_staff §5.1 "Staff may use email for support"\n'
        "  allow staff to use email for support\n"
        "\n"
        "rule a_customer_service §5.1, §9\n"
        "  allow customer_service to use email for support\n"
    ),
    "limits.policy": (
        "rule m_no_minors §3.2\n"
        "  deny any party from using email for support\n"
        "  when subject_age < 14\n"
        "rule b_no_sms\n"
        '  deny any party from using email for support when channel = "sms"\n'
    ),
    "vocabulary.policy": VOCABULARY,
}


def test_s25_reasons_of_an_allow() -> None:
    """Sentence 25: for an allow, every allow rule that applied, sorted by id, with id, effect,
    citation, description, file, line and location."""
    p = load_policy_text(FILES_25)
    d = p.decide("customer_service", "email", "support", {"subject_age": 30, "channel": "email"})
    assert [r.model_dump() for r in d.reasons] == [
        {
            "id": "a_customer_service",
            "effect": "allow",
            "citation": "§5.1, §9",
            "description": None,
            "file": "access.policy",
            "line": 5,
            "location": "access.policy:5",
        },
        {
            "id": "z_staff",
            "effect": "allow",
            "citation": "§5.1",
            "description": "Staff may use email for support",
            "file": "access.policy",
            "line": 2,
            "location": "access.policy:2",
        },
    ]


def test_s25_reasons_of_a_deny_include_fail_closed_rules() -> None:
    """Sentence 25: for a deny, every deny rule that applied or failed closed, sorted by id (no
    allow rule); for a default deny, none."""
    p = load_policy_text(FILES_25)
    d = p.decide("customer_service", "email", "support", {"subject_age": 12, "channel": "sms"})
    assert [(r.id, r.effect, r.citation, r.location) for r in d.reasons] == [
        ("b_no_sms", "deny", "", "limits.policy:4"),
        ("m_no_minors", "deny", "§3.2", "limits.policy:1"),
    ]
    d = p.decide("customer_service", "email", "support", {"channel": "sms"})
    assert [r.id for r in d.reasons] == ["b_no_sms", "m_no_minors"]
    d = p.decide("customer_service", "email", "support", {"channel": "email"})
    assert [r.id for r in d.reasons] == ["m_no_minors"]
    assert d.missing == ["subject_age"]
    d = p.decide("delivery_partners", "postal_address", "support")
    assert d.reasons == []


def test_s25_reasons_match_the_policy_rule_summary() -> None:
    """Sentence 25: a reason is the same summary `policy.rules` gives for that rule."""
    p = load_policy_text(FILES_25)
    by_id = {r.id: r for r in p.rules}
    d = p.decide("customer_service", "email", "support", {"subject_age": 30, "channel": "email"})
    assert all(by_id[r.id] == r for r in d.reasons)


def test_s26_policy_version_is_a_content_hash(tmp_path: Path) -> None:
    """Sentence 26: the same files give the same version, any change to the text another, and
    the order in which files are read does not matter."""
    rule = "rule r allow staff to use email for support\n"
    text = VOCABULARY + rule
    first, second = load_policy_text(text), load_policy_text(text)
    assert first.version == second.version
    assert re.fullmatch(r"[0-9a-f]{64}", first.version)
    assert load_policy_text(text + "# a comment\n").version != first.version
    changed_rule = rule.replace("support", "newsletter")
    assert load_policy_text(VOCABULARY + changed_rule).version != first.version
    d = first.decide("staff", "email", "support")
    assert d.policy_version == first.version == d.model_dump()["policy_version"]
    assert second.decide("staff", "email", "support").policy_version == d.policy_version

    forward = load_policy_text(FILES_25)
    backward = load_policy_text(dict(reversed(list(FILES_25.items()))))
    assert forward.version == backward.version
    changed = dict(FILES_25, **{"limits.policy": FILES_25["limits.policy"] + "\n"})
    assert load_policy_text(changed).version != forward.version
    # The same files read from a folder (anywhere on disk) give the same version.
    folder = tmp_path / "rules"
    folder.mkdir()
    for name, body in FILES_25.items():
        (folder / name).write_text(body, encoding="utf-8")
    assert load_policy(folder).version == forward.version


@pytest.mark.parametrize(
    ("request_", "context"),
    [
        (("customer_service", "email", "support"), {"subject_age": 30, "channel": "email"}),
        (("customer_service", "email", "support"), {"channel": "sms"}),
        (("delivery_partners", "postal_address", "support"), {}),
        (("staff", "email", "support"), {"consented_purposes": ["marketing"], "subject_age": None}),
    ],
)
def test_s27_model_dump_is_json(request_: tuple[str, str, str], context: dict[str, Any]) -> None:
    """Sentence 27: `d.model_dump()` equals `json.loads(d.model_dump_json())` and has the keys
    allowed, effect, obligations, obligation_details, undetermined_obligations, reasons,
    missing, policy_version and request."""
    p = load_policy_text(FILES_25)
    d = p.decide(*request_, context)
    dumped = d.model_dump()
    assert dumped == json.loads(d.model_dump_json())
    assert json.loads(json.dumps(dumped)) == dumped
    assert set(dumped) == {
        "allowed",
        "effect",
        "obligations",
        "obligation_details",
        "undetermined_obligations",
        "reasons",
        "missing",
        "policy_version",
        "request",
    }
    assert dumped["allowed"] is d.allowed
    assert dumped["effect"] == d.effect
    assert dumped["obligations"] == d.obligations
    assert dumped["missing"] == d.missing
    assert [r["id"] for r in dumped["reasons"]] == [r.id for r in d.reasons]
    assert dumped["request"] == {
        "party": request_[0],
        "data": request_[1],
        "purpose": request_[2],
        "context": context,
    }


def test_s28_explain_mentions_every_candidate_rule_and_actual_values() -> None:
    """Sentence 28: `d.explain()` tells every rule that covers the request, each condition with
    its value and the actual values it saw."""
    files = dict(
        FILES_25,
        **{
            "other.policy": (
                "rule unrelated allow delivery_partners to use postal_address for order_delivery\n"
                "rule consent allow staff to use email for support\n"
                "  when purpose in consented_purposes and identity_verified\n"
                "  unless channel in opted_out_channels\n"
            )
        },
    )
    p = load_policy_text(files)
    context = {
        "subject_age": 12,
        "channel": "email",
        "consented_purposes": ["support"],
        "opted_out_channels": ["sms"],
    }
    d = p.decide("customer_service", "email", "support", context)
    text = d.explain()
    candidates = ["a_customer_service", "b_no_sms", "consent", "m_no_minors", "z_staff"]
    for rule_id in candidates:
        assert f"`{rule_id}`" in text
    assert "`unrelated`" not in text
    assert sorted(t.id for t in d.trace().considered) == candidates
    # Actual values of the conditions, including the failing ones.
    assert "`subject_age` is 12" in text
    assert '`channel` is "email"' in text
    assert "`consented_purposes` is [support]" in text
    assert "`identity_verified` is missing" in text
    assert '`opted_out_channels` is ["sms"]' in text
    assert "DENY" in text and "m_no_minors" in text.splitlines()[0]
    by_id = {t.id: t for t in d.trace().considered}
    assert by_id["b_no_sms"].value == "false"
    assert by_id["m_no_minors"].value == "true"
    assert by_id["consent"].value == "unknown"
    assert by_id["consent"].missing == ["identity_verified"]
    assert by_id["consent"].condition is not None
    assert [c.value for c in by_id["consent"].condition.children] == ["true", "unknown"]
    assert by_id["consent"].exceptions[0].value == "false"


def test_s28_explain_of_a_default_deny() -> None:
    """Sentence 28: with no rule covering the request, explain says so."""
    p = load_policy_text(FILES_25)
    d = p.decide("delivery_partners", "postal_address", "order_delivery")
    text = d.explain()
    assert "default deny" in text
    assert d.trace().considered == []


def _requests_29(p: Policy) -> list[tuple[str, str, str, dict[str, Any]]]:
    contexts: list[dict[str, Any]] = [
        {},
        {"subject_age": 12},
        {"subject_age": 30, "channel": "email"},
        {"channel": "sms", "a": True},
        {"subject_age": 30, "channel": "email", "consented_purposes": ["marketing"]},
        {"destination": "US", "b": False, "identity_verified": True},
    ]
    return [
        (party, data, purpose, context)
        for party in p.terms("party")
        for data in p.terms("data")
        for purpose in p.terms("purpose")
        for context in contexts
    ]


def test_s29_decide_is_thread_safe() -> None:
    """Sentence 29: many threads deciding at once get exactly the answers they would get one at a
    time (including the first decisions, which fill the policy's internal caches)."""
    rules = "".join(RULES_8) + FILES_25["access.policy"] + FILES_25["limits.policy"]
    sequential_policy = policy(rules)
    requests = _requests_29(sequential_policy)
    expected = [sequential_policy.decide(*r).model_dump() for r in requests]

    shared = policy(rules)  # fresh: its caches are filled concurrently
    barrier = threading.Barrier(8)

    def run(offset: int) -> list[tuple[int, dict[str, Any]]]:
        barrier.wait()
        order = list(range(len(requests)))
        order = order[offset:] + order[:offset]
        return [(i, shared.decide(*requests[i]).model_dump()) for i in order]

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(run, [k * len(requests) // 8 for k in range(8)]))
    finally:
        sys.setswitchinterval(old)
    for result in results:
        assert len(result) == len(requests)
        for i, dumped in result:
            assert dumped == expected[i]
    assert [shared.decide(*r).model_dump() for r in requests] == expected


def test_s29_decide_does_not_change_the_policy_or_the_context() -> None:
    """Sentence 29: deciding is pure: the caller's context is not modified and the same request
    always gets the same answer."""
    p = load_policy_text(FILES_25)
    context: Mapping[str, Any] = {"consented_purposes": ["marketing"], "subject_age": 30}
    snapshot = json.dumps(context, sort_keys=True)
    first = p.decide("customer_service", "email", "support", context).model_dump()
    for _ in range(3):
        assert p.decide("customer_service", "email", "support", context).model_dump() == first
    assert json.dumps(context, sort_keys=True) == snapshot


# ---- 30-32: named conditions and declared obligations ----------------------------------------


def _contexts_30() -> list[dict[str, Any]]:
    return [
        {
            k: v
            for k, v in zip(("destination", "identity_verified", "subject_age"), c, strict=True)
            if v is not None
        }
        for c in itertools.product((None, "US", "CA-QC"), (None, True, False), (None, 12, 18, 30))
    ]


def test_s30_a_named_condition_decides_as_the_condition_written_out() -> None:
    """Sentence 30: a rule using named conditions (nested ones too) decides every request, its
    reasons and missing keys included, as the same rule with the conditions written out."""
    named = policy(
        'condition outside_quebec §5.1 "outside" means destination != "CA-QC"\n'
        "condition adult means subject_age >= 18\n"
        "condition verified_adult means identity_verified and adult\n"
        "rule r §5.1 allow delivery_partners to use postal_address for order_delivery\n"
        "  when outside_quebec and verified_adult unless not adult\n"
        "rule d §3.2 deny any party from using any data for order_delivery\n"
        "  when outside_quebec and not adult\n"
    )
    inlined = policy(
        "rule r §5.1 allow delivery_partners to use postal_address for order_delivery\n"
        '  when destination != "CA-QC" and (identity_verified and subject_age >= 18)\n'
        "  unless not subject_age >= 18\n"
        "rule d §3.2 deny any party from using any data for order_delivery\n"
        '  when destination != "CA-QC" and not subject_age >= 18\n'
    )
    for context in _contexts_30():
        request = ("delivery_partners", "postal_address", "order_delivery", context)
        assert outcome(named.decide(*request)) == outcome(inlined.decide(*request)), context


def test_s30_explain_shows_the_name_its_citation_and_its_parts() -> None:
    """Sentence 30: the explanation names the named condition, its citation, description and
    value, then what it means."""
    example = next(e for e in DOC_EXAMPLES if e.sentence == 30)
    p = load_policy_text(example.policy_text)
    context = {"destination": "US", "identity_verified": True, "subject_age": 30}
    d = p.decide("delivery_partners", "postal_address", "order_delivery", context)
    text = d.explain()
    block = SEMANTICS.read_text(encoding="utf-8").split("what it means (abridged):")[1]
    shown = block.split("```text\n")[1].split("```")[0]
    for line in shown.splitlines()[1:]:  # the header's line number is the page's
        assert line in text.splitlines(), line
    condition = next(r for r in d.trace().considered if r.id == "transfers_for_adults").condition
    assert condition is not None
    first = condition.children[0]
    assert first.text == "outside_quebec" and first.named is not None
    assert (first.named.citation, first.named.description) == (
        "§5.1",
        "communicated outside Québec",
    )
    assert [c.text for c in first.children] == ['destination != "CA-QC"']


def test_s31_a_declared_obligation_condition_is_anded_with_the_clause() -> None:
    """Sentence 31: the declared condition and the clause's own must both hold; a clause naming
    obligations declared with different conditions attaches each under its own."""
    p = policy(
        'obligation assess_transfer §5.1 when destination != "CA-QC"\n'
        "rule r §5.1 allow partners to use email for support\n"
        "  with obligations assess_transfer, log_access when identity_verified\n"
    )
    cases = {
        (("destination", "US"), ("identity_verified", True)): (
            ["assess_transfer", "log_access"],
            [],
        ),
        (("destination", "CA-QC"), ("identity_verified", True)): (["log_access"], []),
        (("destination", "US"), ("identity_verified", False)): ([], []),
        (("identity_verified", True),): (["log_access"], ["destination"]),
        (("destination", "US"),): ([], ["identity_verified"]),
    }
    for items, (obligations, missing) in cases.items():
        d = decide(p, "partners", "email", "support", **dict(items))
        assert (d.obligations, d.missing) == (obligations, missing), items
    clauses = [
        o.obligations
        for o in decide(p, "partners", "email", "support").trace().considered[0].obligations
    ]
    assert clauses == [["assess_transfer"], ["log_access"]]


def test_s32_obligation_details_carry_the_parameters() -> None:
    """Sentence 32: names in `obligations`, each requirement with its arguments (defaults filled
    in) in `obligation_details`, in the model, the JSON and the explanation."""
    p = policy(
        'obligation retain_for(years: integer default 6, medium: one of "paper", "digital")\n'
        "obligation cap_exposure(ratio: decimal default 0.50)\n"
        "rule a §1 allow delivery_partners to use postal_address for order_delivery\n"
        '  with obligations retain_for(medium = "paper"), cap_exposure(ratio = 0.5)\n'
        "rule b §1 allow partners to use contact_information for order_delivery\n"
        '  with obligations log_access, retain_for(medium = "digital", years = 10)\n'
        "  with obligation cap_exposure(ratio = 10.0)\n"
        "rule c §1 allow partners to use postal_address for order_delivery\n"
        '  with obligations retain_for(years = 6, medium = "paper"), cap_exposure\n'
        "  with obligation cap_exposure(ratio = 2)\n"
    )
    d = p.decide("delivery_partners", "postal_address", "order_delivery")
    assert d.obligations == ["cap_exposure", "log_access", "retain_for"]
    assert [o.text for o in d.obligation_details] == [
        "cap_exposure(ratio = 0.5)",
        "cap_exposure(ratio = 2)",
        "cap_exposure(ratio = 10)",
        "log_access",
        'retain_for(years = 6, medium = "paper")',
        'retain_for(years = 10, medium = "digital")',
    ]
    dumped = d.model_dump()
    assert dumped == json.loads(d.model_dump_json())
    assert dumped["obligation_details"][4] == {
        "name": "retain_for",
        "parameters": {"years": 6, "medium": "paper"},
    }
    assert dumped["obligation_details"][0] == {
        "name": "cap_exposure",
        "parameters": {"ratio": 0.5},
    }
    assert 'log_access, retain_for(years = 6, medium = "paper"), retain_for(years = 10' in (
        d.explain()
    )
    denied = p.decide("delivery_partners", "email", "support")
    assert (denied.obligations, denied.obligation_details) == ([], [])


# ---- 33-36: time -------------------------------------------------------------------------------

TIME_KEYS = "context decided_at: instant is now\ncontext consent_given_at: instant\n"


def test_s33_instants_are_points_in_time() -> None:
    """Sentence 33: an instant written with another offset is the same instant."""
    p = policy(
        TIME_KEYS + "rule r allow staff to use email for support\n  when now = consent_given_at\n"
    )
    same = {"decided_at": "2026-12-06T19:00:00+01:00", "consent_given_at": "2026-12-06T18:00:00Z"}
    assert decide(p, "staff", "email", "support", **same).allowed
    later = {**same, "decided_at": "2026-12-06T18:00:00.000000001Z"}
    assert not decide(p, "staff", "email", "support", **later).allowed


@pytest.mark.parametrize(
    ("given", "months", "last_day"),
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2024-01-31", 1, "2024-02-29"),
        ("2024-02-29", 12, "2025-02-28"),
    ],
)
def test_s34_months_clamp_to_the_end_of_the_month(given: str, months: int, last_day: str) -> None:
    """Sentence 34: `key + n months` is the last day of a shorter month, not the next month."""
    p = policy(
        "context since: date\ncontext today: date is now\n"
        f"rule r allow staff to use email for support\n  when today = since + {months} months\n"
    )
    assert decide(p, "staff", "email", "support", since=given, today=last_day).allowed


def test_s35_now_comes_from_the_request() -> None:
    """Sentence 35: the decision's time is a context key; without it `now` is unknown."""
    p = policy(
        TIME_KEYS
        + "rule r deny staff from using email for support\n  when now > consent_given_at\n"
    )
    assert p.now_key == "decided_at"
    assert outcome(
        decide(p, "staff", "email", "support", consent_given_at="2026-01-01T00:00:00Z")
    ) == (
        "deny",
        ["r"],
        [],
        ["decided_at"],
    )


def test_s36_bad_dates_are_request_errors() -> None:
    """Sentence 36: a wrong date or instant is a RequestError naming the key."""
    p = policy(TIME_KEYS)
    for value in ("2026-12-06T18:00:00", "2026-12-06", 5):
        with pytest.raises(RequestError, match="`decided_at`"):
            decide(p, "staff", "email", "support", decided_at=value)


# ---- overrides -----------------------------------------------------------------------------------

OVERRIDE_CONTEXTS: list[dict[str, Any]] = [
    {},
    {"a": True},
    {"a": False},
    {"a": True, "subject_age": 12},
    {"a": True, "subject_age": 30},
    {"a": False, "subject_age": 12},
    {"subject_age": 12},
    {"a": True, "b": True, "subject_age": 12, "destination": "US"},
    {"b": True, "subject_age": 12, "destination": "CA-QC"},
    {"b": True},
]

OVERRIDDEN = (
    "rule staff_support §5.1\n  allow staff to use personal_information for support\n"
    "rule minors_finance §3.2\n  deny any party from using financial_information for support\n"
    "  when subject_age < 18\n  unless b\n"
)


def _every_answer(p: Policy, data: tuple[str, ...] = ("billing_address", "email")) -> list[Any]:
    return [
        outcome(p.decide("customer_service", d, "support", c))
        for d in data
        for c in OVERRIDE_CONTEXTS
    ]


def test_s37_a_lifted_deny_is_the_deny_with_one_more_unless() -> None:
    """Sentence 37: an override lifting a deny decides every request as the deny with the
    override's condition as one more `unless` (unknown: no lift, fail closed)."""
    lifted = policy(OVERRIDDEN + "override by_a §9\n  lifts minors_finance\n  when a\n")
    written = policy(OVERRIDDEN + "  unless a\n")
    assert _every_answer(lifted) == _every_answer(written)
    assert outcome(decide(lifted, "customer_service", "billing_address", "support", a=True)) == (
        "allow",
        ["staff_support"],
        [],
        [],
    )
    unknown = decide(lifted, "customer_service", "billing_address", "support", subject_age=12)
    assert outcome(unknown) == ("deny", ["minors_finance"], [], ["a", "b"])


def test_s38_lifts_the_denies_citing_a_section_or_within_it_in_any_file() -> None:
    """Sentence 38: `lifts denies citing §3` lifts denies citing §3, §3.2 or §3(1), in any file;
    not a deny citing §31 or §4.2, nor an allow."""
    files = {
        "rules.policy": VOCABULARY
        + "rule staff_support §3.1\n  allow staff to use personal_information for support\n"
        + "rule d1 §3.2\n  deny any party from using email for support\n"
        + "rule d2 §3(1)\n  deny any party from using postal_address for support\n"
        + "rule d3 §31\n  deny any party from using billing_address for support\n",
        "more.policy": "rule d4 §4.2, §3\n  deny any party from using financial_information "
        "for support\n  when a\n",
        "overrides.policy": "override by_b §9\n  lifts denies citing §3\n  when b\n",
    }
    p = load_policy_text(files)
    assert sorted(p.compiled.overrides[0].lifts) == ["d1", "d2", "d4"]
    answers = {
        data: p.decide("customer_service", data, "support", {"a": True, "b": True}).effect
        for data in ("email", "postal_address", "billing_address", "contact_information")
    }
    assert answers == {
        "email": "allow",
        "postal_address": "allow",
        "billing_address": "deny",  # d3 (§31) is not within §3
        "contact_information": "allow",
    }


def test_s38_an_override_lifts_deny_rules_only() -> None:
    """Sentence 38: an allow rule, an override or an unknown id cannot be lifted."""
    cases = {
        "lifts staff_support": "override-lifts-allow",
        "lifts other": "override-lifts-override",
        "lifts minors_financ": "unknown-rule",
        "lifts denies citing §7": "override-lifts-nothing",
        "lifts denies citing §5": "override-lifts-nothing",  # only an allow cites §5.1
    }
    for lifts, code in cases.items():
        text = OVERRIDDEN + f"override o §9\n  {lifts}\n  when a\n"
        text += "override other §9\n  lifts minors_finance\n  when b\n"
        with pytest.raises(PolicyError) as raised:
            policy(text)
        assert [d.code for d in raised.value.errors] == [code], lifts


def test_s39_obligations_only_where_a_lifted_deny_would_otherwise_apply() -> None:
    """Sentence 39: the override's obligations come with an allow exactly when it lifted a deny
    that was true or unknown without it; each clause needs its own `when` too."""
    p = policy(
        OVERRIDDEN + "override by_a §9\n  lifts minors_finance\n  when a\n"
        "  with obligation log_access\n"
        '  with obligation ensure_adequate_protection when destination != "CA-QC"\n'
    )

    def obligations(data: str, **context: Any) -> tuple[str, list[str], list[str]]:
        d = decide(p, "customer_service", data, "support", **context)
        return d.effect, d.obligations, d.missing

    assert obligations("billing_address", a=True, subject_age=12, destination="US") == (
        "allow",
        ["ensure_adequate_protection", "log_access"],
        [],
    )
    assert obligations("billing_address", a=True, subject_age=12) == (
        "allow",
        ["log_access"],
        ["destination"],
    )
    assert obligations("billing_address", a=True) == ("allow", ["log_access"], ["destination"])
    assert obligations("billing_address", a=True, subject_age=30) == ("allow", [], [])
    assert obligations("billing_address", a=True, b=True, subject_age=12) == ("allow", [], [])
    assert obligations("email", a=True, subject_age=12) == ("allow", [], [])
    assert obligations("billing_address", a=False, b=False, subject_age=12) == ("deny", [], [])


def test_s40_an_unknown_override_brings_nothing_and_names_its_keys() -> None:
    """Sentence 40: on an allow another override made, an override whose condition is unknown
    attaches none of its obligations and its keys are missing."""
    p = policy(
        OVERRIDDEN + "override by_a §9\n  lifts minors_finance\n  when a\n"
        "  with obligation log_access\n"
    )
    allowed = decide(p, "customer_service", "billing_address", "support", b=True, subject_age=12)
    assert outcome(allowed) == ("allow", ["staff_support"], [], [])  # `b` is the rule's own unless
    both = policy(
        OVERRIDDEN + "override by_a §9\n  lifts minors_finance\n  when a\n"
        "  with obligation log_access\n"
        "override by_identity §9\n  lifts minors_finance\n  when identity_verified\n"
    )
    d = decide(both, "customer_service", "billing_address", "support", identity_verified=True)
    assert outcome(d) == ("allow", ["staff_support"], [], ["a"])
    d = decide(
        both, "customer_service", "billing_address", "support", identity_verified=True, a=True
    )
    assert d.obligations == ["log_access"]


def test_s40_explain_names_the_override_that_lifted_a_deny() -> None:
    """Sentences 37 and 39 in an explanation: the deny would apply, lifted by the override
    (citation) because its condition; the override's lifted rules and obligations."""
    p = policy(
        OVERRIDDEN + 'override by_a §9 "a lifts it"\n  lifts minors_finance\n  when a\n'
        "  with obligation log_access\n"
    )
    d = decide(p, "customer_service", "billing_address", "support", a=True, b=False, subject_age=12)
    text = d.explain()
    assert "deny `minors_finance` would apply; lifted by override `by_a` (§9) because a" in text
    assert "lifted by override `by_a` when a  → true (`a` is true)  [lifts it]" in text
    assert "[lifts] override `by_a`" in text and "with obligation log_access  → attached" in text
    trace = d.trace()
    [use] = trace.overrides
    assert (use.id, use.lifted, use.description) == ("by_a", ["minors_finance"], "a lifts it")
    [rule] = [t for t in trace.considered if t.id == "minors_finance"]
    assert rule.would_apply == "true" and rule.overrides[0].lifts
    failing = decide(p, "customer_service", "billing_address", "support", subject_age=12)
    assert "override `by_a` lifts it only when a" in failing.explain()


# ---- 46: numbers ---------------------------------------------------------------------------------

NUMBERS_46 = """
context risk: decimal
rule low_risk §9
  allow customer_service to use email for support
  when risk < 0.3 and subject_age > 17.5
"""


@pytest.mark.parametrize(
    ("risk", "age", "effect"),
    [
        (Decimal("0.29999999999999999999"), 18, "allow"),
        (0.3, 18, "deny"),  # the float 0.3 is three tenths, not the binary fraction below it
        (Decimal("0.3"), 18, "deny"),
        (0, 18, "allow"),
        (0.1, 17, "deny"),
    ],
)
def test_s46_numbers_compare_exactly(risk: object, age: int, effect: str) -> None:
    """Sentence 46: integers and decimals compare as the numbers they are."""
    d = decide(
        policy(NUMBERS_46), "customer_service", "email", "support", risk=risk, subject_age=age
    )
    assert d.effect == effect


@pytest.mark.parametrize("risk", [float("nan"), float("-inf"), True, "0.1", [0.1]])
def test_s46_a_number_that_is_not_finite_is_a_request_error(risk: object) -> None:
    with pytest.raises(RequestError):
        decide(policy(NUMBERS_46), "customer_service", "email", "support", risk=risk)


# ---- 47: attributes of terms ---------------------------------------------------------------------

ATTRIBUTES_47 = """
attribute location of party: one of "CA-QC", "US" default "US"
party quebec_couriers under delivery_partners with location = "CA-QC"
party night_couriers under quebec_couriers
rule in_quebec §5.1
  allow delivery_partners to use postal_address for order_delivery
  when party.location = "CA-QC"
rule outside_quebec §5.1
  deny any party from using billing_address for order_delivery
  when party.location != "CA-QC"
"""


@pytest.mark.parametrize(
    ("party", "data", "effect", "reasons"),
    [
        ("night_couriers", "postal_address", "allow", ["in_quebec"]),  # its parent's value
        ("delivery_partners", "postal_address", "deny", []),  # the default, "US"
        ("delivery_partners", "billing_address", "deny", ["outside_quebec"]),
        ("night_couriers", "billing_address", "allow", ["in_quebec"]),
    ],
)
def test_s47_an_attribute_is_the_terms_its_parents_or_the_default(
    party: str, data: str, effect: str, reasons: list[str]
) -> None:
    d = decide(policy(ATTRIBUTES_47), party, data, "order_delivery")
    assert (d.effect, [r.id for r in d.reasons], d.missing) == (effect, reasons, [])


def test_s47_without_a_value_an_attribute_is_unknown_and_not_missing() -> None:
    p = policy(ATTRIBUTES_47.replace(' default "US"', ""))
    allow = decide(p, "delivery_partners", "postal_address", "order_delivery")
    assert (allow.effect, allow.reasons, allow.missing) == ("deny", [], [])
    deny = decide(p, "delivery_partners", "billing_address", "order_delivery")
    assert ([r.id for r in deny.reasons], deny.missing) == (["outside_quebec"], [])
    assert "`party.location` is unknown" in deny.explain()


# ---- 48: obligations an allow cannot decide ------------------------------------------------------

UNDETERMINED_48 = """
attribute location of party: one of "CA-QC", "US"
party quebec_couriers under delivery_partners with location = "CA-QC"
party us_couriers under delivery_partners with location = "US"
obligation assess_transfer "assess the protection abroad" §5.1 when party.location != "CA-QC"

rule delivery §5.1
  allow delivery_partners to use postal_address for order_delivery
  with obligation assess_transfer
  with obligation log_access when destination != "CA-QC"
"""


def test_s48_an_unknown_obligation_is_listed_with_what_it_lacks() -> None:
    """Sentence 48: the obligation an attribute leaves unknown is listed with the attribute (and
    not in `missing`); one a missing key leaves unknown, with the key (in `missing` too); none
    for a term with a value, or on a deny."""
    p = policy(UNDETERMINED_48)
    d = decide(p, "delivery_partners", "postal_address", "order_delivery", destination="US")
    assert d.missing == [] and d.obligations == ["log_access"]
    assert [u.model_dump() for u in d.undetermined_obligations] == [
        {
            "name": "assess_transfer",
            "parameters": {},
            "required_by": "delivery",
            "missing": [],
            "unknown_attributes": ["party.location"],
        }
    ]
    assert (
        d.model_dump()["undetermined_obligations"]
        == d.to_model().model_dump(mode="json")["undetermined_obligations"]
    )
    bare = decide(p, "delivery_partners", "postal_address", "order_delivery")
    assert bare.missing == ["destination"]
    assert [(u.name, u.missing, u.unknown_attributes) for u in bare.undetermined_obligations] == [
        ("assess_transfer", [], ["party.location"]),
        ("log_access", ["destination"], []),
    ]
    us = decide(p, "us_couriers", "postal_address", "order_delivery", destination="US")
    assert us.undetermined_obligations == [] and us.obligations == ["assess_transfer", "log_access"]
    denied = decide(p, "delivery_partners", "email", "order_delivery")
    assert denied.undetermined_obligations == []


def test_s48_one_the_allow_carries_anyway_is_not_listed() -> None:
    """Sentence 48: an obligation another clause attaches is carried, not undetermined."""
    p = policy(UNDETERMINED_48 + '  with obligation log_access when party.location = "US"\n')
    d = decide(p, "delivery_partners", "postal_address", "order_delivery", destination="US")
    assert d.obligations == ["log_access"]
    assert [u.name for u in d.undetermined_obligations] == ["assess_transfer"]
    d = decide(p, "delivery_partners", "postal_address", "order_delivery", destination="CA-QC")
    assert d.obligations == []
    assert [u.name for u in d.undetermined_obligations] == ["assess_transfer", "log_access"]


def test_s48_the_explanation_says_why_it_is_not_attached() -> None:
    """Sentence 48: the words of the page, in the summary and the obligations' lines."""
    page = SEMANTICS.read_text(encoding="utf-8")
    start = page.index("d.explain().splitlines()[0]\n")
    said = " ".join(line.removeprefix("# ").strip() for line in page[start:].splitlines()[1:4])
    d = decide(
        policy(UNDETERMINED_48),
        "delivery_partners",
        "postal_address",
        "order_delivery",
        destination="US",
    )
    text = d.explain()
    assert text.splitlines()[0] == said
    assert (
        "Not attached, condition unknown: assess_transfer of `delivery`, because "
        "`party.location` is unknown (`delivery_partners` has no `location`)"
    ) in text


def test_s48_check_names_the_obligation_and_the_terms(tmp_path: Path) -> None:
    """Sentence 48: the warning of the page, at the obligation written in the rule."""
    from policy_engine import check_policy

    page = SEMANTICS.read_text(encoding="utf-8")
    shown = next(line for line in page.splitlines() if "warning: obligation `assess" in line)
    where, _, message = shown.partition(": warning: ")
    # The page's policy of 48: its shared vocabulary, then the example.
    text = next(e.policy_text for e in DOC_EXAMPLES if e.sentence == 48)
    file = tmp_path / "p.policy"
    file.write_text(text, encoding="utf-8")
    [found] = [d for d in check_policy(file) if d.code == "obligation-attribute-unknown"]
    assert (found.message, found.severity) == (message, "warning")
    assert found.span is not None
    assert text.splitlines()[found.span.line - 1] == "  with obligation assess_transfer"
    assert where == f"p.policy:{found.span.line}:{found.span.column}"


# ---- 49: relationships ---------------------------------------------------------------------------

RELATIONSHIPS_49 = """
context requester: string
context record.author: string
rule originator §9
  allow staff to use email for support
  when requester = record.author
"""


@pytest.mark.parametrize(
    "context",
    [
        {"requester": "ana", "record": {"author": "ana"}},
        {"requester": "ana", "record.author": "ana"},
    ],
)
def test_s49_a_dotted_key_is_sent_flat_or_nested(context: dict[str, Any]) -> None:
    d = policy(RELATIONSHIPS_49).decide("customer_service", "email", "support", context)
    assert outcome(d) == ("allow", ["originator"], [], [])


def test_s49_a_comparison_of_two_keys_is_unknown_when_one_is_missing() -> None:
    d = decide(policy(RELATIONSHIPS_49), "customer_service", "email", "support", requester="ana")
    assert outcome(d) == ("deny", [], [], ["record.author"])


# ---- 50-53: keys of one term ---------------------------------------------------------------------

TERM_KEY_50 = """
context recipient: party
rule to_partners §5.1
  allow customer_service to use postal_address for order_delivery
  when recipient in partners
rule to_colleagues §5.1
  allow customer_service to use email for support
  when party in recipient and recipient != customer_service
"""


@pytest.mark.parametrize(
    ("recipient", "partners", "colleagues"),
    [
        ("delivery_partners", True, False),
        ("auditor", True, False),  # under staff and partners, above no one
        ("partners", True, False),
        ("staff", False, True),
        ("customer_service", False, False),  # `!=` is exact
        ("marketing_department", False, False),
    ],
)
def test_s50_a_key_of_one_term_is_placed_in_the_hierarchy(
    recipient: str, partners: bool, colleagues: bool
) -> None:
    p = policy(TERM_KEY_50)
    assert (
        decide(
            p, "customer_service", "postal_address", "order_delivery", recipient=recipient
        ).allowed
        is partners
    )
    assert (
        decide(p, "customer_service", "email", "support", recipient=recipient).allowed is colleagues
    )


def test_s50_a_missing_key_of_one_term_is_unknown_and_missing() -> None:
    assert outcome(decide(policy(TERM_KEY_50), "customer_service", "email", "support")) == (
        "deny",
        [],
        [],
        ["recipient"],
    )


@pytest.mark.parametrize("value", ["custmer_service", "email", 7, ["staff"]])
def test_s50_a_value_that_names_no_party_is_a_request_error(value: object) -> None:
    with pytest.raises(RequestError, match="`recipient`"):
        decide(policy(TERM_KEY_50), "customer_service", "email", "support", recipient=value)


TERM_ATTRIBUTES_51 = """
attribute location of party: one of "CA-QC", "US"
party quebec_couriers under delivery_partners with location = "CA-QC"
party night_couriers under quebec_couriers
party us_couriers under delivery_partners with location = "US"
context courier: party
rule couriers_in_quebec §5.1
  allow customer_service to use postal_address for order_delivery
  when courier.location = "CA-QC"
rule transfers_reviewed §5.1
  deny customer_service from using billing_address for order_delivery
  when courier.location != "CA-QC"
"""


@pytest.mark.parametrize(
    ("courier", "expected"),
    [
        ("night_couriers", ("allow", ["couriers_in_quebec"], [], [])),  # its parent's value
        ("us_couriers", ("deny", ["transfers_reviewed"], [], [])),
        ("delivery_partners", ("deny", ["transfers_reviewed"], [], [])),  # no value: unknown
        (None, ("deny", ["transfers_reviewed"], [], ["courier"])),  # the key missing
    ],
)
def test_s51_an_attribute_of_a_keys_term(
    courier: str | None, expected: tuple[str, list[str], list[str], list[str]]
) -> None:
    context = {} if courier is None else {"courier": courier}
    d = decide(
        policy(TERM_ATTRIBUTES_51),
        "customer_service",
        "billing_address",
        "order_delivery",
        **context,
    )
    assert outcome(d) == expected
    if courier == "delivery_partners":
        assert "`courier.location` is unknown: `delivery_partners` has no `location`" in d.explain()


@pytest.mark.parametrize(
    "courier", [None, "delivery_partners", "quebec_couriers", "night_couriers"]
)
def test_s52_is_known_of_an_attribute_is_never_unknown(courier: str | None) -> None:
    p = policy(
        TERM_ATTRIBUTES_51
        + "rule assessed §5.1\n  allow customer_service to use email for support\n"
        "  when courier.location is known and party.location is missing\n"
    )
    context = {} if courier is None else {"courier": courier}
    d = decide(p, "customer_service", "email", "support", **context)
    has_location = courier in ("quebec_couriers", "night_couriers")
    assert outcome(d) == (("allow", ["assessed"]) if has_location else ("deny", [])) + ([], [])


CONTRACT_53 = """
attribute contract_signed of party: date
party quebec_couriers under delivery_partners with contract_signed = date "2024-02-29"
context today: date is now
rule contract_in_force §5.1
  allow delivery_partners to use postal_address for order_delivery
  when today < party.contract_signed + 1 year
"""


@pytest.mark.parametrize(
    ("party", "today", "expected"),
    [
        ("quebec_couriers", "2025-02-27", ("allow", ["contract_in_force"], [], [])),
        ("quebec_couriers", "2025-02-28", ("deny", [], [], [])),  # a year later clamps to the 28th
        ("delivery_partners", "2025-01-01", ("deny", [], [], [])),  # no value: unknown
        ("quebec_couriers", None, ("deny", [], [], ["today"])),
    ],
)
def test_s53_a_date_attribute_compares_and_moves_as_a_date(
    party: str, today: str | None, expected: tuple[str, list[str], list[str], list[str]]
) -> None:
    context = {} if today is None else {"today": today}
    assert (
        outcome(decide(policy(CONTRACT_53), party, "postal_address", "order_delivery", **context))
        == expected
    )
