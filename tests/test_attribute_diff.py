"""``diff`` of two versions that give terms different attribute values: only the cells whose
rules read a changed value are searched (the others are counted, as unchanged cells always
are), the search values each version's tests with its own values, and a change is described with
each version's test written with its value (``dest = "CA-QC"`` before, ``dest = "US"`` after),
never with one text for both. The brute force holds all of it on random policies
(``tests/test_soundness.py``: a mutation that changes a term's value, descriptions read back)."""

from __future__ import annotations

from typing import Any

import pytest

from policy_engine import load_policy_text
from policy_engine.analysis import diff as diff_module
from policy_engine.analysis.diff import diff_policies
from policy_engine.analysis.space import RequestSpace

POLICY = """
attribute location of party: one of "CA-QC", "US", "FR"
party processors
party p1, p2, p3 under processors with location = "CA-QC"
party p4 under processors with location = "US"
party p5 under processors
data pi
data email, phone under pi
purpose hosting, archive
context size: integer
context dest: one of "CA-QC", "US", "FR"
context assessed: boolean

condition near means party.location = dest or assessed

rule hosting §1
  allow processors to use pi for hosting
  when party.location = dest and size < 10

rule archive_near §1
  allow processors to use pi for archive
  when near
"""

CHANGED = POLICY.replace(
    'party p1, p2, p3 under processors with location = "CA-QC"',
    'party p1, p2 under processors with location = "US"\n'
    'party p3 under processors with location = "FR"',
)


def test_each_version_s_value_is_written_in_the_description() -> None:
    report = diff_policies(load_policy_text(POLICY), load_policy_text(CHANGED))
    said = {
        (g.kind, tuple(g.parties), tuple(g.data), tuple(g.purposes), g.when) for g in report.groups
    }
    hosting, archive = (("pi",), ("hosting",)), (("pi",), ("archive",))
    new_here = "when `assessed` is false or unknown and `dest = {}`"
    assert said == {
        ("widened", ("p1", "p2"), *hosting, 'when `dest = "US"` and `size < 10`'),
        ("widened", ("p3",), *hosting, 'when `dest = "FR"` and `size < 10`'),
        ("narrowed", ("p1", "p2", "p3"), *hosting, 'when `dest = "CA-QC"` and `size < 10`'),
        # `near` reads the changed value: described by its parts, each version's own.
        ("widened", ("p1", "p2"), *archive, new_here.format('"US"')),
        ("widened", ("p3",), *archive, new_here.format('"FR"')),
        ("narrowed", ("p1", "p2", "p3"), *archive, new_here.format('"CA-QC"')),
    }
    assert report.context_changes == [
        'attribute `party.location` of `p1`: "CA-QC" → "US"',
        'attribute `party.location` of `p2`: "CA-QC" → "US"',
        'attribute `party.location` of `p3`: "CA-QC" → "FR"',
    ]


MOVED_DATE = """
attribute since of party: date default date "2024-01-31"
party pa1 with since = date "2024-03-01"
data da1
purpose pu0
context kd0: date

rule r1 §3
  allow any party to use da1 for any purpose

rule r6 §2.1
  deny pa1 from using da1 for pu0
  when kd0 < party.since - 1 week
"""


def test_a_date_attribute_inside_a_moved_date_is_each_version_s_own() -> None:
    """Found by the soundness harness: the description once wrote `party.since - 1 week` for both
    versions (so it read the same in each), and a date's value as `2024-03-01`, which no rule
    can say."""
    changed = MOVED_DATE.replace(' with since = date "2024-03-01"', "")
    report = diff_policies(load_policy_text(MOVED_DATE), load_policy_text(changed))
    [group] = report.groups
    assert (group.kind, group.when) == (
        "widened",
        'when `kd0 >= date "2024-01-31" - 1 week` and `kd0 < date "2024-03-01" - 1 week`',
    )
    assert report.context_changes == [
        'attribute `party.since` of `pa1`: date "2024-03-01" → date "2024-01-31"'
    ]


def test_only_the_cells_of_a_term_whose_value_changed_are_searched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    searched: list[tuple[str, str, str]] = []
    real = diff_module._changes

    def spy(search: Any, space: Any, atoms: Any, cell: Any, *rest: Any) -> Any:
        searched.append(cell)
        assert search is not None  # the two versions are searched, not enumerated
        return real(search, space, atoms, cell, *rest)

    monkeypatch.setattr(diff_module, "_changes", spy)
    many = POLICY.replace("party p5 under processors", "party p5 under processors\n" + "".join(
        f'party q{i} under processors with location = "US"\n' for i in range(40)
    ))  # fmt: skip
    changed = many.replace(
        'party q7 under processors with location = "US"', "party q7 under processors"
    )
    report = diff_policies(load_policy_text(many), load_policy_text(changed))
    assert searched and {cell[0] for cell in searched} == {"q7"}
    assert {tuple(g.parties) for g in report.groups} == {("q7",)}


def test_the_values_of_both_versions_cut_the_keys_compared_with_them() -> None:
    old, new = load_policy_text(POLICY), load_policy_text(CHANGED)
    space = RequestSpace([old.compiled, new.compiled])
    values = {value for value, _ in space.key_classes("dest", ("p3", "pi", "hosting"))}
    assert {"CA-QC", "US", "FR"} <= values
