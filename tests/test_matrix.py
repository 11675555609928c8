"""The disclosure matrix against ``decide``.

For every cell the matrix says *always*, *never* or *when C* (C a condition of the language) and
which obligations an allowed request carries, and when. Checked here with the engine's own
evaluator on the stored conditions (``compile_condition``: Kleene's logic, a missing key makes a
test unknown, and "holds" means true):

- on PLANISO, and PLANISO with an added rule, for random cells and random contexts drawn from each
  key's declared type (keys left out, sent as null, the policy's constants and other values);
- on random policies from every construct of the language (``soundness_model``), on every cell and
  every request of a universe built from the policy text alone: every verdict is checked on every
  request, a conditional cell must have both an allowed and a refused request, and the rules
  a cell names must be the ones that grant (and, for a deny, refuse a request an allow grants).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import policy_engine
from policy_engine.analysis.budget import Budget, BudgetExceeded, Meter
from policy_engine.analysis.space import RequestSpace
from policy_engine.engine.compiler import CompiledPolicy, compile_condition
from policy_engine.engine.evaluator import rule_value
from policy_engine.engine.request import normalize_context
from policy_engine.language import ast
from policy_engine.language.errors import UnknownTermError
from policy_engine.language.printer import expr_text
from policy_engine.traceability.cell_conditions import CellNamedCondition, words
from policy_engine.traceability.cell_verdicts import CellJudge
from policy_engine.traceability.matrix import Mixed, Selection, build_matrix
from policy_engine.traceability.verdicts import NEVER, Cell, CellVerdict

from .conftest import planiso_texts
from .soundness_model import (
    RandomChoices,
    SoundReference,
    SoundUniverse,
    Spec,
    cell_keys,
    cells_of,
    fitted,
    gen_spec,
    spec_text,
    with_named_attribute_test,
)
from .test_properties import Request, lit_text

ADDED_RULE = """
rule delivery_sms_with_consent §5.1
  "Delivery partners may text the recipient about a delivery, with consent and outside Québec"
  allow delivery_partners to use phone_number for order_delivery
  when purpose in consented_purposes and channel = "sms" and not (subject_age < 18)
  unless destination = "CA-QC"
  with obligation ensure_adequate_protection when destination is known
"""


@functools.cache
def planiso_policies() -> tuple[policy_engine.Policy, policy_engine.Policy]:
    texts = planiso_texts()
    added = {**texts, "added.policy": ADDED_RULE}
    return policy_engine.load_policy_text(texts), policy_engine.load_policy_text(added)


@functools.cache
def verdicts_of(policy: policy_engine.Policy) -> dict[Cell, CellVerdict]:
    return build_matrix(policy, "policy", prove=True).verdicts


def holds(compiled: CompiledPolicy, expr: ast.Expr, ctx: dict[str, Any], cell: Cell) -> bool:
    """The evaluator's value of a stored condition is true (false and unknown do not hold)."""
    return compile_condition(compiled, expr)(ctx, cell) is True


def check_request(
    policy: policy_engine.Policy, verdict: CellVerdict, cell: Cell, context: dict[str, Any]
) -> bool:
    """The matrix's verdict says what ``decide`` decides (effect and obligations); returns
    whether the request is allowed."""
    compiled = policy.compiled
    decision = policy.decide(*cell, context)
    ctx = normalize_context(compiled, context)
    said = f"{cell} {context}: matrix says {verdict.status}"
    if verdict.status == "always":
        assert decision.allowed, said
    elif verdict.status == "never":
        assert not decision.allowed, said
    else:
        assert verdict.condition is not None
        assert decision.allowed == holds(compiled, verdict.condition, ctx, cell), said
    if decision.allowed:
        attached = {
            o.name
            for o in verdict.obligations
            if o.condition is None or holds(compiled, o.condition, ctx, cell)
        }
        required = {o.text for o in decision.obligation_details}  # with their arguments
        assert required == attached, f"{said}; obligations"
        granting = {r.id for r in decision.reasons}
        assert granting <= {r.id for r in verdict.allows}, f"{said}; granting rules"
    return decision.allowed


