"""The text a policy encodes: a plain-text or Markdown document read into its sections.

A section starts on a line that numbers it as legal and policy texts do, in document order:
``1. Consent``, ``5.1 The personal information…``, ``§ 164.512 Uses…``, ``Art. 9``, ``s. 18``,
a Markdown heading (``## 5.1 …`` or ``## Children's privacy``), or, in plain text, a line in
capitals (``PRIVACY POLICY``). A line that starts with ``(2)``, ``(h)``, ``(ii)`` or ``(A)``
inside a numbered section is a paragraph of it, nested by the style of its marker (numbers,
letters, roman numerals, capitals), so that ``164.512(f)(2)(ii)`` and ``9(2)(h)`` are sections
too. A bare ``7.`` counts only while such numbers go up (a numbered list inside a section is not
a new section).

A numbered section's parent is the section its number extends (``5`` for ``5.1``, ``9(2)`` for
``9(2)(h)``), except that a dotted number followed by a dot (``18.1.``, as statutes write them)
is a section of its own; a heading's, the heading above it of a higher Markdown level. Headings
are not the parents of numbered sections: citing a title covers the title's own text, not the
whole text.

Each section has a key (:mod:`.citations`: ``5.1``, ``9(2)(h)``, or a heading's slug) and its
own text: its lines up to the next section. Reading the file is :mod:`.document_files`' job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .citations import slug
from .source import Source

_MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_NUMBERED = re.compile(
    r"^(?P<marker>§\s*|Art(?:icle)?\.?\s+|(?:[Ss]\.|[Ss]ec\.|[Ss]ection)\s*)?"
    r"(?P<num>[0-9]+(?:\.[0-9]+)*[a-z]?)(?P<dot>\.?)(?P<parens>(?:\([0-9A-Za-z]+(?:\.[0-9]+)?\))*)"
    r"(?:\s+(?P<title>.*)|:\s*(?P<after>.*))?$"
)
_PARAGRAPH = re.compile(
    r"^\((?P<mark>[0-9]+(?:\.[0-9]+)?|[a-z]{1,5}|[A-Z]{1,5})\)\s*(?P<title>.*)$"
)
_ROMAN = re.compile(r"^(?=[ivxlc])c{0,3}(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")
_MARKDOWN_SUFFIXES = (".md", ".markdown")


@dataclass(frozen=True)
class Section:
    """One section of a document: where it is, what it is called, and its own text."""

    key: str
    """What citations name: ``5.1``, ``9(2)(h)``, or the heading's slug."""
    label: str
    """How to cite it: ``§5.1``, ``Art. 9(2)(h)``, ``§children-s-privacy``."""
    title: str
    line: int
    end_line: int
    text: str
    """Its own lines, from its first line to the line before the next section."""
    parent: str | None
    depth: int
    counted: bool
    """Whether coverage counts it: not a heading with nothing under it but sub-sections, nor a
    heading without a number and without text."""


@dataclass(frozen=True)
class Document:
    """A source document: its name (as citations qualify it), its text, its sections in order."""

    name: str
    source: Source
    sections: tuple[Section, ...]
    origin: tuple[str, str] = ("", "")
    """The rule file that names it and the path written there (to read it again)."""
    namespace: str = ""
    """The package whose document it is (``law25``; empty: the policy's own). Its ``name`` is
    then qualified (``law25.p39_1``), and the package's own citations resolve against it."""

    def section(self, key: str) -> Section | None:
        return self._index().get(key)

    def _index(self) -> dict[str, Section]:
        index: dict[str, Section] | None = self.__dict__.get("_by_key")
        if index is None:
            index = {s.key: s for s in self.sections}
            object.__setattr__(self, "_by_key", index)
        return index

    def paragraphs(self, key: str) -> int:
        """How many paragraphs the section ``key`` has: its first line's, then one per line of
        its text and its sub-sections' that no paragraph marker (``(2)``) starts."""
        lines = [line for s in self.within(key) for line in s.text.splitlines()[1:]]
        return 1 + sum(1 for line in lines if line.strip() and not _PARAGRAPH.match(line.strip()))

    def within(self, key: str) -> list[Section]:
        """The section ``key`` and every section below it, in document order."""
        keys = {key}
        found = []
        for section in self.sections:
            if section.key in keys or section.parent in keys:
                keys.add(section.key)
                found.append(section)
        return found


@dataclass
class _Start:
    key: str
    label: str
    title: str
    line: int
    parent: str | None
    depth: int
    numbered: bool


def _paragraph_style(mark: str, stack: list[tuple[str, str]]) -> str:
    """The style of a paragraph marker: ``num``, ``lower``, ``roman``, ``upper`` or ``ROMAN``.
    ``(i)`` right after ``(h)`` is a letter, elsewhere a roman numeral (and so for v, x…)."""
    if mark[:1].isdigit():  # (7), (9.1)
        return "num"
    lower = mark.lower()
    letters = "lower" if mark.islower() else "upper"
    romans = "roman" if mark.islower() else "ROMAN"
    if not _ROMAN.match(lower):
        return letters
    if len(lower) == 1:
        for style, previous in stack:
            if style == letters and len(previous) == 1 and ord(previous.lower()) + 1 == ord(lower):
                return letters
    return romans


