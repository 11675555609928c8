"""Coverage of a policy by its test cases, computed from the decisions' traces
(:meth:`Decision.trace`):

- a rule is *exercised* when some case's request falls in its scope (party, data and purpose all
  covered), i.e. the rule is among the trace's ``considered`` rules, whatever its conditions said;
  **rule coverage** is the share of the policy's rules exercised by at least one case;
- every rule's ``when`` condition and each of its ``unless`` exceptions has two *outcomes*, true and
  false; an outcome is *seen* when some case's trace shows that condition with that value (unknown
  is shown but is neither). **Condition coverage** is the share of all outcomes of all rules seen,
  counting the conditions of unexercised rules as unseen; with no conditions at all it is 100%.

Cases that end in an error have no decision and exercise nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from ..engine.policy import Policy
from ..language.printer import expr_text
from .model import CaseResult, ConditionCoverage, Coverage, RuleCoverage


def _seen(results: Iterable[CaseResult]) -> tuple[dict[str, int], dict[str, list[set[str]]]]:
    """Per rule id: how many cases considered it, and the values each of its conditions took."""
    counts: dict[str, int] = {}
    seen: dict[str, list[set[str]]] = {}
    for result in results:
        if result.trace is None:
            continue
        for rule in result.trace.considered:
            counts[rule.id] = counts.get(rule.id, 0) + 1
            conditions = ([rule.condition] if rule.condition else []) + rule.exceptions
            values = seen.setdefault(rule.id, [set() for _ in conditions])
            for slot, condition in zip(values, conditions, strict=True):
                slot.add(condition.value)
    return counts, seen


def compute_coverage(policy: Policy, results: Iterable[CaseResult]) -> Coverage:
    """Which rules the cases exercised and which condition outcomes they saw."""
    counts, seen = _seen(results)
    reasons = {r.id: r for r in policy.rules}
    rules = []
    for compiled in sorted(policy.compiled.rules, key=lambda r: r.id):
        source = compiled.source
        labelled: list[tuple[Literal["when", "unless"], str]] = []
        if source.condition is not None:
            labelled.append(("when", expr_text(source.condition)))
        labelled += [("unless", expr_text(e)) for e in source.exceptions]
        values = seen.get(compiled.id, [set() for _ in labelled])
        reason = reasons[compiled.id]
        rules.append(
            RuleCoverage(
                id=compiled.id,
                effect=compiled.effect,
                citation=reason.citation,
                location=reason.location,
                cases=counts.get(compiled.id, 0),
                conditions=tuple(
                    ConditionCoverage(
                        label,
                        text,
                        "true" in slot,
                        "false" in slot,
                        "unknown" in slot,
                    )
                    for (label, text), slot in zip(labelled, values, strict=True)
                ),
            )
        )
    return Coverage(tuple(rules))
