"""Named conditions (`condition NAME [§x] ["…"] means CONDITION`, docs/language.md):
parsed and formatted, checked (errors at their place), decided as exactly the condition they name
(docs/semantics.md, sentence 30), explained by name, and handled exactly by `check`, `diff` and the
matrix; the examples of docs/language.md load and decide as the page says.

Random policies of the soundness harness, whose conditions use named conditions (nested ones too),
are held equivalent to the same policies with every named condition written out: the two decide
every request of the harness's universe alike (effect, obligations with their arguments, reasons,
missing keys), `check` finds the same, `diff` sees no change; and the harness holds the named form
against the brute force (`compare_check`).
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine
from policy_engine import check_policy, load_policy_text
from policy_engine.analysis.diff import diff_policies
from policy_engine.language import ast
from policy_engine.language.formatter import format_source
from policy_engine.language.parser import parse_source
from policy_engine.language.printer import expr_text
from policy_engine.language.source import Source
from policy_engine.lsp.hover import hover_text
from policy_engine.lsp.index import Index
from policy_engine.lsp.tokens import Token
from policy_engine.traceability.coverage import coverage_of
from policy_engine.traceability.matrix import build_matrix

from .soundness_model import (
    InvariantSpec,
    RandomChoices,
    RuleSpec,
    SoundUniverse,
    Spec,
    cell_keys,
    cells_of,
    check_text,
    compare_check,
    decide,
    fitted,
    gen_spec,
    outcome,
    spec_text,
)
from .test_properties import Expr, Request, named

ROOT = Path(__file__).resolve().parent.parent

HEAD = """\
party staff
party clinicians under staff
party researchers
data health_record
purpose treatment, research
context destination: string
context request_scope: one of "minimum", "full"
context approved: boolean
context subject_age: integer
"""


def errors_of(text: str) -> list[tuple[str, str, int, int, str | None]]:
    """(code, message, line, column, help) of each error loading ``text`` gives."""
    with pytest.raises(policy_engine.PolicyError) as raised:
        load_policy_text(text, "p.policy")
    return [
        (d.code, d.message, d.span.line if d.span else 0, d.span.column if d.span else 0, d.help)
        for d in raised.value.errors
    ]


# ---- syntax ----------------------------------------------------------------------------------


def test_a_named_condition_parses_with_its_citations_and_description() -> None:
    text = 'condition c §1, s.17 "a description" means approved and not destination = "x"\n'
    [decl] = parse_source(Source("p.policy", text)).items
    assert isinstance(decl, ast.ConditionDecl)
    assert decl.name.value == "c"
    assert [c.text for c in decl.citations] == ["§1", "s.17"]
    assert decl.description == "a description"
    assert isinstance(decl.condition, ast.And)


def test_the_formatter_writes_named_conditions_and_round_trips() -> None:
    text = (
        HEAD + 'condition   minimum   §1   "min"\n    means request_scope is known  and'
        ' request_scope = "minimum"  # why\n'
        "rule r §1 allow staff to use health_record for treatment when minimum\n"
    )
    formatted = format_source(text, "p.policy")
    assert (
        'condition minimum §1 "min" means request_scope is known and request_scope = "minimum"'
        "  # why\n" in formatted
    )
    assert format_source(formatted, "p.policy") == formatted
    assert parse_source(Source("p.policy", formatted)) == parse_source(Source("p.policy", text))


# ---- checker errors ------------------------------------------------------------------------------


def test_an_unknown_name_gets_a_did_you_mean() -> None:
    text = HEAD + (
        'condition outside_quebec means destination != "CA-QC"\n'
        "rule r §1 allow staff to use health_record for treatment\n"
        "  when outside_qubec\n"
    )
    [(code, message, line, column, help_)] = errors_of(text)
    assert (code, message, line, column) == ("unknown-name", "unknown name `outside_qubec`", 12, 8)
    assert help_ == "did you mean `outside_quebec`?"


def test_a_cycle_between_named_conditions_is_an_error_that_shows_it() -> None:
    text = HEAD + (
        "condition a means approved and b\n"
        "condition b means not c\n"
        "condition c means a or subject_age > 3\n"
        "rule r §1 allow staff to use health_record for treatment when a\n"
    )
    [(code, message, line, column, _)] = errors_of(text)
    assert code == "condition-cycle"
    assert message == "the named conditions form a cycle: `a` → `b` → `c` → `a`"
    assert (line, column) == (12, 19)  # the `a` in c's body closes it


def test_a_named_condition_that_uses_itself_is_an_error() -> None:
    text = (
        HEAD
        + "condition a means approved or a\n"
        + "rule r §1 allow staff to use health_record for treatment when a\n"
    )
    [(code, message, line, column, _)] = errors_of(text)
    assert (code, message, line, column) == (
        "condition-cycle",
        "the named condition `a` refers to itself",
        10,
        31,
    )


def test_a_named_condition_shares_the_namespace_of_terms_and_keys() -> None:
    text = HEAD + "condition approved means subject_age > 3\n"
    [(code, message, line, column, _)] = errors_of(text)
    assert (code, message, line, column) == (
        "duplicate-declaration",
        "`approved` is declared twice",
        10,
        11,
    )


@pytest.mark.parametrize(
    ("condition", "code", "message", "column"),
    [
        ("c = true", "condition-as-value", "`c` is a named condition, not a value", 8),
        ("c in [c]", "condition-as-value", "`c` is a named condition, not a value", 8),
        ("c is known", "not-a-context-key", "`c` is a named condition, not a context key", 8),
    ],
)
def test_a_named_condition_is_a_condition_not_a_value(
    condition: str, code: str, message: str, column: int
) -> None:
    text = HEAD + (
        "condition c means approved\n"
        f"rule r §1 allow staff to use health_record for treatment\n  when {condition}\n"
    )
    found = errors_of(text)
    assert (found[0][0], found[0][1], found[0][2], found[0][3]) == (code, message, 12, column)


def test_the_body_of_a_named_condition_is_typed_at_its_place() -> None:
    text = (
        HEAD
        + 'condition c means subject_age = "12"\n'
        + "rule r §1 allow staff to use health_record for treatment when c\n"
    )
    [(code, _, line, column, help_)] = errors_of(text)
    assert (code, line, column, help_) == (
        "type-mismatch",
        10,
        19,
        "write the number without quotes: `12`",
    )


def test_named_conditions_nested_past_the_limit_are_too_deep() -> None:
    chain = "".join(f"condition c{i} means not c{i + 1}\n" for i in range(70))
    text = HEAD + chain + "condition c70 means approved\n"
    text += "rule r §1 allow staff to use health_record for treatment when c0\n"
    [(code, message, line, _, _)] = errors_of(text)
    assert code == "too-deep"
    assert message.startswith("named condition `c")
    assert "nests more than 64 levels deep" in message
    assert line > 10


def test_a_named_conditions_citation_must_name_a_section_of_the_source() -> None:
    files = {
        "p.policy": 'source "law.txt"\n' + HEAD + "condition c §9 means approved\n"
        "rule r §1 allow staff to use health_record for treatment when c\n",
        "law.txt": "1. First\ntext\n\n2. Second\ntext\n",
    }
    with pytest.raises(policy_engine.PolicyError) as raised:
        load_policy_text(files)
    [error] = raised.value.errors
    assert error.code == "unknown-citation" and "§9" in error.message


def test_a_section_a_named_condition_cites_is_covered_by_it(tmp_path: Path) -> None:
    (tmp_path / "law.txt").write_text("1. First\ntext\n\n2. Second\ntext\n", "utf-8")
    (tmp_path / "p.policy").write_text(
        'source "law.txt"\n' + HEAD + 'condition c §2 "approved" means approved\n'
        "rule r §1 allow staff to use health_record for treatment when c\n",
        "utf-8",
    )
    [document] = coverage_of(tmp_path).documents
    second = next(s for s in document.sections if s.key == "2")
    assert second.status == "covered"
    assert [(t.id, t.effect) for t in second.terms] == [("c", "condition")]


# ---- meaning, everywhere a condition can be --------------------------------------------------


EVERYWHERE = (
    HEAD
    + """\
