"""PLANISO against Québec's Act through ``rules/planiso-law25``: what `conforms` finds, by kind
and by the Act's rule or obligation, and the counterexamples README.md quotes, decided again by
each side. README.md's section "Does PLANISO stay within Québec's Act?" turns each into a
question for PLANISO's compliance staff: when the rules or the mapping change, this test says
the list must change too."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import policy_engine
from policy_engine.analysis.conformance import rules_view
from policy_engine.analysis.conformance_report import ConformanceReport
from policy_engine.analysis.conformance_target import conforms
from policy_engine.engine.evaluator import evaluate
from policy_engine.engine.request import normalize_context

from .conftest import ROOT

MAPPING = ROOT / "rules" / "planiso-law25"

FOUND = {
    ("not-allowed", "law25.outside_quebec_without_adequate_assessment"): 11,
    ("not-allowed", "law25.identification_location_profiling_not_activated"): 2,
    ("not-allowed", "no rule grants it"): 29,
    ("obligations", "law25.written_mandate_or_contract"): 10,
    ("obligations", "law25.identify_and_offer_withdrawal"): 10,
    ("obligations", "law25.record_communication"): 2,
}
"""README's questions 1 and 7; 2 to 6 and 8 (17 + 2 + 1 + 2 + 2 + 5); 10, 9 and 11."""

Request = tuple[str, str, str, dict[str, Any]]
QUOTED: list[tuple[Request, str, str | None]] = [
    (("cloud_providers", "contact_information", "data_hosting", {}), "deny", None),
    (
        (
            "marketing_department",
            "contact_information",
            "advertising",
            {"consented_purposes": ["planiso.advertising"]},
        ),
        "deny",
        None,
    ),
    (("security_officers", "contact_information", "fraud_prevention", {}), "deny", None),
    (("hr_department", "contact_information", "hr_management", {}), "deny", None),
    (("it_department", "ip_address", "internal_analytics", {}), "deny", None),
    (("planiso", "contact_information", "consent_exempt", {}), "deny", None),
    (
        (
            "marketing_department",
            "consumer_profile",
            "profiling",
            {"consented_purposes": ["planiso.profiling"], "planiso.profiling_enabled": True},
        ),
        "deny",
        None,
    ),
    (("data_subject", "contact_information", "complaint", {}), "deny", None),
    (
        (
            "marketing_department",
            "contact_information",
            "advertising",
            {"consented_purposes": ["planiso.advertising"], "subject_age": 14},
        ),
        "allow",
        "law25.identify_and_offer_withdrawal",
    ),
    (
        (
            "delivery_partners",
            "postal_address",
            "order_delivery",
            {"consented_purposes": ["planiso.order_delivery"], "destination": "CA-QC"},
        ),
        "allow",
        "law25.written_mandate_or_contract",
    ),
    (
        (
            "collection_agencies",
            "contact_information",
            "debt_collection",
            {"destination": "CA-QC", "planiso.non_payment": True},
        ),
        "allow",
        "law25.record_communication",
    ),
]


@pytest.fixture(scope="module")
def mapping() -> policy_engine.Policy:
    return policy_engine.load_policy(MAPPING)


@pytest.fixture(scope="module")
def report(mapping: policy_engine.Policy) -> ConformanceReport:
    return conforms(mapping, "law25", "rules/planiso-law25")


def test_what_conforms_finds_is_what_readme_asks(report: ConformanceReport) -> None:
    found: Counter[tuple[str, str]] = Counter()
    for group in report.groups:
        if group.kind == "obligations":
            found.update((group.kind, o) for o in group.lacking)
        else:
            found[(group.kind, ", ".join(group.package_rules) or "no rule grants it")] += 1
    assert dict(found) == FOUND
    assert (report.requests_found, report.requests_compared) == (17_833, 1_639_740)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"It finds {len(report.groups)} groups (17,833 of 1,639,740 requests" in readme


@pytest.mark.parametrize(("request_", "law", "lacking"), QUOTED)
def test_each_quoted_counterexample_is_decided_as_readme_says(
    mapping: policy_engine.Policy, request_: Request, law: str, lacking: str | None
) -> None:
    party, data, purpose, context = request_
    cell = (f"planiso.{party}", f"planiso.{data}", f"planiso.{purpose}")
    compiled = mapping.compiled
    own = rules_view(compiled, lambda rule: not rule.id.startswith("law25."))
    act = rules_view(compiled, lambda rule: rule.id.startswith("law25."))
    mine = evaluate(own, cell, normalize_context(own, context))
    theirs = evaluate(act, cell, normalize_context(act, context))
    assert mine.effect == "allow"
    assert theirs.effect == law
    if lacking is not None:
        assert lacking in theirs.obligations and lacking not in mine.obligations
