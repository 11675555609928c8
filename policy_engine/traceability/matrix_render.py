"""The matrix as text, CSV and JSON (Markdown and HTML tables are in :mod:`.matrix_tables`)."""

from __future__ import annotations

import csv
import io
import json

from .cell_conditions import words
from .matrix import Matrix, Mixed, Shown
from .matrix_models import (
    EntryMaker,
    mixed_words,
    obligation_words,
    term_line,
    verdict_words,
    who_words,
)
from .selection import Line
from .verdicts import NEVER, CellVerdict

CSV_COLUMNS = (
    "party",
    "data",
    "purpose",
    "status",
    "condition",
    "obligations",
    "rules",
    "citations",
)

READING = (
    "A condition holds when its tests hold; a test on a context key the request leaves out "
    "does not hold (the request is refused)."
)


def label(line: Line) -> str:
    return f"{line.term} (and below)" if line.collapsed else line.term


def summary(matrix: Matrix) -> str:
    counts = matrix.counts()
    total = sum(counts.values())
    sizes = (
        f"{_count(len(matrix.parties), 'party', 'parties')} × "
        f"{_count(len(matrix.data), 'data category', 'data categories')} × "
        f"{_count(len(matrix.purposes), 'purpose', 'purposes')} = "
        f"{_count(total, 'request', 'requests')}"
    )
    return (
        f"{sizes}: {counts['always']:,} always allowed, {counts['conditional']:,} allowed under "
        f"conditions or varying, {counts['never']:,} never allowed"
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def shown_words(shown: Shown, collapsed: tuple[bool, bool, bool]) -> str:
    if isinstance(shown, Mixed):
        return mixed_words(shown, collapsed)
    return verdict_words(shown)


# ---- text ----------------------------------------------------------------------------------------


def render_text(matrix: Matrix) -> str:
    out = [
        f"Disclosure matrix of {matrix.name} (policy version {matrix.version[:12]})",
        summary(matrix) + "; only the allowed ones are listed.",
        READING,
    ]
    last: tuple[str, str] = ("", "")
    blocks: dict[str, list[str]] = {}

    def flush() -> None:
        for block, purposes in blocks.items():
            head, _, rest = block.partition("\n")
            out.append(f"    {', '.join(purposes)}: {head}" + (f"\n{rest}" if rest else ""))
        blocks.clear()

    for party, data, purpose, shown in matrix.allowed():
        if (party.term, data.term) != last:
            flush()
            if party.term != last[0]:
                out.append(f"\n{label(party)}")
            out.append(f"  {label(data)}")
            last = (party.term, data.term)
        collapsed = (party.collapsed, data.collapsed, purpose.collapsed)
        blocks.setdefault(_block(shown, collapsed), []).append(label(purpose))
    flush()
    return "\n".join(out)


def _block(shown: Shown, collapsed: tuple[bool, bool, bool]) -> str:
    lines = [shown_words(shown, collapsed)]
    if isinstance(shown, CellVerdict) and shown.obligations:
        lines.append(
            "      obligations: " + "; ".join(obligation_words(o) for o in shown.obligations)
        )
    if shown.rules or shown.overrides:
        lines.append("      rules: " + who_words(shown))
    return "\n".join(lines)


# ---- CSV -----------------------------------------------------------------------------------------


def render_csv(matrix: Matrix) -> str:
    """One row per (party, data, purpose), never-allowed ones included."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    fields: dict[int, tuple[Shown, list[str]]] = {}
    for party, data, purpose, shown in matrix.entries():
        if shown is NEVER:
            # Terms are names (letters, digits, `_`): nothing to quote. Most rows are these.
            buffer.write(f"{party.term},{data.term},{purpose.term},never,,,,\n")
            continue
        found = fields.get(id(shown))
        if found is None:
            collapsed = (party.collapsed, data.collapsed, purpose.collapsed)
            found = fields[id(shown)] = (shown, _csv_fields(shown, collapsed))
        writer.writerow([party.term, data.term, purpose.term, *found[1]])
    return buffer.getvalue()


def _csv_fields(shown: Shown, collapsed: tuple[bool, bool, bool]) -> list[str]:
    condition = ""
    if isinstance(shown, Mixed):
        condition = mixed_words(shown, collapsed)
    elif shown.condition is not None:
        condition = words(shown.condition)
    obligations = ""
    if isinstance(shown, CellVerdict):
        obligations = "; ".join(obligation_words(o) for o in shown.obligations)
    lifting = shown.overrides
    return [
        shown.status,
        condition,
        obligations,
        "; ".join([*(r.id for r in shown.rules), *(f"override {o.id}" for o in lifting)]),
        "; ".join([*(r.about.citation for r in shown.rules), *(o.about.citation for o in lifting)]),
    ]


# ---- JSON ----------------------------------------------------------------------------------------


def render_json(matrix: Matrix) -> str:
    """The document :class:`~.matrix_models.MatrixDocument` describes."""
    maker = EntryMaker()
    head = {
        "policy": matrix.name,
        "version": matrix.version,
        "parties": [term_line(line) for line in matrix.parties],
        "data": [term_line(line) for line in matrix.data],
        "purposes": [term_line(line) for line in matrix.purposes],
        "counts": matrix.counts(),
    }
    # One entry a line: a matrix may have hundreds of thousands, and json's indenting encoder is
    # written in Python (several times slower than its compact one).
    encode = json.JSONEncoder(ensure_ascii=False).encode
    parts = [f"  {json.dumps(k)}: {encode(v)}" for k, v in head.items()]
    entries = ",\n    ".join(maker.entry(*entry) for entry in matrix.entries())
    parts.append(f'  "entries": [\n    {entries}\n  ]' if entries else '  "entries": []')
    return "{\n" + ",\n".join(parts) + "\n}"
