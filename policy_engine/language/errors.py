"""Diagnostics are data; rendering them (location, source line, caret, help) is a separate step.

Message style (after Cedar's guide): lowercase, no final period, user input in backticks, always a
span when one exists, hints in ``help``, never an internal type name.
"""

from __future__ import annotations

import collections
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from .source import Span

Severity = Literal["error", "warning", "info"]

MAX_REPORTED = 50


@dataclass(frozen=True)
class Diagnostic:
    """One problem: a stable code, a message, where it is, and an optional hint."""

    code: str
    message: str
    span: Span | None = None
    help: str | None = None
    severity: Severity = "error"
    notes: tuple[tuple[str, Span], ...] = ()

    @property
    def location(self) -> str:
        return self.span.location if self.span else "<request>"

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.span is None:
            return ("", 0, 0, self.message)
        return (self.span.source.name, self.span.line, self.span.column, self.message)

    def render(self) -> str:
        head = f"{self.severity}: {self.message}"
        parts = [f"{self.location}: {head}" if self.span else head]
        if self.span is not None:
            parts.append(self.span.render())
        for note, span in self.notes:
            parts.append(f"{span.location}: note: {note}")
            parts.append(span.render())
        if self.help:
            parts.append(f"  = help: {self.help}")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "help": self.help,
        }
        if self.span is not None:
            out.update(
                file=self.span.source.name,
                line=self.span.line,
                column=self.span.column,
                end_line=self.span.end_line,
                end_column=self.span.end_column,
            )
        return out


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=Diagnostic.sort_key)


def render_all(diagnostics: Sequence[Diagnostic]) -> str:
    shown = list(diagnostics[:MAX_REPORTED])
    text = "\n\n".join(d.render() for d in shown)
    if len(diagnostics) > MAX_REPORTED:
        text += f"\n\n... and {len(diagnostics) - MAX_REPORTED} more"
    return text


def did_you_mean(word: str, candidates: Iterable[str]) -> list[str]:
    """Close spellings of ``word`` among ``candidates``, best first.

    Only candidates nearly as close as the best one are offered, so a clear typo gets one answer.
    """
    pool = sorted(set(candidates))
    lowered = word.lower()
    letters = collections.Counter(lowered)
    scored = []
    for candidate in pool:
        other = candidate.lower()
        if other == lowered:
            ratio = 1.0
        elif len(word) >= 4 and (lowered in other or other in lowered):
            ratio = max(difflib.SequenceMatcher(None, lowered, other).ratio(), 0.75)
        elif _similar_at_most(lowered, letters, other) < 0.6:
            continue  # cheap bounds first: a pool of 100,000 names takes milliseconds
        else:
            ratio = difflib.SequenceMatcher(None, lowered, other).ratio()
        if ratio >= 0.6:
            scored.append((ratio, candidate))
    if not scored:
        return []
    # Equally close: a name the word begins (`int` → `integer` before `instant`), then by name.
    scored.sort(key=lambda pair: (-pair[0], not pair[1].lower().startswith(lowered), pair[1]))
    best = scored[0][0]
    return [candidate for ratio, candidate in scored if ratio >= best - 0.1][:3]


def _similar_at_most(word: str, letters: collections.Counter[str], other: str) -> float:
    """An upper bound of ``SequenceMatcher(None, word, other).ratio()``: from the lengths, then
    from the letters both have (what ``real_quick_ratio`` and ``quick_ratio`` compute)."""
    total = len(word) + len(other)
    if 2 * min(len(word), len(other)) < 0.6 * total:
        return 0.0
    shared = sum((letters & collections.Counter(other)).values())
    return 2 * shared / total if total else 1.0


def suggestion_help(word: str, candidates: Iterable[str]) -> str | None:
    found = did_you_mean(word, candidates)
    if not found:
        return None
    return "did you mean " + " or ".join(f"`{c}`" for c in found) + "?"


class PolicyError(Exception):
    """Base class of every error the engine raises on bad policies or bad requests."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics: list[Diagnostic] = sort_diagnostics(diagnostics)
        super().__init__(render_all(self.diagnostics))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


class PolicySyntaxError(PolicyError):
    """A rule file does not follow the grammar."""


class PolicyValidationError(PolicyError):
    """A rule file parses but says something inconsistent (undeclared term, cycle, type error)."""


class RequestError(PolicyError):
    """A decision request is malformed: an undeclared context key or a value of the wrong type."""


class UnknownTermError(RequestError):
    """A request names a party, data category or purpose the policy does not declare."""

    def __init__(self, kind: str, term: str, suggestions: Sequence[str], message: str) -> None:
        self.kind = kind
        self.term = term
        self.suggestions = list(suggestions)
        hint = None
        if self.suggestions:
            hint = "did you mean " + " or ".join(f"`{c}`" for c in self.suggestions) + "?"
        super().__init__([Diagnostic("unknown-term", message, None, hint)])
