"""What a checked policy's rules and invariants mean once its named conditions and obligation
declarations are taken into account: the trees the compiler and every analysis read.

- a bare name that names a condition (``when outside_quebec``) becomes a
  :class:`~policy_engine.language.ast.NamedCondition` holding the condition it names (itself
  resolved): its value is exactly its body's, and the node keeps the name, citations and
  description for explanations and the matrix;
- each obligation of a ``with obligation`` clause carries its declared condition, and-ed with the
  clause's own (a clause whose obligations are declared with different conditions is split, one
  clause per condition);
- a name that reads an attribute of the term a key names (``recipient.location``, where
  ``recipient`` is declared ``context recipient: party``) becomes a
  :class:`~policy_engine.language.ast.KeyAttributeRef` (:mod:`.term_keys`), and its ``is known``
  an :class:`~policy_engine.language.ast.AttributePresence`;
- each obligation's arguments are complete (declared defaults filled in) and in the order of the
  declaration's parameters, a ``decimal`` parameter's as :class:`~decimal.Decimal` in one form
  (:func:`plain_decimal`), so that equal requirements are equal trees and
  :func:`~policy_engine.language.printer.obligation_text` gives one text for them.

A rule or invariant that uses none of these is returned as it is. The resolver is also how a
policy restored from the compiled cache gives a rule re-parsed from its text the meaning the
checker gave it (:mod:`policy_engine.engine.image`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal

from ..language import ast
from ..language.errors import Diagnostic
from ..language.limits import MAX_NESTING
from .term_keys import KeyAttributes, rewrite_test


def plain_decimal(value: int | Decimal) -> Decimal:
    """A ``decimal`` parameter's argument as the number it is, in one form: ``2``, ``2.0`` and
    ``2.00`` are ``2``, ``0.50`` is ``0.5``, ``-0.0`` is ``0`` (exactly: no digit is rounded)."""
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return Decimal(0) if text in ("0", "-0") else Decimal(text)


def _written(arguments: tuple[tuple[ast.Argument, ...], ...]) -> list[list[str]]:
    return [[str(a.value.value) for a in each] for each in arguments]


def _too_deep(span: object, what: str) -> Diagnostic:
    return Diagnostic(
        "too-deep",
        f"{what}, with the named conditions it uses spelled out, nests more than {MAX_NESTING} "
        "levels deep",
        span,  # type: ignore[arg-type]
        "name fewer levels: a named condition can use others, but not without end",
    )


class Resolver:
    """Resolves the rules and invariants of one policy (see the module's docstring)."""

    def __init__(
        self,
        conditions: Mapping[str, ast.ConditionDecl],
        obligations: Iterable[ast.TermDecl],
        keyed: KeyAttributes | None = None,
    ) -> None:
        self._conditions = conditions
        self._keyed = keyed or None
        """Reads ``recipient.location`` as the attribute of the term the key names."""
        self._obligations = {
            name.value: decl
            for decl in obligations
            if decl.kind == "obligation"
            for name in decl.names
        }
        self._named: dict[str, ast.NamedCondition] = {}
        self._depth: dict[str, int] = {}
        self._declared: dict[int, ast.Expr | None] = {}
        self.problems: list[Diagnostic] = []
        """Conditions too deep once spelled out: the first named condition that is, else each
        condition of a rule or invariant that is."""
        for name in self._dependency_order():
            decl = conditions[name]
            body = self.expr(decl.condition)
            depth = 1 + self.depth(body)
            if depth > MAX_NESTING and not self.problems:
                self.problems.append(_too_deep(decl.name.span, f"named condition `{name}`"))
            self._depth[name] = depth
            self._named[name] = ast.NamedCondition(
                name, body, decl.citations, decl.description, decl.name.span
            )

    def _dependency_order(self) -> list[str]:
        """The named conditions, each after those it uses (an explicit stack: a chain of names
        may be long). The checker has refused cycles."""
        refs = {
            name: [ref.name for ref in condition_references(decl.condition, self._conditions)]
            for name, decl in self._conditions.items()
        }
        order: list[str] = []
        seen: set[str] = set()
        for start in self._conditions:
            if start in seen:
                continue
            seen.add(start)
            stack = [(start, iter(refs[start]))]
            while stack:
                node, pending = stack[-1]
                following = next(pending, None)
                if following is None:
                    stack.pop()
                    order.append(node)
                elif following not in seen:
                    seen.add(following)
                    stack.append((following, iter(refs[following])))
        return order

    # ---- conditions ------------------------------------------------------------------------
    def expr(self, expr: ast.Expr) -> ast.Expr:
        """``expr`` with every use of a named condition resolved (``expr`` itself when none)."""
        if isinstance(expr, ast.And | ast.Or):
            operands = tuple(self.expr(e) for e in expr.operands)
            if all(a is b for a, b in zip(operands, expr.operands, strict=True)):
                return expr
            return type(expr)(operands, expr.span)
        if isinstance(expr, ast.Not):
            operand = self.expr(expr.operand)
            return expr if operand is expr.operand else ast.Not(operand, expr.span)
        if (
            isinstance(expr, ast.Truth)
            and isinstance(expr.operand, ast.NameRef)
            and expr.operand.name in self._conditions
        ):
            return self._named[expr.operand.name]
        if self._keyed is not None:
            return rewrite_test(expr, self._keyed)
        return expr

    def depth(self, expr: ast.Expr) -> int:
        """How deeply ``expr`` nests, each named condition counted with its body."""
        if isinstance(expr, ast.And | ast.Or):
            return 1 + max(self.depth(e) for e in expr.operands)
        if isinstance(expr, ast.Not):
            return 1 + self.depth(expr.operand)
        if isinstance(expr, ast.NamedCondition):
            return self._depth[expr.name]
        return 0

    def _checked(self, expr: ast.Expr | None) -> ast.Expr | None:
        if expr is None:
            return None
        resolved = self.expr(expr)
        if resolved is not expr and not self.problems and self.depth(resolved) > MAX_NESTING:
            self.problems.append(_too_deep(expr.span, "this condition"))
        return resolved

    def _exception(self, expr: ast.Expr) -> ast.Expr:
        resolved = self._checked(expr)
        assert resolved is not None
        return resolved

    # ---- obligations -----------------------------------------------------------------------
    def declared(self, obligation: str) -> ast.Expr | None:
        """The condition ``obligation`` is declared with, resolved (None: none)."""
        decl = self._obligations.get(obligation)
        if decl is None or decl.condition is None:
            return None
        # Once per declaration: `obligation a, b when C` gives both the same condition (one
        # clause, not two).
        found = self._declared.get(id(decl))
        if found is None:
            found = self._declared[id(decl)] = self._checked(decl.condition)
        return found

    def arguments(
        self, obligation: str, written: tuple[ast.Argument, ...]
    ) -> tuple[ast.Argument, ...]:
        """The arguments of one requirement of ``obligation``: one per declared parameter, in
        the declaration's order, the default where none is written."""
        decl = self._obligations.get(obligation)
        if decl is None or not decl.parameters:
            return written
        given = {a.name.value: a for a in written}
        out = []
        for param in decl.parameters:
            argument = given.get(param.name.value)
            if argument is None:
                # the checker requires the others, and refuses a list
                assert isinstance(param.default, ast.Literal_)
                argument = ast.Argument(param.name, param.default)
            value = argument.value
            if isinstance(param.type, ast.DecimalType) and type(value.value) in (int, Decimal):
                number = plain_decimal(value.value)  # type: ignore[arg-type]
                argument = dataclasses.replace(argument, value=ast.Literal_(number, value.span))
            out.append(argument)
        return tuple(out)

    def clauses(self, clause: ast.ObligationClause) -> tuple[ast.ObligationClause, ...]:
        """The clause with its obligations' declared conditions and complete arguments: one
        clause per distinct declared condition, in the order their obligations are written."""
        own = self._checked(clause.condition)
        groups: dict[int, tuple[ast.Expr | None, list[int]]] = {}
        for index, name in enumerate(clause.names):
            declared = self.declared(name.value)
            groups.setdefault(id(declared), (declared, []))[1].append(index)
        made = []
        for declared, indices in groups.values():
            names = tuple(clause.names[i] for i in indices)
            arguments = tuple(
                self.arguments(clause.names[i].value, clause.arguments_of(i)) for i in indices
            )
            condition = (
                own if declared is None else declared if own is None else ast.And((declared, own))
            )
            made.append(
                ast.ObligationClause(
                    names, condition, clause.span, arguments if any(arguments) else ()
                )
            )
        # Equal, and written alike: a decimal may be written otherwise (`0.50` equals `0.5`).
        if (
            len(made) == 1
            and made[0] == clause
            and own is clause.condition
            and _written(made[0].arguments) == _written(clause.arguments)
        ):
            return (clause,)
        return tuple(made)

    # ---- statements ------------------------------------------------------------------------
    def rule(self, rule: ast.Rule) -> ast.Rule:
        condition = self._checked(rule.condition)
        exceptions = tuple(self._exception(e) for e in rule.exceptions)
        obligations = tuple(c for clause in rule.obligations for c in self.clauses(clause))
        if (
            condition is rule.condition
            and all(a is b for a, b in zip(exceptions, rule.exceptions, strict=True))
            and len(obligations) == len(rule.obligations)
            and all(a is b for a, b in zip(obligations, rule.obligations, strict=True))
        ):
            return rule
        return dataclasses.replace(
            rule, condition=condition, exceptions=exceptions, obligations=obligations
        )

    def override(self, override: ast.Override) -> ast.Override:
        """An override's condition and obligation clauses, resolved as a rule's."""
        condition = self._exception(override.condition)
        obligations = tuple(c for clause in override.obligations for c in self.clauses(clause))
        if (
            condition is override.condition
            and len(obligations) == len(override.obligations)
            and all(a is b for a, b in zip(obligations, override.obligations, strict=True))
        ):
            return override
        return dataclasses.replace(override, condition=condition, obligations=obligations)

    def invariant(self, invariant: ast.Invariant) -> ast.Invariant:
        condition = self._checked(invariant.condition)
        exceptions = tuple(self._exception(e) for e in invariant.exceptions)
        if condition is invariant.condition and all(
            a is b for a, b in zip(exceptions, invariant.exceptions, strict=True)
        ):
            return invariant
        return dataclasses.replace(invariant, condition=condition, exceptions=exceptions)


def condition_references(
    expr: ast.Expr, conditions: Mapping[str, ast.ConditionDecl]
) -> Iterator[ast.NameRef]:
    """Where ``expr`` (as parsed) uses a named condition: the bare names among its tests that
    name one of ``conditions``."""
    if isinstance(expr, ast.And | ast.Or):
        for operand in expr.operands:
            yield from condition_references(operand, conditions)
    elif isinstance(expr, ast.Not):
        yield from condition_references(expr.operand, conditions)
    elif (
        isinstance(expr, ast.Truth)
        and isinstance(expr.operand, ast.NameRef)
        and expr.operand.name in conditions
    ):
        yield expr.operand