obligation log_access
obligation notify_board when reviewed
condition outside §1 "outside Québec" means destination != "CA-QC"
condition minimum means request_scope is known and request_scope = "minimum"
condition reviewed means approved and minimum
condition risky means outside and not reviewed

rule treat §1
  allow staff to use health_record for treatment
  when minimum or approved
  unless risky
  with obligation log_access when outside

rule study §2
  allow researchers to use health_record for research
  when reviewed
  with obligation notify_board

rule no_children §3
  deny any party from using health_record for research
  when subject_age < 18 and not reviewed

invariant research_is_reviewed §2
  never any party use health_record for research
  when not reviewed
  unless subject_age < 0
"""
)

INLINED = (
    HEAD
    + """\
obligation log_access
obligation notify_board

rule treat §1
  allow staff to use health_record for treatment
  when (request_scope is known and request_scope = "minimum") or approved
  unless destination != "CA-QC"
    and not (approved and (request_scope is known and request_scope = "minimum"))
  with obligation log_access when destination != "CA-QC"

rule study §2
  allow researchers to use health_record for research
  when approved and (request_scope is known and request_scope = "minimum")
  with obligation notify_board
    when approved and (request_scope is known and request_scope = "minimum")

rule no_children §3
  deny any party from using health_record for research
  when subject_age < 18
    and not (approved and (request_scope is known and request_scope = "minimum"))

