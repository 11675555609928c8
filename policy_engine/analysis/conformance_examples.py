"""A ``conforms`` group made ready to report: its example request decided again by the
evaluator on both sides, which must agree with what the group says (else the finding is a bug
in the analysis, raised, never reported), and the citations of the rules on each side."""

from __future__ import annotations

from collections.abc import Iterable

from ..engine.compiler import CompiledPolicy
from ..engine.evaluator import evaluate
from ..engine.request import normalize_context
from ..semantics.vocabulary import Hierarchy
from .conformance_report import ConformanceGroup, SideDecision
from .diff_report import ChangeGroup
from .search_values import AnalysisDisagreement
from .space import RequestSpace


def lacking(obligations: Hierarchy, required: Iterable[str], carried: Iterable[str]) -> list[str]:
    """The ``required`` obligations that none of ``carried`` fulfils: an obligation is fulfilled
    by itself or by one declared below it; one with arguments (``retain_for(years = 6)``, not a
    term of the hierarchy) only by itself, with the same arguments."""
    have = set(carried)

    def fulfilled(obligation: str) -> bool:
        if obligation in have:
            return True
        return obligation in obligations and not have.isdisjoint(
            obligations.descendants[obligation]
        )

    return sorted(o for o in required if not fulfilled(o))


def confirmed_group(group: ChangeGroup, space: RequestSpace) -> ConformanceGroup:
    """The conformance finding a diff group of the two views stands for, with its example
    decided by the evaluator on each side. Keys no request sends are left out of the example
    (they hold their default or are missing anyway)."""
    own, theirs = space.policies
    context = group.example.get("context") or {}
    assert isinstance(context, dict)
    sent = {k: v for k, v in context.items() if k not in space.held}
    example = {**group.example, "context": sent}
    cell = (str(group.example["party"]), str(group.example["data"]), str(group.example["purpose"]))
    mine, package = _decided(own, cell, sent), _decided(theirs, cell, sent)
    missing = lacking(own.hierarchies["obligation"], package.obligations, mine.obligations)
    expected = "deny" if group.kind == "narrowed" else "allow"
    if mine.effect != "allow" or package.effect != expected:
        _disagree(group, f"the policy decides {mine.effect} and the package {package.effect}")
    if group.kind == "obligations" and (
        sorted(mine.obligations) != group.old_obligations
        or sorted(package.obligations) != group.new_obligations
        or not missing
    ):
        _disagree(group, "the obligations of the two decisions are not those of the group")
    if not set(group.old_rules) <= set(mine.rules) or not set(group.new_rules) <= set(
        package.rules
    ):
        _disagree(group, "other rules decide it")
    return ConformanceGroup(
        kind="not-allowed" if group.kind == "narrowed" else "obligations",
        parties=group.parties,
        data=group.data,
        purposes=group.purposes,
        exact=group.exact,
        when=group.when,
        policy_rules=group.old_rules,
        policy_citations=_citations(own, group.old_rules),
        policy_obligations=group.old_obligations,
        package_effect=group.after,
        package_rules=group.new_rules,
        package_citations=_citations(theirs, group.new_rules),
        package_obligations=group.new_obligations,
        lacking=missing,
        requests=group.requests,
        example=example,
        example_policy=mine,
        example_package=package,
    )


def _decided(
    compiled: CompiledPolicy, cell: tuple[str, str, str], context: dict[str, object]
) -> SideDecision:
    outcome = evaluate(compiled, cell, normalize_context(compiled, context))
    return SideDecision(
        effect=outcome.effect,
        rules=sorted(r.id for r in outcome.deciding),
        obligations=sorted(outcome.obligations),
    )


def _disagree(group: ChangeGroup, why: str) -> None:
    example = group.example
    raise AnalysisDisagreement(
        f"the example of a conformance finding ({example['party']}, {example['data']}, "
        f"{example['purpose']}, {example.get('context')}) is not one: {why}"
    )


def _citations(compiled: CompiledPolicy, ids: list[str]) -> list[str]:
    cited = {r.id: r.about.citation for r in compiled.rules}
    return [cited.get(i, "") for i in ids]
