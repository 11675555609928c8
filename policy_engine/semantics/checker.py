"""Validation: an ordered list of small named passes over the parsed files.

Each pass appends diagnostics; all of them run so that one load reports every problem at once,
sorted by place. The result, :class:`CheckedPolicy`, is what the compiler may trust: every name
resolves, every hierarchy is acyclic, every condition is well typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from ..language import ast
from ..language.errors import Diagnostic, PolicyValidationError, did_you_mean, suggestion_help
from ..language.source import Span
from .vocabulary import Hierarchy, find_cycle

HIERARCHY_KINDS: tuple[ast.DeclKind, ...] = ("party", "data", "purpose", "obligation")


@dataclass(frozen=True)
class Symbol:
    """A declared name: what kind of thing it is and where it was declared."""

    name: str
    kind: str  # "party" | "data" | "purpose" | "obligation" | "context"
    span: Span | None


@dataclass(frozen=True)
class OpType:
    """The static type of an operand in a condition.

    ``base`` is one of ``bool``, ``int``, ``str``, ``strlist``, ``term``, ``termset`` and
    ``emptylist``.
    ``kind`` names the hierarchy for terms; ``literals`` the allowed (or listed) string values.
    """

    base: str
    kind: str | None = None
    literals: tuple[str, ...] | None = None

    def describe(self) -> str:
        if self.base == "term":
            return ast.KIND_WORDS[self.kind or "party"]
        if self.base == "termset":
            return f"set of {self.kind}"
        if self.base == "str" and self.literals is not None:
            return "one of " + ", ".join(f'"{v}"' for v in self.literals)
        if self.base == "strlist":
            if self.literals is None:
                return "list of strings"
            return "list of " + ", ".join(f'"{v}"' for v in self.literals)
        return {
            "bool": "boolean",
            "int": "integer",
            "str": "string",
            "emptylist": "empty list",
        }[self.base]

    def a(self) -> str:
        """The type with its article, for sentences: `an integer`, `a string (one of "x")`."""
        if self.base == "str" and self.literals is not None:
            return f"a string ({self.describe()})"
        text = self.describe()
        return f"{_article(text)} {text}"


def context_type(decl_type: ast.ValueType) -> OpType:
    if isinstance(decl_type, ast.BoolType):
        return OpType("bool")
    if isinstance(decl_type, ast.IntType):
        return OpType("int")
    if isinstance(decl_type, ast.StrType):
        return OpType("str")
    if isinstance(decl_type, ast.OneOfType):
        return OpType("str", literals=decl_type.literals)
    if isinstance(decl_type, ast.ListType):
        return OpType("strlist", literals=decl_type.literals)
    return OpType("termset", kind=decl_type.kind)


@dataclass
class CheckedPolicy:
    """Every file of a policy, validated, with its symbol table and hierarchies."""

    files: list[ast.PolicyFile]
    symbols: dict[str, Symbol]
    hierarchies: dict[str, Hierarchy]
    context: dict[str, ast.ContextDecl]
    rules: list[ast.Rule]
    term_decls: dict[str, ast.TermDecl]
    warnings: list[Diagnostic] = field(default_factory=list)
    invariants: list[ast.Invariant] = field(default_factory=list)


@dataclass
class _State:
    files: list[ast.PolicyFile]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    symbols: dict[str, Symbol] = field(default_factory=dict)
    term_decls: dict[str, ast.TermDecl] = field(default_factory=dict)
    context: dict[str, ast.ContextDecl] = field(default_factory=dict)
    rules: list[ast.Rule] = field(default_factory=list)
    invariants: list[ast.Invariant] = field(default_factory=list)
    edges: dict[str, list[tuple[str, str, ast.Name]]] = field(default_factory=dict)
    hierarchies: dict[str, Hierarchy] = field(default_factory=dict)

    def error(
        self,
        code: str,
        message: str,
        span: Span | None,
        help: str | None = None,
        notes: tuple[tuple[str, Span], ...] = (),
    ) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, help, "error", notes))

    def warn(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, help, "warning"))

    def items(self) -> Iterator[ast.Item]:
        for file in self.files:
            yield from file.items

    def names_of(self, *kinds: str) -> list[str]:
        return [s.name for s in self.symbols.values() if s.kind in kinds]


def _kind_word(kind: str) -> str:
    return ast.KIND_WORDS.get(kind, kind)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


# ---- passes -----------------------------------------------------------------------------------


def declare_names(state: _State) -> None:
    """Every term, obligation and context key is declared once; rule ids are unique."""
    rule_ids: dict[str, ast.Rule] = {}
    for item in state.items():
        if isinstance(item, ast.Invariant):
            if any(i.id.value == item.id.value for i in state.invariants):
                first = next(i for i in state.invariants if i.id.value == item.id.value)
                state.error(
                    "duplicate-invariant",
                    f"invariant id `{item.id.value}` is used twice",
                    item.id.span,
                    "give each invariant its own id",
                    notes=(("first used here", first.id.span),) if first.id.span else (),
                )
            else:
                state.invariants.append(item)
            continue
        if isinstance(item, ast.Rule):
            previous = rule_ids.get(item.id.value)
            if previous is not None and previous.id.span is not None:
                state.error(
                    "duplicate-rule",
                    f"rule id `{item.id.value}` is used twice",
                    item.id.span,
                    "rule ids are stable references in decisions and logs; give each rule its own",
                    notes=(("first used here", previous.id.span),),
                )
            else:
                rule_ids[item.id.value] = item
                state.rules.append(item)
            continue
        declared: list[tuple[ast.Name, str]]
        if isinstance(item, ast.TermDecl):
            declared = [(name, item.kind) for name in item.names]
        else:
            declared = [(item.name, "context")]
        for name, kind in declared:
            existing = state.symbols.get(name.value)
            if existing is not None:
                notes = (
                    (
                        (
                            f"first declared here as {_article(_kind_word(existing.kind))} "
                            f"{_kind_word(existing.kind)}",
                            existing.span,
                        ),
                    )
                    if existing.span
                    else ()
                )
                state.error(
                    "duplicate-declaration",
                    f"`{name.value}` is declared twice",
                    name.span,
                    "every party, data category, purpose, obligation and context key needs a "
                    "name of its own",
                    notes=notes,
                )
                continue
            state.symbols[name.value] = Symbol(name.value, kind, name.span)
            if isinstance(item, ast.TermDecl):
                state.term_decls[name.value] = item
            else:
                state.context[name.value] = item


def link_hierarchies(state: _State) -> None:
    """Parents exist and are of the same kind; hierarchies have no cycles."""
    for kind in HIERARCHY_KINDS:
        state.edges[kind] = []
    for name, decl in state.term_decls.items():
        for parent in decl.parents:
            target = state.symbols.get(parent.value)
            word = _kind_word(decl.kind)
            if target is None:
                state.error(
                    "unknown-parent",
                    f"unknown {word} `{parent.value}`",
                    parent.span,
                    suggestion_help(parent.value, state.names_of(decl.kind))
                    or f"declare it first: `{decl.kind} {parent.value}`",
                )
            elif target.kind != decl.kind:
                state.error(
                    "wrong-kind-parent",
                    f"`{name}` is {_article(word)} {word} but its parent `{parent.value}` is "
                    f"{_article(_kind_word(target.kind))} {_kind_word(target.kind)}",
                    parent.span,
                    f"a {word} can only sit under another {word}",
                )
            elif parent.value == name:
                state.error(
                    "cycle",
                    f"`{name}` is declared under itself",
                    parent.span,
                    "remove it from its own parents",
                )
            else:
                state.edges[decl.kind].append((parent.value, name, parent))
    for kind in HIERARCHY_KINDS:
        edges = state.edges[kind]
        cycle = find_cycle((p, c) for p, c, _ in edges)
        terms = [n for n, d in state.term_decls.items() if d.kind == kind]
        if cycle is not None:
            # Point at the parent link that closes the cycle.
            closing = next(
                (ref for p, c, ref in edges if p == cycle[-2] and c == cycle[-1]), edges[0][2]
            )
            shown = " → ".join(f"`{t}`" for t in reversed(cycle))
            state.error(
                "cycle",
                f"the {_kind_word(kind)} hierarchy has a cycle: {shown}",
                closing.span,
                "a term cannot be above and below the same term; remove one of these parent links",
            )
            edges = []
        state.hierarchies[kind] = Hierarchy.build(kind, terms, ((p, c) for p, c, _ in edges))


def check_context_schema(state: _State) -> None:
    """Defaults have the declared type; literal lists have no repeats; at most one key, a
    ``set of purpose`` without a default, is marked ``from consent ledger``."""
    ledger_key: ast.ContextDecl | None = None
    for decl in state.context.values():
        if decl.source is not None:
            ledger_key = check_ledger_key(state, decl, ledger_key)
        type_ = decl.type
        if isinstance(type_, ast.OneOfType | ast.ListType) and type_.literals is not None:
            seen: set[str] = set()
            for value in type_.literals:
                if value in seen:
                    state.error(
                        "duplicate-literal",
                        f'`"{value}"` is listed twice in the values of `{decl.name.value}`',
                        decl.span,
                    )
                seen.add(value)
        if decl.default is None or decl.source is not None:
            continue
        problem = default_problem(type_, decl.default.value)
        if problem:
            state.error(
                "bad-default",
                f"the default of `{decl.name.value}` {problem}",
                decl.default.span,
                f"`{decl.name.value}` is declared as {type_.describe()}",
            )


LEDGER_MARK = "from consent ledger"


def check_ledger_key(
    state: _State, decl: ast.ContextDecl, first: ast.ContextDecl | None
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
        first_where = first.source_span or first.name.span
        state.error(
            "duplicate-ledger-key",
            f"`{name}` is marked `{LEDGER_MARK}`, but `{first.name.value}` already is",
            where,
            "the consent ledger supplies one context key; keep the mark on the key the rules "
            "test consent with",
            notes=((f"`{first.name.value}` is marked here", first_where),) if first_where else (),
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


def default_problem(type_: ast.ValueType, value: object) -> str | None:
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
    return "cannot be set: lists and sets have no default"


def check_rule_scopes(state: _State) -> None:
    """The parties, data and purposes a rule names are declared terms of the right kind."""
    for rule in state.rules:
        for kind, names in (
            ("party", rule.parties),
            ("data", rule.data),
            ("purpose", rule.purposes),
        ):
            for name in names or ():
                expect_term(state, name, kind)


def expect_term(state: _State, name: ast.Name, kind: str) -> bool:
    word = _kind_word(kind)
    symbol = state.symbols.get(name.value)
    if symbol is None:
        state.error(
            "unknown-term",
            f"unknown {word} `{name.value}`",
            name.span,
            suggestion_help(name.value, state.names_of(kind))
            or f"declare it: `{kind} {name.value}`",
        )
        return False
    if symbol.kind != kind:
        other = _kind_word(symbol.kind)
        state.error(
            "wrong-kind",
            f"`{name.value}` is {_article(other)} {other}, not {_article(word)} {word}",
            name.span,
            suggestion_help(name.value, state.names_of(kind)),
            notes=((f"declared here as {_article(other)} {other}", symbol.span),)
            if symbol.span
            else (),
        )
        return False
    return True


def check_obligations(state: _State) -> None:
    """Obligations are declared, and only allow rules carry them."""
    for rule in state.rules:
        for clause in rule.obligations:
            if rule.effect == "deny":
                state.error(
                    "obligation-on-deny",
                    f"rule `{rule.id.value}` denies, so it cannot carry obligations",
                    clause.span or rule.id.span,
                    "obligations come with an allow; attach them to the allow rule they qualify",
                )
            for name in clause.names:
                expect_term(state, name, "obligation")


def check_conditions(state: _State) -> None:
    """Every condition, exception and obligation condition is well typed."""
    typer = _Typer(state)
    for rule in state.rules:
        if rule.condition is not None:
            typer.condition(rule.condition)
        for exception in rule.exceptions:
            typer.condition(exception)
        for clause in rule.obligations:
            if clause.condition is not None:
                typer.condition(clause.condition)


def check_invariants(state: _State) -> None:
    """Invariants name declared terms of the right kind and have well-typed conditions."""
    typer = _Typer(state)
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


def warn_missing_citations(state: _State) -> None:
    """Each rule should say which section of the policy it encodes."""
    for rule in state.rules:
        if not rule.citations:
            state.warn(
                "missing-citation",
                f"rule `{rule.id.value}` has no citation",
                rule.id.span,
                f"cite the section it encodes after its id, e.g. `rule {rule.id.value} §5.1`",
            )


PASSES: tuple[tuple[str, Callable[[_State], None]], ...] = (
    ("declarations", declare_names),
    ("hierarchies", link_hierarchies),
    ("context-schema", check_context_schema),
    ("rule-scopes", check_rule_scopes),
    ("obligations", check_obligations),
    ("conditions", check_conditions),
    ("invariants", check_invariants),
    ("citations", warn_missing_citations),
)


def check(files: Sequence[ast.PolicyFile]) -> CheckedPolicy:
    """Run every pass; raise :class:`PolicyValidationError` with all errors if any."""
    state = _State(list(files))
    for _name, run in PASSES:
        run(state)
    errors = [d for d in state.diagnostics if d.severity == "error"]
    if errors:
        raise PolicyValidationError(state.diagnostics)
    return CheckedPolicy(
        files=state.files,
        symbols=state.symbols,
        hierarchies=state.hierarchies,
        context=state.context,
        rules=state.rules,
        term_decls=state.term_decls,
        invariants=state.invariants,
        warnings=[d for d in state.diagnostics if d.severity != "error"],
    )


# ---- condition typing ------------------------------------------------------------------------

_ORDERING = ("<", "<=", ">", ">=")


def _written(node: ast.Operand) -> str:
    if isinstance(node, ast.NameRef):
        return node.name
    if isinstance(node, ast.RequestRef):
        return node.kind
    if isinstance(node, ast.Literal_):
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        if isinstance(node.value, str):
            return f'"{node.value}"'
        return str(node.value)
    return "[" + ", ".join(_written(i) for i in node.items) + "]"


class _Typer:
    """Infers operand types and reports ill-typed conditions in the author's terms."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def condition(self, expr: ast.Expr) -> None:
        if isinstance(expr, ast.And | ast.Or):
            for operand in expr.operands:
                self.condition(operand)
        elif isinstance(expr, ast.Not):
            self.condition(expr.operand)
        elif isinstance(expr, ast.Presence):
            symbol = self.state.symbols.get(expr.key.value)
            if symbol is None or symbol.kind != "context":
                what = (
                    f"`{expr.key.value}` is {_article(_kind_word(symbol.kind))} "
                    f"{_kind_word(symbol.kind)}, not a context key"
                    if symbol
                    else f"unknown context key `{expr.key.value}`"
                )
                self.state.error(
                    "not-a-context-key",
                    what,
                    expr.key.span,
                    suggestion_help(expr.key.value, self.state.names_of("context"))
                    or "`is known` and `is missing` test context keys",
                )
        elif isinstance(expr, ast.Truth):
            type_ = self.operand(expr.operand)
            if type_ is not None and type_.base != "bool":
                self.state.error(
                    "not-a-condition",
                    f"`{_written(expr.operand)}` is {type_.a()}, not a condition",
                    expr.operand.span,
                    "compare it with something, e.g. `subject_age >= 14` or "
                    '`destination = "CA-QC"`',
                )
        elif isinstance(expr, ast.Compare):
            self.compare(expr)
        else:
            self.member(expr)

    def operand(self, node: ast.Operand) -> OpType | None:
        """The operand's type, or None after reporting why it has none."""
        if isinstance(node, ast.Literal_):
            if isinstance(node.value, bool):
                return OpType("bool")
            if isinstance(node.value, int):
                return OpType("int")
            return OpType("str")
        if isinstance(node, ast.RequestRef):
            return OpType("term", kind=node.kind)
        if isinstance(node, ast.NameRef):
            symbol = self.state.symbols.get(node.name)
            if symbol is None:
                self.state.error(
                    "unknown-name",
                    f"unknown name `{node.name}`",
                    node.span,
                    suggestion_help(node.name, self.state.symbols)
                    or "conditions use declared context keys and vocabulary terms; "
                    "quote text values",
                )
                return None
            if symbol.kind == "context":
                return context_type(self.state.context[node.name].type)
            if symbol.kind == "obligation":
                self.state.error(
                    "obligation-in-condition",
                    f"`{node.name}` is an obligation and cannot be tested in a condition",
                    node.span,
                    "obligations are attached to allow rules with `with obligation ...`",
                )
                return None
            return OpType("term", kind=symbol.kind)
        return self.list_literal(node)

    def list_literal(self, node: ast.ListLiteral) -> OpType | None:
        if not node.items:
            return OpType("emptylist")
        types = [self.operand(item) for item in node.items]
        if any(t is None for t in types):
            return None
        for item, type_ in zip(node.items, types, strict=True):
            assert type_ is not None
            if (isinstance(item, ast.NameRef) and type_.base != "term") or (
                isinstance(item, ast.RequestRef | ast.ListLiteral)
            ):
                self.state.error(
                    "bad-list-item",
                    f"a list can hold quoted strings or vocabulary terms, not `{_written(item)}`",
                    item.span,
                )
                return None
        first = types[0]
        assert first is not None
        if all(t is not None and t.base == "str" for t in types):
            values = tuple(str(i.value) for i in node.items if isinstance(i, ast.Literal_))
            return OpType("strlist", literals=values)
        if all(t is not None and t.base == "term" and t.kind == first.kind for t in types):
            return OpType("termset", kind=first.kind)
        self.state.error(
            "mixed-list",
            "a list must hold values of one kind: all quoted strings, or all terms of one "
            "hierarchy",
            node.span,
        )
        return None

    def _literal_in(self, literal: ast.Operand, values: tuple[str, ...], owner: str) -> None:
        """A quoted value compared with a one-of key must be one of its values."""
        if (
            isinstance(literal, ast.Literal_)
            and isinstance(literal.value, str)
            and literal.value not in values
        ):
            close = did_you_mean(literal.value, values)
            self.state.error(
                "unknown-value",
                f'`"{literal.value}"` is not a value of `{owner}`',
                literal.span,
                "did you mean " + " or ".join(f'`"{c}"`' for c in close) + "?"
                if close
                else "its values are " + ", ".join(f'"{v}"' for v in values),
            )

    def compare(self, expr: ast.Compare) -> None:
        left = self.operand(expr.left)
        right = self.operand(expr.right)
        if left is None or right is None:
            return
        span = expr.span
        if expr.op in _ORDERING:
            for node, type_ in ((expr.left, left), (expr.right, right)):
                if type_.base != "int":
                    self.state.error(
                        "type-mismatch",
                        f"`{expr.op}` compares whole numbers, but `{_written(node)}` is "
                        f"{type_.a()}",
                        node.span or span,
                        _number_hint(node)
                        or (
                            "strings can only be tested with `=`, `!=` and `in`"
                            if type_.base == "str"
                            else None
                        ),
                    )
            return
        if left.base in ("strlist", "termset", "emptylist") or right.base in (
            "strlist",
            "termset",
            "emptylist",
        ):
            self.state.error(
                "type-mismatch",
                f"`{expr.op}` cannot compare lists or sets",
                span,
                "test membership with `in`, e.g. `purpose in consented_purposes`",
            )
            return
        if left.base != right.base or (left.base == "term" and left.kind != right.kind):
            self.state.error(
                "type-mismatch",
                f"cannot compare `{_written(expr.left)}` ({left.describe()}) with "
                f"`{_written(expr.right)}` ({right.describe()})",
                span,
                _number_hint(expr.right)
                or _number_hint(expr.left)
                or f"compare `{_written(expr.left)}` with {left.a()}",
            )
            return
        if left.base == "str":
            self._one_of_check(expr.left, left, expr.right, right)

    def _one_of_check(
        self, left_node: ast.Operand, left: OpType, right_node: ast.Operand, right: OpType
    ) -> None:
        for key_node, key_type, other in (
            (left_node, left, right_node),
            (right_node, right, left_node),
        ):
            if isinstance(key_node, ast.NameRef) and key_type.literals is not None:
                self._literal_in(other, key_type.literals, key_node.name)

    def member(self, expr: ast.Member) -> None:
        left = self.operand(expr.left)
        right = self.operand(expr.right)
        if left is None or right is None:
            return
        if right.base == "emptylist":
            return
        if right.base in ("termset", "term"):
            if left.base != "term" or left.kind != right.kind:
                self.state.error(
                    "type-mismatch",
                    f"`{_written(expr.right)}` holds {_kind_word(right.kind or '')} terms, but "
                    f"`{_written(expr.left)}` is {left.a()}",
                    expr.left.span or expr.span,
                    f"test a {right.kind} here, e.g. `{right.kind} in {_written(expr.right)}`",
                )
            return
        if right.base == "strlist":
            if left.base != "str":
                self.state.error(
                    "type-mismatch",
                    f"`{_written(expr.right)}` is {right.a()}, but `{_written(expr.left)}` is "
                    f"{left.a()}",
                    expr.left.span or expr.span,
                )
                return
            if isinstance(expr.right, ast.NameRef) and right.literals is not None:
                self._literal_in(expr.left, right.literals, expr.right.name)
            if isinstance(expr.left, ast.NameRef) and left.literals is not None:
                for item in expr.right.items if isinstance(expr.right, ast.ListLiteral) else ():
                    self._literal_in(item, left.literals, expr.left.name)
            return
        self.state.error(
            "type-mismatch",
            f"`in` needs a list or a set on its right, but `{_written(expr.right)}` is {right.a()}",
            expr.right.span or expr.span,
            "use `=` to compare single values",
        )


def _number_hint(node: ast.Operand) -> str | None:
    if (
        isinstance(node, ast.Literal_)
        and isinstance(node.value, str)
        and node.value.lstrip("-").isdigit()
    ):
        return f"write the number without quotes: `{node.value}`"
    return None
