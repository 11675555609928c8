"""A semantic diff for people: plain text for a terminal, markdown for a pull request."""

from __future__ import annotations

from collections.abc import Iterable

from ..language import ast
from .conformance_report import ConformanceGroup
from .diff_report import ChangeGroup, DiffReport

_HEADINGS = {
    "widened": "Widened (deny → allow)",
    "narrowed": "Narrowed (allow → deny)",
    "obligations": "Obligations changed",
}


def terms_text(terms: list[str], exact: Iterable[str] = ()) -> str:
    only = set(exact)
    return ", ".join(f"`{t}` itself" if t in only else f"`{t}`" for t in terms)


def _rules(rules: list[str], citations: list[str]) -> str:
    """Rule ids, each with its citations when it has some: `` `r` (§5.1) ``."""
    cited = dict(zip(rules, citations, strict=False))
    return ", ".join(f"`{r}` ({cited[r]})" if cited.get(r) else f"`{r}`" for r in rules)


def side_text(effect: str, rules: list[str], citations: list[str], obligations: list[str]) -> str:
    if rules:
        by = f" by {_rules(rules, citations)}"
    else:
        by = " (no rule grants it)" if effect == "deny" else ""
    with_ = f" with {terms_text(obligations)}" if obligations else ""
    return f"{effect}{by}{with_}"


def _before(g: ChangeGroup) -> str:
    return side_text(g.before, g.old_rules, g.old_citations, g.old_obligations)


def _after(g: ChangeGroup) -> str:
    return side_text(g.after, g.new_rules, g.new_citations, g.new_obligations)


def _text_group(g: ChangeGroup) -> list[str]:
    return [
        f"  {terms_text(g.parties, g.exact)} using {terms_text(g.data, g.exact)} "
        f"for {terms_text(g.purposes, g.exact)} {g.when}",
        f"    before: {_before(g)}; after: {_after(g)}",
    ]


def render_text(report: DiffReport) -> str:
    out = [f"policy diff {report.old} → {report.new}"]
    for kind, terms in (("added", report.terms_added), ("removed", report.terms_removed)):
        for k, names in terms.items():
            out.append(f"{ast.KIND_WORDS[k]} terms {kind}: {terms_text(names)}")
    out += report.context_changes
    if not report.groups:
        out.append("no decision changes")
    for kind in ("widened", "narrowed", "obligations"):
        groups = [g for g in report.groups if g.kind == kind]
        if not groups:
            continue
        out.append("")
        out.append(f"{_HEADINGS[kind]}: {len(groups)} group{'s' * (len(groups) != 1)}")
        for g in groups:
            out += _text_group(g)
    out.append("")
    out.append(
        f"{report.requests_changed} of {report.requests_compared} requests change "
        "(each request stands for a class of contexts)"
    )
    return "\n".join(out)


def where_cells(g: ChangeGroup | ConformanceGroup) -> list[str]:
    """The first columns of a markdown row: who, data, purpose and when."""
    return [
        terms_text(g.parties, g.exact),
        terms_text(g.data, g.exact),
        terms_text(g.purposes, g.exact),
        g.when.removeprefix("when "),  # the column is headed "when"
    ]


def markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _markdown_row(g: ChangeGroup) -> str:
    return markdown_row([*where_cells(g), _before(g), _after(g)])


def render_markdown(report: DiffReport) -> str:
    out = [f"### Policy diff: `{report.old}` → `{report.new}`", ""]
    if not (report.groups or report.terms_added or report.terms_removed or report.context_changes):
        out.append("No decision changes.")
    for kind, terms in (("added", report.terms_added), ("removed", report.terms_removed)):
        for k, names in terms.items():
            out.append(f"- {ast.KIND_WORDS[k]} terms {kind}: {terms_text(names)}")
    out += [f"- {line}" for line in report.context_changes]
    for kind in ("widened", "narrowed", "obligations"):
        groups = [g for g in report.groups if g.kind == kind]
        if not groups:
            continue
        out += ([] if out[-1] == "" else [""]) + [f"#### {_HEADINGS[kind]}", ""]
        out.append("| who | data | purpose | when | before | after |")
        out.append("|---|---|---|---|---|---|")
        out += [_markdown_row(g) for g in groups]
    out += [
        "",
        f"{report.requests_changed} of {report.requests_compared} requests change. "
        f"Versions `{report.old_version[:12]}` → `{report.new_version[:12]}`.",
    ]
    return "\n".join(out)
