"""Policy tests that live beside the rules (like ``opa test``): requests and the answers expected.

A test file is TOML named ``*.tests.toml``. Each ``[[case]]`` table is one request and what the
policy must answer::

    [[case]]
    name = "cloud hosting outside Québec carries the protection obligation"   # unique per file
    cite = "§5.1"                                   # optional: the section the case checks
    party = "cloud_providers"
    data = "email"
    purpose = "data_hosting"
    context = { destination = "US" }               # optional
    expect = "allow"                                # "allow" or "deny"
    obligations = ["ensure_adequate_protection"]    # optional: the exact list, in any order
    rules = ["cloud_providers_hosting"]             # optional: the exact set of deciding rules
    missing = []                                    # optional: the exact set of missing keys

Discovery: for a folder, every ``*.tests.toml`` below it; for a policy file, those in its folder
(not below). The policy itself is loaded from the path as usual.

A test file that is not valid (bad TOML, an unknown or missing field, a value of the wrong type, a
case name used twice) stops the run before any case is decided, with every problem reported at its
``file:line:col`` (:class:`TestFileError`). A case whose request the engine refuses (an unknown
term, a bad context) is an *error* of that case: it counts as failed, with the engine's message.

Coverage, computed from the decisions' traces (:meth:`Decision.trace`):

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

import json
import os
import re
import time
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..engine.decision import Decision
from ..engine.explain import render_text
from ..engine.models import TraceModel
from ..engine.policy import Policy, load_policy
from ..engine.request import describe_value
from ..language.errors import Diagnostic, PolicyError, RequestError, did_you_mean, suggestion_help
from ..language.files import display_name
from ..language.printer import expr_text
from ..language.source import Source, Span

TEST_SUFFIX = ".tests.toml"

Expect = Literal["allow", "deny"]

_STRING_FIELDS = ("name", "cite", "party", "data", "purpose")
_LIST_FIELDS = ("obligations", "rules", "missing")
FIELDS = (*_STRING_FIELDS, "context", "expect", *_LIST_FIELDS)
"""Every field a case may have, in the order the documentation lists them."""
REQUIRED = ("name", "party", "data", "purpose", "expect")

_CASE_HEADER = re.compile(r"^\s*\[\[\s*case\s*\]\]")
_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_AT_END = " (at end of document)"


class TestFileError(PolicyError):
    """A test file is not valid: bad TOML, an unknown or missing field, a value of the wrong type,
    a duplicate case name. Every problem of every file is reported at once."""

    __test__ = False


# ---- the model -------------------------------------------------------------------------------


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
    """Rule coverage and condition-outcome coverage; see the module's documentation."""

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


# ---- reading test files ----------------------------------------------------------------------


def discover_test_files(path: str | os.PathLike[str]) -> list[Path]:
    """The test files for the policy at ``path``: below a folder, or in a policy file's folder."""
    root = Path(path)
    pattern = f"*{TEST_SUFFIX}"
    found = root.rglob(pattern) if root.is_dir() else root.parent.glob(pattern)
    return sorted(p for p in found if p.is_file())


def _describe(value: object) -> str:
    """A TOML value in words: `describe_value`, but a TOML table is a table."""
    return "a table" if isinstance(value, dict) else describe_value(value)


