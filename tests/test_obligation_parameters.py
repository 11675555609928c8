"""Obligations with typed parameters (`obligation retain_for(years: integer default 6)`, required as
`with obligation retain_for(years = 7)`) and obligations declared with a condition
(`obligation x … when C`): parsed and formatted, checked (each error at its place), shown in
decisions (the model, `decide --format json`, `--batch`, the service's response and its OpenAPI
schema), in explanations, `diff`, the matrix and the register (docs/semantics.md, sentences 31
and 32). The soundness harness generates both (tests/soundness_model.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

import policy_engine
from policy_engine import load_policy_text
from policy_engine.analysis.diff import diff_policies
from policy_engine.cli.batch import run_batch
from policy_engine.cli.main import main
from policy_engine.language import ast
from policy_engine.language.formatter import format_source
from policy_engine.language.parser import parse_source
from policy_engine.language.source import Source
from policy_engine.lsp.hover import hover_text
from policy_engine.lsp.index import Index
from policy_engine.lsp.tokens import Token
from policy_engine.traceability.matrix import build_matrix
from policy_engine.traceability.register import build_register

from .test_named_conditions import errors_of

HEAD = """\
party health_plans
party hmo under health_plans
data phi
purpose payment, operations
context destination: string
context urgent: boolean
obligation retain_for(years: integer default 6, medium: one of "paper", "digital" default "paper")
  "retain the record" §164.530(j)
obligation respond_within(days: integer, by_mail: boolean default false, note: string default "")
obligation log_access
obligation assess_transfer "assess the protection abroad" §17 when destination != "CA-QC"
"""


def rule(clause: str, effect: str = "allow") -> str:
    verb = "to use" if effect == "allow" else "from using"
    return f"rule r §1\n  {effect} health_plans {verb} phi for payment\n  {clause}\n"


# ---- syntax --------------------------------------------------------------------------------------


def test_parameters_and_arguments_parse() -> None:
    items = parse_source(Source("p.policy", HEAD + rule("with obligation retain_for(years = 7)")))
    decl = next(i for i in items.items if isinstance(i, ast.TermDecl) and i.kind == "obligation")
    assert [p.name.value for p in decl.parameters] == ["years", "medium"]
    assert decl.parameters[0].type == ast.IntType()
    assert decl.parameters[0].default == ast.Literal_(6)
    assert decl.parameters[1].type == ast.OneOfType(("paper", "digital"))
    [clause] = next(i for i in items.items if isinstance(i, ast.Rule)).obligations
    assert [(a.name.value, a.value.value) for a in clause.arguments_of(0)] == [("years", 7)]
    transfer = next(
        i
        for i in items.items
        if isinstance(i, ast.TermDecl) and i.names[0].value == "assess_transfer"
    )
    assert isinstance(transfer.condition, ast.Compare)


def test_the_formatter_writes_parameters_arguments_and_declared_conditions() -> None:
    text = HEAD + rule(
        'with obligations log_access,retain_for( medium="paper" , years=7 ) when urgent'
    )
    formatted = format_source(text, "p.policy")
    assert (
        'obligation retain_for(years: integer default 6, medium: one of "paper", "digital" default'
        ' "paper")\n  "retain the record" §164.530(j)\n' in formatted
    )
    assert '"assess the protection abroad" §17 when destination != "CA-QC"' in formatted
    assert (
        'with obligations log_access, retain_for(medium = "paper", years = 7) when urgent'
        in formatted
    )
    assert format_source(formatted, "p.policy") == formatted
    assert parse_source(Source("p.policy", formatted)) == parse_source(Source("p.policy", text))


def test_parameters_belong_to_one_obligation() -> None:
    with pytest.raises(policy_engine.PolicySyntaxError):
        load_policy_text("obligation a, b(x: integer)\n")


# ---- checker errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clause", "code", "message", "column", "help_"),
    [
        (
            "with obligation retain_for(yeras = 7)",
            "unknown-parameter",
            "`yeras` is not a parameter of `retain_for`",
            30,
            "did you mean `years`?",
        ),
        (
            "with obligation respond_within(by_mail = true)",
            "missing-argument",
            "obligation `respond_within` needs `days`",
            19,
            "give it: `respond_within(days = …)`",
        ),
        (
            'with obligation retain_for(years = "7")',
            "bad-argument",
            "`years` of `retain_for` must be a whole number",
            38,
            "`years` is declared as integer",
        ),
        (
            'with obligation retain_for(medium = "tape")',
            "bad-argument",
            '`medium` of `retain_for` must be one of "paper", "digital"',
            39,
            '`medium` is declared as one of "paper", "digital"',
        ),
        (
            "with obligation log_access(days = 3)",
            "unexpected-arguments",
            "obligation `log_access` is declared without parameters",
            30,
            "remove the arguments, or declare the parameters: `obligation log_access(NAME: TYPE)`",
        ),
        (
            "with obligation retain_for(years = 7, years = 8)",
            "duplicate-argument",
            "`years` is given twice",
            41,
            "give each parameter one value",
        ),
    ],
)
def test_arguments_are_checked_at_their_place(
    clause: str, code: str, message: str, column: int, help_: str
) -> None:
    [found] = errors_of(HEAD + rule(clause))
    assert found == (code, message, 14, column, help_)


def test_parameter_declarations_are_checked() -> None:
    text = 'obligation a(x: integer default "1", x: boolean)\n'
    assert sorted(errors_of(text)) == [
        (
            "bad-default",
            "the default of `x` must be a whole number",
            1,
            33,
            "`x` is declared as integer",
        ),
        (
            "duplicate-parameter",
            "`x` is a parameter of `a` twice",
            1,
            38,
            "give each parameter its own name",
        ),
    ]


def test_a_list_default_of_a_parameter_is_refused_at_its_place() -> None:
    # Found by the grammar fuzzer: the checker and the formatter once crashed on it.
    text = "obligation keep(years: integer default [1])\n"
    assert errors_of(text) == [
        (
            "bad-default",
            "the default of `years` must be a single value, not a list",
            1,
            40,
            "`years` is declared as integer",
        )
    ]
    assert format_source(text, "x.policy").startswith(text)


def test_a_declared_condition_is_typed() -> None:
    [found] = errors_of("obligation a when destination = 3\ncontext destination: string\n")
    assert found[:4] == (
        "type-mismatch",
        "cannot compare `destination` (string) with `3` (integer)",
        1,
        19,
    )


# ---- decisions -----------------------------------------------------------------------------------

POLICY = (
    HEAD
    + """
