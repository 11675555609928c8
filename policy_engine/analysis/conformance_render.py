"""``conforms`` for people: plain text for a terminal, markdown for a pull request or a review.
Worded like the diff: each group names its parties, data and purposes, the contexts, and the
decision of each side with the rules (and citations) that make it, then a request that shows it."""

from __future__ import annotations

import json

from .conformance_report import ConformanceGroup, ConformanceReport
from .diff_render import markdown_row, side_text, terms_text, where_cells


def _headings(report: ConformanceReport) -> dict[str, str]:
    package = f"`{report.package}`"
    return {
        "not-allowed": f"Allowed by the policy, not by {package}",
        "obligations": f"Obligations {package} requires that the policy's decision lacks",
    }


def _policy_side(g: ConformanceGroup) -> str:
    return side_text("allow", g.policy_rules, g.policy_citations, g.policy_obligations)


def _package_side(g: ConformanceGroup) -> str:
    return side_text(g.package_effect, g.package_rules, g.package_citations, g.package_obligations)


def _context(g: ConformanceGroup) -> str:
    return json.dumps(g.example.get("context") or {}, sort_keys=True)


def _example(g: ConformanceGroup) -> str:
    e = g.example
    return (
        f"party `{e['party']}`, data `{e['data']}`, purpose `{e['purpose']}`, "
        f"context `{_context(g)}`"
    )


def _about(report: ConformanceReport) -> list[str]:
    lines = [
        f"rules compared: {report.policy_rules} of the policy, {report.package_rules} of "
        f"`{report.package}`"
    ]
    if report.absent_keys:
        lines.append(
            f"facts `{report.package}` reads that the policy does not supply (missing from "
            f"every request, or at their default): {terms_text(report.absent_keys)}"
        )
    return lines


def _totals(report: ConformanceReport) -> str:
    return (
        f"{report.requests_found} of {report.requests_compared} requests are findings "
        "(each request stands for a class of contexts)"
    )


def _none(report: ConformanceReport) -> str:
    return (
        f"no findings: every request the policy allows, `{report.package}` allows, with every "
        "obligation it requires"
    )


def render_text(report: ConformanceReport) -> str:
    out = [f"policy conforms {report.policy} → {report.package}", *_about(report)]
    if not report.groups:
        out.append(_none(report))
    for kind, heading in _headings(report).items():
        groups = [g for g in report.groups if g.kind == kind]
        if not groups:
            continue
        out += ["", f"{heading}: {len(groups)} group{'s' * (len(groups) != 1)}"]
        for g in groups:
            out.append(
                f"  {terms_text(g.parties, g.exact)} using {terms_text(g.data, g.exact)} "
                f"for {terms_text(g.purposes, g.exact)} {g.when}"
            )
            out.append(f"    policy: {_policy_side(g)}; {report.package}: {_package_side(g)}")
            if g.kind == "obligations":
                out.append(f"    lacking: {terms_text(g.lacking)}")
            out.append(f"    example: {_example(g)}")
    out += ["", _totals(report)]
    return "\n".join(out)


def render_markdown(report: ConformanceReport) -> str:
    out = [f"### Conformance: `{report.policy}` → `{report.package}`", ""]
    out += [f"- {line}" for line in _about(report)]
    if not report.groups:
        out += ["", _none(report).capitalize() + "."]
    for kind, heading in _headings(report).items():
        groups = [g for g in report.groups if g.kind == kind]
        if not groups:
            continue
        lacking = kind == "obligations"
        header = ["who", "data", "purpose", "when", "policy", f"`{report.package}`"]
        header += ["lacking"] if lacking else []
        out += ["", f"#### {heading}", "", markdown_row(header), "|" + "---|" * len(header)]
        for g in groups:
            cells = [*where_cells(g), _policy_side(g), _package_side(g)]
            cells += [terms_text(g.lacking)] if lacking else []
            out.append(markdown_row(cells))
        out += ["", "Examples, one a group in order:", ""]
        out += [f"{i}. {_example(g)}" for i, g in enumerate(groups, 1)]
    out += [
        "",
        f"{_totals(report).capitalize()}. Version `{report.policy_version[:12]}`.",
    ]
    return "\n".join(out)
