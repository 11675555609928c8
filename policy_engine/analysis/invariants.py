"""Invariant proofs: each invariant is checked over every cell of its scope and every context class
the policy's rules and the invariant's own conditions can tell apart, so a proof covers all
requests, and a broken invariant comes with a concrete request (a ``decide`` command) that shows
it."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from ..engine.compiler import CompiledPolicy, compile_condition
from ..engine.evaluator import effect_of, evaluate
from ..language import ast
from ..language.errors import Diagnostic
from .conditions import request_kinds_of
from .context_classes import ContextClass, when_text
from .scopes import KINDS, scope_terms
from .space import RequestSpace


def decide_command(path: str, cell: tuple[str, str, str], klass: ContextClass) -> str:
    """A ``policy-engine decide`` command line for one request, ready to paste."""
    context = json.dumps(klass.request_context(), sort_keys=True)
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
    """How many (cell, context class) pairs the proof covered."""
    counterexample: Counterexample | None
    """(cell, class, effect the policy gives, ids of the deciding rules) when broken."""


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


def prove_invariant(
    compiled: CompiledPolicy, space: RequestSpace, invariant: ast.Invariant
) -> InvariantResult:
    terms = _invariant_terms(compiled, invariant)
    condition = compile_condition(compiled, invariant.condition) if invariant.condition else None
    exceptions = [compile_condition(compiled, e) for e in invariant.exceptions]
    extra = invariant_exprs(invariant)
    reads_request = set().union(*(request_kinds_of(e) for e in extra)) if extra else set()
    proven: dict[tuple[object, ...], int] = {}
    checked = 0
    for party in terms[0]:
        for data in terms[1]:
            for purpose in terms[2]:
                cell = (party, data, purpose)
                plan = compiled.cell(cell)
                rules = plan.denies + plan.allows
                # Cells that no rule and no condition can tell apart are proven once.
                own = tuple(
                    t if k in reads_request else None for k, t in zip(KINDS, cell, strict=True)
                )
                signature = (space.signature(cell, rules), own)
                if signature in proven:
                    checked += proven[signature]
                    continue
                count = 0
                for klass in space.classes(cell, rules, extra):
                    ctx = klass.evaluator_context()
                    if condition is not None and condition(ctx, cell) is not True:
                        continue
                    if any(e(ctx, cell) is True for e in exceptions):
                        continue
                    count += 1
                    if effect_of(plan, ctx, cell) != invariant.expect:
                        outcome = evaluate(compiled, cell, ctx)
                        ids = tuple(r.id for r in outcome.deciding)
                        witness = (cell, klass, outcome.effect, ids)
                        return InvariantResult(invariant, checked + count, witness)
                proven[signature] = count
                checked += count
    return InvariantResult(invariant, checked, None)


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
    compiled: CompiledPolicy, path: str, space: RequestSpace | None = None
) -> tuple[list[Diagnostic], list[InvariantResult]]:
    space = space or RequestSpace([compiled], policy_invariant_exprs(compiled))
    found: list[Diagnostic] = []
    results = []
    for invariant in compiled.checked.invariants:
        result = prove_invariant(compiled, space, invariant)
        results.append(result)
        if result.counterexample is not None:
            found.append(_broken(invariant, result.counterexample, path))
    return found, results
