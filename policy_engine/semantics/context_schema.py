"""The context schema pass: defaults have the declared type (a list of the key's values or
terms for a ``list of`` or ``set of`` key), literal lists have no repeats, and the one key marked
``from consent ledger`` is a ``set of purpose`` without a default."""

from __future__ import annotations

from ..language import ast
from ..language.printer import operand_text
from ..language.source import Span
from .check_state import CheckState, article, kind_word
from .rule_checks import expect_term
from .value_checks import check_literals_unique, default_problem

LEDGER_MARK = "from consent ledger"
NOW_MARK = "is now"


def check_context_schema(state: CheckState) -> None:
    """Defaults have the declared type; literal lists have no repeats; at most one key, a
    ``set of purpose`` without a default, is marked ``from consent ledger``; at most one, a
    date or an instant, is marked ``is now``."""
    ledger_key: ast.ContextDecl | None = None
    now_key: ast.ContextDecl | None = None
    _check_dotted_keys(state)
    for decl in state.context.values():
        if decl.source is not None:
            ledger_key = check_ledger_key(state, decl, ledger_key)
        if decl.is_now:
            now_key = check_now_key(state, decl, now_key)
        type_ = decl.type
        if isinstance(type_, ast.OneOfType | ast.ListType) and type_.literals is not None:
            check_literals_unique(state, decl.name.value, decl.span, type_.literals)
        if decl.default is None or decl.source is not None:
            continue
        if isinstance(type_, ast.ListType | ast.TermSetType):
            check_list_default(state, decl, type_)
            continue
        if isinstance(type_, ast.TermType):
            _check_term_default(state, decl, type_)
            continue
        default = decl.default
        problem = (
            "must be a single value, not a list"
            if isinstance(default, ast.ListLiteral)
            else default_problem(
                type_, default.value if isinstance(default, ast.Literal_) else default
            )
        )
        if problem:
            _bad_default(state, decl, problem, decl.default.span)


def _check_term_default(state: CheckState, decl: ast.ContextDecl, type_: ast.TermType) -> None:
    """The default of a key of one term is a declared term of its kind, without quotes."""
    default = decl.default
    if isinstance(default, ast.NameRef):
        expect_term(state, ast.Name(default.name, default.span), type_.kind)
        return
    assert default is not None
    _bad_default(
        state,
        decl,
        f"must be {article(kind_word(type_.kind))} {kind_word(type_.kind)}, not "
        f"`{operand_text(default)}`",
        default.span,
        f"name a declared {type_.kind} without quotes, e.g. `default {type_.kind}_name`",
    )


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


def _check_dotted_keys(state: CheckState) -> None:
    """A dotted key (``record.author``) may come as a nested object (``{"record": {"author":
    …}}``): so no key is also the start of another (``record`` and ``record.author``)."""
    for name, decl in state.context.items():
        parts = name.split(".")
        for depth in range(1, len(parts)):
            start = ".".join(parts[:depth])
            if start in state.context:
                state.error(
                    "key-prefix",
                    f"`{start}` is a context key, and also the start of `{name}`",
                    decl.name.span,
                    f"a request may give `{name}` inside an object `{start}`, which cannot be "
                    f"a value of `{start}` too: rename one of them",
                )
                break


def _bad_default(
    state: CheckState,
    decl: ast.ContextDecl,
    problem: str,
    span: Span | None,
    help: str | None = None,
) -> None:
    state.error(
        "bad-default",
        f"the default of `{decl.name.value}` {problem}",
        span,
        help or f"`{decl.name.value}` is declared as {decl.type.describe()}",
    )


def check_list_default(
    state: CheckState, decl: ast.ContextDecl, type_: ast.ListType | ast.TermSetType
) -> None:
    """The default of a ``list of`` or ``set of`` key is a list (``[]`` for an empty one) of
    the key's strings, or of declared terms of its kind, each checked where it is written."""
    default = decl.default
    name = decl.name.value
    if not isinstance(default, ast.ListLiteral):
        example = "[]" if isinstance(type_, ast.TermSetType) else '["…"]'
        _bad_default(
            state,
            decl,
            "must be a list",
            default.span if default else None,
            f"`{name}` is declared as {type_.describe()}: write e.g. `default {example}` "
            "(`[]` for the empty list)",
        )
        return
    for item in default.items:
        if isinstance(type_, ast.TermSetType):
            if isinstance(item, ast.NameRef):
                expect_term(state, ast.Name(item.name, item.span), type_.kind)
            else:
                _bad_default(
                    state,
                    decl,
                    f"lists {kind_word(type_.kind)} terms, not `{operand_text(item)}`",
                    item.span,
                    f"name declared terms without quotes, e.g. `default [{type_.kind}_name]`",
                )
            continue
        if not (isinstance(item, ast.Literal_) and isinstance(item.value, str)):
            _bad_default(
                state,
                decl,
                f"lists quoted strings, not `{operand_text(item)}`",
                item.span,
                f'quote each value, e.g. `default ["{operand_text(item)}"]`',
            )
        elif type_.literals is not None and item.value not in type_.literals:
            close = state.near(item.value, type_.literals)
            _bad_default(
                state,
                decl,
                f'lists `"{item.value}"`, which is not one of its values',
                item.span,
                "did you mean " + " or ".join(f'`"{c}"`' for c in close) + "?"
                if close
                else f"`{name}` is declared as {type_.describe()}",
            )


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
