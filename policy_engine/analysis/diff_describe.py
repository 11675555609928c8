"""Describing the contexts in which a cell's decision changes: a small condition over the rules'
own leaf tests ("when `channel in opted_out_channels`"), found by minimising a cover of the
changed contexts' three-valued test vectors that leaves out every unchanged context."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..engine.compiler import CompiledPolicy, CompiledRule, Condition, compile_condition
from ..language import ast
from ..language.printer import expr_text
from .budget import Meter
from .conditions import attributes_in, attributes_read, keys_of
from .context_classes import ContextClass
from .diff_attributes import differs_here, keyed_differ, reads_differing, valued_here

MAX_ATOMS_FOR_MINIMISING = 16

MAX_MINIMISING_WORK = 20_000_000
"""Vector comparisons the minimiser may make in one diff (for each change, changed x unchanged
vectors x atoms squared, its worst case); past it a change is described by its first classes and
the number of the others (the change itself, its cells and its count stay exact; only its
description is abbreviated). Eight rules over eight booleans in one cell took the minimiser over
five minutes."""


def _atoms_of(expr: ast.Expr, opened: Callable[[ast.NamedCondition], bool]) -> Iterable[ast.Expr]:
    """The tests of a condition, a named condition one test unless ``opened`` (then its parts)."""
    if isinstance(expr, ast.And | ast.Or):
        for operand in expr.operands:
            yield from _atoms_of(operand, opened)
    elif isinstance(expr, ast.Not):
        yield from _atoms_of(expr.operand, opened)
    elif isinstance(expr, ast.NamedCondition) and opened(expr):
        yield from _atoms_of(expr.body, opened)
    else:
        yield expr


_NEGATED_OP = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _negated_text(atom: ast.Expr) -> str:
    """The atom's negation written the way a person would."""
    if isinstance(atom, ast.Presence):
        return expr_text(ast.Presence(atom.key, not atom.known))
    if isinstance(atom, ast.AttributePresence):
        return expr_text(ast.AttributePresence(atom.attribute, not atom.known))
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
    keys: frozenset[str]
    """The context keys it reads (none: its value is the same in every context of a cell)."""


class AtomCache:
    """The leaf tests of both versions' rules, compiled once, for describing changes."""

    def __init__(
        self, a: CompiledPolicy, b: CompiledPolicy, meter: Meter, held: Iterable[str] = ()
    ) -> None:
        self.compiled: dict[tuple[str, int], _Atom] = {}
        self.a, self.b = a, b
        self.meter = meter
        self.held = frozenset(held)
        """Keys every request holds at one value: an atom reading only them is constant."""
        self.work_left = MAX_MINIMISING_WORK
        self._kept: tuple[object, dict[int, tuple[bool | None, ...]]] = (None, {})

    def atoms(
        self, cell: tuple[str, str, str], rules: Sequence[CompiledRule], with_obligations: bool
    ) -> list[_Atom]:
        """The tests of the rules' conditions in the cell, by their text. A test of an attribute
        the versions give the cell's term differently is each version's own, written with its
        value (:func:`~.diff_attributes.valued_here`), and a named condition that reads one is
        opened into its parts: one text never stands for two different tests."""
        found: dict[str, _Atom] = {}
        a, b = self.a, self.b
        differing: set[tuple[str, str]] = {
            (n.kind, n.name)
            for r in rules
            for n in attributes_read(r.logic.expressions())
            if differs_here(a, b, cell, n)
        }

        def opened(named: ast.NamedCondition) -> bool:
            return bool(differing) and reads_differing(a, b, cell, named)

        for rule in rules:
            owner = a if rule in a.rules else b
            logic = rule.logic
            exprs = ([logic.condition] if logic.condition else []) + list(logic.exceptions)
            if with_obligations:
                exprs = logic.expressions()
            for expr in exprs:
                for atom in _atoms_of(expr, opened):
                    if differing:
                        atom = valued_here(owner, cell, atom, differing)
                    text = expr_text(atom)
                    if text not in found:
                        found[text] = self._atom(owner, atom, text)
        return [found[t] for t in sorted(found)]

    def _atom(self, owner: CompiledPolicy, atom: ast.Expr, text: str) -> _Atom:
        """The test compiled once (in its version when it reads an attribute: its value is the
        version's)."""
        key = (text, id(owner) if any(attributes_in([atom])) else 0)
        cached = self.compiled.get(key)
        if cached is None:
            test = compile_condition(owner, atom)
            keys = frozenset(keys_of(atom, owner.context, owner.now_key))
            cached = self.compiled[key] = _Atom(text, _negated_text(atom), test, keys)
        return cached

    def _vectors(
        self, cell: tuple[str, str, str], atoms: list[_Atom]
    ) -> dict[int, tuple[bool | None, ...]]:
        """The atoms' values on each class of one cell (by the class's id), kept while the
        cell's changes are described (one cell often has several): the classes live as long."""
        key = (cell, tuple(a.text for a in atoms))
        if self._kept[0] != key:
            self._kept = (key, {})
        return self._kept[1]

    def describe(
        self,
        cell: tuple[str, str, str],
        rules: Sequence[CompiledRule],
        changed: list[ContextClass],
        others: list[ContextClass],
        *,
        with_obligations: bool,
    ) -> str:
        self.meter.check_clock()
        if not others:
            return "in every context"
        # An atom that reads no key a request of the cell may vary has one value in them all:
        # it says nothing here (and is not worth evaluating on every class). The values of all
        # the atoms, those of obligation conditions too, are kept for the cell's other changes.
        every = [a for a in self.atoms(cell, rules, True) if not a.keys <= self.held]
        wanted = {a.text for a in self.atoms(cell, rules, with_obligations)}
        vectors = self._vectors(cell, every)

        def vector(klass: ContextClass) -> tuple[bool | None, ...]:
            found = vectors.get(id(klass))
            if found is None:
                ctx = klass.evaluator_context()
                found = vectors[id(klass)] = tuple(atom.test(ctx, cell) for atom in every)
            return found

        # Atoms whose value is the same in every context of this cell say nothing here.
        all_vectors = [vector(k) for k in changed + others]
        varying = [
            i
            for i in range(len(every))
            if every[i].text in wanted and len({v[i] for v in all_vectors}) > 1
        ]
        atoms = [every[i] for i in varying]
        on = {tuple(v[i] for i in varying) for v in all_vectors[: len(changed)]}
        off = {tuple(v[i] for i in varying) for v in all_vectors[len(changed) :]}
        work = len(on) * len(off) * len(atoms) ** 2
        # A key's term's attribute the versions give differently reads differently in each: no
        # one text says both, so the change is said by its classes (exact, never a guess).
        by_classes = keyed_differ(self.a, self.b, rules)
        if (
            by_classes
            or not atoms
            or len(atoms) > MAX_ATOMS_FOR_MINIMISING
            or work > self.work_left
        ):
            shown = " or ".join(f"({c.describe()})" for c in changed[:3])
            more = f" or {len(changed) - 3} more" if len(changed) > 3 else ""
            return f"when {shown}{more}"
        self.work_left -= work
        cubes = _minimise(on, off, len(atoms))
        terms = [[_literal(atoms[i], allowed) for i, allowed in cube] for cube in cubes]
        return "when " + condition_text(terms)


