"""Semantic diff: the exact set of requests whose decision or obligations change between two
versions of a policy, grouped so a person can read it.

Both versions are compared over one request space (the union of the constants both compare with),
on the terms both declare. In each cell the changed contexts are described by a small condition
over the rules' own tests (:mod:`.diff_describe`); cells that change the same way are collapsed to
the highest terms of each hierarchy that cover them (:mod:`.diff_groups`). This module computes
the changes; the report is in :mod:`.diff_report`, its renderings in :mod:`.diff_render`, and
reading a version (a path or a git revision) in :mod:`.versions` (all re-exported here).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..engine.compiler import MISSING, CellPlan, CompiledPolicy, CompiledRule, Context
from ..engine.evaluator import outcome_of
from ..engine.policy import Policy
from ..language import ast
from ..language.printer import operand_text
from .budget import Budget, Meter
from .context_classes import ContextClass
from .diff_attributes import attribute_changes, same_attributes_here
from .diff_describe import AtomCache
from .diff_groups import CellChange, group_changes
from .diff_leaves import LEAF_MODE_MIN_CLASSES, leaf_changes
from .diff_render import render_markdown, render_text
from .diff_report import ChangeGroup, ChangeKey, ChangeKind, DiffReport, Side
from .questions import DIFF, Comparison, outcomes_differ
from .scopes import KINDS
from .search import CellSearch
from .space import RequestSpace
from .versions import load_version, read_version

__all__ = [
    "ChangeGroup",
    "ChangeKind",
    "DiffReport",
    "context_changes",
    "diff_policies",
    "load_version",
    "read_version",
    "render_markdown",
    "render_text",
]


def diff_policies(
    old: Policy,
    new: Policy,
    old_name: str = "OLD",
    new_name: str = "NEW",
    budget: Budget | None = None,
) -> DiffReport:
    """Every request whose decision or obligations differ between two versions. Raises
    :class:`BudgetExceeded` when the budget (by default :meth:`Budget.from_environment`) runs
    out: a diff is exact or it is not given."""
    a, b = old.compiled, new.compiled
    meter = Meter(budget or Budget.from_environment())
    space = RequestSpace([a, b], meter=meter)
    shared = {k: sorted(set(a.hierarchies[k].terms) & set(b.hierarchies[k].terms)) for k in KINDS}
    added, removed = _terms_only_in(b, a), _terms_only_in(a, b)
    same_ground = _same_ground(a, b)
    alike: dict[tuple[int, int], bool] = {}

    def unchanged(
        cell: tuple[str, str, str],
        rules_a: Sequence[CompiledRule],
        rules_b: Sequence[CompiledRule],
    ) -> bool:
        return (
            same_ground
            and _same_rules(rules_a, rules_b, alike)
            and same_attributes_here(a, b, cell, rules_a)
        )

    cells = itertools.product(shared["party"], shared["data"], shared["purpose"])
    compared, changes = compare_cells(space, cells, DIFF, unchanged)
    groups = [_cited(g, a, b) for g in group_changes(changes, b)]
    return DiffReport(
        old=old_name,
        new=new_name,
        old_version=old.version,
        new_version=new.version,
        groups=groups,
        terms_added={k: v for k, v in added.items() if v},
        terms_removed={k: v for k, v in removed.items() if v},
        context_changes=context_changes(a, b),
        requests_compared=compared,
        requests_changed=sum(c.count for c in changes),
    )


def compare_cells(
    space: RequestSpace,
    cells: Iterable[tuple[str, str, str]],
    comparison: Comparison,
    unchanged: Callable[
        [tuple[str, str, str], Sequence[CompiledRule], Sequence[CompiledRule]], bool
    ],
) -> tuple[int, list[CellChange]]:
    """How many requests of ``cells`` were compared between the two policies of ``space``, and
    every change ``comparison`` reports. ``unchanged`` says, from a cell and its candidate rules
    on each side, that the cell cannot change (its classes are then only counted)."""
    a, b = space.policies
    atoms = AtomCache(a, b, space.meter, space.held)
    search = _two_version_search(a, b, space)
    changes: list[CellChange] = []
    compared = 0
    # Cells that neither side's rules can tell apart change the same way: work them out once.
    memo: dict[tuple[object, ...], tuple[int, list[tuple[ChangeKey, str, int, ContextClass]]]] = {}
    for cell in cells:
        plan_a, plan_b = a.cell(cell), b.cell(cell)
        rules_a, rules_b = plan_a.denies + plan_a.allows, plan_b.denies + plan_b.allows
        if not rules_a and not rules_b:
            compared += 1
            continue
        signature = (space.signature(cell, rules_a), space.signature(cell, rules_b))
        found = memo.get(signature)
        if found is None:
            if unchanged(cell, rules_a, rules_b):
                found = (space.class_count(cell, [*rules_a, *rules_b]), [])
            else:
                found = _changes(search, space, atoms, cell, (plan_a, plan_b), comparison)
            memo[signature] = found
        count, cell_changes = found
        compared += count
        changes += [CellChange(cell, k, w, n, e) for k, w, n, e in cell_changes]
    return compared, changes


def context_changes(a: CompiledPolicy, b: CompiledPolicy) -> list[str]:
    """What changed in the context keys from ``a`` to ``b``, a line each, by key."""
    out: list[str] = []
    for name in sorted(a.context.keys() | b.context.keys()):
        old, new = a.context.get(name), b.context.get(name)
        if old is None:
            if new is not None:
                out.append(f"context key `{name}` added: {_declared(new.decl)}")
        elif new is None:
            out.append(f"context key `{name}` removed: requests that send it are now refused")
        else:
            before, after = old.decl, new.decl
            if before.type.describe() != after.type.describe():
                out.append(
                    f"context key `{name}`: {before.type.describe()} → {after.type.describe()}"
                )
            if _default_text(before) != _default_text(after):
                out.append(
                    f"context key `{name}`: default {_default_text(before)} → "
                    f"{_default_text(after)}"
                )
            if before.source != after.source:
                now = "now" if after.source == "consent ledger" else "no longer"
                out.append(
                    f"context key `{name}`: {now} filled from the consent ledger by the service"
                )
    return out + attribute_changes(a, b)


def _declared(decl: ast.ContextDecl) -> str:
    text = decl.type.describe()
    if decl.source == "consent ledger":
        text += ", filled from the consent ledger by the service"
    if decl.default is not None:
        text += f", default {_default_text(decl)}"
    return text


def _default_text(decl: ast.ContextDecl) -> str:
    return "none" if decl.default is None else operand_text(decl.default)


FAST_PATH_MIN_CLASSES = 16
"""Below this many context classes, generating a cell's function costs more than it saves."""


