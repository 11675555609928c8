"""Overrides compiled into the rules they touch (docs/semantics.md, 37–40).

An override ``O`` that lifts the deny rules ``D₁ … Dₙ`` when ``C`` means exactly:

- each ``Dᵢ`` has one more exception, ``C`` (an unknown ``C`` lifts nothing: fail closed);
- ``O`` *lifts* on a request when ``C`` is true and some ``Dᵢ`` covering the request would
  otherwise apply: its own condition and exceptions are not false (true, or unknown: a deny that
  fails closed applies). Its obligation clauses come with an allow exactly where it lifts.

Both are written into the rules' logic, so the decision, the generated cell code and every
analysis read nothing else: the lifted denies get ``C`` as a last exception, and every allow rule
that may grant where some ``Dᵢ`` covers gets ``O``'s clauses, each with the condition
``trigger and when``, where ``trigger`` says that ``O`` lifts: ``C and ((scope(D₁) and
not_false(own(D₁))) or …)``. ``not_false`` turns "not false in Kleene's logic" into a condition
that is never unknown (a test that reads a key is not false where the key is missing or the test
holds), so the trigger is unknown only where ``C`` is. An allow always has a granting rule, and
every granting rule that covers a request some ``Dᵢ`` covers carries the clause with the same
condition, so the allow carries ``O``'s obligations exactly where ``O`` lifts.

The override stays visible: :class:`~.compiled.RuleLogic` says which exception and which clause
comes from which override, and :class:`CompiledOverride` keeps what explanations, findings and the
matrix say about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..language import ast
from ..language.ast_expressions import names_read
from ..language.connectives import Node, both, either, negation
from ..semantics.checker import CheckedPolicy
from ..semantics.vocabulary import Hierarchy
from .compiled import RuleAbout, RuleLogic, requirements
from .time_operands import now_key_name

Lifted = tuple[RuleLogic, tuple[tuple[str, ...], ...]]
"""A touched rule's logic and the names of the obligation clauses overrides add to it."""


@dataclass(frozen=True, slots=True)
class CompiledOverride:
    """What decisions, explanations and analyses know of one override."""

    id: str
    about: RuleAbout
    condition: ast.Expr
    lifts: tuple[str, ...]
    """The ids of the deny rules it lifts, in the order the rules are written."""
    obligations: tuple[tuple[tuple[str, ...], ast.Expr | None], ...]
    """Its obligation clauses: what each requires (``retain_for(years = 6)``: see
    :func:`~.compiled.requirements`) and its own ``when`` (None: none)."""
    trigger: ast.Expr
    """True exactly when it lifts a deny that would otherwise apply to the request; unknown only
    where its condition is."""


def own_value(rule: ast.Rule) -> ast.Expr | None:
    """The rule's value without any override: its condition and not each of its exceptions
    (None: it has neither, and is true wherever it covers)."""
    parts = ([rule.condition] if rule.condition is not None else []) + [
        ast.Not(e) for e in rule.exceptions
    ]
    return None if not parts else parts[0] if len(parts) == 1 else ast.And(tuple(parts))


def compile_overrides(
    checked: CheckedPolicy,
) -> tuple[dict[str, Lifted], tuple[CompiledOverride, ...]]:
    """The logic of every rule the overrides touch (by rule id), and the overrides."""
    rules = {rule.id.value: rule for rule in checked.rules}
    reads = (
        {n for n, decl in checked.context.items() if decl.default is None},
        now_key_name(checked.context),
        _attribute_gaps(checked),
    )
    overrides = tuple(
        _compiled(o, [rules[i] for i in checked.lifted.get(o.id.value, ())], reads)
        for o in checked.overrides
    )
    lifted_by: dict[str, list[CompiledOverride]] = {}
    for override in overrides:
        for rule_id in override.lifts:
            lifted_by.setdefault(rule_id, []).append(override)
    carried: dict[str, list[CompiledOverride]] = {}
    with_obligations = [o for o in overrides if o.obligations]
    for rule in checked.rules:
        if rule.effect == "allow":
            carried[rule.id.value] = [
                o
                for o in with_obligations
                if any(_intersect(checked.hierarchies, rule, rules[d]) for d in o.lifts)
            ]
    touched: dict[str, Lifted] = {}
    for rule in checked.rules:
        by = lifted_by.get(rule.id.value, [])
        adds = carried.get(rule.id.value, [])
        if by or adds:
            touched[rule.id.value] = _logic(rule, by, adds)
    return touched, overrides


def _compiled(override: ast.Override, lifted: list[ast.Rule], reads: Reads) -> CompiledOverride:
    span = override.span
    about = RuleAbout(
        ", ".join(c.text for c in override.citations),
        override.description,
        span.source.name if span else "<unknown>",
        span.line if span else 0,
    )
    lifting = [both(_scope_test(d), _not_false(own_value(d), reads)) for d in lifted]
    trigger = _expr(both(override.condition, either(lifting)))
    clauses = tuple(
        (tuple(text for text, _, _ in requirements(c)), c.condition) for c in override.obligations
    )
    return CompiledOverride(
        override.id.value,
        about,
        override.condition,
        tuple(d.id.value for d in lifted),
        clauses,
        trigger,
    )


def _logic(
    rule: ast.Rule, lifted_by: list[CompiledOverride], carried: list[CompiledOverride]
) -> Lifted:
    """The rule's logic with the overrides' exceptions (a deny) or clauses (an allow)."""
    own = tuple(c.condition for c in rule.obligations)
    added = [(o.id, names, when, o.trigger) for o in carried for names, when in o.obligations]
    conditions = own + tuple(
        trigger if when is None else ast.And((trigger, when)) for _, _, when, trigger in added
    )
    origins: tuple[str | None, ...] = (None,) * len(own) + tuple(o for o, *_ in added)
    logic = RuleLogic(
        rule.condition,
        rule.exceptions + tuple(o.condition for o in lifted_by),
        conditions,
        tuple(o.id for o in lifted_by),
        origins if added else (),
    )
    return logic, tuple(names for _, names, _, _ in added)


