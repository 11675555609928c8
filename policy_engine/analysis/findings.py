"""Static analysis over the exact request space: invariant proofs and the linter.

Everything here enumerates :class:`~policy_engine.space.RequestSpace` — every cell and every
distinguishable context — so a finding is a fact about all requests, and a broken invariant comes
with a concrete request that shows it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..engine.compiler import CompiledPolicy, CompiledRule, compile_condition
from ..engine.evaluator import effect_of, evaluate, rule_value
from ..language import ast
from ..language.errors import Diagnostic
from ..semantics.vocabulary import Hierarchy
from .space import ContextClass, RequestSpace, expressions_of, keys_of, request_kinds_of

KINDS = ("party", "data", "purpose")


def collapse_exact(hierarchy: Hierarchy, terms: Iterable[str]) -> tuple[list[str], list[str]]:
    """Like :func:`collapse`, for sets that need not be whole subtrees: the highest whole
    subtrees, and the remaining terms that stand only for themselves (a request naming a parent
    category exactly, without its children)."""
    chosen = set(terms)
    whole = collapse(hierarchy, chosen)
    below = set().union(*(hierarchy.descendants[t] for t in whole)) if whole else set()
    return whole, sorted(chosen - below)


def collapse(hierarchy: Hierarchy, terms: Iterable[str]) -> list[str]:
    """The highest terms that together cover exactly ``terms``: each returned term's whole subtree
    is in the set, and no returned term sits below another."""
    chosen = set(terms)
    whole = {t for t in chosen if hierarchy.descendants[t] <= chosen}
    return sorted(t for t in whole if not any(a in whole for a in hierarchy.ancestors[t] if a != t))


def scope_terms(
    hierarchy: Hierarchy, names: Iterable[str] | None, excepts: Iterable[str] = ()
) -> list[str]:
    """The request terms a scope covers: everything below ``names`` (all terms for *any*), minus
    everything below ``excepts``."""
    if names is None:
        covered = set(hierarchy.terms)
    else:
        covered = set().union(*(hierarchy.descendants[n] for n in names))
    for name in excepts:
        covered -= hierarchy.descendants[name]
    return sorted(covered)


def rule_cells(compiled: CompiledPolicy, rule: CompiledRule) -> Iterator[tuple[str, str, str]]:
    h = compiled.hierarchies
    for party in scope_terms(h["party"], rule.parties):
        for data in scope_terms(h["data"], rule.data):
            for purpose in scope_terms(h["purpose"], rule.purposes):
                yield (party, data, purpose)


def decide_command(path: str, cell: tuple[str, str, str], klass: ContextClass) -> str:
    """A ``policy-engine decide`` command line for one request, ready to paste."""
    context = json.dumps(klass.request_context(), sort_keys=True)
    return (
        f"policy-engine decide {shlex.quote(path)} --party {cell[0]} --data {cell[1]} "
        f"--purpose {cell[2]} --context {shlex.quote(context)}"
    )


# ---- invariants ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InvariantResult:
    invariant: ast.Invariant
    requests: int
    """How many (cell, context class) pairs the proof covered."""
    counterexample: tuple[tuple[str, str, str], ContextClass, str, tuple[str, ...]] | None
    """(cell, class, effect the policy gives, ids of the deciding rules) when broken."""


def prove_invariant(
    compiled: CompiledPolicy, space: RequestSpace, invariant: ast.Invariant
) -> InvariantResult:
    h = compiled.hierarchies
    scopes = (invariant.parties, invariant.data, invariant.purposes)
    terms = [
        scope_terms(
            h[kind],
            [n.value for n in s.names] if s.names is not None else None,
            [n.value for n in s.excepts],
        )
        for kind, s in zip(KINDS, scopes, strict=True)
    ]
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


def invariant_diagnostics(
    compiled: CompiledPolicy, path: str, space: RequestSpace | None = None
) -> tuple[list[Diagnostic], list[InvariantResult]]:
    space = space or RequestSpace([compiled], _invariant_exprs(compiled))
    found: list[Diagnostic] = []
    results = []
    for invariant in compiled.checked.invariants:
        result = prove_invariant(compiled, space, invariant)
        results.append(result)
        if result.counterexample is None:
            continue
        cell, klass, effect, ids = result.counterexample
        verb = "may" if effect == "allow" else "may not"
        if ids:
            rules = ", ".join(f"`{i}`" for i in ids)
            by = f"{'allowed' if effect == 'allow' else 'denied'} by {rules}"
        else:
            by = "no rule grants it (default deny)"
        found.append(
            Diagnostic(
                "invariant-broken",
                f"invariant `{invariant.id.value}` is broken: `{cell[0]}` {verb} use `{cell[1]}` "
                f"for `{cell[2]}` {_when(klass)} ({by})",
                invariant.id.span,
                f"counterexample: {decide_command(path, cell, klass)}",
            )
        )
    return found, results


def _when(klass: ContextClass, keys: Iterable[str] | None = None) -> str:
    """``when <the class in words>``, or ``in every context`` when the class says nothing."""
    described = klass.describe(keys)
    return described if described == "in every context" else f"when {described}"


def invariant_exprs(invariant: ast.Invariant) -> list[ast.Expr]:
    return ([invariant.condition] if invariant.condition else []) + list(invariant.exceptions)


def _invariant_exprs(compiled: CompiledPolicy) -> list[ast.Expr]:
    return [e for i in compiled.checked.invariants for e in invariant_exprs(i)]


# ---- the linter ---------------------------------------------------------------------------


def lint(compiled: CompiledPolicy, space: RequestSpace | None = None) -> list[Diagnostic]:
    """Warnings about rules that cannot apply or add nothing, unused declarations, and (as
    information) where a deny overrides an allow."""
    space = space or RequestSpace([compiled], _invariant_exprs(compiled))
    found: list[Diagnostic] = []
    never: set[str] = set()
    for rule in compiled.rules:
        problem = _never_applies(compiled, space, rule)
        if problem:
            never.add(rule.id)
            found.append(problem)
    allows = [r for r in compiled.rules if r.effect == "allow" and r.id not in never]
    for rule in allows:
        problem = _redundant(compiled, space, rule, allows)
        if problem:
            found.append(problem)
    found.extend(_unused(compiled))
    found.extend(_overlaps(compiled, space, never))
    return found


def _never_applies(
    compiled: CompiledPolicy, space: RequestSpace, rule: CompiledRule
) -> Diagnostic | None:
    unconditional_denies = [
        r for r in compiled.rules if r.effect == "deny" and r.is_unconditional and r is not rule
    ]
    can_apply = False
    shadowed_everywhere = rule.effect == "allow"
    shadowing: set[str] = set()
    for cell in rule_cells(compiled, rule):
        if shadowed_everywhere:
            plan = compiled.cell(cell)
            blockers = [r.id for r in plan.denies if r in unconditional_denies]
            if blockers:
                shadowing.update(blockers)
            else:
                shadowed_everywhere = False
        if not can_apply:
            for klass in space.classes(cell, [rule]):
                value = rule_value(rule, klass.evaluator_context(), cell)
                # A deny whose condition is unknown denies (fail closed): it applies too.
                if value is True or (value is None and rule.effect == "deny"):
                    can_apply = True
                    break
        if can_apply and not shadowed_everywhere:
            return None
    span = rule.source.id.span
    if not can_apply:
        return Diagnostic(
            "never-applies",
            f"rule `{rule.id}` can never apply: no request makes its condition true and its "
            "exceptions false",
            span,
            "check the comparisons in its `when` and `unless` clauses",
            "warning",
        )
    named = ", ".join(f"`{b}`" for b in sorted(shadowing))
    return Diagnostic(
        "shadowed-by-deny",
        f"allow rule `{rule.id}` can never grant: the unconditional deny {named} covers its "
        "whole scope",
        span,
        "narrow the deny or remove this rule",
        "warning",
    )


def _covers_scope(
    hierarchy: Hierarchy, wide: frozenset[str] | None, narrow: frozenset[str] | None
) -> bool:
    if wide is None:
        return True
    if narrow is None:
        return False
    return all(any(w in hierarchy.ancestors[n] for w in wide) for n in narrow)


def _obligation_key(rule: CompiledRule) -> set[tuple[tuple[str, ...], object]]:
    conditions = rule.logic.obligation_conditions
    return {(o.names, when) for o, when in zip(rule.obligations, conditions, strict=True)}


def _redundant(
    compiled: CompiledPolicy,
    space: RequestSpace,
    rule: CompiledRule,
    allows: list[CompiledRule],
) -> Diagnostic | None:
    h = compiled.hierarchies
    for other in allows:
        if other is rule:
            continue
        if not all(
            _covers_scope(h[k], getattr(other, a), getattr(rule, a))
            for k, a in zip(KINDS, ("parties", "data", "purposes"), strict=True)
        ):
            continue
        if not _obligation_key(rule) <= _obligation_key(other):
            continue
        weaker = True
        for cell in rule_cells(compiled, rule):
            for klass in space.classes(cell, [rule, other]):
                ctx = klass.evaluator_context()
                if rule_value(rule, ctx, cell) is True and rule_value(other, ctx, cell) is not True:
                    weaker = False
                    break
            if not weaker:
                break
        if not weaker:
            continue
        # Two rules that make each other redundant: report only the later id.
        if _mutual(compiled, space, other, rule) and other.id > rule.id:
            continue
        return Diagnostic(
            "redundant-rule",
            f"rule `{rule.id}` is redundant: `{other.id}` allows its whole scope whenever it does",
            rule.source.id.span,
            f"remove it, or narrow `{other.id}`",
            "warning",
        )
    return None


def _mutual(
    compiled: CompiledPolicy, space: RequestSpace, a: CompiledRule, b: CompiledRule
) -> bool:
    h = compiled.hierarchies
    if not all(
        _covers_scope(h[k], getattr(b, f), getattr(a, f))
        for k, f in zip(KINDS, ("parties", "data", "purposes"), strict=True)
    ):
        return False
    for cell in rule_cells(compiled, a):
        for klass in space.classes(cell, [a, b]):
            ctx = klass.evaluator_context()
            if rule_value(a, ctx, cell) is True and rule_value(b, ctx, cell) is not True:
                return False
    return True


def _mentioned_terms(compiled: CompiledPolicy) -> set[str]:
    used: set[str] = set()

    def operands(expr: ast.Expr) -> Iterator[ast.Operand]:
        if isinstance(expr, ast.And | ast.Or):
            for e in expr.operands:
                yield from operands(e)
        elif isinstance(expr, ast.Not):
            yield from operands(expr.operand)
        elif isinstance(expr, ast.Truth):
            yield expr.operand
        elif isinstance(expr, ast.Compare | ast.Member):
            yield expr.left
            yield expr.right

    exprs: list[ast.Expr] = []
    for rule in compiled.rules:
        for scope in (rule.parties, rule.data, rule.purposes):
            used |= set(scope or ())
        used |= {n for o in rule.obligations for n in o.names}
        exprs += expressions_of(rule.source)
    for invariant in compiled.checked.invariants:
        for s in (invariant.parties, invariant.data, invariant.purposes):
            used |= {n.value for n in (*(s.names or ()), *s.excepts)}
        exprs += invariant_exprs(invariant)
    for expr in exprs:
        for node in operands(expr):
            items = node.items if isinstance(node, ast.ListLiteral) else (node,)
            used |= {i.name for i in items if isinstance(i, ast.NameRef)}
        if isinstance(expr, ast.Presence):
            used.add(expr.key.value)
    return used


def _unused(compiled: CompiledPolicy) -> list[Diagnostic]:
    used = _mentioned_terms(compiled)
    keys: set[str] = set()
    for rule in compiled.rules:
        for expr in expressions_of(rule.source):
            keys |= keys_of(expr, compiled.context)
    for invariant in compiled.checked.invariants:
        for expr in invariant_exprs(invariant):
            keys |= keys_of(expr, compiled.context)
    found = []
    symbols = compiled.checked.symbols
    for kind in ("party", "data", "purpose", "obligation"):
        hierarchy = compiled.hierarchies[kind]
        for term in hierarchy.terms:
            related = hierarchy.ancestors[term] | hierarchy.descendants[term]
            if related.isdisjoint(used):
                word = ast.KIND_WORDS[kind]
                found.append(
                    Diagnostic(
                        "unused-term",
                        f"{word} `{term}` is declared but no rule or invariant uses it, or any "
                        "term above or below it",
                        symbols[term].span,
                        "remove it, or write the rule that needs it",
                        "warning",
                    )
                )
    for key in compiled.context:
        if key not in keys:
            found.append(
                Diagnostic(
                    "unused-context-key",
                    f"context key `{key}` is declared but no condition reads it",
                    symbols[key].span,
                    "remove it, or write the rule that needs it",
                    "warning",
                )
            )
    return found


def _overlaps(compiled: CompiledPolicy, space: RequestSpace, never: set[str]) -> list[Diagnostic]:
    h = compiled.hierarchies
    found = []
    denies = [r for r in compiled.rules if r.effect == "deny" and r.id not in never]
    allows = [r for r in compiled.rules if r.effect == "allow" and r.id not in never]
    for deny in denies:
        for allow in allows:
            shared = []
            for kind, field_ in zip(KINDS, ("parties", "data", "purposes"), strict=True):
                a = set(scope_terms(h[kind], getattr(deny, field_)))
                b = set(scope_terms(h[kind], getattr(allow, field_)))
                shared.append(a & b)
            if not all(shared):
                continue
            example = _both_apply(compiled, space, deny, allow, shared)
            if example is None:
                continue
            where = " using ".join(
                ", ".join(f"`{t}`" for t in collapse(h[k], s))
                for k, s in zip(KINDS[:2], shared[:2], strict=True)
            )
            purposes = ", ".join(f"`{t}`" for t in collapse(h["purpose"], shared[2]))
            found.append(
                Diagnostic(
                    "deny-overrides-allow",
                    f"deny `{deny.id}` overrides allow `{allow.id}` for {where} for {purposes} "
                    "when both apply, e.g. "
                    + _when(example, _condition_keys(compiled, deny, allow)),
                    allow.source.id.span,
                    None,
                    "info",
                    notes=((f"deny `{deny.id}` is here", deny.source.id.span),)
                    if deny.source.id.span
                    else (),
                )
            )
    return found


def _condition_keys(compiled: CompiledPolicy, *rules: CompiledRule) -> set[str]:
    keys: set[str] = set()
    for rule in rules:
        source = rule.source
        for expr in ([source.condition] if source.condition else []) + list(source.exceptions):
            keys |= keys_of(expr, compiled.context)
    return keys


def _both_apply(
    compiled: CompiledPolicy,
    space: RequestSpace,
    deny: CompiledRule,
    allow: CompiledRule,
    shared: list[set[str]],
) -> ContextClass | None:
    for party in sorted(shared[0]):
        for data in sorted(shared[1]):
            for purpose in sorted(shared[2]):
                cell = (party, data, purpose)
                for klass in space.classes(cell, [deny, allow]):
                    ctx = klass.evaluator_context()
                    if rule_value(deny, ctx, cell) is not False and rule_value(allow, ctx, cell):
                        return klass
    return None
