"""The matrix as a table to read: parties down, data categories across, and in each cell the
purposes that are ever allowed, each with the number of a note that says when (always, under
which condition, or how its members vary), with which obligations and by which rules. Markdown,
or a self-contained HTML page (no external assets; every text escaped)."""

from __future__ import annotations

import html
import re

from .matrix import Matrix, Shown
from .matrix_models import obligation_words, who_words
from .matrix_render import READING, label, shown_words, summary
from .selection import Line
from .verdicts import CellVerdict

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


class Notes:
    """The notes of a table: one per distinct way a purpose is allowed, numbered in order."""

    def __init__(self) -> None:
        self.texts: dict[tuple[str, str, str], int] = {}

    def number(self, shown: Shown, collapsed: tuple[bool, bool, bool]) -> int:
        key = _note(shown, collapsed)
        return self.texts.setdefault(key, len(self.texts) + 1)


def _note(shown: Shown, collapsed: tuple[bool, bool, bool]) -> tuple[str, str, str]:
    """(when, obligations, rules), in words."""
    obligations = ""
    if isinstance(shown, CellVerdict) and shown.obligations:
        obligations = "; ".join(obligation_words(o) for o in shown.obligations)
    return shown_words(shown, collapsed), obligations, who_words(shown)


def _grid(matrix: Matrix, notes: Notes) -> dict[tuple[str, str], list[tuple[Line, int]]]:
    """(party, data) → the purposes ever allowed there, each with its note."""
    grid: dict[tuple[str, str], list[tuple[Line, int]]] = {}
    for party, data, purpose, shown in matrix.allowed():
        collapsed = (party.collapsed, data.collapsed, purpose.collapsed)
        number = notes.number(shown, collapsed)
        grid.setdefault((party.term, data.term), []).append((purpose, number))
    return grid


# ---- Markdown ------------------------------------------------------------------------------------


def _cell_md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(matrix: Matrix) -> str:
    notes = Notes()
    grid = _grid(matrix, notes)
    out = [
        f"## Disclosure matrix of {_cell_md(matrix.name)}",
        "",
        f"Policy version `{matrix.version[:12]}`. {summary(matrix)}. Each cell lists the "
        "purposes the party may ever use the data category for; the number is the note that "
        f"says when. {READING}",
        "",
        "| party \\ data | " + " | ".join(_cell_md(label(d)) for d in matrix.data) + " |",
        "|---" * (len(matrix.data) + 1) + "|",
    ]
    for party in matrix.parties:
        cells = []
        for data in matrix.data:
            found = grid.get((party.term, data.term), [])
            shown = "<br>".join(
                f"{_cell_md(label(p))} {str(n).translate(_SUPERSCRIPT)}" for p, n in found
            )
            cells.append(shown or "—")
        out.append(f"| **{_cell_md(label(party))}** | " + " | ".join(cells) + " |")
    out += ["", "Notes:", ""]
    for (when, obligations, rules), number in notes.texts.items():
        line = f"{number}. **{when}**" if when in ("always", "never") else f"{number}. {when}"
        if obligations:
            line += f"; obligations: {obligations}"
        if rules:
            line += f"; rules: {rules}"
        out.append(line)
    return "\n".join(out)


# ---- HTML ----------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #c8c8c8; padding: 0.3em 0.5em; vertical-align: top; text-align: left; }
thead th { position: sticky; top: 0; background: #f0f0f0; }
tbody th { background: #f7f7f7; white-space: nowrap; }
td ul { list-style: none; margin: 0; padding: 0; }
.never { color: #9a9a9a; }
code { background: #f3f3f3; padding: 0 0.2em; }
.note { color: #555; }
"""

_CODE = re.compile(r"`([^`]*)`")


def _html_words(text: str) -> str:
    """Escaped text, each `test` as code."""
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


def render_html(matrix: Matrix) -> str:
    notes = Notes()
    grid = _grid(matrix, notes)
    title = html.escape(f"Disclosure matrix of {matrix.name}")
    head = "".join(f"<th>{html.escape(label(d))}</th>" for d in matrix.data)
    rows = []
    for party in matrix.parties:
        cells = []
        for data in matrix.data:
            found = grid.get((party.term, data.term), [])
            items = "".join(
                f'<li>{html.escape(label(p))} <a class="note" href="#n{n}">{n}</a></li>'
                for p, n in found
            )
            cells.append(f"<td><ul>{items}</ul></td>" if items else '<td class="never">—</td>')
        rows.append(f"<tr><th>{html.escape(label(party))}</th>{''.join(cells)}</tr>")
    listed = []
    for (when, obligations, rules), number in notes.texts.items():
        text = f"<strong>{_html_words(when)}</strong>"
        if obligations:
            text += f"; obligations: {_html_words(obligations)}"
        if rules:
            text += f"; rules: {html.escape(rules)}"
        listed.append(f'<li id="n{number}">{text}</li>')
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{title}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{title}</h1>",
            f"<p>Policy version <code>{html.escape(matrix.version[:12])}</code>. "
            f"{html.escape(summary(matrix))}.</p>",
            f"<p>{html.escape(READING)}</p>",
            f"<table><thead><tr><th>party \\ data</th>{head}</tr></thead>",
            "<tbody>",
            *rows,
            "</tbody></table>",
            "<h2>When, with which obligations, by which rules</h2>",
            "<ol>",
            *listed,
            "</ol>",
            "</body></html>",
            "",
        ]
    )
