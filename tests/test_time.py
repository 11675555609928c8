"""Dates, instants, durations and `now` (docs/language.md#time, docs/semantics.md 33-36,
docs/analysis.md#dates-and-instants): the calendar, the syntax and its errors, requests, decisions
and explanations, and the analysis's classes for date keys, compared with every combination a
window of days realises."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine import (
    PolicyError,
    RequestError,
    load_policy_text,
)
from policy_engine.analysis.budget import BudgetExceeded
from policy_engine.analysis.diff import diff_policies
from policy_engine.analysis.space import RequestSpace
from policy_engine.api import check_loaded
from policy_engine.engine.compiler import compile_condition
from policy_engine.language import time_values as tv
from policy_engine.language.formatter import format_source

from . import soundness_time
from . import time_reference as tr
from .soundness_model import RandomChoices

ROOT = Path(__file__).resolve().parent.parent
HEAD = "party staff\ndata email\npurpose support\n"
CELL = ("staff", "email", "support")


def rule(condition: str, rule_id: str = "r", effect: str = "allow") -> str:
    verb = "to use" if effect == "allow" else "from using"
    return f"rule {rule_id} §1\n  {effect} staff {verb} email for support\n  when {condition}\n"


# ---- the calendar ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2024-01-31", 1, "2024-02-29"),
        ("2026-03-31", -1, "2026-02-28"),
        ("2024-02-29", 12, "2025-02-28"),
        ("2024-02-29", 48, "2028-02-29"),
        ("2026-05-31", 1, "2026-06-30"),
        ("2026-01-15", 13, "2027-02-15"),
        ("2026-12-06", -600, "1976-12-06"),
        ("9999-12-31", 1, "+10000-01-31"),
    ],
)
def test_months_keep_the_day_or_take_the_last_day(start: str, months: int, expected: str) -> None:
    assert tv.format_date(tv.add_months(tv.parse_date(start), months)) == expected


def test_the_calendar_agrees_with_datetime() -> None:
    """Day numbers and month steps, checked against Python's calendar on every day of 1999-2004
    (a century leap year and two common Februaries) and sample days of other centuries."""
    days = [dt.date(1999, 1, 1) + dt.timedelta(days=i) for i in range(6 * 366)]
    days += [
        dt.date(y, m, d)
        for y in (1, 100, 1600, 1900, 2100, 9998)
        for m in (1, 2, 3)
        for d in (1, 28)
    ]
    for day in days:
        number = tv.parse_date(day.isoformat())
        assert number == (day - tr.EPOCH).days
        assert tv.civil_from_days(number) == (day.year, day.month, day.day)
        if 1 < day.year < 9998:
            for months in (1, -1, 11, 13):
                expected = tr.moved("date", number, "+", months, "months")
                assert tv.add_months(number, months) == expected, (day, months)


def test_instants_are_points_in_time() -> None:
    assert tv.parse_instant("2026-12-06T19:00:00+01:00") == tv.parse_instant("2026-12-06T18:00:00Z")
    at = tv.parse_instant("2026-01-31T23:59:59.5Z")
    assert tv.format_instant(at) == "2026-01-31T23:59:59.5Z"
    moved = tv.shift("instant", at, 1, 0)
    assert tv.format_instant(moved) == "2026-02-28T23:59:59.5Z"
    assert tv.format_instant(tv.parse_instant("2026-12-06t18:00:00.000000001z")) == (
        "2026-12-06T18:00:00.000000001Z"
    )


@pytest.mark.parametrize(
    ("kind", "text", "says"),
    [
        ("date", "2026-02-30", "February 2026 has 28 days, not 30"),
        ("date", "2026-13-01", "has no month 13"),
        ("date", "6 Dec 2026", "is not a date written YYYY-MM-DD"),
        ("date", "2026-12-06T18:00:00Z", "is an instant, not a date"),
        ("instant", "2026-12-06T18:00:00", "has no offset from UTC"),
        ("instant", "2026-12-06", "is a date, not an instant"),
        ("instant", "2026-12-06T23:59:60Z", "leap seconds are not supported"),
        ("instant", "2026-12-06T18:00:00.1234567891Z", "more precise than nanoseconds"),
        ("instant", "2026-12-06T18:00:00+24:00", "has no offset +24:00"),
        ("date", "２０２６-12-06", "is not a date"),
    ],
)
def test_bad_texts_say_what_is_wrong(kind: str, text: str, says: str) -> None:
    with pytest.raises(tv.TimeValueError, match=re.escape(says)):
        tv.parse_time(kind, text)  # type: ignore[arg-type]


# ---- the language ------------------------------------------------------------------------------

TIME_POLICY = (
    HEAD
    + 'context decided_at: instant is now "the time of the decision"\n'
    + "context consent_given_at: instant\ncontext born_on: date\n\n"
    + rule('consent_given_at + 13 months > now and born_on + 18 years <= date "2008-01-01"')
)


def test_time_round_trips_through_the_formatter() -> None:
    text = TIME_POLICY + rule('now-12 hours<instant "2026-12-06T18:00:00Z"+1 day', "r2")
    out = format_source(text)
    assert 'now - 12 hours < instant "2026-12-06T18:00:00Z" + 1 day' in out
    assert format_source(out) == out
    assert load_policy_text(out).version != load_policy_text(text).version  # the text changed
    policy = load_policy_text(out)
    assert policy.now_key == "decided_at"


CHECKER_ERRORS = {
    "date with instant": (
        "context d: date\ncontext i: instant\n",
        "d < i",
        "type-mismatch",
        "cannot compare `d` (a date) with `i` (an instant)",
        "declare both keys as dates or both as instants",
    ),
    "hours on a date": (
        "context d: date\n",
        'd + 12 hours < date "2026-01-01"',
        "type-mismatch",
        "`d` is a date, which cannot move by hours",
        "declare the key as an instant",
    ),
    "a quoted date": (
        "context d: date\n",
        'd < "2026-01-01"',
        "type-mismatch",
        'cannot compare `d` (date) with `"2026-01-01"` (string)',
        'write `date "2026-01-01"`',
    ),
    "a number moved": (
        "context n: integer\n",
        "n + 3 days > 2",
        "type-mismatch",
        "`+ 3 days` moves a date or an instant, but `n` is an integer",
        "durations are added",
    ),
    "now undeclared": (
        "context d: date\n",
        "d < now",
        "now-undeclared",
        "no context key is declared `is now`",
        "context decided_at: instant is now",
    ),
    "a bad literal": (
        "context d: date\n",
        'd < date "2026-02-29"',
        "bad-date",
        "February 2026 has 28 days, not 29",
        "write it YYYY-MM-DD",
    ),
    "a date in a list": (
        "context s: string\n",
        's in [date "2026-01-01"]',
        "bad-list-item",
        'not `date "2026-01-01"`',
        None,
    ),
    "a date as a condition": (
        "context d: date\n",
        "d",
        "not-a-condition",
        "`d` is a date, not a condition",
        "compare it with something",
    ),
}


@pytest.mark.parametrize("name", sorted(CHECKER_ERRORS))
def test_checker_errors_name_the_place(name: str) -> None:
    declarations, condition, code, message, help_text = CHECKER_ERRORS[name]
    text = HEAD + declarations + rule(condition)
    with pytest.raises(PolicyError) as raised:
        load_policy_text(text, "p.policy")
    [found] = raised.value.errors
    assert found.code == code and message in found.message, found
    assert help_text is None or help_text in (found.help or ""), found.help
    assert found.span is not None and found.span.line == text.count("\n")


@pytest.mark.parametrize(
    ("declarations", "code", "message"),
    [
        ("context t: integer is now\n", "now-key-type", "`t` is marked `is now`"),
        (
            "context a: date is now\ncontext b: instant is now\n",
            "duplicate-now-key",
            "`b` is marked `is now`, but `a` already is",
        ),
        (
            'context a: date default date "2026-01-01"\n',
            "bad-default",
            "a date is a fact the request states",
        ),
        ("context now: date\n", "reserved-word", "`now` is a reserved word"),
    ],
)
def test_the_key_of_the_decisions_time(declarations: str, code: str, message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy_text(HEAD + declarations)
    assert any(e.code == code and message in e.message for e in raised.value.errors)


# ---- requests, decisions and explanations ----------------------------------------------------


@pytest.mark.parametrize(
    ("context", "says"),
    [
        ({"decided_at": "2026-12-06T18:00:00"}, "`decided_at` must be an instant"),
        ({"born_on": "2026-02-30"}, "February 2026 has 28 days, not 30"),
        ({"born_on": 20261206}, "`born_on` must be a date written YYYY-MM-DD, got the number"),
        ({"consent_given_at": True}, "got true"),
    ],
)
def test_bad_request_values_name_the_key(context: dict[str, Any], says: str) -> None:
    policy = load_policy_text(TIME_POLICY)
    with pytest.raises(RequestError, match=re.escape(says)):
        policy.decide(*CELL, context)


def test_now_is_the_requests_time_and_fails_closed_without_it() -> None:
    policy = load_policy_text(TIME_POLICY)
    given = {"consent_given_at": "2025-12-05T10:00:00Z", "born_on": "1980-05-01"}
    now = "2026-12-06T18:00:00Z"
    assert policy.decide(*CELL, {**given, "decided_at": now}).allowed
    later = policy.decide(*CELL, {**given, "decided_at": "2027-01-05T10:00:00Z"})
    assert not later.allowed  # 13 months after consent, to the nanosecond: no longer
    unknown = policy.decide(*CELL, given)
    assert not unknown.allowed and unknown.missing == ["decided_at"]


def test_the_explanation_shows_the_computed_sides() -> None:
    policy = load_policy_text(TIME_POLICY)
    context = {
        "consent_given_at": "2025-12-05T10:00:00Z",
        "born_on": "1980-05-01",
        "decided_at": "2026-12-06T19:00:00+01:00",
    }
    text = policy.decide(*CELL, context).explain()
    assert (
        "consent_given_at + 13 months = 2027-01-05T10:00:00Z > now = 2026-12-06T18:00:00Z" in text
    )
    assert "born_on + 18 years = 1998-05-01 <= 2008-01-01" in text
    missing = policy.decide(*CELL, {"born_on": "2000-01-01"}).explain()
    assert "(`consent_given_at` is missing; `decided_at` is missing)" in missing


def test_a_decision_can_be_replayed_from_its_request() -> None:
    policy = load_policy_text(TIME_POLICY)
    context = {"consent_given_at": "2025-12-05T10:00:00Z", "born_on": "1980-05-01"}
    first = policy.decide(*CELL, {**context, "decided_at": "2026-12-06T18:00:00Z"})
    replayed = policy.decide(*CELL, first.model_dump()["request"]["context"])
    assert replayed.model_dump() == first.model_dump()


# ---- the analysis ------------------------------------------------------------------------------


def check(text: str) -> list[Any]:
    return list(check_loaded(load_policy_text(text, "p.policy"), "p.policy").diagnostics)


def test_check_breaks_an_invariant_with_a_real_date() -> None:
    text = (
        TIME_POLICY
        + "\ninvariant minors §1\n  never staff use email for support\n"
        + '  when born_on > date "2008-06-01"\n'
    )
    found = [d for d in check(text) if d.code == "invariant-broken"]
    assert not found  # an adult 18 years before 2008: the rule needs born_on <= 1990-01-01
    text = text.replace('born_on > date "2008-06-01"', 'born_on > date "1989-12-31"')
    [broken] = [d for d in check(text) if d.code == "invariant-broken"]
    assert '"born_on": "1990-01-01"' in (broken.help or "")


@pytest.mark.parametrize(
    ("declarations", "conditions", "says"),
    [
        (
            "context a: date\ncontext b: date\ncontext c: date\n",
            ["a < b", "b < c", "c < a + 1 month"],
            "moves a date by months on a cycle of comparisons among `a`, `b`, `c`",
        ),
        (
            "context a: date\ncontext n: date is now\n",
            ["a + 1 month > now", "a + 30 days < now"],
            "at places whose order changes with the calendar",
        ),
        (
            "context a: date\n",
            ["a + 1 month > a - 1 day"],
            "compares `a` moved by months with itself",
        ),
    ],
)
def test_what_cannot_be_made_exact_is_refused_at_its_place(
    declarations: str, conditions: list[str], says: str
) -> None:
    text = HEAD + declarations + "".join(rule(c, f"r{i}") for i, c in enumerate(conditions))
    found = check(text)
    [located] = [d for d in found if d.message.startswith("cannot analyse exactly")]
    assert says in located.message and located.span is not None
    assert located.code == "analysis-undecided" and located.severity == "error"
    assert not any(d.code == "never-applies" for d in found)


def test_diff_finds_a_longer_deadline() -> None:
    old = (
        HEAD
        + "context received_on: date\ncontext today: date is now\n"
        + rule("now <= received_on + 30 days")
    )
    new = old.replace("30 days", "45 days")
    report = diff_policies(load_policy_text(old), load_policy_text(new))
    [group] = report.groups
    assert group.kind == "widened"
    example = group.example["context"]
    assert isinstance(example, dict)
    gap = tr.date_number(example["today"]) - tr.date_number(example["received_on"])
    assert 30 < gap <= 45


@pytest.mark.parametrize(
    ("new_declarations", "says"),
    [
        ("context d: instant\ncontext n: instant is now\n", "declare `d` as date and as instant"),
        ("context d: date is now\ncontext n: date\n", "read `now` from different keys"),
    ],
)
def test_diff_refuses_versions_that_read_dates_differently(
    new_declarations: str, says: str
) -> None:
    old = HEAD + "context d: date\ncontext n: date is now\n" + rule("d < now")
    new = HEAD + new_declarations + rule("d < now")
    with pytest.raises(
        BudgetExceeded, match=re.escape(f"cannot analyse exactly: the versions {says}")
    ):
        diff_policies(load_policy_text(old), load_policy_text(new))


def realised(text: str, keys: list[str], window: list[int]) -> tuple[set[Any], set[Any]]:
    """The truth vectors of the policy's conditions over every value of ``window`` for each key
    (days), and over the analysis's context classes (a group of dates compared with each other
    is one unit: :mod:`policy_engine.analysis.time_joint`)."""
    policy = load_policy_text(text)
    compiled = policy.compiled
    space = RequestSpace([compiled])
    tests = [compile_condition(compiled, r.source.condition) for r in compiled.rules]

    def vector(ctx: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(t(ctx, CELL) for t in tests)

    engine = {vector(k.evaluator_context()) for k in space.classes(CELL, compiled.rules)}
    days = [tv.Day(d) for d in window]
    brute = {
        vector(dict(zip(keys, combo, strict=True)))
        for combo in itertools.product(days, repeat=len(keys))
    }
    return brute, engine


def window(start: str, days: int) -> list[int]:
    first = tv.parse_date(start)
    return list(range(first, first + days))


@pytest.mark.parametrize(
    "conditions",
    [
        ["a + 1 month > b", "b + 1 month > n", 'a = date "2024-01-31"'],
        ["a + 1 month > n", "b + 1 week <= n", 'a >= date "2024-01-31"', 'b < date "2024-02-10"'],
        ["n - 1 month = a", "n - 1 month > b", 'b + 2 days != date "2024-02-29"'],
    ],
)
def test_three_dates_in_a_tree_realise_every_combination(conditions: list[str]) -> None:
    text = HEAD + "context a: date\ncontext b: date\ncontext n: date is now\n"
    text += "".join(rule(c, f"r{i}") for i, c in enumerate(conditions))
    brute, engine = realised(text, ["a", "b", "n"], window("2024-01-20", 48))
    assert brute <= engine


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_two_dates_realise_every_combination_a_window_does(seed: int) -> None:
    """Random comparisons of `now` and a date key with constants and with each other (the
    soundness harness's own), over every pair of days of a window around the constants: every
    combination of truth values is one the engine's representatives realise too."""
    c = RandomChoices(random.Random(seed))
    pair = soundness_time.pair_offset(c, "date")
    leaves = [soundness_time.pair_leaf(c, "a", "n", pair, "date") for _ in range(c.number(1, 3))]
    leaves += [soundness_time.const_leaf(c, key, "date", key == "n") for key in ("a", "n", "n")][
        : c.number(0, 3)
    ]
    from .test_properties import expr_text

    text = HEAD + "context a: date\ncontext n: date is now\n"
    text += "".join(rule(expr_text(leaf), f"r{i}") for i, leaf in enumerate(leaves))
    brute, engine = realised(text, ["a", "n"], window("2023-12-20", 110))
    assert brute <= engine, text


# ---- the documents -----------------------------------------------------------------------------


def test_the_language_doc_examples_load() -> None:
    """Every ```policy block of docs/language.md's section on time loads and is checked clean
    (the refused one says so)."""
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    section = text[text.index("## Time") :]
    section = section[: section.index("\n## ", 5)]
    blocks = re.findall(r"^```policy\n(.*?)^```", section, re.S | re.M)
    assert len(blocks) >= 3
    for block in blocks:
        policy = load_policy_text(HEAD + block, "doc.policy")
        found = check_loaded(policy, "doc.policy").diagnostics
        assert not [d for d in found if d.severity == "error"], found


def test_a_duration_has_at_most_nine_digits() -> None:
    text = HEAD + "context d: date\n" + rule('d + 1000000000 days < date "2026-01-01"')
    with pytest.raises(PolicyError) as raised:
        load_policy_text(text)
    [found] = raised.value.errors
    assert found.code == "duration-too-long" and "10 digits; at most 9" in found.message
    far = load_policy_text(text.replace("1000000000", "999999999"))
    trace = far.decide(*CELL, {"d": "2026-01-01"}).explain()
    assert "d + 999999999 days = +2739933-01-03, not < 2026-01-01" in trace


def test_a_test_file_may_write_toml_dates(tmp_path: Path) -> None:
    from policy_engine.testing.runner import run_tests

    (tmp_path / "p.policy").write_text(TIME_POLICY, encoding="utf-8")
    (tmp_path / "p.tests.toml").write_text(
        "[[case]]\n"
        'name = "within 13 months"\nparty = "staff"\ndata = "email"\npurpose = "support"\n'
        "context = { decided_at = 2026-12-06T18:00:00Z, consent_given_at = "
        '"2025-12-05T10:00:00Z", born_on = 1980-05-01 }\n'
        'expect = "allow"\n',
        encoding="utf-8",
    )
    report = run_tests(tmp_path)
    assert report.ok(None), report


def test_the_workbench_lists_a_rule_reading_now_under_the_key() -> None:
    from policy_engine.workbench.vocabulary_view import naming_rules

    policy = load_policy_text(HEAD + "context at: date is now\n" + rule('now > date "2026-01-01"'))
    assert naming_rules(policy.compiled)["at"] == ["r"]
