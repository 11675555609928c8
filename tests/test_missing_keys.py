"""`deny-on-missing-key`: a deny that refuses every request leaving a context key out.

The unit tests pin the finding's message, help and place on small policies, and the cases it
must leave alone (``is known``, ``is missing``, a default, an allow rule, a deny that refuses
everything anyway, a deny that lets some cell through). The property at the end checks the
finding against a brute-force enumeration of contexts on random small policies (the generators
of ``test_properties``), with the definition of ``policy_engine.analysis.missing_keys``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from policy_engine import check_policy, load_policy_text
from policy_engine.analysis import missing_keys
from policy_engine.analysis.budget import Budget, Meter
from policy_engine.analysis.missing_keys import denies_on_missing_keys
from policy_engine.analysis.search import CellSearch
from policy_engine.analysis.space import RequestSpace
from policy_engine.engine.compiler import CompiledRule
from policy_engine.engine.evaluator import rule_value
from policy_engine.engine.request import normalize_context
from policy_engine.language.errors import Diagnostic

from .test_properties import (
    DECIMALS,
    KINDS,
    SCHEMA,
    STRINGS,
    PolicySpec,
    RuleSpec,
    ancestors,
    draw_expr,
    draw_rule,
    lifted_ids,
    number,
    policies,
    policy_text,
)

BASE = """\
party staff
party doctor under staff
data health_data
data email
purpose treatment, research
context patient_age: integer
context guardian_objects: boolean
context consent_given: boolean
context region: one of "eu", "us"
context flags: list of "a", "b"
context emergency: boolean default false
"""

CODE = "deny-on-missing-key"


def warnings(text: str, budget: Budget | None = None) -> list[Diagnostic]:
    compiled = load_policy_text(BASE + text).compiled
    space = RequestSpace([compiled])
    return denies_on_missing_keys(CellSearch(compiled, space, Meter(budget)))


def at(text: str, snippet: str, skip: int = 0) -> tuple[int, int]:
    index = text.index(snippet) + skip
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


CHILD = """\
rule child §1
  deny any party from using health_data for any purpose
  when patient_age < 14
