"""The passes over rules and invariants: the terms they name are declared and of the right kind,
conditions are well typed, and rules cite their source (obligations: :mod:`.obligation_checks`)."""

from __future__ import annotations

from ..language import ast
from .check_state import CheckState, article, kind_word
from .condition_types import Typer


def check_rule_scopes(state: CheckState) -> None:
    """The parties, data and purposes a rule names (and those it excepts) are declared terms of
    the right kind."""
    for rule in state.rules:
        for kind, names, excepts in zip(
            ("party", "data", "purpose"),
            (rule.parties, rule.data, rule.purposes),
            rule.excepts,
            strict=True,
        ):
            for name in (*(names or ()), *excepts):
                expect_term(state, name, kind)


def expect_term(state: CheckState, name: ast.Name, kind: str) -> bool:
    """Whether ``name`` is a declared term of ``kind``; if not, report why."""
    word = kind_word(kind)
    symbol = state.symbols.get(name.value)
    if symbol is None:
        state.error(
            "unknown-term",
            f"unknown {word} `{name.value}`",
            name.span,
            state.suggest(name.value, kind) or f"declare it: `{kind} {name.value}`",
        )
        return False
    if symbol.kind != kind:
        other = kind_word(symbol.kind)
        state.error(
            "wrong-kind",
            f"`{name.value}` is {article(other)} {other}, not {article(word)} {word}",
            name.span,
            state.suggest(name.value, kind),
            notes=((f"declared here as {article(other)} {other}", symbol.span),)
            if symbol.span
            else (),
        )
        return False
    return True


def check_conditions(state: CheckState) -> None:
    """Every condition, exception and obligation condition is well typed."""
    typer = Typer(state)
    for rule in state.rules:
        if rule.condition is not None:
            typer.condition(rule.condition)
        # An except's exception (`unless party in [b]`) is typed by check_rule_scopes' terms.
        for exception in rule.written_exceptions:
            typer.condition(exception)
        for clause in rule.obligations:
            if clause.condition is not None:
                typer.condition(clause.condition)
    for override in state.overrides:
        typer.condition(override.condition)
        for clause in override.obligations:
            if clause.condition is not None:
                typer.condition(clause.condition)


def check_invariants(state: CheckState) -> None:
    """Invariants name declared terms of the right kind and have well-typed conditions."""
    typer = Typer(state)
    for invariant in state.invariants:
        for kind, scope in (
            ("party", invariant.parties),
            ("data", invariant.data),
            ("purpose", invariant.purposes),
        ):
            for name in (*(scope.names or ()), *scope.excepts):
                expect_term(state, name, kind)
        for expr in (
            *([invariant.condition] if invariant.condition else []),
            *invariant.exceptions,
        ):
            typer.condition(expr)


def warn_missing_citations(state: CheckState) -> None:
    """Each rule and override should say which section of the policy it encodes."""
    statements: list[ast.Rule | ast.Override] = [*state.rules, *state.overrides]
    for rule in statements:
        if not rule.citations:
            word = "rule" if isinstance(rule, ast.Rule) else "override"
            state.warn(
                "missing-citation",
                f"{word} `{rule.id.value}` has no citation",
                rule.id.span,
                f"cite the section it encodes after its id, e.g. `{word} {rule.id.value} §5.1`",
            )
