"""Semantic diff: the exact set of requests whose decision or obligations change between two
versions of a policy, grouped so a person can read it.

Both versions are compared over one request space (the union of the constants both compare with),
on the terms both declare. In each cell the changed contexts are described by a small condition
over the rules' own tests ("when `channel in opted_out_channels`"); cells that change the same way
are collapsed to the highest terms of each hierarchy that cover them.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from ..engine.compiler import (
    CellPlan,
    CompiledPolicy,
    CompiledRule,
    Condition,
    Context,
    compile_condition,
)
from ..engine.evaluator import outcome_of
from ..engine.policy import Policy
from ..language import ast
from ..language.errors import Diagnostic, PolicyError
from ..language.files import read_sources
from ..language.printer import expr_text, literal_text
from ..language.source import Source
from .findings import KINDS, collapse_exact
from .space import ContextClass, RequestSpace, expressions_of

ChangeKind = Literal["widened", "narrowed", "obligations"]
MAX_ATOMS_FOR_MINIMISING = 16


# ---- reading a version ----------------------------------------------------------------------


def read_version(spec: str) -> list[Source]:
    """A path, or ``git:REV:path`` read from the repository without touching the work tree."""
    if not spec.startswith("git:"):
        return read_sources(spec)
    try:
        _, rev, path = spec.split(":", 2)
    except ValueError:
        raise PolicyError(
            [Diagnostic("bad-git-spec", f"`{spec}` is not of the form `git:REV:path`")]
        ) from None
    listing = _git("ls-tree", "-r", "--full-name", "--name-only", rev, "--", path or ".")
    files = [f for f in listing.splitlines() if f.endswith(".policy")]
    if not files:
        raise PolicyError(
            [Diagnostic("no-policy-files", f"no `.policy` files at `{path}` in revision `{rev}`")]
        )
    return [Source(f"{rev}:{f}", _git("show", f"{rev}:{f}")) for f in sorted(files)]


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=False, cwd=os.getcwd()
        )
    except FileNotFoundError:
        raise PolicyError([Diagnostic("no-git", "`git` is not installed")]) from None
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        raise PolicyError([Diagnostic("git-failed", f"git {args[0]}: {message}")])
    return done.stdout


# ---- the result -----------------------------------------------------------------------------


class ChangeGroup(BaseModel):
    kind: ChangeKind
    parties: list[str]
    data: list[str]
    purposes: list[str]
    exact: list[str]
    """Terms in the lists above that stand only for themselves, not for the terms below them."""
    when: str
    """The contexts in which the decision changes, in words."""
    before: str
    after: str
    old_rules: list[str]
    new_rules: list[str]
    old_obligations: list[str]
    new_obligations: list[str]
    requests: int
    """How many (cell, context class) requests of the space this group stands for."""
    example: dict[str, object]
    """One concrete request that changes: party, data, purpose and context."""


class DiffReport(BaseModel):
    old: str
    new: str
    old_version: str
    new_version: str
    groups: list[ChangeGroup]
    terms_added: dict[str, list[str]]
    terms_removed: dict[str, list[str]]
    context_changes: list[str] = []
    """Changes to the context keys callers send: added, removed, retyped, a new default, the
    consent ledger's mark (which key the decision service fills). A removed key makes every
    request that still sends it an error."""
    requests_compared: int
    requests_changed: int

    def kinds(self) -> set[str]:
        return {g.kind for g in self.groups}


Side = tuple[str, tuple[str, ...], tuple[str, ...]]
"""(effect, obligations, deciding rule ids)"""
ChangeKey = tuple[ChangeKind, Side, Side]


@dataclass
class _CellChange:
    cell: tuple[str, str, str]
    key: ChangeKey
    when: str
    count: int
    example: ContextClass


# ---- computing it ---------------------------------------------------------------------------


def diff_policies(
    old: Policy, new: Policy, old_name: str = "OLD", new_name: str = "NEW"
) -> DiffReport:
    a, b = old.compiled, new.compiled
    space = RequestSpace([a, b])
    shared = {k: sorted(set(a.hierarchies[k].terms) & set(b.hierarchies[k].terms)) for k in KINDS}
    added = {
        k: sorted(set(b.hierarchies[k].terms) - set(a.hierarchies[k].terms))
        for k in (*KINDS, "obligation")
    }
    removed = {
        k: sorted(set(a.hierarchies[k].terms) - set(b.hierarchies[k].terms))
        for k in (*KINDS, "obligation")
    }
    atoms = _AtomCache(a, b)
    changes: list[_CellChange] = []
    compared = 0
    # Cells that neither version's rules can tell apart change the same way: work them out once.
    memo: dict[tuple[object, ...], tuple[int, list[tuple[ChangeKey, str, int, ContextClass]]]] = {}
    for party, data, purpose in itertools.product(*(shared[k] for k in KINDS)):
        cell = (party, data, purpose)
        plan_a, plan_b = a.cell(cell), b.cell(cell)
        rules_a, rules_b = plan_a.denies + plan_a.allows, plan_b.denies + plan_b.allows
        if not rules_a and not rules_b:
            compared += 1
            continue
        signature = (space.signature(cell, rules_a), space.signature(cell, rules_b))
        found = memo.get(signature)
        if found is None:
            found = _cell_changes(a, b, space, atoms, cell, plan_a, plan_b)
            memo[signature] = found
        count, cell_changes = found
        compared += count
        changes += [_CellChange(cell, k, w, n, e) for k, w, n, e in cell_changes]
    groups = _group(changes, b)
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
    return out


def _declared(decl: ast.ContextDecl) -> str:
    text = decl.type.describe()
    if decl.source == "consent ledger":
        text += ", filled from the consent ledger by the service"
    if decl.default is not None:
        text += f", default {_default_text(decl)}"
    return text


def _default_text(decl: ast.ContextDecl) -> str:
    return "none" if decl.default is None else literal_text(decl.default.value)


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


def _defaults(policy: CompiledPolicy, keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in policy.default_values.items() if k in keys}


def _cell_changes(
    a: CompiledPolicy,
    b: CompiledPolicy,
    space: RequestSpace,
    atoms: _AtomCache,
    cell: tuple[str, str, str],
    plan_a: CellPlan,
    plan_b: CellPlan,
) -> tuple[int, list[tuple[ChangeKey, str, int, ContextClass]]]:
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
        after = _version_outcome(b, cell, plan_b, ctx_b, fast_ok)
        if before[:2] == after[:2]:
            unchanged.append(klass)
            continue
        kind: ChangeKind = (
            "obligations"
            if before[0] == after[0]
            else ("widened" if after[0] == "allow" else "narrowed")
        )
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
        found.append((key, when, len(members), members[0]))
    return len(classes), found


def _group(changes: list[_CellChange], policy: CompiledPolicy) -> list[ChangeGroup]:
    """Collapse cells that change the same way to the highest covering terms, one dimension at a
    time (parties, then data, then purposes)."""
    h = policy.hierarchies
    by_change: dict[tuple[ChangeKey, str], list[_CellChange]] = defaultdict(list)
    for change in changes:
        by_change[(change.key, change.when)].append(change)
    groups: list[ChangeGroup] = []
    for (key, when), members in by_change.items():
        kind, before, after = key
        parties_of: dict[tuple[str, str], set[str]] = defaultdict(set)
        for m in members:
            parties_of[(m.cell[1], m.cell[2])].add(m.cell[0])
        Collapsed = tuple[tuple[str, ...], tuple[str, ...]]
        data_of: dict[tuple[Collapsed, str], set[str]] = defaultdict(set)
        for (data, purpose), parties in parties_of.items():
            whole, only = collapse_exact(h["party"], parties)
            data_of[((tuple(whole), tuple(only)), purpose)].add(data)
        purposes_of: dict[tuple[Collapsed, Collapsed], set[str]] = defaultdict(set)
        for (parties_c, purpose), datas in data_of.items():
            whole, only = collapse_exact(h["data"], datas)
            purposes_of[(parties_c, (tuple(whole), tuple(only)))].add(purpose)
        for (parties_c, datas_c), purposes in sorted(purposes_of.items()):
            purposes_whole, purposes_only = collapse_exact(h["purpose"], purposes)
            below_p = set(parties_c[1]).union(*(h["party"].descendants[p] for p in parties_c[0]))
            below_d = set(datas_c[1]).union(*(h["data"].descendants[d] for d in datas_c[0]))
            inside = [
                m
                for m in members
                if m.cell[2] in purposes and m.cell[1] in below_d and m.cell[0] in below_p
            ]
            first = min(inside, key=lambda m: m.cell)
            groups.append(
                ChangeGroup(
                    kind=kind,
                    parties=sorted(parties_c[0] + parties_c[1]),
                    data=sorted(datas_c[0] + datas_c[1]),
                    purposes=sorted(purposes_whole + purposes_only),
                    exact=sorted(parties_c[1] + datas_c[1] + tuple(purposes_only)),
                    when=when,
                    before=before[0],
                    after=after[0],
                    old_rules=list(before[2]),
                    new_rules=list(after[2]),
                    old_obligations=list(before[1]),
                    new_obligations=list(after[1]),
                    requests=sum(m.count for m in inside),
                    example={
                        "party": first.cell[0],
                        "data": first.cell[1],
                        "purpose": first.cell[2],
                        "context": first.example.request_context(),
                    },
                )
            )
    order = {"widened": 0, "narrowed": 1, "obligations": 2}
    groups.sort(key=lambda g: (order[g.kind], g.parties, g.data, g.purposes, g.when))
    return groups


# ---- describing the changed contexts --------------------------------------------------------


def _atoms_of(expr: ast.Expr) -> Iterable[ast.Expr]:
    if isinstance(expr, ast.And | ast.Or):
        for operand in expr.operands:
            yield from _atoms_of(operand)
    elif isinstance(expr, ast.Not):
        yield from _atoms_of(expr.operand)
    else:
        yield expr


_NEGATED_OP = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _negated_text(atom: ast.Expr) -> str:
    """The atom's negation written the way a person would."""
    if isinstance(atom, ast.Presence):
        return expr_text(ast.Presence(atom.key, not atom.known))
    if isinstance(atom, ast.Compare):
        return expr_text(ast.Compare(_NEGATED_OP[atom.op], atom.left, atom.right))  # type: ignore[arg-type]
    if isinstance(atom, ast.Member):
        return expr_text(ast.Member(atom.left, atom.right, not atom.negated))
    return f"not {expr_text(atom)}"