class _Reader:
    """Checks one parsed test file's shape, pointing each problem at the line that causes it."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.problems: list[Diagnostic] = []
        self.headers = [
            i + 1 for i, text in enumerate(source.lines) if _CASE_HEADER.match(text) is not None
        ]

    def key_span(self, key: str, first: int = 1, last: int | None = None) -> Span | None:
        """Where ``key`` is written (as ``key =``, ``"key" =``, ``key.sub =`` or ``[key]``)."""
        name = re.escape(key)
        pattern = re.compile(rf"^(\s*(?:\[\[?\s*)?)([\"']?){name}\2\s*[=.\]]")
        end = len(self.source.lines) if last is None else last
        for number in range(first, end + 1):
            match = pattern.match(self.source.line(number))
            if match is not None:
                column = len(match.group(1)) + 1
                width = len(key) + 2 * len(match.group(2))
                return Span(self.source, number, column, number, column + width)
        return None

    def line_span(self, number: int) -> Span:
        text = self.source.line(number)
        column = len(text) - len(text.lstrip()) + 1
        return Span(self.source, number, column, number, len(text.rstrip()) + 1)

    def problem(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        if span is None:
            # Never leave a problem without its file: point at the file's first line.
            span = self.line_span(1)
        self.problems.append(Diagnostic(code, message, span, help))

    def read(self, data: dict[str, Any]) -> list[TestCase]:
        for key in data:
            if key != "case":
                self.problem(
                    "unknown-field",
                    f"unknown field `{key}` at the top of a test file",
                    self.key_span(key),
                    suggestion_help(key, ["case"]) or "write each test case under `[[case]]`",
                )
        raw = data.get("case", [])
        if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
            self.problem(
                "wrong-type",
                f"`case` must be an array of tables, got {_describe(raw)}",
                self.key_span("case"),
                "write each test case under its own `[[case]]` header",
            )
            return []
        # Headers match cases one to one unless cases were written as an inline array.
        spans: list[tuple[int, int | None]]
        if len(self.headers) == len(raw):
            bounds = [*self.headers, len(self.source.lines) + 1]
            spans = [(bounds[i], bounds[i + 1] - 1) for i in range(len(raw))]
        else:
            start = self.key_span("case")
            spans = [(start.line if start else 1, None)] * len(raw)
        cases: list[TestCase] = []
        first_use: dict[str, Span] = {}
        for table, (first, last) in zip(raw, spans, strict=True):
            case = self.read_case(table, first, last, first_use)
            if case is not None:
                cases.append(case)
        return cases

    def read_case(
        self,
        table: dict[str, Any],
        first: int,
        last: int | None,
        first_use: dict[str, Span],
    ) -> TestCase | None:
        before = len(self.problems)
        header = self.line_span(first)

        def at(key: str) -> Span:
            # Without a `[[case]]` header per case there is no telling which line is whose.
            found = self.key_span(key, first, last) if last is not None else None
            return found or header

        name = table.get("name")
        who = f"case `{name}`" if isinstance(name, str) and name else "a case"
        meant: set[str] = set()  # fields an unknown key looks like a misspelling of
        for key in table:
            if key not in FIELDS:
                near = did_you_mean(key, FIELDS)
                meant.update(near)
                self.problem(
                    "unknown-field",
                    f"unknown field `{key}` in {who}",
                    at(key),
                    suggestion_help(key, FIELDS)
                    or "a case has the fields " + ", ".join(f"`{f}`" for f in FIELDS),
                )
        for key in REQUIRED:
            if key not in table and key not in meant:
                self.problem(
                    "missing-field", f"{who} is missing the required field `{key}`", header
                )

        def wrong(key: str, expected: str) -> None:
            self.problem(
                "wrong-type",
                f"field `{key}` must be {expected}, got {_describe(table[key])}",
                at(key),
            )

        for key in _STRING_FIELDS:
            if key in table and not isinstance(table[key], str):
                wrong(key, "a string")
        if isinstance(name, str) and not name.strip():
            wrong("name", "a non-empty string")
        if "context" in table and not isinstance(table["context"], dict):
            wrong("context", "a table such as `{ subject_age = 30 }`")
        if "expect" in table and table["expect"] not in ("allow", "deny"):
            wrong("expect", '"allow" or "deny"')
        for key in _LIST_FIELDS:
            value = table.get(key)
            if key in table and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                wrong(key, "a list of names")
        if isinstance(name, str) and name.strip():
            name_span = at("name")
            if name in first_use:
                self.problems.append(
                    Diagnostic(
                        "duplicate-name",
                        f"duplicate case name `{name}`",
                        name_span,
                        "give every case of a file its own name",
                        notes=(("first used here", first_use[name]),),
                    )
                )
            else:
                first_use[name] = name_span
        if len(self.problems) > before:
            return None

        def names(key: str) -> tuple[str, ...] | None:
            return None if key not in table else tuple(table[key])

        return TestCase(
            name=table["name"],
            file=self.source.name,
            line=first if last is not None else None,
            party=table["party"],
            data=table["data"],
            purpose=table["purpose"],
            context=dict(table.get("context", {})),
            expect=table["expect"],
            cite=table.get("cite"),
            obligations=names("obligations"),
            rules=names("rules"),
            missing=names("missing"),
        )


def read_test_file(path: str | os.PathLike[str]) -> tuple[list[TestCase], list[Diagnostic]]:
    """The valid cases of one test file and the problems of the others (never raises for them)."""
    file = Path(path)
    name = display_name(file)
    try:
        text = file.read_bytes().decode("utf-8")
    except OSError as exc:
        return [], [Diagnostic("unreadable", f"cannot read `{name}`: {exc.strerror}")]
    except UnicodeDecodeError as exc:
        return [], [Diagnostic("not-utf8", f"`{name}` is not UTF-8 text: {exc.reason}")]
    reader = _Reader(Source(name, text))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        span: Span | None = None
        at = _TOML_AT.search(message)
        if at is not None:
            line, column = int(at.group(1)), int(at.group(2))
            span = Span(reader.source, line, column, line, column + 1)
            message = message[: at.start()]
        elif message.endswith(_TOML_AT_END):
            last = max(len(reader.source.lines), 1)
            column = len(reader.source.line(last)) + 1
            span = Span(reader.source, last, column, last, column + 1)
            message = message[: -len(_TOML_AT_END)]
        hint = None
        if message.startswith("Cannot overwrite"):
            hint = "a key is written twice in the same table (or case)"
        text = f"invalid TOML: {message[:1].lower()}{message[1:]}"
        reader.problem("bad-toml", text, span, hint)
        return [], reader.problems
    return reader.read(data), reader.problems


# ---- running ---------------------------------------------------------------------------------


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
        failures += _unknown_names(
            case.obligations, policy.terms("obligation"), "an obligation", "obligations"
        )
        if sorted(case.obligations) != sorted(decision.obligations):
            failures.append(
                f"expected obligations {_listed(sorted(case.obligations))}, "
                f"got {_listed(sorted(decision.obligations))}"
            )
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


def compute_coverage(policy: Policy, results: Iterable[CaseResult]) -> Coverage:
    """Which rules the cases exercised and which condition outcomes they saw."""
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


# ---- output ----------------------------------------------------------------------------------


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


def render_coverage(coverage: Coverage) -> str:
    """A table of every rule: how many cases exercised it and which condition outcomes they saw."""
    width = max([len("rule"), *(len(r.id) for r in coverage.rules)])
    lines = ["Coverage", f"  {'rule':<{width}}  cases  when  unless"]
    for rule in coverage.rules:
        when = next((c for c in rule.conditions if c.label == "when"), None)
        unless = [c for c in rule.conditions if c.label == "unless"]
        cells = f"{_mark(when) if when else '':<4}  {', '.join(_mark(c) for c in unless)}"
        lines.append(f"  {rule.id:<{width}}  {rule.cases:>5}  {cells}".rstrip())
    lines.append("  (T, F: the condition was seen true, false in some case; -: never)")
    lines.append("")
    lines.append(
        f"rules exercised: {coverage.rules_exercised} of {len(coverage.rules)} "
        f"({coverage.rule_percent:.1f}%)"
    )
    lines.append(
        f"condition outcomes seen: {coverage.outcomes_seen} of {coverage.outcomes_total} "
        f"({coverage.condition_percent:.1f}%)"
    )
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


def junit_xml(report: TestReport) -> ET.ElementTree:
    """JUnit XML: a ``testsuite`` per test file, a ``testcase`` per case, a ``failure`` (expected vs
    got, with the trace) or an ``error`` (the engine refused the request) per failed case."""
    root = ET.Element("testsuites", name=f"policy-engine test {report.path}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for file in report.files:
        results = [r for r in report.results if r.file == file]
        counts = {
            "tests": len(results),
            "failures": sum(r.error is None and not r.passed for r in results),
            "errors": sum(r.error is not None for r in results),
        }
        attributes = {"name": file, **{k: str(v) for k, v in counts.items()}, "skipped": "0"}
        attributes.update(time=f"{sum(r.seconds for r in results):.6f}", file=file)
        suite = ET.SubElement(root, "testsuite", attributes)
        for key, value in counts.items():
            totals[key] += value
        classname = file.removesuffix(TEST_SUFFIX).replace("/", ".")
        for result in results:
            element = ET.SubElement(
                suite,
                "testcase",
                name=result.name,
                classname=classname,
                file=file,
                time=f"{result.seconds:.6f}",
            )
            if result.line is not None:
                element.set("line", str(result.line))
            if result.error is not None:
                error = ET.SubElement(
                    element, "error", message=result.error.splitlines()[0], type="request-error"
                )
                error.text = result.error
            elif result.failures:
                failure = ET.SubElement(
                    element, "failure", message="; ".join(result.failures), type="failure"
                )
                failure.text = render_failure(result)
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(report: TestReport, path: str | os.PathLike[str]) -> None:
    junit_xml(report).write(path, encoding="utf-8", xml_declaration=True)
