"""The test runner's JUnit XML report, for CI systems that show test results."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

from .model import TEST_SUFFIX, CaseResult, TestReport
from .report import render_failure


def _testcase(suite: ET.Element, result: CaseResult, classname: str, file: str) -> None:
    """One case's ``testcase`` element, with its ``failure`` or ``error`` if it did not pass."""
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
            _testcase(suite, result, classname, file)
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(report: TestReport, path: str | os.PathLike[str]) -> None:
    junit_xml(report).write(path, encoding="utf-8", xml_declaration=True)