@dataclass(frozen=True)
class _Atom:
    text: str
    negated: str
    test: Condition


class _AtomCache:
    """The leaf tests of both versions' rules, compiled once, for describing changes."""

    def __init__(self, a: CompiledPolicy, b: CompiledPolicy) -> None:
        self.compiled: dict[str, _Atom] = {}
        self.a, self.b = a, b

    def atoms(self, rules: Sequence[CompiledRule], with_obligations: bool) -> list[_Atom]:
        found: dict[str, _Atom] = {}
        for rule in rules:
            owner = self.a if rule in self.a.rules else self.b
            source = rule.source
            exprs = ([source.condition] if source.condition else []) + list(source.exceptions)
            if with_obligations:
                exprs = expressions_of(source)
            for expr in exprs:
                for atom in _atoms_of(expr):
                    text = expr_text(atom)
                    if text not in found:
                        cached = self.compiled.get(text)
                        if cached is None:
                            test = compile_condition(owner, atom)
                            cached = _Atom(text, _negated_text(atom), test)
                            self.compiled[text] = cached
                        found[text] = cached
        return [found[t] for t in sorted(found)]

    def describe(
        self,
        cell: tuple[str, str, str],
        rules: Sequence[CompiledRule],
        changed: list[ContextClass],
        others: list[ContextClass],
        *,
        with_obligations: bool,
    ) -> str:
        if not others:
            return "in every context"
        every = self.atoms(rules, with_obligations)

        def vector(klass: ContextClass, atoms: list[_Atom]) -> tuple[bool | None, ...]:
            ctx = klass.evaluator_context()
            return tuple(atom.test(ctx, cell) for atom in atoms)

        # Atoms whose value is the same in every context of this cell say nothing here.
        all_vectors = [vector(k, every) for k in changed + others]
        varying = [i for i in range(len(every)) if len({v[i] for v in all_vectors}) > 1]
        atoms = [every[i] for i in varying]
        if not atoms or len(atoms) > MAX_ATOMS_FOR_MINIMISING:
            shown = " or ".join(f"({c.describe()})" for c in changed[:3])
            more = f" or {len(changed) - 3} more" if len(changed) > 3 else ""
            return f"when {shown}{more}"
        on = {vector(c, atoms) for c in changed}
        off = {vector(c, atoms) for c in others}
        cubes = _minimise(on, off, len(atoms))
        return "when " + " or ".join(
            " and ".join(_literal(atoms[i], allowed) for i, allowed in cube) or "always"
            for cube in cubes
        )


