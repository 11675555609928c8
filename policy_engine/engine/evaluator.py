"""Evaluation: pure functions of a compiled policy and a checked request. No I/O, no clock.

``evaluate`` is the fast path: compiled closures, no trace. When a tracer is given (explanations),
every candidate rule is also walked by :func:`trace_condition`, a small interpreter over the AST
that records each sub-condition's value and the actual values it saw. The two must always agree; the
tests check that on random policies and requests.

Semantics (docs/semantics.md): default deny; deny overrides allow; a rule applies when its scope
covers the request, its condition holds and none of its exceptions holds. With a missing key a
condition is *unknown*: an unknown allow does not grant, an unknown deny denies (fail closed).
"""

from __future__ import annotations

from typing import Any

from ..language import ast
from ..language.printer import expr_text, operand_text
from .attribute_trace import Attributes, attribute_value, unknown_attributes
from .compiler import (
    MISSING,
    CellPlan,
    CompiledPolicy,
    CompiledRule,
    Condition,
    Context,
    Outcome,
    RequestTerms,
)
from .shown import show, show_key
from .specialize import term_kind
from .time_trace import TimeReads, is_time_compare, trace_time_compare
from .traces import ConditionTrace, ObligationTrace, RuleTrace, Tracer
from .undetermined import attached_obligations, settled

__all__ = [
    "ConditionTrace",
    "ObligationTrace",
    "RuleTrace",
    "Tracer",
    "decide_fast",
    "effect_of",
    "evaluate",
    "outcome_of",
    "own_value",
    "rule_value",
    "show",
    "show_key",
    "trace_condition",
    "trace_rule",
]


def _kleene_and(values: list[bool | None]) -> bool | None:
    if False in values:
        return False
    return None if None in values else True


def rule_value(rule: CompiledRule, ctx: Context, req: RequestTerms) -> bool | None:
    """cond ∧ ¬exc₁ ∧ ¬exc₂ … in three-valued logic."""
    return _value(rule.condition, rule.exceptions, ctx, req)


def own_value(rule: CompiledRule, ctx: Context, req: RequestTerms) -> bool | None:
    """The rule's value without the overrides that lift it: cond ∧ ¬exc₁ ∧ … over its own
    exceptions (docs/semantics.md, 37: whether it would otherwise apply)."""
    own = rule.exceptions[: len(rule.logic.own_exceptions)]
    return _value(rule.condition, own, ctx, req)


def _value(
    condition: Condition | None,
    exceptions: tuple[Condition, ...],
    ctx: Context,
    req: RequestTerms,
) -> bool | None:
    result: bool | None = True
    if condition is not None:
        result = condition(ctx, req)
        if result is False:
            return False
    for exception in exceptions:
        value = exception(ctx, req)
        if value is True:
            return False
        if value is None:
            result = None
    return result


def effect_of(plan: CellPlan, ctx: Context, req: RequestTerms) -> ast.Effect:
    """Only the effect of a decision (no reasons, obligations or missing keys): for analyses that
    decide every request of the space."""
    for rule in plan.denies:
        if rule_value(rule, ctx, req) is not False:
            return "deny"
    for rule in plan.allows:
        if rule_value(rule, ctx, req) is True:
            return "allow"
    return "deny"


def outcome_of(
    plan: CellPlan, ctx: Context, req: RequestTerms
) -> tuple[ast.Effect, tuple[str, ...], tuple[str, ...]]:
    """Effect, obligations and deciding rule ids, without the missing-key analysis."""
    denying = tuple(r.id for r in plan.denies if rule_value(r, ctx, req) is not False)
    if denying:
        return "deny", (), denying
    granting = [r for r in plan.allows if rule_value(r, ctx, req) is True]
    if not granting:
        return "deny", (), ()
    obligations: set[str] = set()
    for rule in granting:
        for clause in rule.obligations:
            if clause.condition is None or clause.condition(ctx, req) is True:
                obligations.update(clause.names)
    return "allow", tuple(sorted(obligations)), tuple(r.id for r in granting)


def decide_fast(compiled: CompiledPolicy, req: RequestTerms, ctx: Context) -> Outcome:
    """The same outcome as :func:`evaluate`, from the cell's specialized, generated function.
    Whenever something is unknown it hands over to :func:`evaluate`, which works out exactly
    which keys were missing."""
    fast = compiled.fast_cell(req)
    if fast.static is not None:
        return fast.static
    assert fast.function is not None
    outcome = fast.function(ctx)
    return evaluate(compiled, req, ctx) if outcome is None else outcome


