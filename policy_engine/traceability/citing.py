"""Who cites what: for each section of a policy's source documents, the rules, invariants and
policy tests that cite it, and the ``not a decision`` reasons given for it.

A citation of a section speaks for the sections below it too (``§9`` for ``§9.1``; ``not a
decision §6`` for ``§6.1``), never for the section above it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from ..engine.policy import Policy
from ..language import ast
from ..language.source import Span
from ..semantics.citation_checks import resolve
from ..testing.model import TestCase

SectionId = tuple[str, str]
"""A section by its document's name and its key."""


@dataclass(frozen=True)
class Citer:
    """Something that cites a section: a rule, an invariant, a test or a reason."""

    kind: str  # "rule" (an override too) | "invariant" | "test" | "term" | "reason"
    id: str
    """The rule's or invariant's id, the test's name, the term's name, or the reason's text."""
    file: str
    line: int | None
    citation: str
    """The citation as written."""
    effect: str | None = None
    """A rule's effect (``override`` for an override); a term's kind (``party``…, ``context``
    for a context key, ``condition`` for a named condition)."""
    description: str | None = None
    via: str | None = None
    """The section above this one that the citation names (None: it names this one)."""


@dataclass
class Citations:
    """Each section's citers, and the citations (of tests) that name no section."""

    by_section: dict[SectionId, list[Citer]] = field(default_factory=dict)
    unresolved: list[Citer] = field(default_factory=list)


def _place(span: Span | None) -> tuple[str, int | None]:
    return (span.source.name, span.line) if span is not None else ("", None)


def _statement_citers(item: ast.Item) -> Iterable[tuple[ast.Citation, Citer]]:
    if isinstance(item, ast.Rule):
        file, line = _place(item.span)
        cites = [*item.citations, *(item.ground.citations if item.ground else ())]
        for c in cites:
            yield c, Citer("rule", item.id.value, file, line, c.text, item.effect, item.description)
    elif isinstance(item, ast.Override):
        file, line = _place(item.span)
        for c in item.citations:
            yield c, Citer("rule", item.id.value, file, line, c.text, "override", item.description)
    elif isinstance(item, ast.Invariant):
        file, line = _place(item.span)
        for c in item.citations:
            yield c, Citer("invariant", item.id.value, file, line, c.text, None, item.description)
    elif isinstance(item, ast.TermDecl):
        file, line = _place(item.span)
        for c in item.citations:
            for name in item.names:
                yield c, Citer("term", name.value, file, line, c.text, item.kind, item.description)
    elif isinstance(item, ast.ContextDecl | ast.ConditionDecl):
        kind = "context" if isinstance(item, ast.ContextDecl) else "condition"
        file, line = _place(item.span)
        for c in item.citations:
            yield c, Citer("term", item.name.value, file, line, c.text, kind, item.description)
    elif isinstance(item, ast.NoDecision):
        file, line = _place(item.span)
        for c in item.citations:
            yield c, Citer("reason", item.reason, file, line, c.text)


def collect_citations(policy: Policy, cases: Iterable[TestCase]) -> Citations:
    """Every citation of the policy's statements and of ``cases``, by the section it names."""
    found = Citations()
    documents = policy.documents
    checked = policy.compiled.checked
    # A package's statements cite its own documents (its citations resolve against them).
    pairs = [
        (f.package, *pair)
        for f in checked.files
        for item in f.items
        for pair in _statement_citers(item)
    ]
    for case in cases:
        if case.cite:
            for text in (t.strip() for t in case.cite.split(",")):
                citer = Citer("test", case.name, case.file, case.line, text)
                pairs.append(("", ast.Citation(text), citer))
    for package, citation, citer in pairs:
        sections, _ = resolve(documents, citation, package)
        if len(sections) != 1:  # statements' citations resolve, or the policy would not load
            found.unresolved.append(citer)
            continue
        document, section = sections[0]
        for below in document.within(section.key):
            via = None if below.key == section.key else section.label
            found.by_section.setdefault((document.name, below.key), []).append(
                replace(citer, via=via)
            )
    return found
