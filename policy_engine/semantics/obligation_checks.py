"""The obligations pass: obligations are declared, only allow rules carry them, a declaration's
parameters are well formed, and every ``with obligation`` gives each parameter a value of its
type (or leaves it to the declared default), and nothing else."""

from __future__ import annotations

from ..language import ast
from ..language.errors import suggestion_help
from .check_state import CheckState
from .condition_types import Typer
from .rule_checks import expect_term
from .value_checks import default_problem


def check_obligation_declarations(state: CheckState) -> None:
    """Parameters have distinct names and defaults of their type; a declared condition is well
    typed."""
    typer = Typer(state)
    seen: set[int] = set()
    for decl in state.term_decls.values():
        if decl.kind != "obligation" or id(decl) in seen:
            continue
        seen.add(id(decl))
        if decl.condition is not None:
            typer.condition(decl.condition)
        names: set[str] = set()
        for param in decl.parameters:
            if param.name.value in names:
                state.error(
                    "duplicate-parameter",
                    f"`{param.name.value}` is a parameter of `{decl.names[0].value}` twice",
                    param.name.span,
                    "give each parameter its own name",
                )
            names.add(param.name.value)
            if param.default is not None:
                _fits(
                    state,
                    "bad-default",
                    f"the default of `{param.name.value}`",
                    param,
                    param.default,
                )


def check_obligations(state: CheckState) -> None:
    """Obligations are declared, only allow rules carry them, and their arguments fit."""
    for rule in state.rules:
        for clause in rule.obligations:
            if rule.effect == "deny":
                state.error(
                    "obligation-on-deny",
                    f"rule `{rule.id.value}` denies, so it cannot carry obligations",
                    clause.span or rule.id.span,
                    "obligations come with an allow; attach them to the allow rule they qualify",
                )
            for index, name in enumerate(clause.names):
                if expect_term(state, name, "obligation"):
                    check_arguments(state, name, clause.arguments_of(index))


def check_arguments(state: CheckState, name: ast.Name, arguments: tuple[ast.Argument, ...]) -> None:
    """``name(arguments)`` names each of the obligation's parameters at most once, with a value
    of its type, and every parameter without a default."""
    decl = state.term_decls[name.value]
    params = {p.name.value: p for p in decl.parameters}
    if arguments and not params:
        state.error(
            "unexpected-arguments",
            f"obligation `{name.value}` is declared without parameters",
            arguments[0].span,
            f"remove the arguments, or declare the parameters: `obligation {name.value}(NAME: "
            "TYPE)`",
            notes=(("declared here", decl.names[0].span),) if decl.names[0].span else (),
        )
        return
    given: set[str] = set()
    for argument in arguments:
        _check_argument(state, name.value, argument, params, given)
    missing = [p for p in decl.parameters if p.default is None and p.name.value not in given]
    if missing:
        listed = ", ".join(f"`{p.name.value}`" for p in missing)
        example = ", ".join(f"{p.name.value} = …" for p in missing)
        state.error(
            "missing-argument",
            f"obligation `{name.value}` needs {listed}",
            name.span,
            f"give {'it' if len(missing) == 1 else 'them'}: `{name.value}({example})`",
        )


def _check_argument(
    state: CheckState,
    obligation: str,
    argument: ast.Argument,
    params: dict[str, ast.ParamDecl],
    given: set[str],
) -> None:
    key = argument.name.value
    param = params.get(key)
    if param is None:
        state.error(
            "unknown-parameter",
            f"`{key}` is not a parameter of `{obligation}`",
            argument.name.span,
            suggestion_help(key, list(params))
            or "its parameters are " + ", ".join(f"`{p}`" for p in params),
        )
        return
    if key in given:
        state.error(
            "duplicate-argument",
            f"`{key}` is given twice",
            argument.name.span,
            "give each parameter one value",
        )
        return
    given.add(key)
    _fits(state, "bad-argument", f"`{key}` of `{obligation}`", param, argument.value)


def _fits(
    state: CheckState,
    code: str,
    subject: str,
    param: ast.ParamDecl,
    value: ast.Literal_ | ast.ListLiteral,
) -> None:
    """``value`` is of the parameter's type (the test a context key's default passes; a term's
    name, a date or an instant written there is no value of it)."""
    problem: str | None
    if isinstance(value, ast.ListLiteral):
        problem = "must be a single value, not a list"
    else:
        written = value.value if isinstance(value, ast.Literal_) else value
        problem = default_problem(param.type, written)
    if problem:
        state.error(
            code,
            f"{subject} {problem}",
            value.span,
            f"`{param.name.value}` is declared as {param.type.describe()}",
        )