def evaluate(
    compiled: CompiledPolicy,
    req: RequestTerms,
    ctx: Context,
    tracer: Tracer | None = None,
) -> Outcome:
    """Decide one request. ``req`` and ``ctx`` must already be checked (see ``request.py``)."""
    plan = compiled.cell(req)
    unknown: list[CompiledRule] = []
    denying: list[CompiledRule] = []
    certain_deny = False
    for rule in plan.denies:
        value = rule_value(rule, ctx, req)
        if value is False:
            continue
        denying.append(rule)
        if value is None:
            unknown.append(rule)
        else:
            certain_deny = True
    granting: list[CompiledRule] = []
    if certain_deny:
        # Nothing else can change a certain deny, so no missing key was needed.
        unknown = []
    else:
        for rule in plan.allows:
            value = rule_value(rule, ctx, req)
            if value is True:
                granting.append(rule)
            elif value is None:
                unknown.append(rule)
    obligations, missing, undetermined = attached_obligations(
        compiled.context,
        granting if not denying else [],
        (ctx, req),
        lambda when: trace_condition(compiled, when, ctx, req).missing,
    )
    for rule in unknown:
        missing |= _rule_missing(compiled, rule, ctx, req)
    if tracer is not None:
        for rule in plan.denies + plan.allows:
            tracer(trace_rule(compiled, rule, ctx, req))
    # What a request could state: context keys (an attribute a term has no value of is unknown,
    # but no request can give it).
    keys = tuple(sorted(k for k in missing if k in compiled.context))
    if denying:
        return Outcome("deny", tuple(denying), (), keys)
    if granting:
        attached = tuple(sorted(obligations))
        return Outcome("allow", tuple(granting), attached, keys, settled(undetermined, obligations))
    return Outcome("deny", (), (), keys)


def _rule_missing(
    compiled: CompiledPolicy, rule: CompiledRule, ctx: Context, req: RequestTerms
) -> frozenset[str]:
    return trace_rule(compiled, rule, ctx, req).missing


def trace_rule(
    compiled: CompiledPolicy, rule: CompiledRule, ctx: Context, req: RequestTerms
) -> RuleTrace:
    """Walk one candidate rule with the interpreter, recording every value it looked at."""
    logic = rule.logic
    condition = trace_condition(compiled, logic.condition, ctx, req) if logic.condition else None
    exceptions = tuple(trace_condition(compiled, e, ctx, req) for e in logic.exceptions)
    parts: list[bool | None] = [] if condition is None else [condition.value]
    parts += [None if e.value is None else not e.value for e in exceptions]
    value = _kleene_and(parts)
    own = len(logic.own_exceptions)
    missing: frozenset[str] = frozenset()
    if value is None:
        pieces = ([condition] if condition else []) + list(exceptions)
        missing = frozenset().union(*(p.missing for p in pieces if p.value is None))
    obligations = []
    for index, (clause, when) in enumerate(
        zip(rule.obligations, logic.obligation_conditions, strict=True)
    ):
        traced = trace_condition(compiled, when, ctx, req) if when else None
        attached = value is True and (traced is None or traced.value is True)
        obligations.append(ObligationTrace(clause.names, traced, attached, logic.origin(index)))
    return RuleTrace(
        rule,
        value,
        condition,
        exceptions[:own],
        tuple(obligations),
        missing,
        exceptions[own:],
        _kleene_and(parts[: len(parts) - len(logic.lifted_by)]),
    )


# ---- the tracing interpreter -------------------------------------------------------------------


def _operand(
    compiled: CompiledPolicy, node: ast.Operand, ctx: Context, req: RequestTerms
) -> tuple[Any, str | None]:
    """The operand's value (MISSING if absent) and, for context keys and request terms, a note
    saying what it was."""
    if isinstance(node, ast.Literal_):
        return node.value, None
    if isinstance(node, ast.RequestRef):
        value = req[("party", "data", "purpose").index(node.kind)]
        return value, f"the request's {node.kind} is `{value}`"
    if isinstance(node, ast.NameRef):
        if node.name in compiled.context:
            value = ctx.get(node.name, MISSING)
            if value is MISSING:
                return MISSING, f"`{node.name}` is missing"
            return value, f"`{node.name}` is {show_key(compiled, node.name, value)}"
        return node.name, None
    if isinstance(node, ast.AttributeRef | ast.KeyAttributeRef):
        return attribute_value(compiled.attributes, node, ctx, req)
    assert isinstance(node, ast.ListLiteral), "time operands are traced by time_trace"
    values = frozenset(
        i.value if isinstance(i, ast.Literal_) else i.name  # type: ignore[union-attr]
        for i in node.items
    )
    return values, None


def _missing_names(
    compiled: CompiledPolicy, nodes: tuple[ast.Operand, ...], ctx: Context, req: RequestTerms
) -> frozenset[str]:
    """The context keys among ``nodes`` that the request lacks (terms are never missing), and
    the attributes the request's terms have no value of (``party.location``)."""
    found = {
        n.name
        for n in nodes
        if isinstance(n, ast.NameRef) and n.name in compiled.context and n.name not in ctx
    }
    return frozenset(found | unknown_attributes(compiled.attributes, nodes, ctx, req))


