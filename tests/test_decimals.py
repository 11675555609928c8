"""Decimals: the `decimal` context type and decimal literals (`0.75`, `-1.5`), compared exactly with
each other and with whole numbers; a request's number is read exactly (a float from its repr, a
JSON number on the command line from its text), and NaN, infinities and booleans are refused.

The analyses cut a decimal key's domain at the constants of its group, and at the values of the
integer keys it is compared with (``policy_engine/analysis/number_classes.py``): the soundness
harness holds them to a brute force over a universe that has every decimal between those points
(``soundness_model.SoundUniverse``); here on policies about numbers only, where integer and
decimal keys meet.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine import RequestError, check_policy, load_policy_text
from policy_engine.analysis.diff import diff_policies
from policy_engine.analysis.number_classes import between, number_domain
from policy_engine.cli.main import main
from policy_engine.language.formatter import format_source
from policy_engine.traceability.matrix import build_matrix

from .soundness_model import (
    ONE_CELL,
    OPS,
    ExprGen,
    InvariantSpec,
    Key,
    RandomChoices,
    Spec,
    compare_check,
    compare_diff,
    compare_planted,
    flag,
    pick,
)
from .test_properties import Expr, RuleSpec
from .test_soundness import SOUNDNESS_SETTINGS

POLICY = """\
party lender
data credit_score
purpose underwriting

context risk: decimal "the model's risk score, 0 to 1"
context income_ratio: decimal default 0.35
context age: integer

rule low_risk §2
  allow lender to use credit_score for underwriting
  when risk < 0.25 and income_ratio <= 0.4 and age >= 18

rule adults_only §2
  deny lender from using credit_score for underwriting
  when age < 17.5
"""


def decide(context: dict[str, object]) -> str:
    policy = load_policy_text(POLICY)
    return policy.decide("lender", "credit_score", "underwriting", context).effect


@pytest.mark.parametrize(
    ("risk", "effect"),
    [
        (Decimal("0.24999999999999999999999999999"), "allow"),
        (Decimal("0.25"), "deny"),
        (0.1, "allow"),  # the float 0.1 is read as 0.1, exactly
        (0, "allow"),
        (Decimal("-0"), "allow"),
        (1, "deny"),
    ],
)
def test_decimals_compare_exactly(risk: object, effect: str) -> None:
    assert decide({"risk": risk, "age": 30}) == effect


def test_whole_numbers_compare_with_decimals() -> None:
    assert decide({"risk": 0.1, "age": 18}) == "allow"
    assert decide({"risk": 0.1, "age": 17}) == "deny"  # 17 < 17.5
    assert decide({"risk": 0.1, "age": 18, "income_ratio": 0.41}) == "deny"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "context key `risk` must be a finite number, got the number nan"),
        (float("inf"), "context key `risk` must be a finite number, got the number inf"),
        (Decimal("NaN"), "context key `risk` must be a finite number, got the number NaN"),
        (True, "context key `risk` must be a number, got true"),
        ("0.2", 'context key `risk` must be a number, got "0.2"'),
    ],
)
def test_bad_numbers_are_refused(value: object, message: str) -> None:
    with pytest.raises(RequestError) as raised:
        decide({"risk": value, "age": 30})
    assert raised.value.diagnostics[0].message == message


def test_the_decision_echoes_decimals_as_json_numbers() -> None:
    policy = load_policy_text(POLICY)
    d = policy.decide("lender", "credit_score", "underwriting", {"risk": Decimal("0.2")})
    assert d.model_dump()["request"]["context"] == {"risk": 0.2}
    assert d.model_dump() == json.loads(d.model_dump_json())
    assert "`risk` is 0.2" in d.explain()


def test_the_command_line_reads_a_number_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`0.2500000000000000001` is above 0.25, though the nearest float is 0.25 itself."""
    path = tmp_path / "p.policy"
    path.write_text(POLICY.replace("risk < 0.25", "risk <= 0.25"), encoding="utf-8")
    args = ["decide", str(path), "--party", "lender", "--data", "credit_score"]
    args += ["--purpose", "underwriting"]
    assert main([*args, "--context", '{"risk": 0.25, "age": 30}']) == 0
    assert main([*args, "--context", '{"risk": 0.2500000000000000001, "age": 30}']) == 1
    capsys.readouterr()


def test_decimal_errors_are_located() -> None:
    with pytest.raises(Exception) as raised:
        rule = "\nrule r §1\n  allow lender to use credit_score for any purpose\n"
        load_policy_text(POLICY + rule + '  when risk < "0.5"\n')
    [found] = raised.value.errors  # type: ignore[attr-defined]
    assert (found.code, found.message, found.help) == (
        "type-mismatch",
        '`<` compares numbers, but `"0.5"` is a string',
        "write the number without quotes: `0.5`",
    )
    with pytest.raises(Exception) as raised:
        load_policy_text("context r: decimal default true\n")
    [found] = raised.value.errors  # type: ignore[attr-defined]
    assert found.message == "the default of `r` must be a number, such as `0.75` or `2`"


def test_the_formatter_keeps_decimals_as_written() -> None:
    text = (
        "context r: decimal default 0.50\n\nrule a §1\n"
        "  allow any party to use any data for any purpose\n  when r > -1.250\n"
    )
    assert format_source(text) == text


def test_check_and_the_matrix_cut_decimals_at_their_constants(tmp_path: Path) -> None:
    invariant = (
        "\ninvariant risky_never §2\n  never lender use credit_score for underwriting\n"
        "  when risk >= 0.25\n"
    )
    path = tmp_path / "p.policy"
    path.write_text(POLICY + invariant, encoding="utf-8")
    assert [d.code for d in check_policy(path) if d.severity == "error"] == []
    broken = invariant.replace(">= 0.25", ">= 0.2")
    path.write_text(POLICY + broken, encoding="utf-8")
    [found] = [d for d in check_policy(path) if d.code == "invariant-broken"]
    assert found.help is not None and '"risk": 0.2' in found.help
    matrix = build_matrix(load_policy_text(POLICY), "p", prove=True)
    verdict = matrix.verdicts[("lender", "credit_score", "underwriting")]
    assert verdict.status == "conditional"


