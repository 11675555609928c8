"""What a policy test run deals in: a test case as read from its file, how it fared, the coverage
the cases reach and the report of the whole run. Plain frozen dataclasses, no behaviour beyond
their derived properties; reading, running and rendering live in the sibling modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..engine.decision import Decision
from ..engine.explain import render_text
from ..engine.models import TraceModel
from ..language.errors import PolicyError

TEST_SUFFIX = ".tests.toml"

Expect = Literal["allow", "deny"]


class TestFileError(PolicyError):
    """A test file is not valid: bad TOML, an unknown or missing field, a value of the wrong type,
    a duplicate case name. Every problem of every file is reported at once."""

    __test__ = False


@dataclass(frozen=True)
class TestCase:
    """One ``[[case]]`` of a test file, checked for its shape (not yet against the policy)."""

    __test__ = False

    name: str
    file: str
    line: int | None
    party: str
    data: str
    purpose: str
    context: dict[str, Any]
    expect: Expect
    cite: str | None = None
    obligations: tuple[str, ...] | None = None
    rules: tuple[str, ...] | None = None
    missing: tuple[str, ...] | None = None

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(frozen=True)
class CaseResult:
    """How one case fared: passed, or the failure messages (expected vs got), or the engine's
    error for a request it refused. ``decision`` and ``trace`` are None after an error."""

    case: TestCase
    decision: Decision | None
    trace: TraceModel | None
    failures: tuple[str, ...]
    error: str | None
    seconds: float

    @property
    def name(self) -> str:
        return self.case.name

    @property
    def file(self) -> str:
        return self.case.file

    @property
    def line(self) -> int | None:
        return self.case.line

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None

    @property
    def explanation(self) -> str | None:
        """The decision's plain-language trace (:meth:`Decision.explain`)."""
        return None if self.trace is None else render_text(self.trace)


@dataclass(frozen=True)
class ConditionCoverage:
    """One ``when`` condition or ``unless`` exception and the values the cases saw it take."""

    label: Literal["when", "unless"]
    text: str
    seen_true: bool
    seen_false: bool
    seen_unknown: bool

    @property
    def outcomes_seen(self) -> int:
        return int(self.seen_true) + int(self.seen_false)


@dataclass(frozen=True)
class RuleCoverage:
    id: str
    effect: Literal["allow", "deny"]
    citation: str
    location: str
    cases: int
    """How many cases' requests fell in the rule's scope."""
    conditions: tuple[ConditionCoverage, ...]

    @property
    def exercised(self) -> bool:
        return self.cases > 0


def _percent(part: int, whole: int) -> float:
    return 100.0 if whole == 0 else 100.0 * part / whole


@dataclass(frozen=True)
class Coverage:
    """Rule coverage and condition-outcome coverage; see :mod:`policy_engine.testing.coverage`."""

    rules: tuple[RuleCoverage, ...]

    @property
    def rules_exercised(self) -> int:
        return sum(r.exercised for r in self.rules)

    @property
    def rule_percent(self) -> float:
        return _percent(self.rules_exercised, len(self.rules))

    @property
    def outcomes_total(self) -> int:
        return 2 * sum(len(r.conditions) for r in self.rules)

    @property
    def outcomes_seen(self) -> int:
        return sum(c.outcomes_seen for r in self.rules for c in r.conditions)

    @property
    def condition_percent(self) -> float:
        return _percent(self.outcomes_seen, self.outcomes_total)


@dataclass(frozen=True)
class TestReport:
    """Every case's result and the coverage they reach, for the policy and tests at ``path``."""

    __test__ = False

    path: str
    files: tuple[str, ...]
    results: tuple[CaseResult, ...]
    coverage: Coverage

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"

    def ok(self, min_coverage: float | None = None) -> bool:
        """Some case ran, all passed and, if asked, rule coverage reaches ``min_coverage``."""
        below = min_coverage is not None and self.coverage.rule_percent < min_coverage
        return bool(self.results) and not self.failed and not below
