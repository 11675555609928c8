"""What one (party, data, purpose) cell allows, decided over every context with the analysis'
lazy search (docs/analysis.md), never sampled.

A cell is **never** allowed when no allow rule grants in any of its contexts, **always** when no
context of it is denied, and otherwise allowed **under a condition**: the exact condition of
:mod:`.cell_conditions`, built from the rules that take part:

- an allow rule takes part when some request of the cell is granted by it (it is true and every
  deny is false); one that never grants only ever coincides with a refusal, and leaving it out
  of the ``or`` changes no request's truth;
- a deny rule takes part when it is not false in some request where a granting allow rule is
  true; one that is false wherever they are true never refuses anything they would grant;
- a granting allow rule that only ever grants where another one grants too is left out of the
  ``or`` as well (it still attaches its obligations: it is still among the cell's rules).

Both are found by the search and each witness is decided by the evaluator. Every step keeps
the truth of the condition in every context of the cell, so the condition is exact by
construction; with ``prove`` it (and each obligation's) is also checked against the policy by one
more search (once per group of cells, below), for a request where the condition and the decision
disagree (finding none is the proof; the tests always prove).

A group of cells is decided once, and each of its cells gets that verdict with its own rules in
place of the first cell's (:func:`.cell_keys.moved`): the cells whose candidate rules, in the
plan's order, say the same things once each cell has valued what it settles (:mod:`.cell_keys`:
``purpose in consented_purposes`` for any purpose, every test of the data category settled
alike). In a group every search above asks the same questions of conditions that take the same
values on facts that correspond one to one, so it finds a witness for one cell exactly when it
finds one for the other, and the conditions are worded from the same settled rules in the same
order: each step comes out the same, rule for rule, and each verdict is exactly the one its own
search gives (``tests/test_matrix_sharing.py``). PLANISO under Québec's Act has 53,540 cells some
allow rule covers, 16,389 groups of them that the rules' terms tell apart, and 305 keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..analysis.budget import BudgetExceeded, Meter
from ..analysis.conditions import KeyFacts
from ..analysis.override_findings import confirm_lifts, lifted_here, lifts_and_allowed
from ..analysis.scopes import KINDS
from ..analysis.search import CellSearch
from ..analysis.search_values import AnalysisDisagreement
from ..analysis.space import RequestSpace
from ..engine.compiled import requirement_order
from ..engine.compiler import CellPlan, CompiledOverride, CompiledPolicy, CompiledRule
from ..language import ast
from ..language.printer import obligation_name
from . import cell_goals as goals
from .cell_conditions import ConditionMaker, Node, both, either
from .cell_keys import CellKeys, moved
from .verdicts import NEVER, Attached, Cell, CellVerdict


class Candidates:
    """The rules whose scope covers each term, as the compiled policy plans its cells, so that
    the matrix can skip every cell no allow rule covers without planning it."""

    def __init__(self, compiled: CompiledPolicy, space: RequestSpace) -> None:
        self.compiled = compiled
        self.space = space
        self.covering = {kind: self._covering(kind) for kind in KINDS}
        self.allows = frozenset(r.position for r in compiled.rules if r.effect == "allow")
        self._kinds: dict[frozenset[int], frozenset[str]] = {}

    def _covering(self, kind: str) -> dict[str, frozenset[int]]:
        index = KINDS.index(kind)
        named: dict[str, set[int]] = {}
        anything: set[int] = set()
        for rule in self.compiled.rules:
            scope = (rule.parties, rule.data, rule.purposes)[index]
            if scope is None:
                anything.add(rule.position)
            for term in scope or ():
                named.setdefault(term, set()).add(rule.position)
        above = self.compiled.hierarchies[kind].above_among(named)
        return {
            term: frozenset(anything.union(*(named[t] for t in terms)))
            for term, terms in above.items()
        }

    def kinds(self, rules: frozenset[int]) -> frozenset[str]:
        """The request terms that rules (and the keys they read) can tell cells apart by."""
        found = self._kinds.get(rules)
        if found is None:
            kinds: set[str] = set()
            for position in rules:
                keys, read = self.space.reads(self.compiled.rules[position])
                kinds |= read
                for key in keys:
                    kinds |= self.space.facts.get(key, KeyFacts()).request_kinds
            found = self._kinds[rules] = frozenset(kinds)
        return found


class CellJudge:
    """Decides cells of one policy within one budget, each group of cells the rules cannot tell
    apart once."""

    def __init__(self, compiled: CompiledPolicy, meter: Meter, *, prove: bool = False) -> None:
        self.compiled = compiled
        self.prove = prove
        """Also prove each verdict's condition and obligations against the policy (one more
        search per group of cells, often several times the cost of the verdict itself)."""
        self.space = RequestSpace([compiled], meter=meter)
        self.search = CellSearch(compiled, self.space, meter)
        self.maker = ConditionMaker(compiled)
        self.candidates = Candidates(compiled, self.space)
        self._memo: dict[tuple[object, ...], CellVerdict] = {}
        self.keys = CellKeys(compiled)
        self._same: dict[tuple[object, ...], tuple[CellVerdict, tuple[CompiledRule, ...]]] = {}

    def verdicts(
        self, parties: Iterable[str], data: Sequence[str], purposes: Sequence[str]
    ) -> dict[Cell, CellVerdict]:
        """The verdict of every cell of the product that some allow rule covers; every other
        cell is never allowed (default deny)."""
        covering = self.candidates.covering
        allows = self.candidates.allows
        found: dict[Cell, CellVerdict] = {}
        for party in parties:
            by_party = covering["party"][party]
            if not by_party & allows:
                continue
            for datum in data:
                pair = by_party & covering["data"][datum]
                if not pair & allows:
                    continue
                for purpose in purposes:
                    rules = pair & covering["purpose"][purpose]
                    if rules & allows:
                        verdict = self.verdict((party, datum, purpose), rules)
                        if verdict is not NEVER:
                            found[(party, datum, purpose)] = verdict
        return found

    def verdict(self, cell: Cell, rules: frozenset[int]) -> CellVerdict:
        kinds = self.candidates.kinds(rules)
        signature = (
            rules,
            tuple(t if k in kinds else None for k, t in zip(KINDS, cell, strict=True)),
        )
        found = self._memo.get(signature)
        if found is None:
            plan = self.compiled.cell(cell)
            planned = plan.denies + plan.allows
            if {r.position for r in planned} != rules:
                raise AnalysisDisagreement(f"the candidate rules of {cell} are not the engine's")
            found = self._memo[signature] = self._keyed(cell, plan, planned)
        return found

    def _keyed(self, cell: Cell, plan: CellPlan, planned: tuple[CompiledRule, ...]) -> CellVerdict:
        """The cell's verdict: judged, unless a cell with the same key (:mod:`.cell_keys`) was."""
        key = self.keys.key(cell, plan)
        same = self._same.get(key)
        if same is None:
            verdict = self._judged(cell, plan)
            self._same[key] = (verdict, planned)
            return verdict
        return moved(same[0], same[1], planned)

    def _judged(self, cell: Cell, plan: CellPlan) -> CellVerdict:
        try:
            return self.judge(cell, plan)
        except BudgetExceeded as exc:
            where = f"`{cell[0]}` using `{cell[1]}` for `{cell[2]}`"
            raise BudgetExceeded(f"{exc.reason}, while deciding {where}") from None

    # ---- one cell -----------------------------------------------------------------------------
    def judge(self, cell: Cell, plan: CellPlan) -> CellVerdict:
        maker = self.maker
        candidates = [a for a in plan.allows if maker.fold(cell, maker.rule_value(a)) is not False]
        granting = tuple(a for a in candidates if self._grants(cell, plan, a))
        if not granting:
            return NEVER
        obligations = self._obligations(cell, granting)
        lifting = self._lifting(cell, plan)
        witness = self.search.find(cell, goals.refused(plan), fewest=False)
        if witness is None:
            if self.prove:
                self._prove(cell, plan, None, obligations)
            return CellVerdict("always", None, granting, (), obligations, lifting)
        goals.confirm_refused(plan, cell, witness.context)
        denies = [d for d in plan.denies if maker.fold(cell, maker.rule_value(d)) is not False]
        overriding = tuple(d for d in denies if self._overrides(cell, granting, d))
        deciding = self._deciding(cell, plan, granting)
        condition = maker.allows_when(cell, deciding, overriding)
        if isinstance(condition, bool):
            raise AnalysisDisagreement(f"the condition of {cell} settles to {condition}")
        if self.prove:
            self._prove(cell, plan, condition, obligations)
        return CellVerdict("conditional", condition, granting, overriding, obligations, lifting)

    def _grants(self, cell: Cell, plan: CellPlan, rule: CompiledRule) -> bool:
        witness = self.search.find(cell, goals.grants(rule, plan.denies), fewest=False)
        if witness is not None:
            goals.confirm_grants(rule, plan, cell, witness.context)
        return witness is not None

    def _deciding(
        self, cell: Cell, plan: CellPlan, granting: Sequence[CompiledRule]
    ) -> list[CompiledRule]:
        """The granting rules the condition needs: one that only grants where another of them
        grants too adds nothing to the ``or`` (it still attaches its obligations)."""
        kept = list(granting)
        for rule in granting:
            if len(kept) == 1:
                break
            others = [r for r in kept if r is not rule]
            goal = goals.grants_alone(rule, others, plan.denies)
            witness = self.search.find(cell, goal, fewest=False)
            if witness is None:
                kept = others
            else:
                goals.confirm_grants(rule, plan, cell, witness.context)
        return kept

    def _lifting(self, cell: Cell, plan: CellPlan) -> tuple[CompiledOverride, ...]:
        """The overrides some allowed request of the cell owes its allow to: each lifts a deny
        that would otherwise refuse it (a search per override of a deny of the cell)."""
        found = []
        for override in self.compiled.overrides:
            if not lifted_here(override, plan):
                continue
            witness = self.search.find(cell, lifts_and_allowed(override, plan), fewest=False)
            if witness is not None:
                confirm_lifts(self.compiled, override, cell, witness.context, allowed=True)
                found.append(override)
        return tuple(found)

    def _overrides(self, cell: Cell, granting: Sequence[CompiledRule], deny: CompiledRule) -> bool:
        witness = self.search.find(cell, goals.overrides(deny, granting), fewest=False)
        if witness is not None:
            goals.confirm_overrides(deny, granting, cell, witness.context)
        return witness is not None

    def _prove(
        self,
        cell: Cell,
        plan: CellPlan,
        condition: ast.Expr | None,
        obligations: Sequence[Attached],
    ) -> None:
        attached = [(o.name, o.condition) for o in obligations]
        goal = goals.misstated(plan, condition, attached)
        witness = self.search.find(cell, goal, fewest=False)
        if witness is not None:
            raise goals.misstated_on(plan, cell, witness.context)

    def _obligations(self, cell: Cell, granting: Sequence[CompiledRule]) -> tuple[Attached, ...]:
        """Each obligation of the granting rules, with the condition under which an allowed
        request of the cell carries it: the clause's own condition when every granting rule
        attaches it alike, else the rules that attach it and their clauses' conditions; or an
        override's clause, whose condition (it lifts a deny, and the clause's own) every granting
        rule that covers a cell of a deny it lifts carries alike (:mod:`~..engine.overrides`)."""
        maker = self.maker
        carriers: dict[str, list[tuple[CompiledRule, Node]]] = {}
        brought: dict[str, dict[str, list[Node]]] = {}
        for rule in granting:
            clauses: dict[str, list[Node]] = {}
            logic = rule.logic
            for index, when in enumerate(logic.obligation_conditions):
                origin = logic.origin(index)
                for name in rule.obligations[index].names:
                    node: Node = True if when is None else when
                    if origin is None:
                        clauses.setdefault(name, []).append(node)
                    elif node not in (said := brought.setdefault(name, {}).setdefault(origin, [])):
                        said.append(node)
            for name, whens in clauses.items():
                carriers.setdefault(name, []).append((rule, either(whens)))
        found = []
        overrides = {o.id: o for o in self.compiled.overrides}
        forms = self.compiled.obligation_forms
        for name in sorted(
            {*carriers, *brought},
            key=lambda text: requirement_order(*forms.get(text, (obligation_name(text), ()))),
        ):
            carried = carriers.get(name, [])
            own = self._carried_when(cell, granting, carried) if carried else False
            by = brought.get(name, {})
            condition = maker.simplified(
                cell, either([own, *(w for ws in by.values() for w in ws)])
            )
            if condition is not False:
                rules = tuple(r for r, _ in carried)
                _, arguments = self.compiled.obligation_forms.get(name, (name, ()))
                when = None if condition is True else condition
                lifting = tuple(overrides[o] for o in by)
                found.append(Attached(name, when, rules, arguments, lifting))
        return tuple(found)

    def _carried_when(
        self,
        cell: Cell,
        granting: Sequence[CompiledRule],
        carried: list[tuple[CompiledRule, Node]],
    ) -> Node:
        """When an allowed request carries an obligation the rules ``carried`` attach."""
        maker = self.maker
        whens = [maker.simplified(cell, when) for _, when in carried]
        if len(carried) == len(granting) and all(w == whens[0] for w in whens):
            return whens[0]
        each = (both(maker.rule_value(r), w) for (r, _), w in zip(carried, whens, strict=True))
        return maker.simplified(cell, either(each))
