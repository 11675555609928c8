"""Invariant proofs: each invariant is checked over every cell of its scope by a search of the
cell's contexts (:mod:`.search`) for a request that breaks it, so a proof covers all requests, and
a broken invariant comes with the plainest request (a ``decide`` command) that shows it."""

from __future__ import annotations

import itertools
import json
import shlex
from dataclasses import dataclass

from ..engine.compiler import CompiledPolicy
from ..engine.evaluator import evaluate
from ..language import ast
from ..language.errors import Diagnostic
from ..language.source import Span
from .budget import BudgetExceeded, Meter
from .conditions import request_kinds_of
from .context_classes import ContextClass, when_text
from .questions import breaks_invariant, confirm_breaks
from .scopes import KINDS, scope_terms
from .search import CellSearch
from .search_values import AnalysisDisagreement
from .space import RequestSpace


def decide_command(path: str, cell: tuple[str, str, str], klass: ContextClass) -> str:
    """A ``policy-engine decide`` command line for one request, ready to paste."""
    # A decimal no float holds exactly (over 15 significant digits) is written as its text.
    context = json.dumps(klass.request_context(), sort_keys=True, default=str)
    return (
        f"policy-engine decide {shlex.quote(path)} --party {cell[0]} --data {cell[1]} "
        f"--purpose {cell[2]} --context {shlex.quote(context)}"
    )


def invariant_exprs(invariant: ast.Invariant) -> list[ast.Expr]:
    return ([invariant.condition] if invariant.condition else []) + list(invariant.exceptions)


def policy_invariant_exprs(compiled: CompiledPolicy) -> list[ast.Expr]:
    """The conditions of every invariant of a policy (the request space must tell them apart)."""
    return [e for i in compiled.checked.invariants for e in invariant_exprs(i)]


Counterexample = tuple[tuple[str, str, str], ContextClass, str, tuple[str, ...]]
"""(cell, class, effect the policy gives, ids of the deciding rules)."""


@dataclass(frozen=True)
class InvariantResult:
    invariant: ast.Invariant
    requests: int
    """How many cells of its scope the proof covered."""
    counterexample: Counterexample | None
    """(cell, class, effect the policy gives, ids of the deciding rules) when broken."""
    undecided: str | None = None
    """Why the proof could not finish (its budget ran out), when it could not."""


def _invariant_terms(compiled: CompiledPolicy, invariant: ast.Invariant) -> list[list[str]]:
    """The parties, data and purposes an invariant's scope covers."""
    h = compiled.hierarchies
    scopes = (invariant.parties, invariant.data, invariant.purposes)
    return [
        scope_terms(
            h[kind],
            [n.value for n in s.names] if s.names is not None else None,
            [n.value for n in s.excepts],
        )
        for kind, s in zip(KINDS, scopes, strict=True)
    ]


def prove_invariant(search: CellSearch, invariant: ast.Invariant) -> InvariantResult:
    """Search every cell of the invariant's scope for a request that breaks it (cells no rule
    or condition can tell apart are searched once)."""
    compiled, space = search.compiled, search.space
    terms = _invariant_terms(compiled, invariant)
    extra = invariant_exprs(invariant)
    reads_request = set().union(*(request_kinds_of(e) for e in extra)) if extra else set()
    proven: set[tuple[object, ...]] = set()
    checked = 0
    try:
        for party, data, purpose in itertools.product(*terms):
            cell = (party, data, purpose)
            plan = compiled.cell(cell)
            own = tuple(t if k in reads_request else None for k, t in zip(KINDS, cell, strict=True))
            signature = (space.signature(cell, plan.denies + plan.allows), own)
            checked += 1
            if signature in proven:
                continue
            witness = search.find(cell, breaks_invariant(invariant, plan))
            if witness is not None:
                confirm_breaks(compiled, invariant, plan, cell, witness.context)
                outcome = evaluate(compiled, cell, witness.context)
                ids = tuple(r.id for r in outcome.deciding)
                found: Counterexample = (cell, witness.klass, outcome.effect, ids)
                return InvariantResult(invariant, checked, found)
            proven.add(signature)
    except (BudgetExceeded, AnalysisDisagreement) as exc:
        return InvariantResult(invariant, checked, None, undecided_reason(exc))
    return InvariantResult(invariant, checked, None)


def undecided_reason(exc: Exception) -> str:
    if isinstance(exc, BudgetExceeded):
        return exc.reason
    return f"the analysis and the evaluator disagree ({exc}); this is a bug, please report it"


def _broken(invariant: ast.Invariant, counterexample: Counterexample, path: str) -> Diagnostic:
    """The diagnostic for a broken invariant, with its counterexample."""
    cell, klass, effect, ids = counterexample
    verb = "may" if effect == "allow" else "may not"
    if ids:
        rules = ", ".join(f"`{i}`" for i in ids)
        by = f"{'allowed' if effect == 'allow' else 'denied'} by {rules}"
    else:
        by = "no rule grants it (default deny)"
    return Diagnostic(
        "invariant-broken",
        f"invariant `{invariant.id.value}` is broken: `{cell[0]}` {verb} use `{cell[1]}` "
        f"for `{cell[2]}` {when_text(klass)} ({by})",
        invariant.id.span,
        f"counterexample: {decide_command(path, cell, klass)}",
    )


def invariant_diagnostics(
    compiled: CompiledPolicy,
    path: str,
    space: RequestSpace | None = None,
    meter: Meter | None = None,
) -> tuple[list[Diagnostic], list[InvariantResult]]:
    search = CellSearch(
        compiled,
        space or RequestSpace([compiled], policy_invariant_exprs(compiled)),
        meter or Meter(),
    )
    found: list[Diagnostic] = []
    results = []
    for invariant in compiled.checked.invariants:
        result = prove_invariant(search, invariant)
        results.append(result)
        if result.counterexample is not None:
            found.append(_broken(invariant, result.counterexample, path))
        elif result.undecided is not None:
            found.append(
                undecided(f"invariant `{invariant.id.value}`", result.undecided, invariant.id.span)
            )
    return found, results


def undecided(what: str, reason: str, span: Span | None) -> Diagnostic:
    """The diagnostic for a question the analysis could not answer within its budget."""
    return Diagnostic(
        "analysis-undecided",
        f"{what} could not be decided: {reason}",
        span,
        "nothing is proven about it; `check` exits with 3 until it is decided",
    )
