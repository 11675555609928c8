"""Québec's Act (P-39.1) as rules, `rules/law25/`: it loads, every invariant is proven, its
policy tests pass and exercise every rule, every section of its source document is covered, and
the identifiers of the vocabulary contract are declared with their parents."""

from __future__ import annotations

import pytest

import policy_engine
from policy_engine import check_report
from policy_engine.cli.main import main

from .conftest import ROOT

LAW25 = ROOT / "rules" / "law25"


@pytest.fixture(scope="module")
def law25() -> policy_engine.Policy:
    return policy_engine.load_policy(LAW25)


def test_the_act_checks_clean_with_every_invariant_proven() -> None:
    report = check_report(LAW25)
    assert [d for d in report.diagnostics if d.severity != "info"] == []
    assert report.invariants >= 10 and report.proven == report.invariants


def test_its_policy_tests_pass_and_exercise_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(LAW25), "--min-coverage", "100"]) == 0
    assert " 0 failed" in capsys.readouterr().out


def test_every_section_of_the_act_is_covered(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["coverage", str(LAW25), "--min-coverage", "100"]) == 0


@pytest.mark.parametrize(
    ("kind", "term", "parents"),
    [
        ("party", "staff", ["enterprise"]),
        ("party", "contractor", ["mandatary_or_contractor"]),
        ("party", "mandatary_or_contractor", ["third_person"]),
        ("data", "medical_information", ["sensitive_information"]),
        ("purpose", "recovery_of_enterprise_claim", ["debt_recovery"]),
        ("purpose", "profiling", ["identify_locate_profile"]),
    ],
)
def test_the_contracts_identifiers_keep_their_places(
    law25: policy_engine.Policy, kind: str, term: str, parents: list[str]
) -> None:
    hierarchy = law25.compiled.hierarchies[kind]
    assert term in hierarchy.terms
    assert sorted(hierarchy.parent_links[term]) == parents


@pytest.mark.parametrize(
    ("party", "data", "purpose", "context", "allowed", "obligations"),
    [
        # s.18(7): urgency threatening the person concerned, even outside Québec, entered
        ("person_able_to_help", "medical_information", "urgent_situation",
         {"urgent_threat_to_person_concerned": True, "destination": "US"}, True,
         ["record_communication"]),
        # s.17: outside Québec without an adequate assessment is not lawful
        ("contractor", "contact_information", "mandate_performance",
         {"destination": "US"}, False, []),
        # R3: sensitive information needs express consent
        ("other_enterprise", "medical_information", "requested_service",
         {"consented_purposes": ["requested_service"], "destination": "CA-QC",
          "subject_age": 30, "consent_given_by": "person_concerned"}, False, []),
    ],
)  # fmt: skip
def test_questions_drawn_from_the_act(
    law25: policy_engine.Policy,
    party: str,
    data: str,
    purpose: str,
    context: dict[str, object],
    allowed: bool,
    obligations: list[str],
) -> None:
    decision = law25.decide(party, data, purpose, context)
    assert decision.allowed is allowed, decision.explain()
    assert sorted(decision.obligations) == obligations
