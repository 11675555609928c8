"""Section coverage as text, JSON, Markdown and HTML. Markdown and HTML show the document's text,
each section quoted with what cites it beside it (rules linked to ``file:line``)."""

from __future__ import annotations

import html
import json

from .coverage import CiterModel, CoverageReport, SectionCoverage

_TITLE_WIDTH = 60


def _short(text: str, width: int = _TITLE_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _place(citer: CiterModel) -> str:
    return f"{citer.file}:{citer.line}" if citer.line is not None else citer.file


def _names(citers: list[CiterModel]) -> list[str]:
    return list(dict.fromkeys(c.id for c in citers))


def _text_status(section: SectionCoverage) -> str:
    if section.status == "heading":
        return ""
    parts = []
    for kind, citers in (
        ("rules", section.rules),
        ("invariants", section.invariants),
        ("terms", section.terms),
    ):
        names = _names(citers)
        if names:
            shown = ", ".join(names[:4]) + (f" (+{len(names) - 4})" if len(names) > 4 else "")
            parts.append(f"{kind} {shown}")
    if section.tests:
        parts.append(f"{len(section.tests)} test{'s' if len(section.tests) != 1 else ''}")
    parts += [f'not a decision: "{r.id}"' for r in section.reasons]
    if section.status == "uncovered":
        parts.append("UNCOVERED")
    return "; ".join(parts)


def coverage_text(report: CoverageReport) -> str:
    lines = []
    for document in report.documents:
        lines.append(f"{document.file} ({document.name})")
        for section in document.sections:
            indent = "  " * (section.depth + 1)
            head = f"{indent}{section.label} {_short(section.title)}"
            status = _text_status(section)
            lines.append(f"{head}\n{indent}    {status}" if status else head)
    for citer in report.unresolved:
        lines.append(
            f"{_place(citer)}: test `{citer.id}` cites `{citer.citation}`, "
            "which is not a section of the policy's documents"
        )
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


def coverage_json(report: CoverageReport) -> str:
    data = report.model_dump(mode="json")
    data["summary"] = report.summary()
    data["percent"] = round(report.percent, 2)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _markdown_citer(citer: CiterModel) -> str:
    via = f" (cites {citer.via})" if citer.via else ""
    return _markdown_what(citer) + via


def _markdown_what(citer: CiterModel) -> str:
    link = f"[`{citer.file}:{citer.line}`]({citer.file}#L{citer.line})"
    if citer.kind == "rule":
        words = f' — "{citer.description}"' if citer.description else ""
        return f"- rule `{citer.id}` ({citer.effect}) at {link}{words}"
    if citer.kind == "invariant":
        return f"- invariant `{citer.id}` at {link}"
    if citer.kind == "term":
        return f"- {citer.effect} `{citer.id}` at {link}"
    if citer.kind == "test":
        return f'- test "{citer.id}" at {link}'
    return f'- not a decision: "{citer.id}" ({link})'


def coverage_markdown(report: CoverageReport) -> str:
    out = [f"# Coverage of `{report.policy}`", "", f"**{report.summary()}**", ""]
    for document in report.documents:
        out += [f"## {document.file}", ""]
        for section in document.sections:
            level = "#" * min(3 + section.depth, 6)
            mark = {"covered": "", "heading": "", "not a decision": " — not a decision"}.get(
                section.status, " — **uncovered**"
            )
            out += [f"{level} {section.label} {_short(section.title)}{mark}", ""]
            body = section.text.splitlines()[1:] if section.status == "heading" else []
            quoted = body or section.text.splitlines()
            if section.status != "heading" or body:
                out += [f"> {line}" if line.strip() else ">" for line in quoted] + [""]
            citers = [
                *section.rules,
                *section.invariants,
                *section.terms,
                *section.tests,
                *section.reasons,
            ]
            if citers:
                out += [_markdown_citer(c) for c in citers] + [""]
    return "\n".join(out).rstrip() + "\n"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b;max-width:72rem}
.section{display:grid;grid-template-columns:3fr 2fr;gap:1rem;
  border-top:1px solid #ccc;padding:.5rem 0}
.text{white-space:pre-wrap}
.uncovered h3{color:#a00000}
.status{font-size:.85rem;font-weight:normal;color:#444}
ul{margin:0;padding-left:1.2rem}
"""


def _html_citer(citer: CiterModel) -> str:
    place = html.escape(f"{citer.file}:{citer.line}")
    what = {
        "rule": f"rule <code>{html.escape(citer.id)}</code> ({html.escape(citer.effect or '')})",
        "invariant": f"invariant <code>{html.escape(citer.id)}</code>",
        "term": f"{html.escape(citer.effect or '')} <code>{html.escape(citer.id)}</code>",
        "test": f"test “{html.escape(citer.id)}”",
        "reason": f"not a decision: “{html.escape(citer.id)}”",
    }[citer.kind]
    return f'<li>{what} at <a href="{place}">{place}</a></li>'


def coverage_html(report: CoverageReport) -> str:
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>Coverage of {html.escape(report.policy)}</title><style>{_STYLE}</style></head>",
        f"<body><h1>Coverage of <code>{html.escape(report.policy)}</code></h1>",
        f"<p><strong>{html.escape(report.summary())}</strong></p>",
    ]
    for document in report.documents:
        parts.append(f"<h2>{html.escape(document.file)}</h2>")
        for section in document.sections:
            citers = [*section.rules, *section.invariants, *section.terms, *section.tests]
            items = "".join(_html_citer(c) for c in [*citers, *section.reasons])
            status = html.escape(section.status)
            parts.append(
                f'<div class="section {status.replace(" ", "-")}" id="{html.escape(section.key)}">'
                f'<div><h3>{html.escape(section.label)} <span class="status">{status}</span></h3>'
                f'<div class="text">{html.escape(section.text)}</div></div>'
                f"<div><ul>{items}</ul></div></div>"
            )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


RENDERERS = {
    "text": coverage_text,
    "json": coverage_json,
    "markdown": coverage_markdown,
    "html": coverage_html,
}
