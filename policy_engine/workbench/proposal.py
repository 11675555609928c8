"""Propose a change: a copy of the rule files edited in the browser, checked as ``check`` checks
(:func:`~policy_engine.api.check_loaded`), run against the policy's tests
(:func:`~policy_engine.testing.runner.run_case`) and compared with the loaded version exactly
(:func:`~policy_engine.analysis.diff.diff_policies`, the groups of ``policy-engine diff``).

The edited text is untrusted input: it is loaded from memory (:func:`load_policy_text`, never
written as a rule file), its size is bounded, the analysis has a budget of its own, and every
problem is a diagnostic at its ``file:line:col``, never an exception.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..analysis.budget import Budget
from ..api import check_loaded
from ..engine.policy import Policy, load_policy_text
from ..language.errors import Diagnostic, PolicyError, RequestError
from ..testing.model import TestCase
from ..testing.reader import discover_test_files, read_test_file
from ..testing.runner import run_case
from .diffs import diff_of, policy_texts
from .patches import unified_patch
from .source import CELLS_KEPT

MAX_PROPOSAL_BYTES = 8 * 1024 * 1024
"""The largest proposal a page may send (its rule files as JSON)."""

BUDGET = Budget(seconds=10.0, steps=2_000_000, memory_mb=512)
"""What the check and the diff of one proposal may spend each."""


def _bad(message: str) -> RequestError:
    return RequestError([Diagnostic("bad-proposal", message)])


def read_proposal(body: object, policy: Policy) -> dict[str, str]:
    """The changed rule files of a proposal body, ``{"files": {name: text}}``: names among the
    policy's rule files, texts as strings. :class:`RequestError` otherwise."""
    files = body.get("files") if isinstance(body, Mapping) else None
    if not isinstance(files, Mapping):
        raise _bad('a proposal is a JSON object `{"files": {"name": "text", …}}`')
    known = {source.name for source in policy.sources}
    changed: dict[str, str] = {}
    for name, text in files.items():
        if name not in known:
            raise _bad(f"`{name}` is not one of the policy's rule files")
        if not isinstance(text, str):
            raise _bad(f"the text of `{name}` must be a string")
        changed[name] = text
    return changed


def read_cases(path: str) -> tuple[list[TestCase], list[Diagnostic]]:
    """The cases of the policy's test files, and the problems of those that cannot be read."""
    cases: list[TestCase] = []
    problems: list[Diagnostic] = []
    for file in discover_test_files(path):
        found, wrong = read_test_file(file)
        cases += found
        problems += wrong
    return cases, problems


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    found = d.to_dict()
    found["notes"] = [
        {"message": note, "file": span.source.name, "line": span.line, "column": span.column}
        for note, span in d.notes
    ]
    return found


@dataclass
class Edited:
    """The policy as proposed: loaded, or the diagnostics of why it does not load."""

    policy: Policy | None
    diagnostics: list[Diagnostic]


def load_edited(policy: Policy, changed: Mapping[str, str]) -> Edited:
    if not changed:
        return Edited(policy, [])
    try:
        texts = {**policy_texts(policy), **changed}
        return Edited(load_policy_text(texts, cell_cache_size=CELLS_KEPT), [])
    except PolicyError as exc:
        return Edited(None, list(exc.diagnostics))


def _tests(policy: Policy, cases: list[TestCase], problems: list[Diagnostic]) -> dict[str, Any]:
    results = [run_case(policy, case) for case in cases]
    return {
        "passed": sum(r.passed for r in results),
        "failed": sum(not r.passed for r in results),
        "problems": [diagnostic_json(d) for d in problems],
        "cases": [
            {
                "name": r.name,
                "location": r.case.location,
                "passed": r.passed,
                "failures": list(r.failures),
                "error": r.error,
            }
            for r in results
        ],
    }


def propose(
    loaded: Policy,
    name: str,
    changed: Mapping[str, str],
    tests: tuple[list[TestCase], list[Diagnostic]],
    budget: Budget = BUDGET,
) -> dict[str, Any]:
    """Everything the page shows of a proposal: diagnostics, tests, diff and patch."""
    start = time.perf_counter()
    originals = {source.name: source.text for source in loaded.sources}
    changed = {n: t for n, t in changed.items() if t != originals[n]}
    edited = load_edited(loaded, changed)
    out: dict[str, Any] = {
        "version": loaded.version,
        "changed": sorted(changed),
        "patch": unified_patch(originals, changed),
        "loads": edited.policy is not None,
        "proposed_version": None if edited.policy is None else edited.policy.version,
        "diagnostics": [diagnostic_json(d) for d in edited.diagnostics],
        "summary": None,
        "tests": None,
        "diff": None,
        "diff_error": "",
    }
    if edited.policy is None:
        out["seconds"] = round(time.perf_counter() - start, 3)
        return out
    report = check_loaded(edited.policy, os.fspath(name), budget=budget)
    out["diagnostics"] = [diagnostic_json(d) for d in report.diagnostics]
    out["summary"] = report.summary()
    out["tests"] = _tests(edited.policy, *tests)
    if edited.policy is not loaded:
        out["diff"], out["diff_error"] = diff_of(loaded, edited.policy, budget)
    out["seconds"] = round(time.perf_counter() - start, 3)
    return out
