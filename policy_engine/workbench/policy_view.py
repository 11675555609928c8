"""The Policy page: the source documents' text section by section, with the rules and overrides
that cite each section beside it (:mod:`.rules_view`), its ``not a decision`` reasons or an
*uncovered* mark, and the coverage summary
(:func:`~policy_engine.traceability.coverage.section_coverage`)."""

from __future__ import annotations

from typing import Any

from ..engine.compiler import CompiledRule
from ..engine.policy import Policy
from ..language.errors import PolicyError
from ..traceability.coverage import (
    CiterModel,
    CoverageReport,
    SectionCoverage,
    policy_test_cases,
    section_coverage,
)
from .rules_view import cards, override_cards, rule_card, rules_by_id


def _place(citer: CiterModel) -> str:
    return f"{citer.file}:{citer.line}" if citer.line else citer.file


def _citer(citer: CiterModel) -> dict[str, Any]:
    return {
        "id": citer.id,
        "kind": citer.effect if citer.kind == "term" else citer.kind,
        "description": citer.description,
        "citation": citer.citation,
        "via": citer.via,
        "location": _place(citer),
    }


Cards = tuple[dict[str, CompiledRule], dict[str, dict[str, Any]]]
"""The policy's rules and its overrides' cards, by id."""


def _section(section: SectionCoverage, found: Cards) -> dict[str, Any]:
    rules, overrides = found
    cited = []
    for citer in section.rules:  # an override citing the section is listed with its rules
        card = (
            dict(overrides[citer.id]) if citer.effect == "override" else rule_card(rules[citer.id])
        )
        card.update(cited_as=citer.citation, via=citer.via)
        cited.append(card)
    return {
        "key": section.key,
        "label": section.label,
        "title": section.title,
        "depth": section.depth,
        "line": section.line,
        "text": section.text,
        "counted": section.counted,
        "status": section.status,
        "rules": cited,
        "invariants": [_citer(c) for c in section.invariants],
        "tests": [_citer(c) for c in section.tests],
        "terms": [_citer(c) for c in section.terms],
        "reasons": [_citer(c) for c in section.reasons],
    }


def _coverage(report: CoverageReport, rules: Cards) -> dict[str, Any]:
    return {
        "summary": report.summary(),
        "covered": report.covered,
        "total": report.total,
        "percent": round(report.percent, 1),
        "documents": [
            {
                "name": document.name,
                "file": document.file,
                "sections": [_section(s, rules) for s in document.sections],
            }
            for document in report.documents
        ],
        "unresolved": [_citer(c) for c in report.unresolved],
    }


def policy_page(policy: Policy, name: str) -> dict[str, Any]:
    """The Policy page's data. A policy without a source document shows its rules by file."""
    compiled = policy.compiled
    rules = rules_by_id(compiled)
    overrides = override_cards(compiled)
    uncited = [r for r in compiled.rules if not r.about.citation]
    page: dict[str, Any] = {
        "policy": name,
        "version": policy.version,
        "rules_total": len(compiled.rules),
        "overrides_total": len(overrides),
        "uncited": cards(uncited) + [o for o in overrides.values() if not o["citation"]],
        "coverage": None,
        "note": None,
        "rules": [],
        "overrides": [],
    }
    try:
        report = section_coverage(policy, policy_test_cases(name), name)
    except PolicyError as exc:
        page["note"] = "; ".join(d.message for d in exc.diagnostics)
        page["rules"] = cards(compiled.rules)
        page["overrides"] = list(overrides.values())
        return page
    page["coverage"] = _coverage(report, (rules, overrides))
    return page