def _version_outcome(
    compiled: CompiledPolicy,
    cell: tuple[str, str, str],
    plan: CellPlan,
    ctx: Context,
    fast_ok: bool,
) -> Side:
    """Effect, obligations and deciding rule ids of one version: from the cell's generated
    function when worth it and every key it reads is there, else three-valued."""
    if not fast_ok:
        return outcome_of(plan, ctx, cell)
    fast = compiled.fast_cell(cell)
    outcome = fast.static if fast.static is not None else fast.function(ctx)  # type: ignore[misc]
    if outcome is None:
        return outcome_of(plan, ctx, cell)
    return outcome.effect, outcome.obligations, tuple(r.id for r in outcome.deciding)


def _cited(group: ChangeGroup, old: CompiledPolicy, new: CompiledPolicy) -> ChangeGroup:
    """The group with the citations of the rules that decide it on each side."""

    def citations(policy: CompiledPolicy, ids: list[str]) -> list[str]:
        cited = {r.id: r.about.citation for r in policy.rules}
        return [cited.get(i, "") for i in ids]

    return group.model_copy(
        update={
            "old_citations": citations(old, group.old_rules),
            "new_citations": citations(new, group.new_rules),
        }
    )


def _terms_only_in(one: CompiledPolicy, other: CompiledPolicy) -> dict[str, list[str]]:
    """The terms (and obligations) ``one`` declares and ``other`` does not, by kind."""
    return {
        k: sorted(set(one.hierarchies[k].terms) - set(other.hierarchies[k].terms))
        for k in (*KINDS, "obligation")
    }


def _same_ground(a: CompiledPolicy, b: CompiledPolicy) -> bool:
    """Whether the two versions read their rules alike: the same context keys, declared alike,
    and the same hierarchies (a rule's ``in`` tests and its scope mean what the links say). The
    terms' attribute values are compared cell by cell (:func:`same_attributes_here`): a value
    changed for one term changes nothing in the cells of the others."""
    if {n: k.decl for n, k in a.context.items()} != {n: k.decl for n, k in b.context.items()}:
        return False
    return all(
        dict(a.hierarchies[k].parent_links) == dict(b.hierarchies[k].parent_links)
        for k in a.hierarchies
    ) and set(a.hierarchies) == set(b.hierarchies)


def _same_rules(
    rules_a: Sequence[CompiledRule],
    rules_b: Sequence[CompiledRule],
    alike: dict[tuple[int, int], bool],
) -> bool:
    """Whether a cell's rules are the same rules, written alike, in both versions: then, on the
    same ground (:func:`_same_ground`), every request of the cell is decided alike, and the
    search that would prove it can be skipped (an edit usually touches a few rules' cells).
    ``alike`` remembers each pair of rules compared."""
    if len(rules_a) != len(rules_b):
        return False
    for x, y in zip(rules_a, rules_b, strict=True):
        pair = (id(x), id(y))
        same = alike.get(pair)
        if same is None:
            # Overrides add to a rule's logic and obligation clauses, not to its text.
            same = alike[pair] = (
                x.id == y.id
                and x.effect == y.effect
                and x.source == y.source
                and x.logic == y.logic
                and [c.names for c in x.obligations] == [c.names for c in y.obligations]
            )
        if not same:
            return False
    return True