# ---- contexts drawn from the declared types ----------------------------------------------------


def key_values(compiled: CompiledPolicy, space: RequestSpace, name: str) -> st.SearchStrategy[Any]:
    """Values of one key: of its declared type, the constants the rules compare it with first."""
    decl = compiled.context[name].decl
    facts = space.facts.get(name)
    ints = sorted(facts.ints) if facts else []
    strings = sorted(facts.strings) if facts else []
    kind = decl.type
    if isinstance(kind, ast.BoolType):
        return st.booleans()
    if isinstance(kind, ast.IntType):
        near = [c + d for c in ints for d in (-1, 0, 1)]
        return st.sampled_from(near) | st.integers(-50, 200) if near else st.integers(-50, 200)
    if isinstance(kind, ast.OneOfType):
        return st.sampled_from(kind.literals)
    text = st.sampled_from(strings) | st.text(max_size=6) if strings else st.text(max_size=6)
    if isinstance(kind, ast.StrType):
        return text
    if isinstance(kind, ast.ListType):
        items = st.sampled_from(kind.literals) if kind.literals else text
        return st.lists(items, max_size=4)
    assert isinstance(kind, ast.TermSetType)
    terms = compiled.hierarchies[kind.kind].terms
    return st.lists(st.sampled_from(terms), max_size=4)


@st.composite
def contexts(draw: st.DrawFn, policy: policy_engine.Policy) -> dict[str, Any]:
    compiled = policy.compiled
    space = RequestSpace([compiled])
    context: dict[str, Any] = {}
    for name in sorted(compiled.context):
        presence = draw(st.integers(0, 9))
        if presence < 3:
            continue  # left out
        if presence == 3:
            context[name] = None  # null: unknown, as if left out
        else:
            context[name] = draw(key_values(compiled, space, name))
    return context


@st.composite
def requests(draw: st.DrawFn, policy: policy_engine.Policy) -> tuple[Cell, dict[str, Any]]:
    compiled = policy.compiled
    verdicts = verdicts_of(policy)
    if draw(st.booleans()):  # half the time a cell that is ever allowed
        cell = draw(st.sampled_from(sorted(verdicts)))
    else:
        cell = tuple(draw(st.sampled_from(compiled.hierarchies[k].terms)) for k in KINDS)
    return cell, draw(contexts(policy))  # type: ignore[return-value]


KINDS = ("party", "data", "purpose")
PLANISO_SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PLANISO_SETTINGS
@given(st.data())
def test_planiso_matrix_says_what_decide_decides(data: st.DataObject) -> None:
    policy = planiso_policies()[0]
    cell, context = data.draw(requests(policy))
    check_request(policy, verdicts_of(policy).get(cell, NEVER), cell, context)


@PLANISO_SETTINGS
@given(st.data())
def test_planiso_with_an_added_rule_says_what_decide_decides(data: st.DataObject) -> None:
    policy = planiso_policies()[1]
    cell, context = data.draw(requests(policy))
    check_request(policy, verdicts_of(policy).get(cell, NEVER), cell, context)


def test_the_added_rule_shows_in_its_cell() -> None:
    before, after = (verdicts_of(p) for p in planiso_policies())
    cell = ("delivery_partners", "phone_number", "order_delivery")
    assert cell not in before
    verdict = after[cell]
    assert verdict.status == "conditional"
    assert [r.id for r in verdict.allows] == ["delivery_sms_with_consent"]
    assert verdict.condition is not None
    # The children's deny is false wherever the new rule grants (18 or older): it is left out.
    assert words(verdict.condition) == (
        '`purpose in consented_purposes` and `channel = "sms"` and `subject_age >= 18` and '
        '`destination != "CA-QC"`'
    )
    assert [(o.name, words(o.condition) if o.condition else None) for o in verdict.obligations] == [
        ("ensure_adequate_protection", "`destination is known`")
    ]


# ---- random policies of every construct, every request of a universe ----------------------------

