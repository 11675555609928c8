"""Lark's parse tree → the frozen nodes of :mod:`policy_engine.language.ast`: the builder of
statements (declarations, context keys, rules, invariants) on top of the expression builder."""

from __future__ import annotations

from typing import Any

from lark import Token
from lark.tree import Meta

from . import ast
from .builder_attributes import AttributeBuilder
from .builder_base import Tagged, with_meta
from .citations import citation_text
from .expression_builder import ExpressionBuilder
from .source import Span


def _excepted(kind: ast.TermKind, names: tuple[ast.Name, ...]) -> ast.Expr:
    """``allow a except b …`` means ``unless party in [b]``: the exception an except stands for,
    placed where the except is written."""
    spans = [n.span for n in names if n.span is not None]
    span = (
        Span(
            spans[0].source,
            spans[0].line,
            spans[0].column,
            spans[-1].end_line,
            spans[-1].end_column,
        )
        if spans
        else None
    )
    items = tuple(ast.NameRef(n.value, n.span) for n in names)
    return ast.Member(ast.RequestRef(kind, span), ast.ListLiteral(items, span), False, span)


class Builder(ExpressionBuilder, AttributeBuilder):
    """Builds the AST nodes of one parse's file: each public method builds the node of the grammar
    rule it is named after (see :class:`~.builder_base.BuilderBase` for the dispatch)."""

    # structure -----------------------------------------------------------
    def start(self, children: list[Any]) -> list[Any]:
        return children

    @with_meta
    def name_list(self, meta: Meta, children: list[Token]) -> tuple[ast.Name, ...]:
        return tuple(self._name(t) for t in children)

    @with_meta
    def parents(self, meta: Meta, children: list[Any]) -> Tagged:
        return Tagged("parents", children[0])

    @with_meta
    def description(self, meta: Meta, children: list[Token]) -> Tagged:
        return Tagged("description", self._text(children[0]))

    @with_meta
    def citations(self, meta: Meta, children: list[Token]) -> Tagged:
        cites = tuple(ast.Citation(citation_text(str(t)), self._tspan(t)) for t in children)
        return Tagged("citations", cites)

    # the text the policy encodes -------------------------------------------
    @with_meta
    def source_decl(self, meta: Meta, children: list[Token]) -> ast.SourceDecl:
        name = self._name(children[0]) if len(children) > 1 else None
        return ast.SourceDecl(self._text(children[-1]), name, self._span(meta))

    @with_meta
    def use_decl(self, meta: Meta, children: list[Token]) -> ast.UseDecl:
        return ast.UseDecl(self._name(children[0]), self._text(children[1]), self._span(meta))

    @with_meta
    def no_decision(self, meta: Meta, children: list[Any]) -> ast.NoDecision:
        return ast.NoDecision(children[1].value, self._text(children[2]), self._span(meta))

    @with_meta
    def ground(self, meta: Meta, children: list[Any]) -> Tagged:
        cites = children[0].value if len(children) > 1 else ()
        return Tagged("ground", ast.Ground(self._text(children[-1]), cites, self._span(meta)))

    def _decl(self, kind: ast.DeclKind, meta: Meta, children: list[Any]) -> ast.TermDecl:
        tags = {c.tag: c.value for c in children[1:]}
        return ast.TermDecl(
            kind=kind,
            names=children[0],
            parents=tags.get("parents", ()),
            description=tags.get("description"),
            citations=tags.get("citations", ()),
            span=self._span(meta),
            attributes=tags.get("attributes", ()),
        )

    @with_meta
    def party_decl(self, meta: Meta, children: list[Any]) -> ast.TermDecl:
        return self._decl("party", meta, children)

    @with_meta
    def data_decl(self, meta: Meta, children: list[Any]) -> ast.TermDecl:
        return self._decl("data", meta, children)

    @with_meta
    def purpose_decl(self, meta: Meta, children: list[Any]) -> ast.TermDecl:
        return self._decl("purpose", meta, children)

    @with_meta
    def obligation_decl(self, meta: Meta, children: list[Any]) -> ast.TermDecl:
        names, parameters = children[0]
        tags = {c.tag: c.value for c in children[1:]}
        return ast.TermDecl(
            kind="obligation",
            names=names,
            description=tags.get("description"),
            citations=tags.get("citations", ()),
            span=self._span(meta),
            parameters=parameters,
            condition=tags.get("when"),
        )

    def obligation_names(self, children: list[Any]) -> tuple[Any, ...]:
        return (children[0], ())

    def parameterised(self, children: list[Any]) -> tuple[Any, ...]:
        return ((self._name(children[0]),), tuple(children[1:]))

    @with_meta
    def obligation_param(self, meta: Meta, children: list[Any]) -> ast.ParamDecl:
        name, type_, *rest = children
        default = rest[0].value if rest else None
        return ast.ParamDecl(self._name(name), type_, default, self._span(meta))

    # named conditions ------------------------------------------------------
    @with_meta
    def condition_decl(self, meta: Meta, children: list[Any]) -> ast.ConditionDecl:
        tags = {c.tag: c.value for c in children[1:-1]}
        return ast.ConditionDecl(
            name=self._name(children[0]),
            condition=children[-1],
            citations=tags.get("citations", ()),
            description=tags.get("description"),
            span=self._span(meta),
        )

    # context schema --------------------------------------------------------
    @with_meta
    def context_decl(self, meta: Meta, children: list[Any]) -> ast.ContextDecl:
        name, type_, *rest = children
        tags = {c.tag: c.value for c in rest}
        return ast.ContextDecl(
            name=self._name(name),
            type=type_,
            default=tags.get("default"),
            description=tags.get("description"),
            citations=tags.get("citations", ()),
            span=self._span(meta),
            source="consent ledger" if "source" in tags else None,
            source_span=tags.get("source"),
            is_now="now" in tags,
            now_span=tags.get("now"),
            supplies=tags.get("supplies", ()),
        )

    def bool_type(self, _: list[Any]) -> ast.BoolType:
        return ast.BoolType()

    def int_type(self, _: list[Any]) -> ast.IntType:
        return ast.IntType()

    def decimal_type(self, _: list[Any]) -> ast.DecimalType:
        return ast.DecimalType()

    def str_type(self, _: list[Any]) -> ast.StrType:
        return ast.StrType()

    def date_type(self, _: list[Any]) -> ast.DateType:
        return ast.DateType()

    def instant_type(self, _: list[Any]) -> ast.InstantType:
        return ast.InstantType()

    def string_list(self, children: list[Token]) -> tuple[str, ...]:
        return tuple(self._text(t) for t in children)

    def one_of_type(self, children: list[Any]) -> ast.OneOfType:
        return ast.OneOfType(children[0])

    def list_of_literals_type(self, children: list[Any]) -> ast.ListType:
        return ast.ListType(children[0])

    def list_of_strings_type(self, _: list[Any]) -> ast.ListType:
        return ast.ListType(None)

    def term_set_type(self, children: list[Token]) -> ast.TermSetType:
        kind: ast.TermKind = str(children[0])  # type: ignore[assignment]
        return ast.TermSetType(kind)

    def term_type(self, children: list[Token]) -> ast.TermType:
        kind: ast.TermKind = str(children[0])  # type: ignore[assignment]
        return ast.TermType(kind)

    def default_term(self, children: list[Token]) -> ast.NameRef:
        name = self._name(children[0])
        return ast.NameRef(name.value, name.span)

    def supplies(self, children: list[Any]) -> Tagged:
        return Tagged("supplies", children[0])

    def default(self, children: list[Any]) -> Tagged:
        return Tagged("default", children[0])

    @with_meta
    def now_mark(self, meta: Meta, children: list[Token]) -> Tagged:
        """``is now``, tagged with where it is written."""
        return Tagged("now", self._span(meta))

    @with_meta
    def ledger_source(self, meta: Meta, children: list[Token]) -> Tagged:
        """``from consent ledger``, tagged with where it is written."""
        return Tagged("source", self._span(meta))

    # rules -------------------------------------------------------------------
    @with_meta
    def rule(self, meta: Meta, children: list[Any]) -> ast.Rule:
        tags: dict[str, Any] = {}
        effect: ast.Effect = "allow"
        scopes: list[ast.Scope] = []
        exceptions: list[ast.Expr] = []
        obligations: list[ast.ObligationClause] = []
        for child in children[1:]:
            if isinstance(child, Token) and child.type == "EFFECT":
                effect = "deny" if str(child) == "deny" else "allow"
            elif isinstance(child, ast.Scope):
                scopes.append(child)
            elif isinstance(child, Tagged) and child.tag == "unless":
                exceptions.append(child.value)
            elif isinstance(child, Tagged):
                tags[child.tag] = child.value
            elif isinstance(child, ast.ObligationClause):
                obligations.append(child)
        kinds: tuple[ast.TermKind, ...] = ("party", "data", "purpose")
        excepts = tuple(scope.excepts for scope in scopes)
        derived = [_excepted(k, names) for k, names in zip(kinds, excepts, strict=True) if names]
        return ast.Rule(
            id=self._name(children[0]),
            effect=effect,
            parties=scopes[0].names,
            data=scopes[1].names,
            purposes=scopes[2].names,
            citations=tags.get("citations", ()),
            description=tags.get("description"),
            condition=tags.get("when"),
            exceptions=(*exceptions, *derived),
            obligations=tuple(obligations),
            span=self._span(meta),
            ground=tags.get("ground"),
            excepts=(excepts[0], excepts[1], excepts[2]),
        )

    def to_use(self, _: list[Any]) -> Tagged:
        return Tagged("verb", "to use")

    def from_using(self, _: list[Any]) -> Tagged:
        return Tagged("verb", "from using")

    def any_party(self, _: list[Any]) -> Tagged:
        return Tagged("scope", None)

    any_data = any_party
    any_purpose = any_party

    def parties(self, children: list[Any]) -> Tagged:
        return Tagged("scope", children[0])

    datas = parties
    purposes = parties

    def when(self, children: list[Any]) -> Tagged:
        return Tagged("when", children[0])

    def unless(self, children: list[Any]) -> Tagged:
        return Tagged("unless", children[0])

    @with_meta
    def obligation_clause(self, meta: Meta, children: list[Any]) -> ast.ObligationClause:
        uses: list[tuple[ast.Name, tuple[ast.Argument, ...]]] = children[0]
        condition = children[1] if len(children) > 1 else None
        names = tuple(name for name, _ in uses)
        arguments = tuple(args for _, args in uses) if any(args for _, args in uses) else ()
        return ast.ObligationClause(names, condition, self._span(meta), arguments)

    def obligation_uses(self, children: list[Any]) -> list[Any]:
        return children

    def obligation_use(self, children: list[Any]) -> tuple[ast.Name, tuple[ast.Argument, ...]]:
        return self._name(children[0]), tuple(children[1:])

    @with_meta
    def argument(self, meta: Meta, children: list[Any]) -> ast.Argument:
        return ast.Argument(self._name(children[0]), children[1], self._span(meta))

    # overrides -----------------------------------------------------------------
    @with_meta
    def override(self, meta: Meta, children: list[Any]) -> ast.Override:
        tags: dict[str, Any] = {}
        obligations: list[ast.ObligationClause] = []
        for child in children[1:]:
            if isinstance(child, ast.ObligationClause):
                obligations.append(child)
            else:
                tags[child.tag] = child.value
        return ast.Override(
            id=self._name(children[0]),
            condition=tags["when"],
            lifts=tags.get("lifts", ()),
            citing=tags.get("citing", ()),
            citations=tags.get("citations", ()),
            description=tags.get("description"),
            obligations=tuple(obligations),
            span=self._span(meta),
        )

    def lifts_rules(self, children: list[Any]) -> Tagged:
        return Tagged("lifts", children[0])

    def lifts_citing(self, children: list[Any]) -> Tagged:
        return Tagged("citing", children[0].value)

    # invariants ----------------------------------------------------------------
    @with_meta
    def invariant(self, meta: Meta, children: list[Any]) -> ast.Invariant:
        tags = {c.tag: c.value for c in children[1:-1] if isinstance(c, Tagged)}
        claim = children[-1]
        return ast.Invariant(
            id=self._name(children[0]),
            expect=claim["expect"],
            parties=claim["scopes"][0],
            data=claim["scopes"][1],
            purposes=claim["scopes"][2] if len(claim["scopes"]) > 2 else ast.Scope(None),
            citations=tags.get("citations", ()),
            description=tags.get("description"),
            condition=claim["when"],
            exceptions=claim["unless"],
            wording=claim["wording"],
            span=self._span(meta),
        )

    def _claim(self, wording: str, expect: str, children: list[Any]) -> dict[str, Any]:
        scopes = [c for c in children if isinstance(c, ast.Scope)]
        tagged = [c for c in children if isinstance(c, Tagged)]
        when = next((c.value for c in tagged if c.tag == "when"), None)
        unless = tuple(c.value for c in tagged if c.tag == "unless")
        return {
            "wording": wording,
            "expect": expect,
            "scopes": scopes,
            "when": when,
            "unless": unless,
        }

    def never(self, children: list[Any]) -> dict[str, Any]:
        return self._claim("never", "deny", children)

    def always(self, children: list[Any]) -> dict[str, Any]:
        effect = next(str(c) for c in children if isinstance(c, Token) and c.type == "EFFECT")
        return self._claim("always", effect, children)

    def inv_verb(self, _: list[Any]) -> None:
        return None

    def inv_purposes(self, children: list[Any]) -> ast.Scope:
        scope: ast.Scope = children[0]
        return scope

    def exceptions(self, children: list[Any]) -> tuple[ast.Name, ...]:
        names: tuple[ast.Name, ...] = children[0]
        return names

    def _scope(self, children: list[Any]) -> ast.Scope:
        names: tuple[ast.Name, ...] | None = children[0].value
        excepts: tuple[ast.Name, ...] = children[1] if len(children) > 1 else ()
        return ast.Scope(names, excepts)

    party_scope = _scope
    data_scope = _scope
    purpose_scope = _scope
