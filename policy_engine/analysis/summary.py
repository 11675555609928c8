"""What one ``check`` found and what it proved: the diagnostics, and how many of the policy's
invariants were proven, broken or left undecided, so that a clean run says what it stands for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..language.errors import Diagnostic
from .invariants import InvariantResult


@dataclass(frozen=True)
class CheckReport:
    diagnostics: tuple[Diagnostic, ...]
    """Every diagnostic, as ``check_policy`` returns them (those of the invariants included)."""
    invariants: int = 0
    """Invariants the policy declares (0 when it did not load)."""
    proven: int = 0
    """Invariants whose proof finished without a counterexample."""
    broken: int = 0
    """Invariants with a counterexample (one ``invariant-broken`` error each)."""
    undecided: int = 0
    """Invariants whose proof ran out of budget (one ``analysis-undecided`` error each)."""

    @classmethod
    def of(
        cls, diagnostics: Sequence[Diagnostic], results: Sequence[InvariantResult], declared: int
    ) -> CheckReport:
        """The report of sorted ``diagnostics`` and the proofs' ``results`` (none when the
        analysis did not run: then no invariant of the ``declared`` ones is proven)."""
        broken = sum(r.counterexample is not None for r in results)
        undecided = sum(r.counterexample is None and r.undecided is not None for r in results)
        return cls(
            tuple(diagnostics),
            invariants=declared,
            proven=len(results) - broken - undecided,
            broken=broken,
            undecided=undecided,
        )

    def count(self, severity: str) -> int:
        return sum(d.severity == severity for d in self.diagnostics)

    @property
    def errors(self) -> int:
        return self.count("error")

    @property
    def warnings(self) -> int:
        return self.count("warning")

    @property
    def notes(self) -> int:
        return self.count("info")

    @property
    def findings(self) -> int:
        """Diagnostics that are not an invariant's result: loading errors, lints, notes, and
        findings the analysis could not decide."""
        return len(self.diagnostics) - self.broken - self.undecided

    def summary(self) -> dict[str, int]:
        """The counts, as plain data (the SARIF property bag of ``check``)."""
        return {
            "errors": self.errors,
            "warnings": self.warnings,
            "notes": self.notes,
            "findings": self.findings,
            "invariants": self.invariants,
            "proven": self.proven,
            "broken": self.broken,
            "undecided": self.undecided,
        }