rule pay §1
  allow health_plans to use phi for payment
  with obligations log_access, retain_for(medium = "paper")
  with obligation respond_within(days = 30) when urgent

rule hmo_pay §1
  allow hmo to use phi for payment
  with obligations retain_for(years = 10, medium = "digital"), assess_transfer
"""
)


def test_two_rules_requiring_one_obligation_with_other_values_give_both() -> None:
    p = load_policy_text(POLICY)
    d = p.decide("hmo", "phi", "payment", {"urgent": True, "destination": "US"})
    assert d.obligations == ["assess_transfer", "log_access", "respond_within", "retain_for"]
    assert [(o.name, o.parameters) for o in d.obligation_details] == [
        ("assess_transfer", {}),
        ("log_access", {}),
        ("respond_within", {"days": 30, "by_mail": False, "note": ""}),
        ("retain_for", {"years": 6, "medium": "paper"}),
        ("retain_for", {"years": 10, "medium": "digital"}),
    ]
    assert d.model_dump() == json.loads(d.model_dump_json()) == d.to_model().model_dump(mode="json")
    home = p.decide("hmo", "phi", "payment", {"destination": "CA-QC"})
    assert "assess_transfer" not in home.obligations and home.missing == ["urgent"]


def test_explain_shows_each_obligation_as_required() -> None:
    p = load_policy_text(POLICY)
    text = p.decide("hmo", "phi", "payment", {"urgent": True, "destination": "US"}).explain()
    assert (
        "Obligations: assess_transfer, log_access, respond_within(days = 30, by_mail = false, "
        'note = ""), retain_for(years = 6, medium = "paper"), retain_for(years = 10, medium = '
        '"digital")' in text
    )
    assert (
        'with obligation assess_transfer when destination != "CA-QC"  → true (`destination` is'
        ' "US")  [attached]' in text
    )
    assert (
        'with obligation respond_within(days = 30, by_mail = false, note = "") when urgent' in text
    )


def test_decide_and_batch_print_the_parameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.policy").write_text(POLICY, "utf-8")
    args = ["decide", str(tmp_path), "--party", "hmo", "--data", "phi", "--purpose", "payment"]
    assert main([*args, "--format", "json"]) == 0
    dumped = json.loads(capsys.readouterr().out)
    assert dumped["obligations"] == ["log_access", "retain_for"]
    assert dumped["obligation_details"][2] == {
        "name": "retain_for",
        "parameters": {"years": 10, "medium": "digital"},
    }
    assert main(args) == 0
    said = capsys.readouterr().out
    assert (
        'obligations: log_access, retain_for(years = 6, medium = "paper"), retain_for(years = 10'
        in said
    )
    requests = tmp_path / "requests.jsonl"
    requests.write_text(json.dumps({"party": "hmo", "data": "phi", "purpose": "payment"}) + "\n")
    out, err = io.StringIO(), io.StringIO()
    assert run_batch(policy_engine.load_policy(tmp_path), str(requests), out, err) == 0
    assert json.loads(out.getvalue())["obligation_details"] == dumped["obligation_details"]


def test_the_service_answers_with_the_details_and_its_schema_says_so(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="the service needs the server extra")
    from fastapi.testclient import TestClient

    from policy_engine.service.app import create_app

    (tmp_path / "p.policy").write_text(POLICY, "utf-8")
    app = create_app(tmp_path, f"sqlite:///{tmp_path / 'log.db'}")
    with TestClient(app) as client:
        body = {"party": "hmo", "data": "phi", "purpose": "payment", "context": {}}
        answer = client.post("/v1/decisions", json=body).json()
        schema = client.get("/openapi.json").json()["components"]["schemas"]
    expected = policy_engine.load_policy(tmp_path).decide("hmo", "phi", "payment", {})
    assert answer["obligations"] == expected.obligations
    assert answer["obligation_details"] == expected.model_dump()["obligation_details"]
    details = schema["DecisionResponse"]["properties"]["obligation_details"]
    assert details["items"] == {"$ref": "#/components/schemas/ObligationModel"}
    assert set(schema["ObligationModel"]["properties"]) == {"name", "parameters"}


# ---- analyses ------------------------------------------------------------------------------------


def test_diff_treats_a_changed_parameter_as_a_changed_obligation() -> None:
    old = load_policy_text(POLICY)
    new = load_policy_text(POLICY.replace("years = 10", "years = 7"))
    report = diff_policies(old, new)
    assert {g.kind for g in report.groups} == {"obligations"}
    for group in report.groups:
        assert 'retain_for(years = 10, medium = "digital")' in group.old_obligations
        assert 'retain_for(years = 7, medium = "digital")' in group.new_obligations
        assert (group.parties, group.data, group.purposes) == (["hmo"], ["phi"], ["payment"])
    defaulted = load_policy_text(
        POLICY.replace("years: integer default 6", "years: integer default 5")
    )
    changed = diff_policies(old, defaulted)
    assert [g.kind for g in changed.groups] and all(g.kind == "obligations" for g in changed.groups)
    same = load_policy_text(
        POLICY.replace('retain_for(medium = "paper")', 'retain_for(years = 6, medium = "paper")')
    )
    assert diff_policies(old, same).groups == []


def test_diff_sees_a_changed_declared_condition() -> None:
    old = load_policy_text(POLICY)
    new = load_policy_text(
        POLICY.replace('when destination != "CA-QC"', 'when destination = "CA-QC"')
    )
    report = diff_policies(old, new)
    assert report.groups and {g.kind for g in report.groups} == {"obligations"}
    for group in report.groups:
        context = group.example["context"]
        assert isinstance(context, dict)
        before = old.decide("hmo", "phi", "payment", context).obligations
        after = new.decide("hmo", "phi", "payment", context).obligations
        assert ("assess_transfer" in before) != ("assess_transfer" in after)


def test_the_matrix_and_the_register_show_the_parameters() -> None:
    p = load_policy_text(POLICY)
    matrix = build_matrix(p, "p", prove=True)
    verdict = matrix.verdicts[("hmo", "phi", "payment")]
    shown = {(o.obligation, o.parameters, o.name) for o in verdict.obligations}
    assert (
        "retain_for",
        (("years", 10), ("medium", "digital")),
        'retain_for(years = 10, medium = "digital")',
    ) in shown
    assert (
        next(o for o in verdict.obligations if o.obligation == "assess_transfer").condition
        is not None
    )
    register = build_register(p, "p")
    [activity] = [a for a in register.activities if a.purpose == "payment"]
    retained = [o for o in activity.obligations if o.obligation == "retain_for"]
    assert sorted(tuple(o.parameters.items()) for o in retained) == [
        (("years", 6), ("medium", "paper")),
        (("years", 10), ("medium", "digital")),
    ]
    assert all(o.description == "retain the record" for o in retained)
    dumped: Any = json.loads(register.model_dump_json())
    obligations = next(a for a in dumped["activities"] if a["purpose"] == "payment")["obligations"]
    assert "parameters" not in next(o for o in obligations if o["obligation"] == "log_access")


def test_hover_shows_an_obligations_parameters_and_declared_condition() -> None:
    index = Index([parse_source(Source("p.policy", POLICY))])
    retain = hover_text(Token("name", "retain_for", 0, 0, 10), index, [])
    assert retain is not None and retain.startswith(
        '**obligation** `retain_for`(years: integer default 6, medium: one of "paper", "digital"'
        ' default "paper")'
    )
    transfer = hover_text(Token("name", "assess_transfer", 0, 0, 15), index, [])
    assert transfer is not None and 'when `destination != "CA-QC"`' in transfer
