"""The semantic diff of a proposal against the loaded version: the groups of ``policy-engine
diff``, or why it could not be decided within the budget (never a guess)."""

from __future__ import annotations

from typing import Any

from ..analysis.budget import Budget, BudgetExceeded
from ..analysis.diff import diff_policies
from ..analysis.invariants import undecided_reason
from ..analysis.search_values import AnalysisDisagreement
from ..engine.policy import Policy

DiffResult = tuple[dict[str, Any] | None, str]
"""The report as JSON, or None and why it could not be decided."""


def policy_texts(policy: Policy) -> dict[str, str]:
    """A policy's rule files and source documents by name, for :func:`load_policy_text` (its
    packages' too, so that a proposal reads them from the texts the loaded policy read)."""
    texts = {source.name: source.text for source in [*policy.sources, *policy.package_sources]}
    texts.update({d.source.name: d.source.text for d in policy.documents})
    return texts


def diff_of(loaded: Policy, edited: Policy, budget: Budget) -> DiffResult:
    try:
        report = diff_policies(loaded, edited, "loaded", "proposed", budget)
    except BudgetExceeded as exc:
        return None, f"the diff could not be decided within its budget: {exc.reason}"
    except AnalysisDisagreement as exc:
        return None, f"the diff could not be decided: {undecided_reason(exc)}"
    return report.model_dump(), ""
