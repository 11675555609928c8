"""The test runner's text output: each failed case with its trace, the coverage table, and the
summary line that ends every run."""

from __future__ import annotations

import json
from typing import Any

from .model import CaseResult, ConditionCoverage, Coverage, TestReport


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def render_failure(result: CaseResult) -> str:
    """One failed case: where it is, what was expected and what came, and the decision's trace."""
    case = result.case
    cite = f" ({case.cite})" if case.cite else ""
    head = "ERROR" if result.error is not None else "FAIL"
    lines = [f"{head} {case.location}: {case.name}{cite}"]
    lines.append(
        f"  request: {case.party} / {case.data} / {case.purpose}, "
        f"context {describe_context(case.context)}"
    )
    if result.error is not None:
        lines.append(_indent(result.error, "  "))
    lines += [f"  {failure}" for failure in result.failures]
    if result.explanation is not None:
        lines += ["", _indent(result.explanation, "    ")]
    return "\n".join(lines)


def describe_context(context: dict[str, Any]) -> str:
    if not context:
        return "(none)"
    shown = (f"{k} = {json.dumps(v, ensure_ascii=False, default=str)}" for k, v in context.items())
    return "{ " + ", ".join(shown) + " }"


def _mark(condition: ConditionCoverage) -> str:
    return f"{'T' if condition.seen_true else '-'} {'F' if condition.seen_false else '-'}"


def _coverage_table(coverage: Coverage) -> list[str]:
    """Each rule's row: how many cases exercised it, the outcomes of its conditions seen."""
    width = max([len("rule"), *(len(r.id) for r in coverage.rules)])
    lines = ["Coverage", f"  {'rule':<{width}}  cases  when  unless"]
    for rule in coverage.rules:
        when = next((c for c in rule.conditions if c.label == "when"), None)
        unless = [c for c in rule.conditions if c.label == "unless"]
        cells = f"{_mark(when) if when else '':<4}  {', '.join(_mark(c) for c in unless)}"
        lines.append(f"  {rule.id:<{width}}  {rule.cases:>5}  {cells}".rstrip())
    lines.append("  (T, F: the condition was seen true, false in some case; -: never)")
    return lines


def _coverage_gaps(coverage: Coverage) -> list[str]:
    """The rules never exercised and the condition outcomes never seen in exercised rules."""
    lines: list[str] = []
    never = [r for r in coverage.rules if not r.exercised]
    if never:
        lines.append("rules never exercised:")
        lines += [f"  {r.id} ({r.citation or 'no citation'}) at {r.location}" for r in never]
    unseen = [
        (rule, c)
        for rule in coverage.rules
        if rule.exercised
        for c in rule.conditions
        if c.outcomes_seen < 2
    ]
    if unseen:
        lines.append("condition outcomes never seen (in exercised rules):")
        for rule, c in unseen:
            missed = [v for v, s in (("true", c.seen_true), ("false", c.seen_false)) if not s]
            lines.append(f"  {rule.id}: {c.label} {c.text}  never {' nor '.join(missed)}")
    return lines


def render_coverage(coverage: Coverage) -> str:
    """A table of every rule: how many cases exercised it and which condition outcomes they saw."""
    lines = _coverage_table(coverage)
    lines.append("")
    lines.append(
        f"rules exercised: {coverage.rules_exercised} of {len(coverage.rules)} "
        f"({coverage.rule_percent:.1f}%)"
    )
    lines.append(
        f"condition outcomes seen: {coverage.outcomes_seen} of {coverage.outcomes_total} "
        f"({coverage.condition_percent:.1f}%)"
    )
    lines += _coverage_gaps(coverage)
    return "\n".join(lines)


def render_report(
    report: TestReport, *, coverage: bool = False, min_coverage: float | None = None
) -> str:
    """The runner's text output: every failure, the coverage table if asked, the summary line
    ``N passed, M failed`` and, when rule coverage is below ``min_coverage``, a line saying so."""
    blocks = [render_failure(r) for r in report.results if not r.passed]
    if coverage:
        blocks.append(render_coverage(report.coverage))
    tail = []
    if not report.results:
        tail.append(f"no test cases found under {report.path}")
    tail.append(report.summary)
    if min_coverage is not None and report.coverage.rule_percent < min_coverage:
        tail.append(
            f"rule coverage {report.coverage.rule_percent:.1f}% is below the minimum "
            f"of {min_coverage:g}%"
        )
    blocks.append("\n".join(tail))
    return "\n\n".join(blocks)