LIMIT = 2500
"""At most this many requests per policy (each is decided)."""


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    seed = draw(st.integers(0, 2**32 - 1))
    note(f"fitted(gen_spec(RandomChoices(Random({seed})), (0, 0)), {LIMIT})")
    spec = fitted(gen_spec(RandomChoices(random.Random(seed)), (0, 0)), LIMIT)
    assume(spec is not None)
    assert spec is not None
    return spec


def check_every_request(spec: Spec) -> None:
    policy = policy_engine.load_policy_text(spec_text(spec))
    verdicts = build_matrix(policy, "spec", prove=True).verdicts
    universe = SoundUniverse([spec])
    for cell in cells_of(spec.vocab):
        verdict = verdicts.get(cell, NEVER)
        outcomes = [
            check_request(policy, verdict, cell, ctx)
            for ctx in universe.contexts(cell_keys([spec], cell, invariants=False))
        ]
        if verdict.status == "conditional":
            assert any(outcomes) and not all(outcomes), f"{cell} is not conditional"
        check_rules(policy, verdict, cell, universe.contexts(cell_keys([spec], cell, False)))
        check_overrides(spec, policy, verdict, cell, universe)
        check_named_meanings(spec, policy, verdict, cell, universe)


def cell_named(node: Any) -> Iterable[CellNamedCondition]:
    """The named conditions a cell's condition shows with its attributes' values."""
    if isinstance(node, CellNamedCondition):
        yield node
        assert node.meaning is not None
        yield from cell_named(node.meaning)
    elif isinstance(node, ast.And | ast.Or):
        for operand in node.operands:
            yield from cell_named(operand)
    elif isinstance(node, ast.Not):
        yield from cell_named(node.operand)


def check_named_meanings(
    spec: Spec,
    policy: policy_engine.Policy,
    verdict: CellVerdict,
    cell: Cell,
    universe: SoundUniverse,
) -> None:
    """A named condition shown with the cell's attribute values (`` `near` (`party.level` is 2:
    …) ``) says the values the terms have, and what it shows it to mean has its value (true,
    false or unknown) on every request of the cell."""
    compiled = policy.compiled
    conditions = [verdict.condition, *(o.condition for o in verdict.obligations)]
    shown = {id(n): n for c in conditions if c is not None for n in cell_named(c)}
    contexts = list(universe.contexts(cell_keys([spec], cell, False))) if shown else []
    for named in shown.values():
        for text, value in named.values:
            kind, _, attribute = text.partition(".")
            expected = spec.vocab.attribute(attribute, cell[KINDS.index(kind)])
            assert value == ("unknown" if expected is None else lit_text(expected)), named
        assert named.meaning is not None
        for context in contexts:
            ctx = normalize_context(compiled, context)
            body = compile_condition(compiled, named.body)(ctx, cell)
            assert compile_condition(compiled, named.meaning)(ctx, cell) == body, (named, context)


def check_overrides(
    spec: Spec,
    policy: policy_engine.Policy,
    verdict: CellVerdict,
    cell: Cell,
    universe: SoundUniverse,
) -> None:
    """The overrides a cell names are those that lift a deny (by the reference evaluator: their
    condition true, a deny they lift covering the request and not false without them) on some
    request of the cell that is allowed."""
    lifting: set[str] = set()
    for context in universe.contexts(cell_keys([spec], cell, False)):
        if not policy.decide(*cell, context).allowed:
            continue
        ref = SoundReference(spec, Request(*cell, context))
        covering = [r for r in spec.rules if ref.covers(r)]
        for override, ids in ref.live_overrides():
            would = any(ref.own_value(r)[0] is not False for r in covering if r.id in ids)
            if would and ref.value(override.condition)[0] is True:
                lifting.add(override.id)
    assert {o.id for o in verdict.overrides} == lifting, f"{cell}: overrides"


