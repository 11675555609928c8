"""Cells decided once for many (``traceability/cell_keys.py``) get exactly the verdict a search of
their own would give: the same status, the same condition (as a syntax tree), the same rules in the
same order, the same obligations and overrides. Checked on every cell of PLANISO, of the
regulation-shaped policy of ``benchmarks/analysis_policies.py`` and of random policies from every
construct of the language (``soundness_model``), and on policies made so that only how a cell's
term stands to a term tested against the same ``set of`` key tells two cells apart.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import policy_engine
from policy_engine.analysis.budget import Meter
from policy_engine.language.printer import expr_text
from policy_engine.traceability.cell_verdicts import CellJudge
from policy_engine.traceability.matrix import build_matrix
from policy_engine.traceability.verdicts import NEVER, Cell, CellVerdict

from .conftest import planiso_texts
from .soundness_model import RandomChoices, fitted, gen_spec, spec_text

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def said(verdict: CellVerdict) -> tuple[object, ...]:
    """Everything a verdict says, rules by id and in their order."""
    return (
        verdict.status,
        verdict.condition,
        [r.id for r in verdict.allows],
        [r.id for r in verdict.denies],
        [
            (
                o.name,
                o.condition,
                [r.id for r in o.rules],
                o.parameters,
                [x.id for x in o.overrides],
            )
            for o in verdict.obligations
        ],
        [o.id for o in verdict.overrides],
    )


def cells(policy: policy_engine.Policy) -> list[Cell]:
    h = policy.compiled.hierarchies
    return [
        (p, d, u)
        for p in h["party"].ordered
        for d in h["data"].ordered
        for u in h["purpose"].ordered
    ]


def assert_shared_as_searched(policy: policy_engine.Policy) -> dict[Cell, CellVerdict]:
    """Every cell's verdict in the matrix is the one its own search gives."""
    compiled = policy.compiled
    verdicts = build_matrix(policy, "policy").verdicts
    own = CellJudge(compiled, Meter())
    for cell in cells(policy):
        plan = compiled.cell(cell)
        searched = own.judge(cell, plan) if plan.allows else NEVER
        assert said(verdicts.get(cell, NEVER)) == said(searched), cell
    return verdicts


def test_planiso_cells_shared_as_searched() -> None:
    assert_shared_as_searched(policy_engine.load_policy_text(planiso_texts()))


def test_regulation_shaped_cells_shared_as_searched() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from analysis_policies import regulation
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert_shared_as_searched(policy_engine.load_policy_text({"r.policy": regulation()[0]}))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32 - 1))
def test_generated_policies_cells_shared_as_searched(seed: int) -> None:
    spec = fitted(gen_spec(RandomChoices(random.Random(seed)), (0, 0)), 2500)
    if spec is None:
        return
    note(spec_text(spec))
    assert_shared_as_searched(policy_engine.load_policy_text(spec_text(spec)))


RELATED = """
party staff
data email
purpose service
purpose support under service
purpose chat under support
purpose billing under service

context chosen: set of purpose "the purposes chosen"

rule chosen_but_not_support §1
  allow staff to use email for service
  when purpose in chosen and not (support in chosen)
"""


def test_how_a_term_stands_to_a_tested_term_tells_cells_apart() -> None:
    """`purpose in chosen and not (support in chosen)`: a set that covers `service` covers
    `support` (a set covers a term when it has it or a term above it), as does one that covers
    `support`; one that covers `chat` or `billing` need not. The four cells read the same
    rule and the same test of their own term, and differ only by how it stands to `support`."""
    policy = policy_engine.load_policy_text({"p.policy": RELATED})
    verdicts = assert_shared_as_searched(policy)
    allowed = {cell[2]: v.status for cell, v in verdicts.items()}
    assert allowed == {"chat": "conditional", "billing": "conditional"}


ATTRIBUTES = """
attribute limit of data: integer "the most copies kept"

party staff
data records
data notes under records with limit = 3
data letters under records with limit = 5
data drafts under records

purpose service

context copies: integer "the copies kept"

rule within_the_limit §1
  allow staff to use records for service
  when copies <= data.limit and copies >= 4
"""


def test_the_value_of_an_attribute_a_test_reads_tells_cells_apart() -> None:
    """`copies <= data.limit` reads `copies <= 3` for notes (with `copies >= 4`: never),
    `copies <= 5` for letters, and is unknown for drafts and records (no value: never)."""
    policy = policy_engine.load_policy_text({"p.policy": ATTRIBUTES})
    verdicts = assert_shared_as_searched(policy)
    assert {cell[1]: v.status for cell, v in verdicts.items()} == {"letters": "conditional"}


ORDER = """
party p1
party p2
data d
purpose u

context k1: boolean "one"
context k2: boolean "two"

rule a §1
  allow p1 to use d for u when k1
rule b §1
  allow p1 to use d for u when k2
rule c §1
  allow p2 to use d for u when k2
rule e §1
  allow p2 to use d for u when k1
"""


def test_rules_alike_in_another_order_are_decided_in_their_own_order() -> None:
    """p2's rules say what p1's say, in the other order (by id): its condition lists them in its
    own order, as its own search does, not in the order of the cell decided first."""
    policy = policy_engine.load_policy_text({"p.policy": ORDER})
    verdicts = assert_shared_as_searched(policy)
    said_of = {cell[0]: expr_text(v.condition) for cell, v in verdicts.items() if v.condition}
    assert said_of == {"p1": "k1 or k2", "p2": "k2 or k1"}
