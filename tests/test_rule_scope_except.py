"""`except` in a rule's scope (`allow plans except ltc_issuers to use …`): it means
`unless party in [ltc_issuers]`, and the engine must treat the two alike everywhere.

Random policies from the soundness harness (every construct) get random excepts on their rules.
Written with `except` (A) and with the equivalent `unless … in [...]` (B), the two must decide every
request of the harness's universe alike, give the same findings, and show no change to `diff`;
and B is held against the brute force by the harness itself (`compare_check`), so A is too.
"""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import assume, given, settings
from hypothesis import strategies as st

import policy_engine
from policy_engine import load_policy_text
from policy_engine.analysis.diff import diff_policies
from policy_engine.language.formatter import format_source
from policy_engine.language.parser import parse_source
from policy_engine.language.source import Source

from .soundness_model import (
    KINDS,
    RandomChoices,
    RuleSpec,
    SoundUniverse,
    Spec,
    cells_of,
    check_text,
    compare_check,
    decide,
    fitted,
    gen_spec,
    invariant_text,
    outcome,
    some,
)
from .test_properties import Request, expr_text, override_texts, scope_text


def _with_excepts(spec: Spec, seed: int) -> tuple[Spec, str]:
    """``spec`` with random excepts as `unless … in [...]` (B), and the text of A (`except`)."""
    c = RandomChoices(random.Random(seed))
    rules: list[RuleSpec] = []
    texts: list[str] = []
    for rule in spec.rules:
        excepts = tuple(
            tuple(some(c, spec.vocab.terms(kind), 1, 2)) if c.number(0, 2) == 0 else ()
            for kind in KINDS
        )
        derived = tuple(
            ("in", False, ("req", kind), ("list", kind, tuple(("term", kind, n) for n in names)))
            for kind, names in zip(KINDS, excepts, strict=True)
            if names
        )
        rules.append(replace(rule, exceptions=(*rule.exceptions, *derived)))
        texts.append(_except_text(rule, excepts))
    b = replace(spec, rules=tuple(rules))
    declarations = spec_text_head(spec)
    blocks = texts + override_texts(spec.overrides, spec.rules)
    blocks += [invariant_text(i) for i in spec.invariants]
    return b, declarations + "".join("\n" + block for block in blocks)


def spec_text_head(spec: Spec) -> str:
    from .soundness_model import declarations_text

    return declarations_text(spec)


def _except_text(rule: RuleSpec, excepts: tuple[tuple[str, ...], ...]) -> str:
    scopes = [
        scope_text(kind, names) + (f" except {', '.join(out)}" if out else "")
        for kind, names, out in zip(KINDS, rule.scopes, excepts, strict=True)
    ]
    verb = "to use" if rule.effect == "allow" else "from using"
    lines = [
        f"rule {rule.id} {rule.citation or ''}".rstrip(),
        f"  {rule.effect} {scopes[0]} {verb} {scopes[1]} for {scopes[2]}",
    ]
    if rule.condition is not None:
        lines.append(f"  when {expr_text(rule.condition)}")
    lines += [f"  unless {expr_text(e, redundant=True)}" for e in rule.exceptions]
    for names, condition in rule.obligations:
        clause = f"  with obligations {', '.join(names)}"
        lines.append(clause + (f" when {expr_text(condition)}" if condition is not None else ""))
    return "\n".join(lines) + "\n"


def _requests(spec: Spec, universe: SoundUniverse) -> list[Request]:
    from .soundness_model import cell_keys

    found = []
    for cell in cells_of(spec.vocab):
        keys = cell_keys([spec], cell)
        if universe.size(keys) > 2_000:
            continue
        found += [Request(*cell, ctx) for ctx in universe.contexts(keys)]
    return found


def _findings(text: str) -> list[tuple[str, str]]:
    diagnostics, _ = check_text(text)
    return sorted((d.code, d.severity) for d in diagnostics if d.code != "overlap")


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_an_except_means_its_unless_against_the_brute_force(seed: int) -> None:
    fit = fitted(gen_spec(RandomChoices(random.Random(seed))), 2500)  # a brute force's worth
    assume(fit is not None)
    assert fit is not None
    spec = fit
    b, a_text = _with_excepts(spec, seed)
    from .soundness_model import spec_text

    b_text = spec_text(b)
    a, b_policy = load_policy_text(a_text), load_policy_text(b_text)
    universe = SoundUniverse([b])
    for request in _requests(b, universe):
        assert outcome(decide(a, request)) == outcome(decide(b_policy, request)), request
    assert _findings(a_text) == _findings(b_text)
    report = diff_policies(a, b_policy, "except", "unless")
    assert report.groups == [] and report.requests_changed == 0, report
    _, disagreements = compare_check(b)
    assert disagreements == []
    formatted = format_source(a_text, "a.policy")
    assert parse_source(Source("a.policy", formatted)) == parse_source(Source("a.policy", a_text))


def test_an_except_reads_and_explains_as_written() -> None:
    text = (
        "party plans\nparty hmo, ltc_issuers under plans\ndata phi\npurpose payment\n"
        "rule plans_pay §1\n  allow plans except ltc_issuers to use phi for payment\n"
    )
    policy = load_policy_text(text)
    assert policy.decide("hmo", "phi", "payment").allowed
    assert not policy.decide("ltc_issuers", "phi", "payment").allowed
    assert policy.decide("plans", "phi", "payment").allowed
    assert "allow plans except ltc_issuers to use phi for payment" in format_source(text)
    trace = policy.decide("ltc_issuers", "phi", "payment").explain()
    assert "party in [ltc_issuers]" in trace


def test_an_except_names_a_declared_term_of_its_kind() -> None:
    text = (
        "party plans\ndata phi\npurpose payment\n"
        "rule r §1\n  allow plans except phi, nobody to use phi for payment\n"
    )
    try:
        load_policy_text(text)
    except policy_engine.PolicyError as exc:
        codes = sorted(d.code for d in exc.diagnostics)
    assert codes == ["unknown-term", "wrong-kind"]
