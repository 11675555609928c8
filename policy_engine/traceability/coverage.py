"""Section coverage: for each section of a policy's source documents, in document order, the
rules, invariants and tests that cite it, its ``not a decision`` reasons, or *uncovered*.

A section is covered when a rule, an invariant, a test or a declaration (a vocabulary term, a
context key) cites it (or a section above it), or
when the policy says why it carries no decision. Headings with nothing of their own but
sub-sections are shown and not counted (:attr:`.documents.Section.counted`).
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel

from ..engine.policy import Policy, load_policy
from ..language.documents import Document
from ..language.errors import Diagnostic, PolicyError
from ..testing.model import TestCase
from ..testing.reader import discover_test_files, read_test_file
from .citing import Citer, collect_citations

Status = Literal["covered", "not a decision", "uncovered", "heading"]


class CiterModel(BaseModel):
    kind: Literal["rule", "invariant", "test", "term", "reason"]
    id: str
    file: str
    line: int | None
    citation: str
    effect: str | None = None
    description: str | None = None
    via: str | None = None
    """The section above that the citation names, when it does not name this one."""


class SectionCoverage(BaseModel):
    key: str
    label: str
    title: str
    line: int
    end_line: int
    depth: int
    text: str
    counted: bool
    status: Status
    rules: list[CiterModel]
    invariants: list[CiterModel]
    tests: list[CiterModel]
    terms: list[CiterModel]
    """Vocabulary terms and context keys declared for the section (its words, not a decision,
    but the section is encoded by them)."""
    reasons: list[CiterModel]


class DocumentCoverage(BaseModel):
    name: str
    file: str
    sections: list[SectionCoverage]


class CoverageReport(BaseModel):
    """Section coverage of one policy: per document, per section; and the summary."""

    policy: str
    documents: list[DocumentCoverage]
    covered: int
    total: int
    unresolved: list[CiterModel]
    """Test citations that name no section of the documents."""

    @property
    def percent(self) -> float:
        return 100.0 if self.total == 0 else 100.0 * self.covered / self.total

    def summary(self) -> str:
        return f"{self.covered} of {self.total} sections covered ({self.percent:.0f}%)"


def _model(citer: Citer) -> CiterModel:
    return CiterModel.model_validate(citer.__dict__)


def _document(document: Document, citers: dict[tuple[str, str], list[Citer]]) -> DocumentCoverage:
    sections = []
    for section in document.sections:
        found = [_model(c) for c in citers.get((document.name, section.key), [])]
        by_kind = {
            k: [c for c in found if c.kind == k] for k in ("rule", "invariant", "test", "term")
        }
        reasons = [c for c in found if c.kind == "reason" and c.via is None]
        if not reasons and not any(by_kind.values()):  # what is said of a section above
            reasons = [c for c in found if c.kind == "reason"]
        status: Status
        if any(by_kind.values()):
            status = "covered"
        elif reasons:
            status = "not a decision"
        else:
            status = "uncovered" if section.counted else "heading"
        sections.append(
            SectionCoverage(
                key=section.key,
                label=section.label,
                title=section.title,
                line=section.line,
                end_line=section.end_line,
                depth=section.depth,
                text=section.text,
                counted=section.counted,
                status=status,
                rules=by_kind["rule"],
                invariants=by_kind["invariant"],
                tests=by_kind["test"],
                terms=by_kind["term"],
                reasons=reasons,
            )
        )
    return DocumentCoverage(name=document.name, file=document.source.name, sections=sections)


def policy_test_cases(path: str | os.PathLike[str]) -> list[TestCase]:
    """The cases of the policy's test files (cases a file cannot give are left out)."""
    cases: list[TestCase] = []
    for file in discover_test_files(path):
        found, _problems = read_test_file(file)
        cases.extend(found)
    return cases


def section_coverage(policy: Policy, cases: list[TestCase], name: str) -> CoverageReport:
    """The coverage of ``policy``'s source documents by its statements and ``cases``."""
    if not policy.documents:
        raise PolicyError(
            [
                Diagnostic(
                    "no-source-document",
                    f"`{name}` names no source document, so there is no text to cover",
                    None,
                    'name the text the rules encode in a rule file: `source "policy.txt"`',
                )
            ]
        )
    citations = collect_citations(policy, cases)
    documents = [_document(d, citations.by_section) for d in policy.documents]
    counted = [s for d in documents for s in d.sections if s.counted]
    return CoverageReport(
        policy=name,
        documents=documents,
        covered=sum(1 for s in counted if s.status != "uncovered"),
        total=len(counted),
        unresolved=[_model(c) for c in citations.unresolved],
    )


def coverage_of(path: str | os.PathLike[str]) -> CoverageReport:
    """Load the policy at ``path`` and its tests, and compute its section coverage."""
    return section_coverage(load_policy(path), policy_test_cases(path), os.fspath(path))
