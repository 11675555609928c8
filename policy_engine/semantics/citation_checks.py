"""Citations that resolve: with source documents attached (``source "file"``), every citation of
the policy (rules, their grounds, invariants, declarations, context keys, ``not a decision``)
must name a section of one of them; an unknown one is an error with did-you-mean. Without a
document, citations stay free text.

A package keeps its own documents: the citations of its statements resolve against them (a
citation written ``p39_1:s. 17`` in the package names its document ``law25.p39_1``), and the
using policy's against its own, or a package's when it names one (``law25.p39_1:s. 17``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..language import ast
from ..language.citations import citation_parts
from ..language.documents import Document, Section
from .check_state import CheckState
from .namespacing import qualified


def item_citations(item: ast.Item) -> Iterator[ast.Citation]:
    """Every citation one statement makes."""
    if isinstance(item, ast.SourceDecl | ast.UseDecl):
        return
    yield from item.citations
    if isinstance(item, ast.Rule) and item.ground is not None:
        yield from item.ground.citations
    if isinstance(item, ast.Override):
        yield from item.citing


def resolve(
    documents: list[Document], citation: ast.Citation, package: str = ""
) -> tuple[list[tuple[Document, Section]], list[Document]]:
    """The sections ``citation`` (written in a file of ``package``; empty: the policy's own)
    names, and the documents it was looked up in."""
    parts = citation_parts(citation.text)
    if parts.document is None:
        pool = [d for d in documents if d.namespace == package]
    else:
        named = qualified(package, parts.document)
        pool = [d for d in documents if d.name == named]
    found = [(d, s) for d in pool if (s := d.section(parts.key)) is not None]
    if parts.paragraph is not None:
        found = [(d, s) for d, s in found if d.paragraphs(s.key) >= parts.paragraph]
    return found, pool


def cites_within(
    documents: list[Document],
    cited: ast.Citation,
    target: ast.Citation,
    packages: tuple[str, str] = ("", ""),
) -> bool:
    """Whether ``cited`` names the section ``target`` names or one within it (``s.12 para 2`` for
    ``s.12``; for a paragraph, ``s.12 para 2`` and what is within that paragraph). With source
    documents their structure says what is within a section (``s.18.1`` is a section of its own,
    not within ``s.18``); without, a number within another extends it (``5.1``, ``18(7)``).
    ``packages`` are those the two citations are written in (each resolves as its statement's)."""
    c, t = citation_parts(cited.text), citation_parts(target.text)
    if t.paragraph is not None and c.paragraph != t.paragraph:
        return False
    if packages[0] != packages[1] and not documents:
        return False  # free text of two policies: nothing says they speak of one text
    if documents:
        found_c, _ = resolve(documents, cited, packages[0])
        found_t, _ = resolve(documents, target, packages[1])
        if len(found_c) != 1 or len(found_t) != 1:
            return False  # an unknown or ambiguous citation: an error of its own
        (doc_c, section_c), (doc_t, section_t) = found_c[0], found_t[0]
        if doc_c is not doc_t:
            return False
        if t.paragraph is not None:
            return section_c.key == section_t.key
        return any(s.key == section_c.key for s in doc_t.within(section_t.key))
    if c.document != t.document:
        return False
    if t.paragraph is not None:
        return c.key == t.key
    return c.key == t.key or re.match(re.escape(t.key) + r"(\(|\.[0-9])", c.key) is not None


def _shorter(key: str) -> str | None:
    """``key`` less its last part: ``9(2)`` for ``9(2)(h)``, ``5`` for ``5.1``."""
    match = re.match(r"^(.*)(\([0-9A-Za-z]+(?:\.[0-9]+)?\)|\.[0-9]+[a-z]?)$", key)
    return match.group(1) if match and match.group(1) else None


def _nearest(state: CheckState, key: str, labels: dict[str, str]) -> list[str]:
    """The sections to suggest for an unknown ``key``: a close spelling among the siblings
    under its nearest existing ancestor, else that ancestor, else any close spelling (within
    the check's budget of comparisons: :meth:`CheckState.near`)."""
    ancestor = _shorter(key)
    while ancestor is not None and ancestor not in labels:
        ancestor = _shorter(ancestor)
    if ancestor is None:
        return state.near(key, list(labels))
    siblings = [k for k in labels if k != ancestor and _shorter(k) == ancestor]
    return state.near(key, siblings) or [ancestor]


def check_citations(state: CheckState) -> None:
    """Each citation names exactly one section of the documents it can name: those of the
    package its statement belongs to (or the policy's own), or the one it names."""
    with_documents = {d.namespace for d in state.documents}
    for package, item in state.items_by_package():
        for citation in item_citations(item):
            qualifier = citation_parts(citation.text).document
            if qualifier is not None and not state.documents:
                state.error(
                    "unknown-citation",
                    f"`{citation.text}` names the document `{qualifier}`, but the policy "
                    "names no source document",
                    citation.span,
                    f'name it with `source {qualifier} "file.txt"`',
                )
            elif qualifier is not None or package in with_documents:
                _check_one(state, citation, package)


def _check_one(state: CheckState, citation: ast.Citation, package: str) -> None:
    found, pool = resolve(state.documents, citation, package)
    parts = citation_parts(citation.text)
    if len(found) == 1:
        return
    if len(found) > 1:
        names = " and ".join(f"`{d.name}`" for d, _ in found)
        state.error(
            "ambiguous-citation",
            f"`{citation.text}` is a section of {names}",
            citation.span,
            f"name the document: `{found[0][0].name}:{citation.text}`",
        )
        return
    if not pool:
        visible = [d for d in state.documents if d.namespace == package] or state.documents
        known = ", ".join(f"`{d.name[len(package) + 1 :] if package else d.name}`" for d in visible)
        state.error(
            "unknown-citation",
            f"`{citation.text}` names the document `{parts.document}`, which the policy does "
            f"not name (its documents: {known})",
            citation.span,
        )
        return
    labels = {s.key: s.label for d in pool for s in d.sections}
    if parts.paragraph is not None and parts.key in labels:
        counts = " or ".join(str(d.paragraphs(parts.key)) for d in pool if d.section(parts.key))
        state.error(
            "unknown-citation",
            f"`{citation.text}`: {labels[parts.key]} has {counts} paragraph(s)",
            citation.span,
            f"cite the section itself, `{labels[parts.key]}`, or one of its paragraphs",
        )
        return
    close = _nearest(state, parts.key, labels)
    where = " or ".join(f"`{d.source.name}`" for d in pool)
    state.error(
        "unknown-citation",
        f"`{citation.text}` is not a section of {where}",
        citation.span,
        ("did you mean " + " or ".join(f"`{labels[k]}`" for k in close) + "?")
        if close
        else "cite a section as the document numbers it, e.g. "
        + ", ".join(f"`{s.label}`" for s in pool[0].sections[:3]),
    )
