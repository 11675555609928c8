"""Warnings a policy says it expects: a comment ``# check: allow CODE[, CODE…]`` on a
statement's first line, or on the line just above it, silences those warning codes for that
statement (``# check: allow deny-on-missing-key`` above a deny that is meant to refuse requests
that leave a key out). Errors — a broken invariant, a question the budget left open — cannot be
silenced, and notes are not affected. The comment is part of the rule file, so the reason for
the exception is reviewed with the rule."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..language.errors import Diagnostic

_ALLOW = re.compile(r"#\s*check:\s*allow\s+([a-z][a-z-]*(?:\s*,\s*[a-z][a-z-]*)*)")


def allowed_codes(line: str) -> set[str]:
    """The codes a line's ``# check: allow`` comment names (none without one)."""
    found = _ALLOW.search(line)
    if found is None:
        return set()
    return {code.strip() for code in found.group(1).split(",")}


def expected(diagnostic: Diagnostic) -> bool:
    """Whether the rule file says it expects this warning where it is reported."""
    span = diagnostic.span
    if diagnostic.severity != "warning" or span is None:
        return False
    lines = [span.line, span.line - 1] if span.line > 1 else [span.line]
    return any(diagnostic.code in allowed_codes(span.source.line(n)) for n in lines)


def without_expected(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if not expected(d)]