def _changes(
    search: CellSearch | None,
    space: RequestSpace,
    atoms: AtomCache,
    cell: tuple[str, str, str],
    plans: tuple[CellPlan, CellPlan],
    comparison: Comparison,
) -> tuple[int, list[tuple[ChangeKey, str, int, ContextClass]]]:
    """One cell's class count and changes. With the search: a cell it proves unchanged is only
    counted, and a changed cell of more than ``LEAF_MODE_MIN_CLASSES`` classes is compared leaf
    by leaf; otherwise class by class."""
    plan_a, plan_b = plans
    rules = [*plan_a.denies, *plan_a.allows, *plan_b.denies, *plan_b.allows]
    if search is not None:
        if search.find(cell, outcomes_differ(plan_a, plan_b, comparison), fewest=False) is None:
            return space.class_count(cell, rules), []
        if space.class_count(cell, rules) > LEAF_MODE_MIN_CLASSES:
            domains = space.rule_domains(cell, rules)
            return leaf_changes(search, domains, cell, plan_a, plan_b, comparison)
    return _cell_changes(space, atoms, cell, plans, comparison)


def _two_version_search(
    a: CompiledPolicy, b: CompiledPolicy, space: RequestSpace
) -> CellSearch | None:
    """A search over both versions' conditions, to prove cells unchanged (a search for a request
    they decide differently that finds none) and to compare large cells leaf by leaf. Only when
    both versions declare the same context keys alike and give the terms their set-of-terms keys
    test the same ancestors; otherwise every cell is enumerated."""
    if space.disputed_defaults or _key_types(a) != _key_types(b):
        return None
    # A term's attribute is a constant of its cells, each version its own: every test is valued
    # in the version it belongs to (`search.own`), with that version's values.
    for key in a.context.values():
        kind = getattr(key.decl.type, "kind", None)
        if kind is not None and not a.hierarchies[kind].same_order(b.hierarchies[kind]):
            return None
    search = CellSearch(a, space, space.meter)
    search.own(b, b.rules)
    return search


def _key_types(policy: CompiledPolicy) -> dict[str, tuple[object, object]]:
    """What a decision reads of each key's declaration: its type and its default (not its
    description, citations or place)."""
    return {name: (key.decl.type, key.decl.default_value) for name, key in policy.context.items()}


def _defaults(policy: CompiledPolicy, keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in policy.default_values.items() if k in keys}


def _sent(klass: ContextClass, defaults: dict[str, Any]) -> int:
    """How many keys a request of the class sends: neither missing nor at their default."""
    return sum(
        1
        for key, value in klass.values
        if value is not MISSING
        and not (key in defaults and value == defaults[key] and type(value) is type(defaults[key]))
    )


def _cell_changes(
    space: RequestSpace,
    atoms: AtomCache,
    cell: tuple[str, str, str],
    plans: tuple[CellPlan, CellPlan],
    comparison: Comparison,
) -> tuple[int, list[tuple[ChangeKey, str, int, ContextClass]]]:
    a, b = space.policies
    plan_a, plan_b = plans
    rules_a, rules_b = plan_a.denies + plan_a.allows, plan_b.denies + plan_b.allows
    classes = space.classes(cell, [*rules_a, *rules_b])
    changed: dict[ChangeKey, list[ContextClass]] = defaultdict(list)
    unchanged: list[ContextClass] = []
    fast_ok = len(classes) >= FAST_PATH_MIN_CLASSES
    # A key the request leaves out takes each version's own default, where the two differ.
    disputed = space.disputed_defaults
    defaults_a, defaults_b = _defaults(a, disputed), _defaults(b, disputed)
    for klass in classes:
        ctx = klass.evaluator_context()
        ctx_a, ctx_b = ctx, ctx
        if disputed:
            ctx_a = {**defaults_a, **ctx}
            ctx_b = {**defaults_b, **ctx}
        before = _version_outcome(a, cell, plan_a, ctx_a, fast_ok)
        kind = None
        if comparison.second_matters((before[0], frozenset(before[1]))):
            after = _version_outcome(b, cell, plan_b, ctx_b, fast_ok)
            kind = comparison.kind(
                (before[0], frozenset(before[1])), (after[0], frozenset(after[1]))
            )
        if kind is None:
            unchanged.append(klass)
            continue
        if kind != "obligations":
            # Which obligations come with the allow is secondary here: keep them out of the
            # grouping so one change reads as one change.
            before = (before[0], (), before[2])
            after = (after[0], (), after[2])
        changed[(kind, before, after)].append(klass)
    found = []
    for key, members in changed.items():
        others = unchanged + [k for other, ks in changed.items() if other != key for k in ks]
        when = atoms.describe(
            cell, [*rules_a, *rules_b], members, others, with_obligations=key[0] == "obligations"
        )
        plainest = min(members, key=lambda k: _sent(k, space.defaults))
        found.append((key, when, len(members), plainest))
    return len(classes), found
