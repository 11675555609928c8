"""Reading policy test files: finding them beside a policy and checking each one's shape.

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
    obligations = ["ensure_adequate_protection"]    # optional: the exact list, in any order;
                                                    # with arguments: "retain_for(years = 6)"
                                                    # (:mod:`.obligations`)
    rules = ["cloud_providers_hosting"]             # optional: the exact set of deciding rules
    missing = []                                    # optional: the exact set of missing keys

Discovery: for a folder, every ``*.tests.toml`` below it; for a policy file, those in its folder
(not below).

A test file that is not valid (bad TOML, an unknown or missing field, a value of the wrong type, a
case name used twice) is reported with every problem at its ``file:line:col``; checking the cases
against the policy is the runner's job (:mod:`policy_engine.testing.runner`).
"""

from __future__ import annotations

import datetime
import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..engine.request import describe_value
from ..language.errors import Diagnostic, did_you_mean, suggestion_help
from ..language.files import display_name
from ..language.source import Source, Span
from .model import TEST_SUFFIX, TestCase
from .obligations import parse_expected

_STRING_FIELDS = ("name", "cite", "party", "data", "purpose")
_LIST_FIELDS = ("obligations", "rules", "missing")
FIELDS = (*_STRING_FIELDS, "context", "expect", *_LIST_FIELDS)
"""Every field a case may have, in the order the documentation lists them."""
REQUIRED = ("name", "party", "data", "purpose", "expect")

_OBLIGATION_HELP = 'for example `obligations = ["log_access", "retain_for(years = 6)"]`'

_CASE_HEADER = re.compile(r"^\s*\[\[\s*case\s*\]\]")
_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_AT_END = " (at end of document)"


def discover_test_files(path: str | os.PathLike[str]) -> list[Path]:
    """The test files for the policy at ``path``: below a folder, or in a policy file's folder."""
    root = Path(path)
    pattern = f"*{TEST_SUFFIX}"
    found = root.rglob(pattern) if root.is_dir() else root.parent.glob(pattern)
    return sorted(p for p in found if p.is_file())


def _describe(value: object) -> str:
    """A TOML value in words: `describe_value`, but a TOML table is a table."""
    return "a table" if isinstance(value, dict) else describe_value(value)


def _as_text(value: Any) -> Any:
    """TOML's own dates and date-times as the text a request writes (``2026-12-06``,
    ``2026-12-06T18:00:00+00:00``); a date-time without an offset stays without one, and the
    request check says it names no instant."""
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return value


def _names(table: dict[str, Any], key: str) -> tuple[str, ...] | None:
    return None if key not in table else tuple(table[key])


def _make_case(table: dict[str, Any], file: str, line: int | None) -> TestCase:
    """The case of a ``[[case]]`` table already checked for its shape."""
    return TestCase(
        name=table["name"],
        file=file,
        line=line,
        party=table["party"],
        data=table["data"],
        purpose=table["purpose"],
        context={k: _as_text(v) for k, v in table.get("context", {}).items()},
        expect=table["expect"],
        cite=table.get("cite"),
        obligations=_names(table, "obligations"),
        rules=_names(table, "rules"),
        missing=_names(table, "missing"),
    )


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
        cases: list[TestCase] = []
        first_use: dict[str, Span] = {}
        for table, (first, last) in zip(raw, self.case_lines(len(raw)), strict=True):
            case = self.read_case(table, first, last, first_use)
            if case is not None:
                cases.append(case)
        return cases

    def case_lines(self, count: int) -> list[tuple[int, int | None]]:
        """Each case's first and last line; no last line when cases share one place."""
        # Headers match cases one to one unless cases were written as an inline array.
        if len(self.headers) == count:
            bounds = [*self.headers, len(self.source.lines) + 1]
            return [(bounds[i], bounds[i + 1] - 1) for i in range(count)]
        start = self.key_span("case")
        return [(start.line if start else 1, None)] * count

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
        meant = self.check_fields(table, who, at)
        for key in REQUIRED:
            if key not in table and key not in meant:
                self.problem(
                    "missing-field", f"{who} is missing the required field `{key}`", header
                )
        self.check_types(table, at)
        if isinstance(name, str) and name.strip():
            self.check_unique(name, at("name"), first_use)
        if len(self.problems) > before:
            return None
        return _make_case(table, self.source.name, first if last is not None else None)

    def check_fields(self, table: dict[str, Any], who: str, at: Callable[[str], Span]) -> set[str]:
        """Report the unknown fields; return the known fields they look like misspellings of."""
        meant: set[str] = set()
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
        return meant

    def check_types(self, table: dict[str, Any], at: Callable[[str], Span]) -> None:
        """Report every field whose value is not of the type the field takes."""

        def wrong(key: str, expected: str) -> None:
            self.problem(
                "wrong-type",
                f"field `{key}` must be {expected}, got {_describe(table[key])}",
                at(key),
            )

        for key in _STRING_FIELDS:
            if key in table and not isinstance(table[key], str):
                wrong(key, "a string")
        name = table.get("name")
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
            elif key == "obligations" and isinstance(value, list):
                for entry in value:
                    found = parse_expected(entry)
                    if isinstance(found, str):
                        self.problem("bad-obligation", found, at(key), _OBLIGATION_HELP)

    def check_unique(self, name: str, span: Span, first_use: dict[str, Span]) -> None:
        """Report a case name already used in this file; remember it otherwise."""
        if name in first_use:
            self.problems.append(
                Diagnostic(
                    "duplicate-name",
                    f"duplicate case name `{name}`",
                    span,
                    "give every case of a file its own name",
                    notes=(("first used here", first_use[name]),),
                )
            )
        else:
            first_use[name] = span

    def bad_toml(self, exc: tomllib.TOMLDecodeError) -> None:
        """Report TOML that does not parse, at the place the parser names."""
        message = str(exc)
        span: Span | None = None
        at = _TOML_AT.search(message)
        if at is not None:
            line, column = int(at.group(1)), int(at.group(2))
            span = Span(self.source, line, column, line, column + 1)
            message = message[: at.start()]
        elif message.endswith(_TOML_AT_END):
            last = max(len(self.source.lines), 1)
            column = len(self.source.line(last)) + 1
            span = Span(self.source, last, column, last, column + 1)
            message = message[: -len(_TOML_AT_END)]
        hint = None
        if message.startswith("Cannot overwrite"):
            hint = "a key is written twice in the same table (or case)"
        text = f"invalid TOML: {message[:1].lower()}{message[1:]}"
        self.problem("bad-toml", text, span, hint)


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
        reader.bad_toml(exc)
        return [], reader.problems
    return reader.read(data), reader.problems
