"""Citations and section numbers: one reading for what a rule cites and what a document numbers.

A citation names a section the way legal and policy texts do: ``§5.1``, ``§ 164.512(f)(2)(ii)``,
``Art. 9(2)(h)``, ``Article 9``, ``s. 18(7)``, ``section 5``, or a heading without a number by
its slug (``§links-to-other-websites``). ``law25:s. 18(7)`` names the source document too
(``law25.p39_1:s. 17``: a document of the package ``law25``).
Whatever the marker (``§``, ``Art.``, ``s.``, ``section``), a citation's *key* is the number and
its parenthesised parts as written (``9(2)(h)``), or the slug: the key a document's section of
that number has (:mod:`.documents`), so that ``Art. 9(2)(h)`` finds the paragraph ``(h)`` of
paragraph ``(2)`` of the article numbered ``9``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_MARKER = re.compile(r"(?:§|Art\.|Article|[Ss]\.|[Ss]ec\.|[Ss]ection)\s*")
_QUALIFIER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*):")
_PARAGRAPH = re.compile(r"\s*para\s*([0-9]+)((?:\([0-9A-Za-z]+(?:\.[0-9]+)?\))*)$")


@dataclass(frozen=True)
class CitationParts:
    """A citation read: the document it names (None: any), the section key, and the paragraph
    of that section it names (``s.12 para 2``: 2), with what follows the paragraph (``(2)`` in
    ``s.12 para 4(2)``). Paragraphs are not sections: a citation of one names its section."""

    document: str | None
    key: str
    paragraph: int | None = None
    within_paragraph: str = ""


def citation_text(written: str) -> str:
    """A citation as the formatter writes it: ``§`` followed at once by the number (``§5.1``),
    any other marker by one space (``Art. 9(2)(h)``, ``s. 18(7)``)."""
    text = " ".join(written.split())
    qualifier = _QUALIFIER.match(text)
    prefix = qualifier.group(0) if qualifier else ""
    rest = text[len(prefix) :]
    if re.match(r"^(?:§|Art\.|Article|[Ss]\.|[Ss]ec\.|[Ss]ection)?\s*[0-9]", rest):
        rest = re.sub(r"\s*para\s*", " para ", rest)
    if rest.startswith("§"):
        return prefix + "§" + rest[1:].lstrip()
    return prefix + rest


def citation_parts(text: str) -> CitationParts:
    """The document and the section key a citation names (see the module's docstring)."""
    qualifier = _QUALIFIER.match(text)
    document = qualifier.group(1) if qualifier else None
    rest = text[qualifier.end() :] if qualifier else text
    marker = _MARKER.match(rest)
    rest = rest[marker.end() :] if marker else rest
    paragraph = _PARAGRAPH.search(rest) if rest[:1].isdigit() else None
    if paragraph is None:
        return CitationParts(document, "".join(rest.split()))
    key = "".join(rest[: paragraph.start()].split())
    return CitationParts(document, key, int(paragraph.group(1)), paragraph.group(2))


def slug(heading: str) -> str:
    """The slug of a heading without a number: lower case ASCII words joined by ``-``
    (``Children's Privacy`` → ``children-s-privacy``; accents dropped)."""
    ascii_text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    text = "-".join(words)
    if text and not text[0].isalpha():
        text = "s-" + text
    return text or "section"
