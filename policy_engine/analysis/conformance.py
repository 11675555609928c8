"""Does a policy stay within a package it uses? Every request the policy's own rules allow that
the package's rules do not, and every obligation the package's allow requires that the policy's
decision lacks, exactly, over the policy's request space.

One compiled policy holds both sides over one vocabulary (a policy that uses a package holds the
package's rules under its namespace). Two views of it are compared with the diff's machinery
(:func:`.diff.compare_cells`): the policy's own rules and overrides (every one not from the
package) and the package's. The comparison keeps only what the package does not allow of what
the policy allows (:func:`finding_kind`); the cells are the policy's own terms, and the
package's keys that the policy does not supply are held absent in every request
(:class:`~.space.RequestSpace`'s ``absent``): the policy has no such fact, so the package
decides without it (or with its default). Each group's example is decided again by the
evaluator on both sides before it is reported (:mod:`.conformance_examples`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from ..engine.compiler import CompiledPolicy, CompiledRule, compile_policy
from ..semantics.vocabulary import Hierarchy
from .budget import Budget, Meter
from .conformance_examples import confirmed_group, lacking
from .conformance_report import ConformanceReport
from .diff import compare_cells
from .diff_groups import group_changes
from .diff_report import ChangeKind
from .questions import Comparison, Outcome
from .scopes import KINDS
from .space import RequestSpace


def rules_view(
    compiled: CompiledPolicy,
    keep: Callable[[CompiledRule], bool],
    keep_override: Callable[[str], bool] = lambda _: True,
) -> CompiledPolicy:
    """The policy with only the rules ``keep`` chooses and the overrides ``keep_override``
    chooses (by id), compiled again from the checked policy: the same vocabulary, context keys
    and version. Its overrides lift only the chosen deny rules and bring their obligations only
    to the chosen allow rules, so a side decides as the policy made of its own rules and
    overrides would (an override of one side that lifts a deny of the other lifts nothing on
    either side)."""
    checked = compiled.checked
    kept = {rule.id for rule in compiled.rules if keep(rule)}
    overrides = [o for o in checked.overrides if keep_override(o.id.value)]
    lifted = {
        o.id.value: tuple(r for r in checked.lifted.get(o.id.value, ()) if r in kept)
        for o in overrides
    }
    view_checked = dataclasses.replace(
        checked,
        rules=[r for r in checked.rules if r.id.value in kept],
        overrides=overrides,
        lifted=lifted,
    )
    return compile_policy(view_checked, compiled.version)


def finding_kind(obligations: Hierarchy) -> Comparison:
    """The comparison ``conforms`` makes: nothing when the policy denies; ``narrowed`` (the
    policy allows, the package does not) or ``obligations`` (the package requires obligations
    the policy's decision lacks)."""

    def kind(policy: Outcome, package: Outcome) -> ChangeKind | None:
        if policy[0] != "allow":
            return None
        if package[0] != "allow":
            return "narrowed"
        return "obligations" if lacking(obligations, package[1], policy[1]) else None

    return Comparison(kind, lambda policy: policy[0] == "allow")


def conformance(
    compiled: CompiledPolicy,
    package_rules: Collection[str],
    absent: Iterable[str] = (),
    *,
    terms: Mapping[str, Collection[str]] | None = None,
    names: tuple[str, str] = ("POLICY", "PACKAGE"),
    budget: Budget | None = None,
) -> ConformanceReport:
    """Every request of the policy's space that the policy's own rules (those whose id is not in
    ``package_rules``: the ids of the package's rules and overrides) allow and the package's
    rules do not, or allow without an obligation the package's decision carries. ``absent``:
    context keys no request sends; ``terms``: the parties, data and purposes of the policy's
    requests, by kind (None: every declared term);
    ``names``: the policy's and the package's names in the report. Raises
    :class:`~.budget.BudgetExceeded` when the budget runs out: the answer is exact or not
    given, and :class:`~.search_values.AnalysisDisagreement` when the evaluator does not
    confirm a finding."""
    held = sorted(set(absent))
    unknown = [key for key in held if key not in compiled.context]
    if unknown:
        raise ValueError(f"not context keys of the policy: {', '.join(unknown)}")
    package = frozenset(package_rules)
    own = rules_view(compiled, lambda rule: rule.id not in package, lambda o: o not in package)
    theirs = rules_view(compiled, lambda rule: rule.id in package, lambda o: o in package)
    meter = Meter(budget or Budget.from_environment())
    space = RequestSpace([own, theirs], meter=meter, absent=held)
    comparison = finding_kind(compiled.hierarchies["obligation"])

    def denies_all(
        _: tuple[str, str, str], own_rules: Sequence[CompiledRule], __: Sequence[CompiledRule]
    ) -> bool:
        return all(rule.effect == "deny" for rule in own_rules)

    chosen = {k: sorted(compiled.hierarchies[k].terms) for k in KINDS}
    if terms is not None:
        chosen = {k: sorted(set(terms[k]) & set(chosen[k])) for k in KINDS}
    cells = itertools.product(chosen["party"], chosen["data"], chosen["purpose"])
    compared, changes = compare_cells(space, cells, comparison, denies_all)
    groups = [confirmed_group(g, space) for g in group_changes(changes, own)]
    return ConformanceReport(
        policy=names[0],
        package=names[1],
        policy_version=compiled.version,
        policy_rules=len(own.rules),
        package_rules=len(theirs.rules),
        absent_keys=held,
        groups=groups,
        requests_compared=compared,
        requests_found=sum(c.count for c in changes),
    )
