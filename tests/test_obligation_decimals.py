"""Obligation parameters of type `decimal` (`obligation cap(limit: decimal default 0.5)`, required
as `with obligation cap(limit = 0.25)`): checked, exact, one number however it is written, shown in
decisions, explanations, the matrix, the register, the service's JSON and its OpenAPI schema;
and the order of a decision's `obligation_details` (by name, then by the arguments as what they
are: `years = 6` before `years = 10`) — docs/semantics.md, sentence 32. The soundness harness
generates decimal parameters too (tests/soundness_model.py, ``DECIMAL_ARGUMENTS``)."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policy_engine
from policy_engine import load_policy_text
from policy_engine.language import ast
from policy_engine.language.formatter import format_source
from policy_engine.language.parser import parse_source
from policy_engine.language.source import Source
from policy_engine.traceability.matrix import build_matrix
from policy_engine.traceability.matrix_render import render_json
from policy_engine.traceability.register import build_register

from .test_named_conditions import errors_of

LONG = "0.1000000000000000055511151231257827"

HEAD = """\
party lender
data credit_score
purpose underwriting
obligation cap(limit: decimal default 0.50, years: integer default 6) "cap the exposure" §3
obligation review(note: string, urgent: boolean default false)
"""


def policy(*clauses: str) -> str:
    """One allow rule per clause, in the order given."""
    rules = "".join(
        f"rule r{i} §1\n  allow lender to use credit_score for underwriting\n  {clause}\n"
        for i, clause in enumerate(clauses)
    )
    return HEAD + rules


def details(text: str) -> list[tuple[str, dict[str, Any]]]:
    d = load_policy_text(text).decide("lender", "credit_score", "underwriting", {})
    return [(o.name, dict(o.parameters)) for o in d.obligation_details]


# ---- syntax and checks ---------------------------------------------------------------------------


def test_a_decimal_parameter_parses_and_keeps_its_text_in_the_formatter() -> None:
    text = policy("with obligation cap(limit=0.250)")
    items = parse_source(Source("p.policy", text)).items
    decl = next(i for i in items if isinstance(i, ast.TermDecl) and i.kind == "obligation")
    assert decl.parameters[0].type == ast.DecimalType()
    assert decl.parameters[0].default == ast.Literal_(Decimal("0.50"))
    formatted = format_source(text, "p.policy")
    assert "obligation cap(limit: decimal default 0.50, years: integer default 6)" in formatted
    assert "with obligation cap(limit = 0.250)" in formatted
    assert format_source(formatted, "p.policy") == formatted


@pytest.mark.parametrize(
    ("clause", "message"),
    [
        (
            'with obligation cap(limit = "0.5")',
            "`limit` of `cap` must be a number, such as `0.75` or `2`",
        ),
        (
            "with obligation cap(limit = true)",
            "`limit` of `cap` must be a number, such as `0.75` or `2`",
        ),
        ("with obligation cap(years = 2.5)", "`years` of `cap` must be a whole number"),
    ],
)
def test_a_decimal_argument_must_be_a_number(clause: str, message: str) -> None:
    [(code, said, line, column, help_)] = errors_of(policy(clause))
    parameter = "limit" if "limit" in message else "years"
    declared = "decimal" if parameter == "limit" else "integer"
    assert (code, said, line) == ("bad-argument", message, 8)
    assert column == clause.index("= ") + 5
    assert help_ == f"`{parameter}` is declared as {declared}"


def test_a_decimal_default_must_be_a_number() -> None:
    [(code, message, line, _, _)] = errors_of(HEAD.replace("default 0.50", 'default "half"'))
    assert (code, message, line) == (
        "bad-default",
        "the default of `limit` must be a number, such as `0.75` or `2`",
        4,
    )


# ---- decisions -----------------------------------------------------------------------------------


def test_a_decimal_argument_is_the_number_it_is() -> None:
    """`0.5`, `0.50` and the default `0.50` are one requirement; `2`, `2.0` and `2.00` another;
    a decimal of 34 digits is kept whole, apart from the float nearest to it (0.1)."""
    found = details(
        policy(
            "with obligation cap(limit = 0.5)",
            "with obligation cap",
            "with obligation cap(limit = 0.50, years = 6)",
            "with obligations cap(limit = 2.0), cap(limit = 2)",
            "with obligation cap(limit = 2.00)",
            f"with obligation cap(limit = {LONG})",
            "with obligation cap(limit = 0.1)",
        )
    )
    assert found == [
        ("cap", {"limit": Decimal("0.1"), "years": 6}),
        ("cap", {"limit": Decimal(LONG), "years": 6}),
        ("cap", {"limit": Decimal("0.5"), "years": 6}),
        ("cap", {"limit": Decimal("2"), "years": 6}),
    ]
    assert all(type(parameters["limit"]) is Decimal for _, parameters in found)


def test_decisions_write_a_decimal_argument_as_a_json_number() -> None:
    p = load_policy_text(policy("with obligation cap(limit = 0.25, years = 10)"))
    d = p.decide("lender", "credit_score", "underwriting", {})
    dumped = d.model_dump()
    assert dumped["obligation_details"] == [
        {"name": "cap", "parameters": {"limit": 0.25, "years": 10}}
    ]
    assert dumped == json.loads(d.model_dump_json()) == d.to_model().model_dump(mode="json")
    assert '"limit":0.25' in d.model_dump_json()
    assert [o.text for o in d.obligation_details] == ["cap(limit = 0.25, years = 10)"]
    assert "Obligations: cap(limit = 0.25, years = 10)" in d.explain()


def test_the_explanation_shows_a_long_decimal_whole() -> None:
    p = load_policy_text(policy(f"with obligation cap(limit = {LONG})"))
    text = p.decide("lender", "credit_score", "underwriting", {}).explain()
    assert f"Obligations: cap(limit = {LONG}, years = 6)" in text


# ---- the order of obligation_details -------------------------------------------------------------


def test_obligation_details_sort_by_name_then_by_the_values() -> None:
    """By text, `years = 10` came before `years = 6`, and `limit = 10` before `limit = 2`."""
    found = details(
        policy(
            "with obligation cap(years = 10)",
            'with obligations review(note = "b"), cap(years = 6)',
            "with obligation cap(limit = 10)",
            "with obligation cap(limit = 2, years = 10)",
            'with obligations review(note = "a", urgent = true), review(note = "a")',
            "with obligation cap(limit = -1.25)",
        )
    )
    assert [(name, tuple(p.values())) for name, p in found] == [
        ("cap", (Decimal("-1.25"), 6)),
        ("cap", (Decimal("0.5"), 6)),
        ("cap", (Decimal("0.5"), 10)),
        ("cap", (Decimal("2"), 10)),
        ("cap", (Decimal("10"), 6)),
        ("review", ("a", False)),
        ("review", ("a", True)),
        ("review", ("b", False)),
    ]


ARGUMENTS = st.tuples(
    st.sampled_from(["0.5", "2", "10", "-1.25", "0.25", "100.000", LONG, "0.1"]),
    st.integers(0, 30),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(ARGUMENTS, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_obligation_details_are_ordered_by_value_whatever_the_rules_order(
    arguments: list[tuple[str, int]], shuffle: random.Random
) -> None:
    clauses = [
        f"with obligation cap(limit = {limit}, years = {years})" for limit, years in arguments
    ]
    found = details(policy(*clauses))
    shuffle.shuffle(clauses)
    assert details(policy(*clauses)) == found
    expected = sorted({(Decimal(limit), years) for limit, years in arguments})
    assert [(p["limit"], p["years"]) for _, p in found] == expected


# ---- the matrix, the register, the service -------------------------------------------------------


def test_the_matrix_and_the_register_show_decimal_arguments() -> None:
    p = load_policy_text(
        policy(f"with obligation cap(limit = {LONG})", "with obligation cap(limit = 2.0)")
    )
    matrix = build_matrix(p, "p", prove=True)
    verdict = matrix.verdicts[("lender", "credit_score", "underwriting")]
    assert [o.name for o in verdict.obligations] == [
        f"cap(limit = {LONG}, years = 6)",
        "cap(limit = 2, years = 6)",
    ]
    dumped = json.loads(render_json(matrix))
    assert '"limit": 2' in render_json(matrix) or '"limit": 2.0' in render_json(matrix)
    assert dumped  # valid JSON
    register = build_register(p, "p")
    [activity] = register.activities
    assert [o.parameters for o in activity.obligations] == [
        {"limit": Decimal(LONG), "years": 6},
        {"limit": Decimal("2"), "years": 6},
    ]
    obligations = json.loads(register.model_dump_json())["activities"][0]["obligations"]
    assert [o["parameters"]["limit"] for o in obligations] == [0.1, 2.0]


def test_the_service_answers_a_decimal_argument_exactly_and_its_schema_says_number(
    tmp_path: Path,
) -> None:
    pytest.importorskip("fastapi", reason="the service needs the server extra")
    from fastapi.testclient import TestClient

    from policy_engine.service.app import create_app

    (tmp_path / "p.policy").write_text(
        policy(f"with obligation cap(limit = {LONG})", "with obligation cap(limit = 2.50)"),
        "utf-8",
    )
    app = create_app(tmp_path, f"sqlite:///{tmp_path / 'log.db'}")
    with TestClient(app) as client:
        body = {"party": "lender", "data": "credit_score", "purpose": "underwriting"}
        answer = client.post("/v1/decisions", json=body)
        schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert f'{{"name":"cap","parameters":{{"limit":{LONG},"years":6}}}}' in answer.text
    assert '{"name":"cap","parameters":{"limit":2.5,"years":6}}' in answer.text
    expected = policy_engine.load_policy(tmp_path).decide("lender", "credit_score", "underwriting")
    assert answer.json()["obligation_details"] == expected.model_dump()["obligation_details"]
    values = schema["ObligationModel"]["properties"]["parameters"]["additionalProperties"]
    assert {"type": "number"} in values["anyOf"]
