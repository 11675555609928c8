"""Policy tests that live beside the rules (like ``opa test``): requests and the answers expected.

This module runs them: it loads the policy, reads every test file found beside it
(:mod:`~policy_engine.testing.reader` documents their format), decides each case's request and
compares the decision with what the case expects, then measures coverage
(:mod:`~policy_engine.testing.coverage`). The policy itself is loaded from the path as usual.

A test file that is not valid stops the run before any case is decided, with every problem
reported at its ``file:line:col`` (:class:`TestFileError`). A case whose request the engine
refuses (an unknown term, a bad context) is an *error* of that case: it counts as failed, with the
engine's message. Text and JUnit reports are in :mod:`~policy_engine.testing.report` and
:mod:`~policy_engine.testing.junit`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence

from ..engine.decision import Decision
from ..engine.policy import Policy, load_policy
from ..language.errors import Diagnostic, RequestError, did_you_mean
from ..language.files import display_name
from .coverage import compute_coverage
from .model import CaseResult, TestCase, TestFileError, TestReport
from .obligations import obligation_failures
from .reader import discover_test_files, read_test_file

__all__ = [
    "CaseResult",
    "TestCase",
    "TestFileError",
    "TestReport",
    "compute_coverage",
    "discover_test_files",
    "read_test_file",
    "run_case",
    "run_tests",
]


def _listed(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names) or "none"


def _unknown_names(names: Sequence[str], known: Iterable[str], what: str, field: str) -> list[str]:
    pool = list(known)
    out = []
    for name in sorted(set(names) - set(pool)):
        hint = did_you_mean(name, pool)
        suffix = f" (did you mean {' or '.join(f'`{h}`' for h in hint)}?)" if hint else ""
        out.append(f"`{name}` in `{field}` is not {what} of this policy{suffix}")
    return out


def _compare(policy: Policy, case: TestCase, decision: Decision) -> list[str]:
    failures: list[str] = []
    if decision.effect != case.expect:
        failures.append(f"expected {case.expect}, got {decision.effect}")
    if case.obligations is not None:
        failures += obligation_failures(policy, case.obligations, decision)
    if case.rules is not None:
        failures += _unknown_names(case.rules, (r.id for r in policy.rules), "a rule", "rules")
        got = {r.id for r in decision.reasons}
        if set(case.rules) != got:
            failures.append(
                f"expected deciding rules {_listed(sorted(set(case.rules)))}, "
                f"got {_listed(sorted(got))}"
            )
    if case.missing is not None:
        failures += _unknown_names(
            case.missing, policy.compiled.context, "a context key", "missing"
        )
        if set(case.missing) != set(decision.missing):
            failures.append(
                f"expected missing context {_listed(sorted(set(case.missing)))}, "
                f"got {_listed(sorted(decision.missing))}"
            )
    return failures


def run_case(policy: Policy, case: TestCase) -> CaseResult:
    """Decide one case's request and compare the decision with what the case expects."""
    start = time.perf_counter()
    try:
        decision = policy.decide(case.party, case.data, case.purpose, case.context)
    except RequestError as exc:
        error = "\n".join(d.render() for d in exc.diagnostics)
        return CaseResult(case, None, None, (), error, time.perf_counter() - start)
    failures = _compare(policy, case, decision)
    seconds = time.perf_counter() - start
    return CaseResult(case, decision, decision.trace(), tuple(failures), None, seconds)


def run_tests(path: str | os.PathLike[str]) -> TestReport:
    """Load the policy at ``path``, run every test case found beside it, measure coverage.

    Raises :class:`PolicyError` when the policy cannot be loaded and :class:`TestFileError` when a
    test file is not valid; a case whose request the engine refuses is a failed case instead.
    """
    policy = load_policy(path)
    files = discover_test_files(path)
    cases: list[TestCase] = []
    problems: list[Diagnostic] = []
    for file in files:
        found, wrong = read_test_file(file)
        cases += found
        problems += wrong
    if problems:
        raise TestFileError(problems)
    results = tuple(run_case(policy, case) for case in cases)
    return TestReport(
        path=str(path),
        files=tuple(display_name(f) for f in files),
        results=results,
        coverage=compute_coverage(policy, results),
    )