class _Reader:
    """Reads a document's lines into section starts (see the module's docstring)."""

    def __init__(self, markdown: bool) -> None:
        self.markdown = markdown
        self.starts: list[_Start] = []
        self.keys: set[str] = set()
        self.base: _Start | None = None
        self.stack: list[tuple[str, str]] = []
        self.last_plain = 0
        self.heading_parents: list[tuple[int, str]] = []

    def read_line(self, number: int, line: str) -> None:
        text = line.strip()
        if not text:
            return
        heading = _MARKDOWN_HEADING.match(text) if self.markdown else None
        level = len(heading.group(1)) if heading else 0
        body = heading.group(2).strip("*_ ") if heading else text
        if self._numbered(number, body, level):
            return
        if self.base is not None and self._paragraph(number, body):
            return
        if heading or (not self.markdown and _capitals(text)):
            self._unnumbered(number, body, level or 1)

    def _numbered(self, number: int, text: str, level: int) -> bool:
        match = _NUMBERED.match(text)
        if match is None:
            return False
        num, marker = match.group("num"), (match.group("marker") or "").strip()
        title = (match.group("title") or match.group("after") or "").strip()
        if not marker and not level:
            if "." not in num:
                if not match.group("dot") or not title or int(num) <= self.last_plain:
                    return False
                self.last_plain = int(num)
            elif not title:
                return False
        parens = re.findall(r"\(([0-9A-Za-z]+(?:\.[0-9]+)?)\)", match.group("parens"))
        key = num + "".join(f"({p})" for p in parens)
        # `18.1.` (a dot after a dotted number) is a section of its own, as statutes number
        # them; `5.1 Title` is a sub-section of `5`.
        independent = "." in num and bool(match.group("dot"))
        parent = None if independent else self._parent_of(num)
        start = self._add(number, key, _label(marker, key), title or key, parent)
        self.base = start
        self.stack = []
        for mark in parens:
            self.stack.append((_paragraph_style(mark, self.stack), mark))
        return True

    def _paragraph(self, number: int, text: str) -> bool:
        match = _PARAGRAPH.match(text)
        base = self.base
        if match is None or base is None:
            return False
        mark = match.group("mark")
        style = _paragraph_style(mark, self.stack)
        depth = next((i for i, (s, _) in enumerate(self.stack) if s == style), len(self.stack))
        stack = [*self.stack[:depth], (style, mark)]
        root = base.key.split("(", 1)[0]
        key = root + "".join(f"({m})" for _, m in stack)
        parent = root + "".join(f"({m})" for _, m in stack[:-1])
        if key in self.keys:
            return False
        self.stack = stack
        label = base.label.split("(", 1)[0] + key[len(root) :]
        self._add(number, key, label, match.group("title") or key, parent)
        return True

    def _unnumbered(self, number: int, text: str, level: int) -> None:
        key = slug(text)
        if key in self.keys:
            key = next(
                f"{key}-{n}" for n in range(2, len(self.keys) + 3) if f"{key}-{n}" not in self.keys
            )
        while self.heading_parents and self.heading_parents[-1][0] >= level:
            self.heading_parents.pop()
        parent = self.heading_parents[-1][1] if self.heading_parents else None
        self.heading_parents.append((level, key))
        self.base = None
        self.stack = []
        self._add(number, key, f"§{key}", text, parent, numbered=False)

    def _parent_of(self, num: str) -> str | None:
        parts = num.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            candidate = ".".join(parts[:cut])
            if candidate in self.keys:
                return candidate
        return None

    def _add(
        self, line: int, key: str, label: str, title: str, parent: str | None, numbered: bool = True
    ) -> _Start:
        depth = 0
        if parent is not None:
            depth = next((s.depth + 1 for s in self.starts if s.key == parent), 0)
        start = _Start(key, label, title, line, parent, depth, numbered)
        if key not in self.keys:
            self.starts.append(start)
            self.keys.add(key)
        return start


def _label(marker: str, key: str) -> str:
    if marker.startswith("Art"):
        return f"Art. {key}"
    if marker[:1] in ("s", "S"):
        return f"s. {key}"
    return f"§{key}"


def _capitals(text: str) -> bool:
    """A plain-text heading: a short line with letters, none of them lower case."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 2 and len(text) <= 100 and not any(c.islower() for c in letters)


def read_document(source: Source, name: str, origin: tuple[str, str] = ("", "")) -> Document:
    """The sections of ``source`` (Markdown when its name ends in ``.md`` or ``.markdown``)."""
    reader = _Reader(source.name.lower().endswith(_MARKDOWN_SUFFIXES))
    lines = source.text.splitlines()
    for number, line in enumerate(lines, start=1):
        reader.read_line(number, line)
    return Document(name, source, tuple(_sections(reader.starts, lines)), origin)


def _sections(starts: list[_Start], lines: list[str]) -> list[Section]:
    parents = {s.parent for s in starts}
    sections = []
    for index, start in enumerate(starts):
        end = starts[index + 1].line - 1 if index + 1 < len(starts) else len(lines)
        own = lines[start.line - 1 : end]
        while own and not own[-1].strip():
            own.pop()
        has_body = any(line.strip() for line in own[1:])
        has_children = start.key in parents
        counted = has_body or (start.numbered and not has_children)
        sections.append(
            Section(
                start.key,
                start.label,
                start.title,
                start.line,
                start.line + max(len(own), 1) - 1,
                "\n".join(own),
                start.parent,
                start.depth,
                counted,
            )
        )
    return sections