def check_rules(
    policy: policy_engine.Policy,
    verdict: CellVerdict,
    cell: Cell,
    contexts: Iterable[dict[str, Any]],
) -> None:
    """Each allow the cell names grants some request; each deny it names refuses some request
    that an allow it names would grant."""
    compiled = policy.compiled
    granted: set[str] = set()
    overriding: set[str] = set()
    for context in contexts:
        ctx = normalize_context(compiled, context)
        decision = policy.decide(*cell, context)
        granted |= {r.id for r in decision.reasons} if decision.allowed else set()
        if any(rule_value(a, ctx, cell) is True for a in verdict.allows):
            overriding |= {d.id for d in verdict.denies if rule_value(d, ctx, cell) is not False}
    assert granted == {r.id for r in verdict.allows}, f"{cell}: granting rules"
    assert overriding == {r.id for r in verdict.denies}, f"{cell}: limiting rules"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(specs())
def test_generated_policies_matrix_says_what_decide_decides(spec: Spec) -> None:
    note(spec_text(spec))
    check_every_request(spec)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32 - 1))
def test_named_conditions_on_attributes_say_what_decides_the_cell(seed: int) -> None:
    """Random policies whose first rule's condition is a name for a test of an attribute and
    another test: every cell is held to `decide`, and each name the matrix shows with the cell's
    attribute values says them and means what the name means there."""
    c = RandomChoices(random.Random(seed))
    note(f"c = RandomChoices(Random({seed})); with_named_attribute_test(c, gen_spec(c, …))")
    spec = fitted(with_named_attribute_test(c, gen_spec(c, (0, 0), attributes=True)), LIMIT)
    assume(spec is not None and spec.vocab.attributes)
    assert spec is not None
    note(spec_text(spec))
    check_every_request(spec)


NAMED_NEAR = """
attribute location of party: one of "CA-QC", "US"
party processors
party qc under processors with location = "CA-QC"
party nowhere under processors
data pi
purpose hosting
context dest: one of "CA-QC", "US", "FR"
context assessed: boolean

condition near means party.location = dest or assessed

rule hosting §1
  allow processors to use pi for hosting
  when near or (not near and dest = "FR")
"""


def test_a_named_condition_is_shown_with_the_attribute_value_that_settles_it() -> None:
    policy = policy_engine.load_policy_text(NAMED_NEAR)
    verdicts = build_matrix(policy, "policy", prove=True).verdicts
    said = {cell[0]: words(v.condition) for cell, v in verdicts.items() if v.condition}
    # Where the party has no location, `near` is never false: `not near` never holds (the
    # condition is exact as it stands: the matrix simplifies by equivalences, not by search).
    unknown = (
        "`near` (`party.location` is unknown: `party.location = dest` or `assessed`) or (`not "
        "near` (`party.location` is unknown: not (`party.location = dest` or `assessed`)) and "
        '`dest = "FR"`)'
    )
    assert said == {
        "qc": '`near` (`party.location` is "CA-QC": `dest = "CA-QC"` or `assessed`) or (`not near` '
        '(`party.location` is "CA-QC": not (`dest = "CA-QC"` or `assessed`)) and `dest = "FR"`)',
        "nowhere": unknown,
        "processors": unknown,
    }
    # Written as the language, the condition is the name (the values are for people).
    assert (
        expr_text(verdicts[("qc", "pi", "hosting")].condition) == 'near or not near and dest = "FR"'
    )


def test_generated_policies_of_fixed_seeds() -> None:
    """The same few policies on every run, whatever hypothesis draws."""
    for seed in (1, 2, 3, 4, 5):
        spec = fitted(gen_spec(RandomChoices(random.Random(seed)), (0, 0)), LIMIT)
        if spec is not None:
            check_every_request(spec)


# ---- collapsing ------------------------------------------------------------------------------