def test_diff_of_a_changed_decimal_constant() -> None:
    old = load_policy_text(POLICY)
    new = load_policy_text(POLICY.replace("risk < 0.25", "risk < 0.3"))
    [group] = diff_policies(old, new).groups
    assert group.kind == "widened"
    example = group.example["context"]
    assert isinstance(example, dict)
    assert Decimal("0.25") <= Decimal(repr(example["risk"])) < Decimal("0.3")


def test_a_decimal_key_compared_with_integer_keys_falls_between_them() -> None:
    domain = number_domain("d", [], 3, whole=False, whole_peers=True)
    values = [v for v, _ in domain]
    assert {Decimal(0), Decimal(1), Decimal(2)} <= set(values)
    assert any(Decimal(0) < v < Decimal(1) for v in values)
    assert between(Decimal("0.1"), Decimal("0.2"), 3) == [
        Decimal("0.125"),
        Decimal("0.150"),
        Decimal("0.175"),
    ]


# ---- against the brute force ---------------------------------------------------------------


def numbers_spec(c: RandomChoices, keys: tuple[Key, ...] = ()) -> Spec:
    """One cell, two or three number keys (at least one decimal and one integer; ``keys`` when
    given), and one or two rules whose conditions only compare them, with each other and with
    whole and decimal constants: where a gap in the cuts of a decimal key among integer keys
    would show."""
    if not keys:
        keys = (Key("ki0", "int"), Key("kd0", "dec"))
        keys += (pick(c, [Key("ki1", "int"), Key("kd1", "dec")]),) if flag(c) else ()
    gen = ExprGen(c, ONE_CELL, keys, sparse=True)

    decimals = [k.name for k in keys if k.base == "dec"]
    whole = [k.name for k in keys if k.base == "int"]

    def leaf() -> Expr:
        if flag(c):  # mostly a decimal key against an integer key, often equal
            a: Expr = ("key", pick(c, decimals))
            b: Expr = ("key", pick(c, whole if c.number(0, 2) else decimals))
            return ("cmp", pick(c, ["=", *OPS]), *gen.maybe_swap(a, b))
        constant = ("lit", gen.number())
        return ("cmp", pick(c, OPS), *gen.maybe_swap(("key", pick(c, keys).name), constant))

    def condition() -> Expr:
        parts = tuple(leaf() for _ in range(c.number(1, 3)))
        return parts[0] if len(parts) == 1 else (pick(c, ["and", "and", "or"]), parts)

    rules = tuple(
        RuleSpec(f"r{i}", pick(c, ["allow", "deny"]), ANY, condition(), (), (), "§1", None)
        for i in range(c.number(1, 2))
    )
    claim = pick(c, ["never", "allow"])
    return Spec(ONE_CELL, keys, rules, (InvariantSpec("inv0", claim, (SCOPE,) * 3, None, ()),))


ANY = (None, None, None)
SCOPE = (None, ())


@settings(SOUNDNESS_SETTINGS, max_examples=15)
@given(st.integers(0, 2**32 - 1))
def test_check_of_number_comparisons_matches_brute_force(seed: int) -> None:
    spec = numbers_spec(RandomChoices(random.Random(seed)))
    _, found = compare_check(spec)
    assert found == [], found[0].render()


@settings(SOUNDNESS_SETTINGS, max_examples=15)
@given(st.integers(0, 2**32 - 1))
def test_diff_of_number_comparisons_matches_brute_force(seed: int) -> None:
    """A policy and the same with its first rule's condition drawn again."""
    c = RandomChoices(random.Random(seed))
    old = replace(numbers_spec(c), invariants=())
    again = numbers_spec(c, old.keys).rules[0]
    new = replace(old, rules=(replace(old.rules[0], condition=again.condition), *old.rules[1:]))
    _, found = compare_diff(old, new)
    assert found == [], found[0].render()


PLANTED = {
    # The decimal key must be able to equal each value of the integer key (which is never 0.5).
    "equal_below_a_decimal": "kd0 = ki0 and ki0 < 0.5",
    # Two decimal keys above the last constant need two values each there.
    "two_keys_above_the_last": "kd0 > 2.0 and kd1 > kd0",
    # Strictly between the values of two integer keys that are next to each other.
    "between_two_integer_keys": "ki0 < kd0 and kd0 < ki1 and ki1 <= 1 and ki0 >= 0",
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_number_conditions_match_brute_force(name: str) -> None:
    """Each condition alone in an allow rule, with an invariant that nothing is allowed: check,
    the rule's reachability and diff against the policy without it must match the brute force."""
    keys = (Key("ki0", "int"), Key("ki1", "int"), Key("kd0", "dec"), Key("kd1", "dec"))
    found = compare_planted(ONE_CELL, keys, parse_model(PLANTED[name]))
    assert found == [], found[0].render()


def parse_model(text: str) -> Expr:
    """``a op b and c op d …`` (keys and number constants) in the harness's model."""

    def operand(word: str) -> Expr:
        if word[0].isalpha():
            return ("key", word)
        return ("lit", Decimal(word) if "." in word else int(word))

    parts: list[Expr] = []
    for test in text.split(" and "):
        left, op, right = test.split()
        parts.append(("cmp", op, operand(left), operand(right)))
    return parts[0] if len(parts) == 1 else ("and", tuple(parts))