invariant research_is_reviewed §2
  never any party use health_record for research
  when not (approved and (request_scope is known and request_scope = "minimum"))
  unless subject_age < 0
"""
)


def _contexts() -> list[dict[str, Any]]:
    found = []
    for destination in (None, "CA-QC", "US"):
        for scope in (None, "minimum", "full"):
            for approved in (None, True, False):
                for age in (None, 12, 30):
                    values = {
                        "destination": destination,
                        "request_scope": scope,
                        "approved": approved,
                        "subject_age": age,
                    }
                    found.append({k: v for k, v in values.items() if v is not None})
    return found


def same(d: policy_engine.Decision) -> tuple[Any, ...]:
    """What two texts of one policy must decide alike (not where their rules are written)."""
    return (d.effect, d.obligation_details, [r.id for r in d.reasons], d.missing)


def test_named_conditions_everywhere_decide_as_written_out() -> None:
    named, inlined = load_policy_text(EVERYWHERE), load_policy_text(INLINED)
    for party, purpose in (("clinicians", "treatment"), ("researchers", "research")):
        for context in _contexts():
            a = named.decide(party, "health_record", purpose, context)
            b = inlined.decide(party, "health_record", purpose, context)
            assert same(a) == same(b), context
    report = diff_policies(named, inlined)
    assert report.groups == [] and report.requests_changed == 0


def test_check_reads_named_conditions_exactly(tmp_path: Path) -> None:
    for name, text in (("named", EVERYWHERE), ("inlined", INLINED)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "p.policy").write_text(text, "utf-8")
    found = {
        name: sorted((d.code, d.message) for d in check_policy(tmp_path / name))
        for name in ("named", "inlined")
    }
    assert found["named"] == found["inlined"]
    assert "invariant-broken" not in {code for code, _ in found["named"]}
    never_reviewed = EVERYWHERE.replace(
        "  when not reviewed\n  unless", "  when approved\n  unless"
    )
    (tmp_path / "named" / "p.policy").write_text(never_reviewed, "utf-8")
    codes = [d.code for d in check_policy(tmp_path / "named")]
    assert "invariant-broken" in codes


def test_diff_sees_a_changed_named_condition() -> None:
    old = load_policy_text(EVERYWHERE)
    new = load_policy_text(
        EVERYWHERE.replace('request_scope = "minimum"', 'request_scope = "full"')
    )
    report = diff_policies(old, new)
    kinds = {g.kind for g in report.groups}
    assert {"widened", "narrowed"} <= kinds
    for group in report.groups:
        example = group.example
        context = example["context"]
        assert isinstance(context, dict)
        request = (str(example["party"]), str(example["data"]), str(example["purpose"]), context)
        assert old.decide(*request).effect == group.before
        assert new.decide(*request).effect == group.after


def test_a_named_condition_nothing_uses_is_a_warning(tmp_path: Path) -> None:
    text = EVERYWHERE + "condition spare means approved\ncondition spare_too means spare\n"
    (tmp_path / "p.policy").write_text(text, "utf-8")
    unused = [d for d in check_policy(tmp_path) if d.code == "unused-condition"]
    assert [(d.message, d.span.line if d.span else 0, d.severity) for d in unused] == [
        (
            "named condition `spare` is declared but no rule, invariant or obligation uses it",
            36,
            "warning",
        ),
        (
            "named condition `spare_too` is declared but no rule, invariant or obligation uses it",
            37,
            "warning",
        ),
    ]


def test_the_matrix_writes_the_name_and_agrees_with_decide() -> None:
    policy = load_policy_text(EVERYWHERE)
    matrix = build_matrix(policy, "p", prove=True)
    verdict = matrix.verdicts[("clinicians", "health_record", "treatment")]
    assert verdict.condition is not None
    text = expr_text(verdict.condition)
    assert "risky" in text and "minimum" in text and "destination" not in text
    research = matrix.verdicts[("researchers", "health_record", "research")]
    assert research.status == "conditional"
    assert [o.name for o in research.obligations] == ["notify_board"]
    from .test_matrix import check_request

    for context in _contexts():
        for cell, found in matrix.verdicts.items():
            check_request(policy, found, cell, context)


def test_a_restored_policy_resolves_its_named_conditions(tmp_path: Path) -> None:
    (tmp_path / "p.policy").write_text(EVERYWHERE, "utf-8")
    fresh = policy_engine.load_policy(tmp_path)
    restored = policy_engine.load_policy(tmp_path)
    rule = next(r for r in restored.compiled.rules if r.id == "study")
    assert rule._source is None  # restored: re-parsed from its text when asked for
    assert isinstance(rule.source.condition, ast.NamedCondition)
    assert rule.source == next(r for r in fresh.compiled.rules if r.id == "study").source
    request = ("researchers", "health_record", "research", {"approved": True})
    assert restored.decide(*request).explain() == fresh.decide(*request).explain()


# ---- the editor ----------------------------------------------------------------------------------


def test_hover_and_definition_of_a_named_condition() -> None:
    files = parse_source(Source("p.policy", EVERYWHERE))
    index = Index([files])
    [declared] = index.declarations("outside")
    assert declared.kind == "condition"
    assert (declared.span.line, declared.span.column) == (12, 11)
    shown = hover_text(Token("name", "outside", 0, 0, 7), index, [])
    assert shown is not None
    assert shown.startswith("**named condition** `outside`")
    assert "*outside Québec*" in shown and 'means `destination != "CA-QC"`' in shown


# ---- the examples of docs/language.md ----------------------------------------------------------


def language_examples() -> list[str]:
    text = (ROOT / "docs" / "language.md").read_text("utf-8")
    return re.findall(r"^```policy\n(.*?)^```", text, re.S | re.M)


def test_the_language_pages_examples_load_and_decide_as_it_says() -> None:
    examples = language_examples()

    def showing(text: str) -> str:
        return next(e for e in examples if text in e)

    transfer = showing("obligation ensure_adequate_protection")
    parameters = showing("obligation retain_for(")
    named = showing(" means ")
    p = load_policy_text(transfer)
    abroad = p.decide(
        "delivery_partners", "postal_address", "order_delivery", {"destination": "US"}
    )
    assert abroad.obligations == ["ensure_adequate_protection"]
    home = p.decide(
        "delivery_partners", "postal_address", "order_delivery", {"destination": "CA-QC"}
    )
    assert home.allowed and home.obligations == []
    p = load_policy_text(parameters)
    d = p.decide("health_plans", "phi", "payment")
    assert [o.text for o in d.obligation_details] == [
        "cap_disclosure(share = 0.1)",
        "respond_within(days = 30)",
        'retain_for(years = 6, medium = "digital")',
    ]
    p = load_policy_text(named)
    context = {"request_scope": "minimum", "destination": "CA-QC"}
    assert p.decide("staff", "health_record", "treatment", context).allowed
    assert not p.decide(
        "staff", "health_record", "treatment", {**context, "destination": "US"}
    ).allowed
    assert not p.decide("staff", "health_record", "research", context).allowed
    assert p.decide(
        "staff", "health_record", "research", {**context, "approved_by_board": True}
    ).allowed


# ---- random policies: named = written out, and the brute force ----------------------------------


def inlined(expr: Expr) -> Expr:
    """``expr`` with every named condition replaced by what it names."""
    tag = expr[0]
    if tag == "named":
        return inlined(expr[2])
    if tag in ("and", "or"):
        return (tag, tuple(inlined(e) for e in expr[1]))
    if tag == "not":
        return ("not", inlined(expr[1]))
    return expr


def _inline(spec: Spec) -> Spec:
    def rule(r: RuleSpec) -> RuleSpec:
        return replace(
            r,
            condition=None if r.condition is None else inlined(r.condition),
            exceptions=tuple(inlined(e) for e in r.exceptions),
            obligations=tuple((n, None if w is None else inlined(w)) for n, w in r.obligations),
        )

    def invariant(i: InvariantSpec) -> InvariantSpec:
        condition = None if i.condition is None else inlined(i.condition)
        return replace(i, condition=condition, exceptions=tuple(inlined(e) for e in i.exceptions))

    decls = tuple(
        replace(d, when=None if d.when is None else inlined(d.when)) for d in spec.ob_decls
    )
    overrides = tuple(
        replace(
            o,
            condition=inlined(o.condition),
            obligations=tuple((n, None if w is None else inlined(w)) for n, w in o.obligations),
        )
        for o in spec.overrides
    )
    return replace(
        spec,
        rules=tuple(rule(r) for r in spec.rules),
        invariants=tuple(invariant(i) for i in spec.invariants),
        ob_decls=decls,
        overrides=overrides,
    )


def _named_count(spec: Spec) -> int:
    return spec_text(spec).count("\ncondition ")


def _with_names(c: RandomChoices, expr: Expr) -> Expr:
    """``expr`` with some of its parts (itself too) given names: nested named conditions."""
    tag = expr[0]
    if tag in ("and", "or"):
        expr = (tag, tuple(_with_names(c, e) for e in expr[1]))
    elif tag == "not":
        expr = ("not", _with_names(c, expr[1]))
    return named(expr) if c.number(0, 2) == 0 else expr


def _named_more(spec: Spec, c: RandomChoices) -> Spec:
    """``spec`` with more of its conditions named (the generator names some already)."""

    def some(expr: Expr | None) -> Expr | None:
        return None if expr is None else _with_names(c, expr)

    rules = tuple(
        replace(
            r,
            condition=some(r.condition),
            exceptions=tuple(_with_names(c, e) for e in r.exceptions),
            obligations=tuple((n, some(w)) for n, w in r.obligations),
        )
        for r in spec.rules
    )
    invariants = tuple(replace(i, condition=some(i.condition)) for i in spec.invariants)
    overrides = tuple(replace(o, condition=_with_names(c, o.condition)) for o in spec.overrides)
    return replace(spec, rules=rules, invariants=invariants, overrides=overrides)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_named_conditions_mean_what_they_name_against_the_brute_force(seed: int) -> None:
    c = RandomChoices(random.Random(seed))
    spec = fitted(_named_more(gen_spec(c, (0, 2)), c), 1500)
    if spec is None or _named_count(spec) == 0:
        return
    plain = _inline(spec)
    assert _named_count(plain) == 0
    a, b = load_policy_text(spec_text(spec)), load_policy_text(spec_text(plain))
    universe = SoundUniverse([spec])
    for cell in cells_of(spec.vocab):
        for context in universe.contexts(cell_keys([spec], cell)):
            request = Request(*cell, context)
            x, y = decide(a, request), decide(b, request)
            assert (outcome(x), [r.id for r in x.reasons], x.missing) == (
                outcome(y),
                [r.id for r in y.reasons],
                y.missing,
            ), request

    def findings(text: str) -> list[tuple[str, str]]:
        diagnostics, _ = check_text(text)
        return sorted((d.code, d.message) for d in diagnostics)

    assert findings(spec_text(spec)) == findings(spec_text(plain))
    report = diff_policies(a, b)
    assert report.groups == [] and report.requests_changed == 0
    _, disagreements = compare_check(spec)
    assert disagreements == []
