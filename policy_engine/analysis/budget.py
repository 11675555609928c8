"""What an analysis may spend: a deadline, a number of steps and the memory it may add, so that a
rule file (untrusted input) can never make ``check`` or ``diff`` run for hours or take gigabytes.
When a budget runs out the analysis says which question it could not decide and why; it never
answers in its place.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

DEFAULT_SECONDS = 60.0
"""Wall-clock time for one ``check`` or ``diff``."""

DEFAULT_STEPS = 5_000_000
"""Search nodes (or context classes) one ``check`` or ``diff`` may visit in all. Memory follows
steps, not the other way round: the search keeps one path, and classes are made one cell at a
time, so this bounds memory too (a few hundred megabytes at most)."""

DEFAULT_MEMORY_MB = 1024
"""Memory (resident set) one ``check`` or ``diff`` may add to the process, in MiB."""

EXIT_UNDECIDED = 3
"""The exit code of ``check`` and ``diff`` when the budget ran out before every question was
answered (0 clean, 1 problems found, 2 usage)."""


@dataclass(frozen=True)
class Budget:
    seconds: float = DEFAULT_SECONDS
    steps: int = DEFAULT_STEPS
    memory_mb: float = DEFAULT_MEMORY_MB

    @classmethod
    def from_environment(cls) -> Budget:
        """``POLICY_ENGINE_ANALYSIS_SECONDS``, ``POLICY_ENGINE_ANALYSIS_STEPS`` and
        ``POLICY_ENGINE_ANALYSIS_MEMORY_MB`` override the defaults (the command line's
        ``--budget-seconds``, ``--budget-steps`` and ``--budget-memory`` win over them)."""
        return cls(
            seconds=_number("POLICY_ENGINE_ANALYSIS_SECONDS", DEFAULT_SECONDS),
            steps=int(_number("POLICY_ENGINE_ANALYSIS_STEPS", DEFAULT_STEPS)),
            memory_mb=_number("POLICY_ENGINE_ANALYSIS_MEMORY_MB", DEFAULT_MEMORY_MB),
        )


def _number(name: str, default: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"`{name}` must be a number, not `{text}`") from None
    if not value > 0:
        raise ValueError(f"`{name}` must be positive, not `{text}`")
    return value


class BudgetExceeded(Exception):
    """The analysis ran out of time or steps; ``reason`` says which, in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Meter:
    """Counts the steps of one analysis against its budget and watches its deadline."""

    __slots__ = ("_deadline", "_left", "_memory_limit", "_until_clock", "budget")

    CLOCK_EVERY = 256
    """Steps between two looks at the clock."""

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()
        self._deadline = time.monotonic() + self.budget.seconds
        self._left = self.budget.steps
        start = resident_bytes()
        self._memory_limit = None if start is None else start + self.budget.memory_mb * 2**20
        self._until_clock = self.CLOCK_EVERY

    def spend(self, steps: int = 1) -> None:
        """Take ``steps`` from the budget; raise :class:`BudgetExceeded` when it is spent."""
        self._left -= steps
        if self._left < 0:
            allowed = f"{self.budget.steps:,} step{'s' * (self.budget.steps != 1)}"
            raise BudgetExceeded(
                f"the analysis budget of {allowed} ran out (raise it with --budget-steps)"
            )
        self._until_clock -= steps
        if self._until_clock <= 0:
            self._until_clock = self.CLOCK_EVERY
            self.check_clock()

    def check_clock(self) -> None:
        """Raise when the deadline has passed or the process has grown past the memory budget."""
        if time.monotonic() > self._deadline:
            raise BudgetExceeded(
                f"the analysis time budget of {self.budget.seconds:g} s ran out "
                "(raise it with --budget-seconds)"
            )
        if self._memory_limit is not None and (resident_bytes() or 0) > self._memory_limit:
            raise BudgetExceeded(
                f"the analysis memory budget of {self.budget.memory_mb:g} MiB ran out "
                "(raise it with --budget-memory)"
            )

    def afford(self, steps: int) -> None:
        """Raise now when ``steps`` more would exceed the budget (before building them)."""
        if steps > self._left:
            raise BudgetExceeded(
                f"it needs {steps:,} context classes in one cell, more than the "
                f"{max(self._left, 0):,} steps left of the analysis budget "
                "(raise it with --budget-steps)"
            )


def resident_bytes() -> int | None:
    """The process's resident memory now (Linux's /proc), or None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