def test_a_collapsed_cell_combines_its_members_honestly(planiso: policy_engine.Policy) -> None:
    matrix = build_matrix(planiso, "planiso", Selection(party_depth=1, data_depth=1))
    full = build_matrix(planiso, "planiso").verdicts
    seen = set()
    for party, data, purpose, shown in matrix.entries():
        members = [
            full.get((p, d, u), NEVER)
            for p in party.members
            for d in data.members
            for u in purpose.members
        ]
        statuses = {m.status for m in members}
        expected = statuses.pop() if len(statuses) == 1 else "conditional"
        assert shown.status == expected
        if isinstance(shown, Mixed):
            assert [v for _, v in shown.members] == members
        seen.add(type(shown).__name__ + shown.status)
    assert {"Mixedconditional", "CellVerdictalways", "CellVerdictnever"} <= seen


def test_staff_subtree(planiso: policy_engine.Policy) -> None:
    matrix = build_matrix(planiso, "planiso", Selection(parties=["staff"], party_depth=0))
    assert [line.term for line in matrix.parties] == ["staff"]
    assert matrix.parties[0].members[0] == "staff"
    assert set(matrix.parties[0].members) == set(
        planiso.compiled.hierarchies["party"].descendants["staff"]
    )
    rows = build_matrix(planiso, "planiso", Selection(parties=["staff"]))
    assert [line.term for line in rows.parties][:2] == ["staff", "customer_service"]
    assert not any(line.collapsed for line in rows.parties)


def test_unknown_terms_say_what_was_meant(planiso: policy_engine.Policy) -> None:
    with pytest.raises(UnknownTermError) as raised:
        build_matrix(planiso, "planiso", Selection(parties=["staf"]))
    assert raised.value.suggestions == ["staff"]
    with pytest.raises(UnknownTermError):
        build_matrix(planiso, "planiso", Selection(purposes=["email"]))


def test_a_budget_too_small_gives_no_matrix(planiso: policy_engine.Policy) -> None:
    with pytest.raises(BudgetExceeded):
        build_matrix(planiso, "planiso", budget=Budget(steps=50))


def test_what_planiso_says_in_words(planiso: policy_engine.Policy) -> None:
    verdicts = verdicts_of(planiso_policies()[0])
    exempt = verdicts[("security_officers", "email", "fraud_prevention")]
    assert exempt.status == "always"  # the children's deny excepts fraud prevention: dropped
    assert [r.id for r in exempt.rules] == ["security_officers_protection"]
    marketing = verdicts[("marketing_department", "email", "marketing_communication")]
    assert marketing.condition is not None
    assert words(marketing.condition) == (
        "`purpose in consented_purposes` and (`subject_age is missing` or `subject_age >= 14`) "
        "and `channel not in opted_out_channels`"
    )
    assert [o.name for o in marketing.obligations] == ["ensure_adequate_protection"]
    assert ("marketing_department", "email", "profiling_disabled") not in verdicts
    judge = CellJudge(planiso.compiled, Meter())
    assert judge.verdicts(["law_enforcement"], ["email"], ["marketing"]) == {}


def test_paths_go_from_the_root(planiso: policy_engine.Policy) -> None:
    matrix = build_matrix(planiso, "planiso", Selection(data=["contact_information"]))
    line = matrix.data[1]
    assert line.term == "postal_address"
    assert line.path == ("personal_information", "personal_identifiers", "contact_information",
                         "postal_address")  # fmt: skip


def test_conditions_are_the_policy_language() -> None:
    """Each stated condition, as text, parses back into the same condition: written as a rule's
    `when`, the policy's own parser reads it to the same syntax tree."""
    policy = planiso_policies()[0]
    verdicts = verdicts_of(policy)
    conditions = {
        expr_text(c): c
        for v in verdicts.values()
        for c in (v.condition, *(o.condition for o in v.obligations))
        if c is not None
    }
    assert len(conditions) >= 10
    probes = "".join(
        f"\nrule probe_{i} §5.1\n  allow planiso to use name for marketing\n  when {text}\n"
        for i, text in enumerate(sorted(conditions))
    )
    parsed = policy_engine.load_policy_text({**planiso_texts(), "probes.policy": probes})
    read = {r.id: r.source.condition for r in parsed.compiled.rules if r.id.startswith("probe_")}
    for i, text in enumerate(sorted(conditions)):
        assert read[f"probe_{i}"] == conditions[text], text