def _literal(atom: _Atom, values: frozenset[bool | None]) -> str:
    if values == {True}:
        return f"`{atom.text}`"
    if values == {False}:
        return f"`{atom.negated}`"
    if values == {None}:
        return f"`{atom.text}` is unknown"
    if values == {False, None}:
        return f"`{atom.text}` is false or unknown"
    return f"`{atom.text}` is true or unknown"


Vector = tuple[bool | None, ...]
Cube = tuple[tuple[int, frozenset[bool | None]], ...]
_RANK = {None: 0, False: 1, True: 2}


def _matches(cube: Cube, vec: Vector) -> bool:
    return all(vec[i] in allowed for i, allowed in cube)


def _minimise(on: set[Vector], off: set[Vector], width: int) -> list[Cube]:
    """A small set of cubes covering every ``on`` vector and no ``off`` vector. A cube constrains
    some atoms to one or two of their three values; vectors never seen are don't-cares. Greedy:
    widen each ``on`` vector while it stays clear of ``off``, then cover greedily."""
    candidates: set[Cube] = set()
    for vec in sorted(on, key=lambda v: tuple(_RANK[x] for x in v)):
        cube: list[tuple[int, frozenset[bool | None]]] = [
            (i, frozenset([vec[i]])) for i in range(width)
        ]
        for i in range(width):
            dropped = [lit for lit in cube if lit[0] != i]
            if not any(_matches(tuple(dropped), o) for o in off):
                cube = dropped
                continue
            for extra in (True, False, None):
                widened = [(j, a | {extra}) if j == i else (j, a) for j, a in cube]
                if not any(_matches(tuple(widened), o) for o in off):
                    cube = widened
                    break
        candidates.add(tuple(cube))
    remaining = set(on)
    chosen: list[Cube] = []
    ordered = sorted(candidates, key=_cube_order)
    while remaining:
        best = max(ordered, key=lambda c: (sum(_matches(c, v) for v in remaining), -len(c)))
        chosen.append(best)
        remaining = {v for v in remaining if not _matches(best, v)}
    return sorted(chosen, key=lambda c: (len(c), _cube_order(c)))