def condition_text(cubes: list[list[str]]) -> str:
    """A disjunction of conjunctions for people: the tests every alternative shares pulled out
    in front, each alternative of several tests in parentheses.

    ``[[a, b], [a, c]]`` reads ``a and (b or c)``; ``[[a, b], [c]]`` reads ``(a and b) or c``.
    """
    if not cubes or any(not cube for cube in cubes):
        return "always"
    if len(cubes) == 1:
        return " and ".join(cubes[0])
    shared = [term for term in cubes[0] if all(term in cube for cube in cubes[1:])]
    rests = [[term for term in cube if term not in shared] for cube in cubes]
    if shared and all(rests):
        return " and ".join(shared) + " and (" + _alternatives(rests) + ")"
    return _alternatives(cubes)


def _alternatives(cubes: list[list[str]]) -> str:
    return " or ".join(f"({' and '.join(c)})" if len(c) > 1 else c[0] for c in cubes)


def _literal(atom: _Atom, values: frozenset[bool | None]) -> str:
    if values == {True}:
        return f"`{atom.text}`"
    if values == {False}:
        return f"`{atom.negated}`"
    if values == {None}:
        return f"`{atom.text}` is unknown"
    if values == {False, None}:
        return f"`{atom.text}` is false or unknown"
    if values == {True, False}:
        return f"`{atom.text}` is true or false"
    return f"`{atom.text}` is true or unknown"


Vector = tuple[bool | None, ...]
Cube = tuple[tuple[int, frozenset[bool | None]], ...]
_RANK = {None: 0, False: 1, True: 2}


def _matches(cube: Cube, vec: Vector) -> bool:
    return all(vec[i] in allowed for i, allowed in cube)


def _widest_cube(vec: Vector, off: set[Vector], width: int) -> Cube:
    """Widen one ``on`` vector, an atom at a time, while it stays clear of every ``off`` vector:
    drop the atom if it can, else allow it one more value if it can.

    Each ``off`` vector is kept with the atoms where it fails the cube: the cube is clear of it
    while that set is not empty, so an atom can go (or take a value) unless some vector fails
    the cube there alone (with that value)."""
    allowed = [frozenset([vec[i]]) for i in range(width)]
    if vec in off:  # nothing can widen a cube that is not clear to start with
        return tuple((i, allowed[i]) for i in range(width))
    kept = list(range(width))
    failing = [(o, {j for j in range(width) if o[j] != vec[j]}) for o in off]
    for i in range(width):
        alone = [o for o, fails in failing if fails == {i}]
        if not alone:
            kept.remove(i)
            for _, fails in failing:
                fails.discard(i)
            continue
        for extra in (True, False, None):
            if extra in allowed[i]:
                break  # the cube as it is: already clear
            if all(o[i] != extra for o in alone):
                allowed[i] = allowed[i] | {extra}
                for o, fails in failing:
                    if o[i] == extra:
                        fails.discard(i)
                break
    return tuple((i, allowed[i]) for i in kept)


def _minimise(on: set[Vector], off: set[Vector], width: int) -> list[Cube]:
    """A small set of cubes covering every ``on`` vector and no ``off`` vector. A cube constrains
    some atoms to one or two of their three values; vectors never seen are don't-cares. Greedy:
    widen each ``on`` vector while it stays clear of ``off``, then cover greedily."""
    candidates: set[Cube] = set()
    for vec in sorted(on, key=lambda v: tuple(_RANK[x] for x in v)):
        candidates.add(_widest_cube(vec, off, width))
    remaining = set(on)
    chosen: list[Cube] = []
    ordered = sorted(candidates, key=_cube_order)
    covers = {c: frozenset(v for v in on if _matches(c, v)) for c in ordered}
    while remaining:
        best = max(ordered, key=lambda c: (len(covers[c] & remaining), -len(c)))
        chosen.append(best)
        remaining -= covers[best]
    return sorted(chosen, key=lambda c: (len(c), _cube_order(c)))


def _cube_order(cube: Cube) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """A total order on cubes (None, False and True do not compare with ``<``)."""
    return tuple((i, tuple(sorted(_RANK[v] for v in allowed))) for i, allowed in cube)
