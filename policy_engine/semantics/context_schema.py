"""The context schema pass: defaults have the declared type, literal lists have no repeats, and
the one key marked ``from consent ledger`` is a ``set of purpose`` without a default."""

from __future__ import annotations

from ..language import ast
from ..language.source import Span
from .check_state import CheckState, article

LEDGER_MARK = "from consent ledger"
NOW_MARK = "is now"


def check_context_schema(state: CheckState) -> None:
    """Defaults have the declared type; literal lists have no repeats; at most one key, a
    ``set of purpose`` without a default, is marked ``from consent ledger``; at most one, a
    date or an instant, is marked ``is now``."""
    ledger_key: ast.ContextDecl | None = None
    now_key: ast.ContextDecl | None = None
    for decl in state.context.values():
        if decl.source is not None:
            ledger_key = check_ledger_key(state, decl, ledger_key)
        if decl.is_now:
            now_key = check_now_key(state, decl, now_key)
        type_ = decl.type
        if isinstance(type_, ast.OneOfType | ast.ListType) and type_.literals is not None:
            _check_literals_unique(state, decl, type_.literals)
        if decl.default is None or decl.source is not None:
            continue
        default = decl.default
        problem = default_problem(
            type_, default.value if isinstance(default, ast.Literal_) else default
        )
        if problem:
            state.error(
                "bad-default",
                f"the default of `{decl.name.value}` {problem}",
                decl.default.span,
                f"`{decl.name.value}` is declared as {type_.describe()}",
            )


def _check_literals_unique(
    state: CheckState, decl: ast.ContextDecl, literals: tuple[str, ...]
) -> None:
    seen: set[str] = set()
    for value in literals:
        if value in seen:
            state.error(
                "duplicate-literal",
                f'`"{value}"` is listed twice in the values of `{decl.name.value}`',
                decl.span,
            )
        seen.add(value)


def check_ledger_key(
    state: CheckState, decl: ast.ContextDecl, first: ast.ContextDecl | None
) -> ast.ContextDecl:
    """One key marked ``from consent ledger``: the ledger supplies a subject's consented
    purposes, so the key is a ``set of purpose``; it is the only marked key; it has no default.
    Returns the first marked key seen (``first``, or ``decl`` when it is the first)."""
    name = decl.name.value
    where = decl.source_span or decl.name.span
    type_ = decl.type
    if not (isinstance(type_, ast.TermSetType) and type_.kind == "purpose"):
        state.error(
            "ledger-key-type",
            f"`{name}` is marked `{LEDGER_MARK}` but is declared as {type_.describe()}, "
            "not set of purpose",
            where,
            "the ledger supplies the purposes a subject consented to: declare "
            f"`context {name}: set of purpose {LEDGER_MARK}`, or remove the mark",
        )
    if first is not None:
        _second_mark(
            state,
            ("duplicate-ledger-key", LEDGER_MARK),
            decl,
            (first, first.source_span or first.name.span),
            "the consent ledger supplies one context key; keep the mark on the key the rules "
            "test consent with",
        )
    if decl.default is not None:
        state.error(
            "ledger-key-default",
            f"`{name}` is marked `{LEDGER_MARK}` and cannot have a default",
            decl.default.span,
            "remove the default: consent is what the ledger records, never assumed; with no "
            "record to read, the key is missing and a rule that needs it does not grant",
        )
    return first or decl


def check_now_key(
    state: CheckState, decl: ast.ContextDecl, first: ast.ContextDecl | None
) -> ast.ContextDecl:
    """One key marked ``is now`` (what ``now`` reads): a date or an instant, the only marked key
    (a default is refused for every date and instant key). Returns the first marked key."""
    name = decl.name.value
    if not isinstance(decl.type, ast.DateType | ast.InstantType):
        state.error(
            "now-key-type",
            f"`{name}` is marked `{NOW_MARK}` but is declared as {decl.type.describe()}",
            decl.now_span or decl.name.span,
            f"the decision's time is an instant (or a date): declare `context {name}: instant "
            f"{NOW_MARK}`, or remove the mark",
        )
    if first is not None:
        _second_mark(
            state,
            ("duplicate-now-key", NOW_MARK),
            decl,
            (first, first.now_span or first.name.span),
            "a decision has one time: keep the mark on the key requests state it in",
        )
    return first or decl


def _second_mark(
    state: CheckState,
    what: tuple[str, str],
    decl: ast.ContextDecl,
    first: tuple[ast.ContextDecl, Span | None],
    help: str,
) -> None:
    """A mark only one key may carry (``what``: the error's code and the mark), on a second key
    (``first``: the key that carries it already, and where its mark is)."""
    code, mark = what
    where = (decl.now_span if mark == NOW_MARK else decl.source_span) or decl.name.span
    earlier, earlier_where = first
    state.error(
        code,
        f"`{decl.name.value}` is marked `{mark}`, but `{earlier.name.value}` already is",
        where,
        help,
        notes=((f"`{earlier.name.value}` is marked here", earlier_where),) if earlier_where else (),
    )


def default_problem(type_: ast.ValueType, value: object) -> str | None:
    """What is wrong with ``value`` as the default of a key of ``type_``, or None."""
    if isinstance(type_, ast.BoolType):
        return None if isinstance(value, bool) else "must be `true` or `false`"
    if isinstance(type_, ast.IntType):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "must be a whole number"
    if isinstance(type_, ast.StrType):
        return None if isinstance(value, str) else "must be a quoted string"
    if isinstance(type_, ast.OneOfType):
        if isinstance(value, str) and value in type_.literals:
            return None
        return "must be one of " + ", ".join(f'"{v}"' for v in type_.literals)
    if isinstance(type_, ast.DateType | ast.InstantType):
        return (
            f"cannot be set: {article(type_.describe())} {type_.describe()} is a fact the "
            "request states, never assumed (leave it out to make it unknown)"
        )
    return "cannot be set: lists and sets have no default"