def _cube_order(cube: Cube) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """A total order on cubes (None, False and True do not compare with ``<``)."""
    return tuple((i, tuple(sorted(_RANK[v] for v in allowed))) for i, allowed in cube)


# ---- text, markdown -------------------------------------------------------------------------

_HEADINGS = {
    "widened": "Widened (deny → allow)",
    "narrowed": "Narrowed (allow → deny)",
    "obligations": "Obligations changed",
}


def _terms(terms: list[str], exact: Iterable[str] = ()) -> str:
    only = set(exact)
    return ", ".join(f"`{t}` itself" if t in only else f"`{t}`" for t in terms)


def _side(effect: str, rules: list[str], obligations: list[str]) -> str:
    by = f" by {_terms(rules)}" if rules else (" (no rule grants it)" if effect == "deny" else "")
    with_ = f" with {_terms(obligations)}" if obligations else ""
    return f"{effect}{by}{with_}"


def render_text(report: DiffReport) -> str:
    out = [f"policy diff {report.old} → {report.new}"]
    for kind, terms in (("added", report.terms_added), ("removed", report.terms_removed)):
        for k, names in terms.items():
            out.append(f"{ast.KIND_WORDS[k]} terms {kind}: {_terms(names)}")
    out += report.context_changes
    if not report.groups:
        out.append("no decision changes")
    for kind in ("widened", "narrowed", "obligations"):
        groups = [g for g in report.groups if g.kind == kind]
        if not groups:
            continue
        out.append("")
        out.append(f"{_HEADINGS[kind]}: {len(groups)} group{'s' * (len(groups) != 1)}")
        for g in groups:
            out.append(
                f"  {_terms(g.parties, g.exact)} using {_terms(g.data, g.exact)} "
                f"for {_terms(g.purposes, g.exact)} {g.when}"
            )
            out.append(
                f"    before: {_side(g.before, g.old_rules, g.old_obligations)}; "
                f"after: {_side(g.after, g.new_rules, g.new_obligations)}"
            )
    out.append("")
    out.append(
        f"{report.requests_changed} of {report.requests_compared} requests change "
        "(each request stands for a class of contexts)"
    )
    return "\n".join(out)


def render_markdown(report: DiffReport) -> str:
    out = [f"### Policy diff: `{report.old}` → `{report.new}`", ""]
    if not (report.groups or report.terms_added or report.terms_removed or report.context_changes):
        out.append("No decision changes.")
    for kind, terms in (("added", report.terms_added), ("removed", report.terms_removed)):
        for k, names in terms.items():
            out.append(f"- {ast.KIND_WORDS[k]} terms {kind}: {_terms(names)}")
    out += [f"- {line}" for line in report.context_changes]
    for kind in ("widened", "narrowed", "obligations"):
        groups = [g for g in report.groups if g.kind == kind]
        if not groups:
            continue
        out += ["", f"#### {_HEADINGS[kind]}", ""]
        out.append("| who | data | purpose | when | before | after |")
        out.append("|---|---|---|---|---|---|")
        for g in groups:
            cells = [
                _terms(g.parties, g.exact),
                _terms(g.data, g.exact),
                _terms(g.purposes, g.exact),
                g.when,
                _side(g.before, g.old_rules, g.old_obligations),
                _side(g.after, g.new_rules, g.new_obligations),
            ]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    out += [
        "",
        f"{report.requests_changed} of {report.requests_compared} requests change. "
        f"Versions `{report.old_version[:12]}` → `{report.new_version[:12]}`.",
    ]
    return "\n".join(out)


def load_version(spec: str) -> Policy:
    return Policy(read_version(spec))