"""


def test_a_deny_on_a_missing_age_warns(tmp_path: Path) -> None:
    path = tmp_path / "p.policy"
    path.write_text(BASE + CHILD)
    [d] = [d for d in check_policy(path) if d.code == CODE]
    assert d.severity == "warning"
    assert d.message == (
        "deny `child` refuses every request that leaves `patient_age` out "
        "(for `any party` using `health_data` for `any purpose`)"
    )
    assert d.help == (
        "if a request without `patient_age` should pass this rule, write "
        "`when patient_age is known and …`; if the refusal is intended, write "
        "`when patient_age is missing or …`; or declare a default for `patient_age`"
    )
    assert d.span is not None
    assert (d.span.line, d.span.column) == at(BASE + CHILD, "rule child", len("rule "))
    # What the warning says is what the engine does.
    policy = load_policy_text(BASE + CHILD)
    for context in ({}, {"patient_age": None}, {"region": "eu", "guardian_objects": True}):
        decision = policy.decide("doctor", "health_data", "research", context)
        assert decision.effect == "deny"
        assert [r.id for r in decision.reasons] == ["child"]


def test_the_scope_is_named_as_written() -> None:
    text = (
        "rule child §1\n  deny doctor, staff from using email, health_data for research\n"
        "  when patient_age < 14\n"
    )
    [d] = warnings(text)
    assert d.message.endswith("(for `doctor`, `staff` using `email`, `health_data` for `research`)")


@pytest.mark.parametrize(
    "condition",
    [
        "patient_age is known and patient_age < 14",  # lets an unstated age through
        "patient_age is missing or patient_age < 14",  # refuses it, and says so
        "patient_age < 14 or patient_age >= 14",  # refuses everything whatever the age
        "patient_age < 14 and purpose in research",  # treatment is never refused by it
        "emergency",  # has a default
        "patient_age is known and patient_age < 14 and patient_age > 20",  # never applies
    ],
)
def test_no_warning(condition: str) -> None:
    text = "rule child §1\n  deny any party from using health_data for any purpose\n"
    assert warnings(text + f"  when {condition}\n") == []


def test_a_deny_that_applies_only_by_failing_closed_warns() -> None:
    """No age is both under 14 and over 20: the rule refuses exactly the requests without one."""
    text = "rule child §1\n  deny any party from using health_data for any purpose\n"
    [d] = warnings(text + "  when patient_age < 14 and patient_age > 20\n")
    assert "leaves `patient_age` out" in d.message


def test_an_allow_rule_never_warns() -> None:
    text = (
        "rule adults §1\n  allow any party to use health_data for any purpose\n"
        "  when patient_age >= 18\n  unless consent_given\n"
    )
    assert warnings(text) == []


def test_a_deny_with_an_unless_exception() -> None:
    head = "rule needs_consent §1\n  deny any party from using health_data for research\n"
    [d] = warnings(head + "  unless consent_given\n")
    assert d.message == (
        "deny `needs_consent` refuses every request that leaves `consent_given` out "
        "(for `any party` using `health_data` for `research`)"
    )
    assert d.help == (
        "if a request without `consent_given` should pass this rule, write "
        "`unless consent_given is missing or …`; if the refusal is intended, write "
        "`unless consent_given is known and …`; or declare a default for `consent_given`"
    )
    # Either fix the help offers silences it.
    assert warnings(head + "  unless consent_given is missing or consent_given\n") == []
    assert warnings(head + "  unless consent_given is known and consent_given\n") == []


def test_a_deny_reading_two_keys_where_only_one_fails_closed() -> None:
    text = (
        "rule child §1\n  deny any party from using health_data for any purpose\n"
        "  when patient_age < 14 or (guardian_objects is known and guardian_objects)\n"
    )
    found = warnings(text)
    assert [re.findall(r"leaves `(\w+)` out", d.message) for d in found] == [["patient_age"]]


def test_both_keys_of_a_membership_fail_closed() -> None:
    text = "rule opted_out §1\n  deny any party from using email for research\n"
    found = warnings(text + '  when region in ["eu"] or "a" in flags\n')
    assert [re.findall(r"leaves `(\w+)` out", d.message)[0] for d in found] == ["flags", "region"]
    # A list key may have a default too: the help offers one for both.
    assert "declare a default for `flags`" in (found[0].help or "")
    assert "declare a default for `region`" in (found[1].help or "")


def test_an_exhausted_budget_is_undecided_not_a_warning() -> None:
    [d] = warnings(CHILD, Budget(seconds=60, steps=1))
    assert d.code == "analysis-undecided"
    assert d.message.startswith(
        "whether deny `child` refuses every request that leaves a key out could not be decided"
    )


def test_a_disagreement_with_the_evaluator_is_undecided(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "rule child §1\n  deny any party from using health_data for any purpose\n"
    text += "  when patient_age < 14 and guardian_objects\n"
    assert warnings(text) == []
    monkeypatch.setattr(missing_keys, "rule_value", lambda *_: True)
    [d] = warnings(text)
    assert d.code == "analysis-undecided"
    assert "the analysis and the evaluator disagree" in d.message


# ---- the property: the finding against brute force ---------------------------------------------

INTS = list(range(-4, 8))
"""The generated constants are -2..5: two values beyond each end, for two keys compared with
each other and with the same constant."""
_POINTS = sorted({Decimal(i) for i in INTS} | set(DECIMALS))
DECIMAL_VALUES = _POINTS + [
    a + (b - a) * k / 3 for a, b in itertools.pairwise(_POINTS) for k in (1, 2)
]
"""Every whole number and decimal constant, and two values strictly between each two of them
(for two keys compared with each other in the same gap)."""
MAX_EVALUATIONS = 20_000
ABSENT = object()


def subsets(items: list[str]) -> list[list[str]]:
    return [list(c) for n in range(len(items) + 1) for c in itertools.combinations(items, n)]


def values_of(spec: PolicySpec, key: str) -> list[Any]:
    """Every value the key can take that a condition can tell apart, and ABSENT."""
    base = SCHEMA[key][1]
    if base == "bool":
        found: list[Any] = [True, False]
    elif base == "int":
        found = list(INTS)
    elif base == "dec":
        found = list(DECIMAL_VALUES)
    elif base == "str":
        found = list(STRINGS)
    elif base == "strlist":
        found = subsets(list(STRINGS))
    else:
        found = subsets(spec.vocab.terms("purpose" if base == "purpose_set" else "party"))
    return [ABSENT, *found]


def keys_in(node: Any) -> Iterator[str]:
    if isinstance(node, tuple) and node:
        if node[0] in ("key", "known") and isinstance(node[1], str):
            yield node[1]
            return
        for part in node:
            yield from keys_in(part)


def read_by(rule: RuleSpec) -> list[str]:
    exprs = ([rule.condition] if rule.condition is not None else []) + list(rule.exceptions)
    return sorted({k for e in exprs for k in keys_in(e)})


def varied(spec: PolicySpec, rule: RuleSpec) -> list[str]:
    """The keys the rule's value reads: its own, and those of the overrides that lift it (the
    finding is about its own keys, but an override can let a request without one through)."""
    lifting = [o.condition for o in spec.overrides if rule.id in lifted_ids(spec.rules, o)]
    return sorted({*read_by(rule), *(k for e in lifting for k in keys_in(e))})


def cells_of(spec: PolicySpec, rule: RuleSpec) -> list[tuple[str, str, str]]:
    covered = [
        [
            t
            for t in spec.vocab.terms(kind)
            if scope is None or set(scope) & ancestors(spec.vocab, kind, t)
        ]
        for kind, scope in zip(KINDS, rule.scopes, strict=True)
    ]
    return [(p, d, u) for p in covered[0] for d in covered[1] for u in covered[2]]


def brute_force(spec: PolicySpec, rule: RuleSpec, compiled: CompiledRule, ctx: Any) -> set[str]:
    """The keys the definition reports for ``rule``, by trying every context of the keys it
    reads in every cell of its scope."""
    keys = varied(spec, rule)
    candidates = [k for k in read_by(rule) if k not in spec.defaults]
    escapes: set[str] = set()  # a request without the key where the rule is false
    fails_closed: set[str] = set()  # a request without the key where the rule is unknown
    ever_false = False
    contexts = []
    for combo in itertools.product(*(values_of(spec, k) for k in keys)):
        sent = {k: v for k, v in zip(keys, combo, strict=True) if v is not ABSENT}
        contexts.append((normalize_context(ctx, sent), [k for k in candidates if k not in sent]))
    for cell in cells_of(spec, rule):
        for context, left_out in contexts:
            value = rule_value(compiled, context, cell)
            ever_false = ever_false or value is False
            for key in left_out:
                if value is False:
                    escapes.add(key)
                elif value is None:
                    fails_closed.add(key)
    if not ever_false:
        return set()
    return {k for k in candidates if k not in escapes and k in fails_closed}


def evaluations(spec: PolicySpec, rule: RuleSpec) -> int:
    count = len(cells_of(spec, rule))
    for key in varied(spec, rule):
        count *= len(values_of(spec, key))
    return count


@st.composite
def with_denies(draw: st.DrawFn) -> PolicySpec:
    """A random policy and one or two more deny rules that read something."""
    spec = draw(policies(time=False))
    extra = []
    for i in range(number(draw, 1, 2)):
        rule = draw_rule(draw, spec.vocab, f"d{i}", "deny", time=False)
        if rule.condition is None and not rule.exceptions:
            rule = replace(rule, condition=draw_expr(draw, spec.vocab, time=False))
        extra.append(rule)
    return replace(spec, rules=spec.rules + tuple(extra))


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(with_denies())
def test_the_finding_matches_brute_force(spec: PolicySpec) -> None:
    compiled = load_policy_text(policy_text(spec)).compiled
    by_id = {r.id: r for r in compiled.rules}
    found = denies_on_missing_keys(CellSearch(compiled, RequestSpace([compiled]), Meter()))
    assert all(d.code == CODE and d.severity == "warning" for d in found), found
    reported: dict[str, set[str]] = {}
    for d in found:
        match = re.match(r"deny `(\w+)` refuses every request that leaves `(\w+)` out", d.message)
        assert match is not None, d.message
        reported.setdefault(match[1], set()).add(match[2])
    for rule in spec.rules:
        if rule.effect != "deny":
            assert rule.id not in reported
            continue
        if evaluations(spec, rule) > MAX_EVALUATIONS:
            event("a deny too large to enumerate")
            continue
        expected = brute_force(spec, rule, by_id[rule.id], compiled)
        event("warns" if expected else "no warning")
        assert reported.get(rule.id, set()) == expected, (
            f"deny `{rule.id}`\n--- policy ---\n{policy_text(spec)}"
        )