def trace_condition(
    compiled: CompiledPolicy, expr: ast.Expr, ctx: Context, req: RequestTerms
) -> ConditionTrace:
    text = expr_text(expr)
    if isinstance(expr, ast.NamedCondition):
        # Its value is its body's; the trace shows the name, then what it means.
        body = trace_condition(compiled, expr.body, ctx, req)
        citation = ", ".join(c.text for c in expr.citations) or None
        return ConditionTrace(
            text, body.value, body.missing, None, (body,), (citation, expr.description)
        )
    if isinstance(expr, ast.And | ast.Or):
        return _trace_junction(compiled, expr, text, ctx, req)
    if isinstance(expr, ast.Not):
        inner = trace_condition(compiled, expr.operand, ctx, req)
        value = None if inner.value is None else not inner.value
        return ConditionTrace(text, value, inner.missing, None, (inner,))
    if isinstance(expr, ast.Compare) and is_time_compare(expr, *_time_tables(compiled)):
        reads = TimeReads(compiled.attributes, ctx, req)
        value, missing, detail = trace_time_compare(expr, *_time_tables(compiled), reads)
        return ConditionTrace(text, value, missing, detail)
    if isinstance(expr, ast.AttributePresence):
        value, note = attribute_value(compiled.attributes, expr.attribute, ctx, req)
        return ConditionTrace(text, (value is not MISSING) is expr.known, frozenset(), note)
    if isinstance(expr, ast.Presence):
        key = expr.key.value
        present = key in ctx
        detail = f"`{key}` is {show(ctx[key])}" if present else f"`{key}` is missing"
        return ConditionTrace(text, present is expr.known, frozenset(), detail)
    operands: tuple[ast.Operand, ...] = (
        (expr.operand,) if isinstance(expr, ast.Truth) else (expr.left, expr.right)
    )
    seen = [_operand(compiled, node, ctx, req) for node in operands]
    notes = "; ".join(note for _, note in seen if note)
    if any(value is MISSING for value, _ in seen):
        missing = _missing_names(compiled, operands, ctx, req)
        return ConditionTrace(text, None, missing, notes or None)
    if isinstance(expr, ast.Truth):
        return ConditionTrace(text, bool(seen[0][0]), frozenset(), notes or None)
    left, right = seen[0][0], seen[1][0]
    if isinstance(expr, ast.Compare):
        result = {
            "=": lambda: left == right,
            "!=": lambda: left != right,
            "<": lambda: left < right,
            "<=": lambda: left <= right,
            ">": lambda: left > right,
            ">=": lambda: left >= right,
        }[expr.op]()
        return ConditionTrace(text, result, frozenset(), notes or None)
    return _trace_member(compiled, expr, text, left, right, notes)


def _time_tables(
    compiled: CompiledPolicy,
) -> tuple[dict[str, ast.ValueType], str | None, Attributes]:
    return compiled.symbol_tables[0], compiled.now_key, compiled.attributes


def _trace_junction(
    compiled: CompiledPolicy, expr: ast.And | ast.Or, text: str, ctx: Context, req: RequestTerms
) -> ConditionTrace:
    """An ``and`` or ``or``: its parts' values combined in Kleene logic; an unknown result is
    missing what its unknown parts miss."""
    children = tuple(trace_condition(compiled, e, ctx, req) for e in expr.operands)
    values = [c.value for c in children]
    if isinstance(expr, ast.And):
        value = _kleene_and(values)
    else:
        value = True if True in values else (None if None in values else False)
    missing = (
        frozenset().union(*(c.missing for c in children if c.value is None))
        if value is None
        else frozenset()
    )
    return ConditionTrace(text, value, missing, None, children)


def _trace_member(
    compiled: CompiledPolicy, expr: ast.Member, text: str, left: Any, right: Any, notes: str
) -> ConditionTrace:
    """``left in right`` with both values known; for terms, says which term covers ``left``."""
    kind = term_kind(expr.right, *compiled.symbol_tables)
    detail = notes
    if kind is not None:
        ancestors = compiled.hierarchies[kind].ancestors[left]
        # A set or list of terms (a request's list is kept as given), or one term.
        container = frozenset(right) if isinstance(right, frozenset | list | tuple) else {right}
        covering = sorted(ancestors & container)
        found = bool(covering)
        if found:
            how = (
                f"`{left}` is listed"
                if covering == [left]
                else f"`{left}` is covered by `{covering[0]}`"
            )
        else:
            how = f"`{left}` is not covered by {operand_text(expr.right)}"
        detail = f"{notes}; {how}" if notes else how
    else:
        found = left in right
    return ConditionTrace(text, found is not expr.negated, frozenset(), detail or None)