def _intersect(hierarchies: Mapping[str, Hierarchy], a: ast.Rule, b: ast.Rule) -> bool:
    """Whether some request is covered by both rules' scopes (their terms share a term below)."""
    for kind, x, y in (
        ("party", a.parties, b.parties),
        ("data", a.data, b.data),
        ("purpose", a.purposes, b.purposes),
    ):
        if x is None or y is None:
            continue
        below = hierarchies[kind].descendants
        under_x = set().union(*(below[n.value] for n in x))
        if not any(under_x & below[n.value] for n in y):
            return False
    return True


def _scope_test(rule: ast.Rule) -> Node:
    """True exactly on the requests the rule's scope names (its excepts are its exceptions)."""
    tests: list[Node] = []
    for kind, names in (("party", rule.parties), ("data", rule.data), ("purpose", rule.purposes)):
        if names is not None:
            items = tuple(ast.NameRef(n.value) for n in names)
            tests.append(ast.Member(ast.RequestRef(kind), ast.ListLiteral(items)))  # type: ignore[arg-type]
    return both(*tests)


# ---- "not false" and "true", as conditions that are never unknown ---------------------------


Gaps = Mapping[tuple[str, str], tuple[str, ...]]
"""(kind, attribute) → the terms of that kind without a value of the attribute (where
``party.location`` or ``recipient.location`` is unknown)."""

Reads = tuple[set[str], str | None, Gaps]
"""The keys without a default, the key ``now`` reads (None: none is declared), and the terms
without a value of each attribute."""


def _attribute_gaps(checked: CheckedPolicy) -> dict[tuple[str, str], tuple[str, ...]]:
    """See :data:`Gaps`."""
    return {
        (kind, name): tuple(t for t in checked.hierarchies[kind].ordered if t not in a.values)
        for (kind, name), a in checked.attributes.items()
    }


def _gap(node: ast.AnyAttributeRef, gaps: Gaps) -> Node:
    """A condition true exactly when the term ``node`` reads is one of those without a value of
    the attribute (``party = t``, ``recipient = t``: exact, never through the hierarchy; unknown
    only where the key naming the term is missing); False when every term has one."""
    subject: ast.Operand = (
        ast.NameRef(node.key)
        if isinstance(node, ast.KeyAttributeRef)
        else ast.RequestRef(node.kind)
    )
    return either([ast.Compare("=", subject, ast.NameRef(t)) for t in gaps[(node.kind, node.name)]])


def _not_false(expr: ast.Expr | None, reads: Reads) -> Node:
    """A condition that is true where ``expr`` is true or unknown, false where it is false."""
    return True if expr is None else _certain(expr, reads, want_true=False)


def _certain(expr: ast.Expr, reads: Reads, *, want_true: bool) -> Node:
    """``want_true``: true exactly where ``expr`` is true; else true exactly where it is not
    false. Both are never unknown."""
    if isinstance(expr, ast.NamedCondition):
        return _certain(expr.body, reads, want_true=want_true)  # its value is its body's
    if isinstance(expr, ast.Not):
        return negation(_certain(expr.operand, reads, want_true=not want_true))
    if isinstance(expr, ast.And | ast.Or):
        parts = [_certain(e, reads, want_true=want_true) for e in expr.operands]
        return both(*parts) if isinstance(expr, ast.And) else either(parts)
    keys, now_key, gaps = reads
    read = _keys_read(expr, keys, now_key)
    # A test of an attribute is unknown where the term it reads has no value of it.
    unknown = [_gap(a, gaps) for a in _attributes_read(expr)]
    unknown = [u for u in unknown if u is not False]
    if not read and not unknown:
        return expr  # a test that reads no key without a default is never unknown
    if want_true:
        known = [negation(u) for u in unknown]
        return both(*(ast.Presence(ast.Name(k), True) for k in read), *known, expr)
    return either([*(ast.Presence(ast.Name(k), False) for k in read), *unknown, expr])


def _attributes_read(test: ast.Expr) -> list[ast.AnyAttributeRef]:
    """The attributes of terms a test reads (``party.location``, ``recipient.location``, moved
    dates included; never those whose presence it tests: that is never unknown)."""
    if not isinstance(test, ast.Compare | ast.Member | ast.Truth):
        return []
    nodes = (test.operand,) if isinstance(test, ast.Truth) else (test.left, test.right)
    found = []
    for node in nodes:
        while isinstance(node, ast.Shifted):
            node = node.base
        if isinstance(node, ast.AttributeRef | ast.KeyAttributeRef):
            found.append(node)
    return found


def _keys_read(test: ast.Expr, keys: set[str], now_key: str | None) -> list[str]:
    """The keys among ``keys`` (those without a default) that a test reads, sorted: the names
    its operands read (a moved date's base, a list's items) and the key ``now`` reads."""
    if isinstance(test, ast.Presence | ast.AttributePresence):
        return []
    nodes: Iterable[ast.Operand] = (
        (test.operand,) if isinstance(test, ast.Truth) else (test.left, test.right)  # type: ignore[union-attr]
    )
    found: set[str] = set()
    for node in nodes:
        for read in names_read(node):
            name = now_key if isinstance(read, ast.Now) else read.name
            if name is not None and name in keys:
                found.add(name)
    return sorted(found)


def _expr(node: Node) -> ast.Expr:
    return ast.Truth(ast.Literal_(node)) if isinstance(node, bool) else node
