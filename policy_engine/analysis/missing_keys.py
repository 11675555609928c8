"""Deny rules that refuse every request leaving a context key out (``deny-on-missing-key``).

A deny whose condition is unknown still denies: it fails closed (docs/semantics.md, 12 and 13).
``deny any party from using health_data for any purpose when patient_age < 14`` therefore
refuses every request that does not state ``patient_age``, and nothing in the rule says so. The
finding names such rules; ``when patient_age is known and patient_age < 14`` (the author chose
to let an unstated age through) or ``when patient_age is missing or patient_age < 14`` (the
author chose to refuse it, and says so) are not reported.

Definition. For a deny rule D (not among the rules that can never apply) and a context key k
that D's ``when`` condition or one of its ``unless`` exceptions reads (a comparison, a
membership test, a truth test or an ``is known``/``is missing`` test) and that has no declared
default, the finding is reported when all three hold:

1. **No request without k escapes D**: in no cell of D's scope is there a context with k
   missing on which D's value (its condition and not each exception, as ``rule_value``) is
   false. Every request of D's scope that leaves k out is denied by D.
2. **D does not deny everything anyway**: in some cell of D's scope some context makes D's value
   false (by 1, such a context states k). Otherwise D refuses every request of its scope
   whatever k is, and k's absence is not the cause.
3. **The refusal is D failing closed**: in some cell of D's scope some context with k missing
   makes D's value unknown. Otherwise D is true (not merely unknown) whenever k is missing: the
   rule decides those requests through its own tests (such as ``k is missing``), not by failing
   closed.

Each of the three is a search of the cells of D's scope (cells D cannot tell apart are searched
once) for, in order: a context with k missing and D false (a counterexample to 1: no finding);
a context with D false (none: 2 fails, no finding; asked once per rule, whatever the key); a
context with k missing and D unknown (none: 3 fails, no finding). "k is missing" is the
evaluator's own ``k is missing`` test, so a key sent as ``null`` counts as missing like an
absent one. Every witness a search returns is decided again by the evaluator, and a
disagreement is raised as :class:`~.search_values.AnalysisDisagreement`. A question the budget
leaves open is reported as ``analysis-undecided`` (one per rule), never as an answer.

A key read only by a deny's obligations does not count (a deny carries none), and a deny that
refuses the requests without k only in some cells of its scope (``when online_activity in data
unless cookies_accepted``: other data categories pass) is not reported: the finding is about
every request of the rule's scope.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from ..engine.compiler import CompiledPolicy, CompiledRule
from ..engine.evaluator import rule_value
from ..language import ast
from ..language.errors import Diagnostic
from .budget import BudgetExceeded
from .conditions import keys_of
from .invariants import undecided, undecided_reason
from .scopes import rule_cells
from .search import CellSearch
from .search_values import (
    FALSE,
    TRUE,
    UNKNOWN,
    AnalysisDisagreement,
    Goal,
    Valued,
    Valuer,
    every,
    surely,
)

CODE = "deny-on-missing-key"

_VALUES: dict[int, bool | None] = {FALSE: False, UNKNOWN: None}


def denies_on_missing_keys(search: CellSearch, skip: Collection[str] = ()) -> list[Diagnostic]:
    """A ``deny-on-missing-key`` warning for each deny rule (not in ``skip``: rules that can
    never apply) and each key it refuses every request without (see the module's definition)."""
    found: list[Diagnostic] = []
    for rule in search.compiled.rules:
        if rule.effect != "deny" or rule.id in skip:
            continue
        try:
            keys = _failing_closed(search, rule)
        except (BudgetExceeded, AnalysisDisagreement) as exc:
            what = f"whether deny `{rule.id}` refuses every request that leaves a key out"
            found.append(undecided(what, undecided_reason(exc), rule.source.id.span))
            continue
        found += [_diagnostic(search.compiled, rule, key) for key in keys]
    return found


def _defaultless(compiled: CompiledPolicy, rule: CompiledRule) -> list[str]:
    """The keys without a default that the rule's condition or exceptions read, sorted."""
    source = rule.source
    exprs = ([source.condition] if source.condition is not None else []) + list(source.exceptions)
    read: set[str] = set().union(*(keys_of(e, compiled.context, compiled.now_key) for e in exprs))
    return sorted(k for k in read if k not in compiled.default_values)


def _failing_closed(search: CellSearch, rule: CompiledRule) -> list[str]:
    """The keys for which conditions 1, 2 and 3 of the module's definition hold (2 does not
    depend on the key: it is asked once, and only when some key passes 1)."""
    missing = {
        key: ast.Presence(ast.Name(key), known=False) for key in _defaultless(search.compiled, rule)
    }
    keys = [key for key, test in missing.items() if not _found(search, rule, FALSE, test)]
    if not keys or not _found(search, rule, FALSE, None):
        return []
    return [key for key in keys if _found(search, rule, UNKNOWN, missing[key])]


def _value_is(rule: CompiledRule, wanted: int, missing: ast.Presence | None) -> Goal:
    """The rule's value is ``wanted`` (FALSE or UNKNOWN), and the key is missing when its
    ``is missing`` test is given."""

    def parts(valuer: Valuer) -> Iterator[Valued]:
        if missing is not None:
            yield surely(valuer.of(missing), TRUE)
        yield surely(valuer.rule(rule), wanted)

    return lambda valuer: every(parts(valuer))


def _found(
    search: CellSearch, rule: CompiledRule, wanted: int, missing: ast.Presence | None
) -> bool:
    """Whether some request of some cell of the rule's scope gives the rule the value ``wanted``
    (with the key missing, when ``missing`` is given); cells the rule cannot tell apart are
    searched once. The witness is confirmed with the evaluator."""
    goal = _value_is(rule, wanted, missing)
    found = search.first([rule], rule_cells(search.compiled, rule), goal)
    if found is None:
        return False
    key = missing.key.value if missing is not None else None
    _confirm(rule, _VALUES[wanted], key, found[0], found[1].context)
    return True


def _confirm(
    rule: CompiledRule,
    wanted: bool | None,
    key: str | None,
    cell: tuple[str, str, str],
    context: dict[str, Any],
) -> None:
    """The evaluator gives the rule the value ``wanted`` on the witness, which leaves ``key``
    out."""
    value = rule_value(rule, context, cell)
    if value is not wanted or (key is not None and key in context):
        left_out = f" with `{key}` left out" if key is not None else ""
        raise AnalysisDisagreement(
            f"deny `{rule.id}` is {value}, not {wanted}{left_out}, on {context} in {cell}"
        )


def _diagnostic(compiled: CompiledPolicy, rule: CompiledRule, key: str) -> Diagnostic:
    """The warning, with the two ways to make the rule say what a missing ``key`` does: in its
    ``when`` when that reads the key, else in its ``unless``."""
    source = rule.source
    if source.condition is not None and key in keys_of(
        source.condition, compiled.context, compiled.now_key
    ):
        let_through, refuse = f"when {key} is known and", f"when {key} is missing or"
    else:
        let_through, refuse = f"unless {key} is missing or", f"unless {key} is known and"
    # Lists and sets have no default; nor have dates and instants (facts the request states).
    scalar = not isinstance(
        compiled.context[key].decl.type,
        ast.ListType | ast.TermSetType | ast.DateType | ast.InstantType,
    )
    default = f"; or declare a default for `{key}`" if scalar else ""
    return Diagnostic(
        CODE,
        f"deny `{rule.id}` refuses every request that leaves `{key}` out ({_scope_words(source)})",
        source.id.span,
        f"if a request without `{key}` should pass this rule, write `{let_through} …`; if the "
        f"refusal is intended, write `{refuse} …`{default}",
        "warning",
    )


def _scope_words(rule: ast.Rule) -> str:
    def named(kind: str, scope: tuple[ast.Name, ...] | None) -> str:
        return f"`any {kind}`" if scope is None else ", ".join(f"`{n.value}`" for n in scope)

    return (
        f"for {named('party', rule.parties)} using {named('data', rule.data)} "
        f"for {named('purpose', rule.purposes)}"
    )
