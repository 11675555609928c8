"""The public facade: load a policy from files or text, decide requests, check rule files.

Every step lives in its own package (see ``docs/architecture.md``); this module gathers what
users call, and adds :func:`check_policy` and :func:`check_report`, which run the analysis over a
loaded policy."""

from __future__ import annotations

import os

from .analysis.allowances import without_expected
from .analysis.budget import Budget, Meter
from .analysis.findings import invariant_diagnostics, invariant_exprs, lint
from .analysis.space import RequestSpace
from .analysis.summary import CheckReport
from .engine.policy import Policy, load_policy, load_policy_text
from .language.errors import Diagnostic, PolicyError, sort_diagnostics
from .language.files import read_sources

__all__ = [
    "Budget",
    "CheckReport",
    "Policy",
    "check_loaded",
    "check_policy",
    "check_report",
    "load_policy",
    "load_policy_text",
    "read_sources",
]


def check_policy(
    path: str | os.PathLike[str], *, analyze: bool = True, budget: Budget | None = None
) -> list[Diagnostic]:
    """Every finding about the policy at ``path``, sorted by place; never raises for problems in
    the rule files (an unreadable path is reported as a diagnostic too).

    Loading problems are errors. With ``analyze`` the whole request space is examined too:
    broken invariants are errors (with a counterexample request); rules that can never apply,
    redundant rules and unused declarations are warnings; where a deny overrides an allow is
    information.

    The analysis spends at most ``budget`` (time and steps; by default
    :meth:`Budget.from_environment`). A question it could not answer within it is an
    ``analysis-undecided`` error naming the invariant or finding and why: never a silent proof.
    """
    return list(check_report(path, analyze=analyze, budget=budget).diagnostics)


def check_report(
    path: str | os.PathLike[str], *, analyze: bool = True, budget: Budget | None = None
) -> CheckReport:
    """What :func:`check_policy` finds, with what it proved: how many invariants the policy
    declares and how many were proven, broken, or left undecided by the budget. A policy that
    does not load has no invariant proven (nor counted); without ``analyze`` none is proven.
    """
    try:
        policy = Policy(read_sources(path))
    except PolicyError as exc:
        return CheckReport.of(exc.diagnostics, [], 0)
    return check_loaded(policy, os.fspath(path), analyze=analyze, budget=budget)


def check_loaded(
    policy: Policy, name: str, *, analyze: bool = True, budget: Budget | None = None
) -> CheckReport:
    """What :func:`check_report` finds in a policy already loaded (from files or from text:
    ``name`` is the path its counterexample commands name)."""
    found = without_expected(policy.warnings)
    compiled = policy.compiled
    declared = len(compiled.checked.invariants)
    if not analyze:
        return CheckReport.of(sort_diagnostics(found), [], declared)
    extra = [e for i in compiled.checked.invariants for e in invariant_exprs(i)]
    meter = Meter(budget or Budget.from_environment())
    space = RequestSpace([compiled], extra, meter)
    found += [problem.diagnostic() for problem in space.time.problems()]
    broken, results = invariant_diagnostics(compiled, name, space, meter)
    found += broken + without_expected(lint(compiled, space, meter))
    return CheckReport.of(sort_diagnostics(found), results, declared)
