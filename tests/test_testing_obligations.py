"""Test files that state an obligation's arguments: ``obligations = ["retain_for(years = 6)"]``
(policy_engine/testing/obligations.py). Old files, which list names, read as they always did."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_engine.testing.reader import read_test_file
from policy_engine.testing.runner import run_tests

POLICY = """\
party hmo
data phi
purpose payment
context urgent: boolean
obligation retain_for(years: integer default 6, medium: one of "paper", "digital" default "paper")
obligation cap(share: decimal default 0.25)
obligation notify(note: string default "", urgent: boolean default false)
obligation log_access

rule pay §1
  allow hmo to use phi for payment
  with obligations log_access, retain_for, cap(share = 0.50)
  with obligation retain_for(years = 10, medium = "digital") when urgent
  with obligation notify(note = "a \\"b\\"")
"""

CASE = """[[case]]
name = "{name}"
party = "hmo"
data = "phi"
purpose = "payment"
context = {{ urgent = {urgent} }}
expect = "allow"
obligations = {obligations}
"""


def results(tmp_path: Path, *cases: tuple[str, bool, str]) -> list[tuple[str, tuple[str, ...]]]:
    (tmp_path / "p.policy").write_text(POLICY, encoding="utf-8")
    text = "\n".join(
        CASE.format(name=name, urgent=str(urgent).lower(), obligations=obligations)
        for name, urgent, obligations in cases
    )
    (tmp_path / "p.tests.toml").write_text(text, encoding="utf-8")
    return [(r.name, r.failures) for r in run_tests(tmp_path).results]


def test_arguments_are_checked_with_the_defaults_filled_in(tmp_path: Path) -> None:
    found = results(
        tmp_path,
        (
            "every requirement",
            True,
            '["log_access", "retain_for(years = 6)", "retain_for(medium = \\"digital\\", '
            'years = 10)", "cap(share = 0.5)", "notify(note = \\"a \\\\\\"b\\\\\\"\\")"]',
        ),
        ("names alone, as old files", True, '["log_access", "retain_for", "cap", "notify"]'),
        (
            "one name with arguments, the others alone",
            False,
            '["log_access", "retain_for(years = 6, medium = \\"paper\\")", "cap", "notify"]',
        ),
        (
            "a decimal written otherwise",
            False,
            '["log_access", "retain_for", "cap(share = 0.500)", "notify"]',
        ),
    )
    assert found == [(name, ()) for name, _ in found]


def test_a_requirement_too_many_or_too_few_fails(tmp_path: Path) -> None:
    found = dict(
        results(
            tmp_path,
            ("one missing", True, '["log_access", "retain_for(years = 6)", "cap", "notify"]'),
            (
                "one too many",
                False,
                '["log_access", "retain_for(years = 6)", "retain_for(years = 7)", "cap", "notify"]',
            ),
            ("other share", False, '["log_access", "retain_for", "cap(share = 0.3)", "notify"]'),
            ("a name missing", False, '["retain_for(years = 6)", "cap", "notify"]'),
        )
    )
    assert found["one missing"] == (
        'expected `retain_for` as `retain_for(years = 6, medium = "paper")`, got `retain_for('
        'years = 6, medium = "paper")`, `retain_for(years = 10, medium = "digital")`',
    )
    assert found["one too many"] == (
        'expected `retain_for` as `retain_for(years = 6, medium = "paper")`, `retain_for(years = '
        '7, medium = "paper")`, got `retain_for(years = 6, medium = "paper")`',
    )
    assert found["other share"] == ("expected `cap` as `cap(share = 0.3)`, got `cap(share = 0.5)`",)
    assert found["a name missing"] == (
        "expected obligations `cap`, `notify`, `retain_for`, "
        "got `cap`, `log_access`, `notify`, `retain_for`",
    )


def test_arguments_the_declaration_does_not_take_are_failures(tmp_path: Path) -> None:
    found = dict(
        results(
            tmp_path,
            ("typo", False, '["log_access", "retain_for(yeras = 6)", "cap", "notify"]'),
            ("wrong type", False, '["log_access", "retain_for(years = \\"6\\")", "cap", "notify"]'),
            ("no parameters", False, '["log_access(x = 1)", "retain_for", "cap", "notify"]'),
            ("unknown", False, '["log_acces(x = 1)", "retain_for", "cap", "notify"]'),
        )
    )
    assert found["typo"][0] == (
        "`retain_for(yeras = 6)` in `obligations`: `yeras` is not a parameter of `retain_for` "
        "(did you mean `years`?)"
    )
    assert found["wrong type"][0] == (
        '`retain_for(years = "6")` in `obligations`: `years` must be a whole number'
    )
    assert found["no parameters"][0] == (
        "`log_access(x = 1)` in `obligations`: `x` is not a parameter of `log_access`"
    )
    assert found["unknown"][0] == (
        "`log_acces` in `obligations` is not an obligation of this policy "
        "(did you mean `log_access`?)"
    )


@pytest.mark.parametrize(
    "entry",
    ["retain_for(years)", "retain_for(years = )", "retain_for(years = 6", "(years = 6)", "a b"],
)
def test_an_entry_written_wrong_is_a_format_error_at_its_place(tmp_path: Path, entry: str) -> None:
    file = tmp_path / "t.tests.toml"
    text = CASE.format(name="one", urgent="true", obligations=f'["log_access", "{entry}"]')
    file.write_text(text, encoding="utf-8")
    cases, problems = read_test_file(file)
    assert cases == []
    [problem] = problems
    assert problem.code == "bad-obligation" and entry in problem.message
    assert problem.span is not None and (problem.span.line, problem.span.column) == (8, 1)
    assert problem.help == 'for example `obligations = ["log_access", "retain_for(years = 6)"]`'
