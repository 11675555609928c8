"""Grammar coverage: every construct of the language parses to the expected syntax tree.

Nodes compare without their spans, so expected trees are written without positions; `same`
also compares the ``repr`` so that ``True`` and ``1`` (equal in Python) are told apart.
Spans get their own tests at the end.
"""

from __future__ import annotations

import pytest

from policy_engine import PolicySyntaxError
from policy_engine.language import ast as a
from policy_engine.language.parser import parse_source
from policy_engine.language.source import Source

N = a.Name
C = a.Citation
L = a.Literal_
R = a.NameRef


def parse(text: str, name: str = "test.policy") -> tuple[a.Item, ...]:
    return parse_source(Source(name, text)).items


def one(text: str) -> a.Item:
    items = parse(text)
    assert len(items) == 1, items
    return items[0]


def same(actual: object, expected: object) -> None:
    assert actual == expected
    assert repr(actual) == repr(expected)


def rule(text: str) -> a.Rule:
    item = one(text)
    assert isinstance(item, a.Rule)
    return item


def cond(condition: str) -> a.Expr | None:
    """The condition of a minimal rule whose `when` is ``condition``."""
    return rule(f"rule r allow p to use d for u when {condition}").condition


def truth(name: str) -> a.Truth:
    return a.Truth(R(name))


# ---- vocabulary -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["party", "data", "purpose", "obligation"])
def test_declaration_of_one_name(kind: a.DeclKind) -> None:
    same(one(f"{kind} alpha"), a.TermDecl(kind, (N("alpha"),)))


@pytest.mark.parametrize("kind", ["party", "data", "purpose", "obligation"])
def test_declaration_of_several_names_with_description_and_citations(kind: a.DeclKind) -> None:
    same(
        one(f'{kind} alpha, beta,gamma "three of them" §5.1, §1.4, §4.2(b)'),
        a.TermDecl(
            kind,
            (N("alpha"), N("beta"), N("gamma")),
            description="three of them",
            citations=(C("§5.1"), C("§1.4"), C("§4.2(b)")),
        ),
    )


@pytest.mark.parametrize("kind", ["party", "data", "purpose"])
def test_declaration_with_several_parents(kind: a.DeclKind) -> None:
    same(
        one(f'{kind} child, twin under mother, father "family" §3.1'),
        a.TermDecl(
            kind,
            (N("child"), N("twin")),
            parents=(N("mother"), N("father")),
            description="family",
            citations=(C("§3.1"),),
        ),
    )


def test_declaration_with_one_parent_and_nothing_else() -> None:
    same(one("data email under contact"), a.TermDecl("data", (N("email"),), (N("contact"),)))


def test_declaration_with_citation_but_no_description() -> None:
    same(
        one("purpose marketing §4.1"),
        a.TermDecl("purpose", (N("marketing"),), citations=(C("§4.1"),)),
    )


def test_citation_may_have_a_space_after_the_section_sign_and_a_letter() -> None:
    decl = one("party a § 5.1a")
    assert isinstance(decl, a.TermDecl)
    same(decl.citations, (C("§5.1a"),))


def test_obligation_has_no_parents() -> None:
    with pytest.raises(PolicySyntaxError):
        parse("obligation notify under duty")


# ---- context schema ---------------------------------------------------------------------------

CONTEXT_TYPES = [
    ("boolean", a.BoolType()),
    ("integer", a.IntType()),
    ("string", a.StrType()),
    ('one of "email", "phone", "mail"', a.OneOfType(("email", "phone", "mail"))),
    ('one of "only"', a.OneOfType(("only",))),
    ('list of "email", "phone"', a.ListType(("email", "phone"))),
    ("list of string", a.ListType(None)),
    ("set of purpose", a.TermSetType("purpose")),
    ("set of party", a.TermSetType("party")),
    ("set of data", a.TermSetType("data")),
]


@pytest.mark.parametrize(("written", "type_"), CONTEXT_TYPES, ids=[t for t, _ in CONTEXT_TYPES])
def test_context_declaration_of_every_type(written: str, type_: a.ValueType) -> None:
    same(one(f"context key: {written}"), a.ContextDecl(N("key"), type_))


@pytest.mark.parametrize(("written", "type_"), CONTEXT_TYPES, ids=[t for t, _ in CONTEXT_TYPES])
def test_context_declaration_with_description_and_citation(
    written: str, type_: a.ValueType
) -> None:
    same(
        one(f'context key:{written} "what it is" §2.3, §9'),
        a.ContextDecl(N("key"), type_, description="what it is", citations=(C("§2.3"), C("§9"))),
    )


@pytest.mark.parametrize(
    ("written", "type_", "default"),
    [
        ("boolean", a.BoolType(), L(False)),
        ("boolean", a.BoolType(), L(True)),
        ("integer", a.IntType(), L(14)),
        ("integer", a.IntType(), L(-3)),
        ("string", a.StrType(), L("CA-QC")),
        ('one of "email", "phone"', a.OneOfType(("email", "phone")), L("phone")),
    ],
)
def test_context_declaration_with_default(
    written: str, type_: a.ValueType, default: a.Literal_
) -> None:
    value = default.value
    shown = (
        ("true" if value else "false")
        if isinstance(value, bool)
        else f'"{value}"'
        if isinstance(value, str)
        else str(value)
    )
    same(
        one(f'context key: {written} default {shown} "described" §1'),
        a.ContextDecl(
            N("key"), type_, default=default, description="described", citations=(C("§1"),)
        ),
    )


def test_context_declaration_from_the_consent_ledger() -> None:
    same(
        one('context consented: set of purpose from consent ledger "what was consented to" §1.1'),
        a.ContextDecl(
            N("consented"),
            a.TermSetType("purpose"),
            description="what was consented to",
            citations=(C("§1.1"),),
            source="consent ledger",
        ),
    )
    # Only the checker limits the mark to a `set of purpose` without a default.
    same(
        one("context flag: boolean from consent ledger default true"),
        a.ContextDecl(N("flag"), a.BoolType(), default=L(True), source="consent ledger"),
    )
    assert one("context key: set of purpose") != one(
        "context key: set of purpose from consent ledger"
    )


def test_consent_ledger_is_one_phrase_whose_words_stay_free_as_names() -> None:
    decl = one("context key: set of purpose from\n  consent \t\n ledger")
    assert isinstance(decl, a.ContextDecl) and decl.source == "consent ledger"
    assert decl.source_span is not None
    assert (decl.source_span.line, decl.source_span.column) == (1, 29)
    assert (decl.source_span.end_line, decl.source_span.end_column) == (3, 8)
    items = parse(
        "party consent, ledger\ncontext from_ledger: set of purpose from consent ledger\n"
        "rule r allow consent to use d for u when consent in from_ledger\n"
    )
    assert [n.value for n in items[0].names] == ["consent", "ledger"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "context k: set of purpose from consent",
        "context k: set of purpose from ledger",
        "context k: set of purpose from consent ledgers",
        'context k: set of purpose from "consent ledger"',
        "context k: set of purpose from consent # a comment\n ledger",
        "context k: set of purpose default true from consent ledger",
        "context k: set of purpose consent ledger",
    ],
)
def test_consent_ledger_mark_written_wrong(text: str) -> None:
    with pytest.raises(PolicySyntaxError):
        parse(text)


# ---- rules ------------------------------------------------------------------------------------


def test_minimal_allow_rule() -> None:
    same(
        rule("rule r allow p to use d for u"),
        a.Rule(N("r"), "allow", (N("p"),), (N("d"),), (N("u"),)),
    )


def test_minimal_deny_rule() -> None:
    same(
        rule("rule r deny p from using d for u"),
        a.Rule(N("r"), "deny", (N("p"),), (N("d"),), (N("u"),)),
    )


@pytest.mark.parametrize("effect", ["allow", "deny"])
@pytest.mark.parametrize("verb", ["to use", "from using"])
def test_verbs_are_interchangeable(effect: a.Effect, verb: str) -> None:
    same(
        rule(f"rule r {effect} p {verb} d for u"),
        a.Rule(N("r"), effect, (N("p"),), (N("d"),), (N("u"),)),
    )


def test_any_party_any_data_any_purpose_mean_none() -> None:
    same(
        rule("rule r deny any party from using any data for any purpose"),
        a.Rule(N("r"), "deny", None, None, None),
    )


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("any party to use d for u", (None, (N("d"),), (N("u"),))),
        ("p to use any data for u", ((N("p"),), None, (N("u"),))),
        ("p to use d for any purpose", ((N("p"),), (N("d"),), None)),
    ],
)
def test_any_in_each_position(scope: str, expected: tuple[tuple[a.Name, ...] | None, ...]) -> None:
    got = rule(f"rule r allow {scope}")
    same((got.parties, got.data, got.purposes), expected)


def test_name_lists_in_every_position() -> None:
    same(
        rule("rule r allow p1, p2 to use d1,d2 , d3 for u1, u2"),
        a.Rule(
            N("r"),
            "allow",
            (N("p1"), N("p2")),
            (N("d1"), N("d2"), N("d3")),
            (N("u1"), N("u2")),
        ),
    )


def test_rule_with_citations_and_description() -> None:
    same(
        rule('rule r §5.1, §1.4 "does a thing" allow p to use d for u'),
        a.Rule(
            N("r"),
            "allow",
            (N("p"),),
            (N("d"),),
            (N("u"),),
            citations=(C("§5.1"), C("§1.4")),
            description="does a thing",
        ),
    )


def test_rule_with_description_only() -> None:
    got = rule('rule r "only words" allow p to use d for u')
    assert got.description == "only words"
    assert got.citations == ()


def test_rule_with_citation_only() -> None:
    got = rule("rule r §9 allow p to use d for u")
    same(got.citations, (C("§9"),))
    assert got.description is None


def test_rule_with_when_and_several_unless() -> None:
    same(
        rule("rule r deny any party from using d for u when a unless b unless c = 1"),
        a.Rule(
            N("r"),
            "deny",
            None,
            (N("d"),),
            (N("u"),),
            condition=truth("a"),
            exceptions=(truth("b"), a.Compare("=", R("c"), L(1))),
        ),
    )


def test_rule_with_unless_and_no_when() -> None:
    got = rule("rule r allow p to use d for u unless b")
    assert got.condition is None
    same(got.exceptions, (truth("b"),))


def test_rule_with_obligations() -> None:
    got = rule(
        "rule r allow p to use d for u\n"
        "  with obligation notify\n"
        '  with obligations protect, log when destination != "CA-QC"\n'
    )
    same(
        got.obligations,
        (
            a.ObligationClause((N("notify"),)),
            a.ObligationClause(
                (N("protect"), N("log")), a.Compare("!=", R("destination"), L("CA-QC"))
            ),
        ),
    )


def test_rule_with_everything() -> None:
    same(
        rule(
            'rule everything §5.1 "all clauses"\n'
            "  allow staff, partners to use contact for support\n"
            "  when purpose in consented\n"
            "  unless channel in opted_out\n"
            "  unless age < 14\n"
            '  with obligation protect when destination != "CA-QC"\n'
        ),
        a.Rule(
            N("everything"),
            "allow",
            (N("staff"), N("partners")),
            (N("contact"),),
            (N("support"),),
            citations=(C("§5.1"),),
            description="all clauses",
            condition=a.Member(a.RequestRef("purpose"), R("consented")),
            exceptions=(
                a.Member(R("channel"), R("opted_out")),
                a.Compare("<", R("age"), L(14)),
            ),
            obligations=(
                a.ObligationClause((N("protect"),), a.Compare("!=", R("destination"), L("CA-QC"))),
            ),
        ),
    )


# ---- conditions -------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_every_comparison(op: a.CompareOp) -> None:
    same(cond(f"age {op} 14"), a.Compare(op, R("age"), L(14)))


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_comparison_without_spaces(op: a.CompareOp) -> None:
    same(cond(f"age{op}14"), a.Compare(op, R("age"), L(14)))


def test_comparison_of_two_names_and_of_strings() -> None:
    same(cond("x = y"), a.Compare("=", R("x"), R("y")))
    same(cond('"CA-QC" != destination'), a.Compare("!=", L("CA-QC"), R("destination")))


def test_negative_integers() -> None:
    same(cond("balance > -5"), a.Compare(">", R("balance"), L(-5)))
    same(cond("-1 = x"), a.Compare("=", L(-1), R("x")))


def test_true_and_false() -> None:
    same(cond("flag = true"), a.Compare("=", R("flag"), L(True)))
    same(cond("flag != false"), a.Compare("!=", R("flag"), L(False)))
    same(cond("true"), a.Truth(L(True)))
    same(cond("false"), a.Truth(L(False)))


def test_bare_boolean_key() -> None:
    same(cond("cookies_accepted"), truth("cookies_accepted"))


@pytest.mark.parametrize("kind", ["party", "data", "purpose"])
def test_request_refs(kind: a.TermKind) -> None:
    same(cond(f"{kind} = x"), a.Compare("=", a.RequestRef(kind), R("x")))
    same(cond(f"{kind} in x"), a.Member(a.RequestRef(kind), R("x")))


def test_a_name_that_starts_like_a_request_ref_is_a_name() -> None:
    same(cond("party_size > 2"), a.Compare(">", R("party_size"), L(2)))
    same(cond("purposes = x"), a.Compare("=", R("purposes"), R("x")))


def test_or_binds_looser_than_and() -> None:
    same(cond("a or b and c"), a.Or((truth("a"), a.And((truth("b"), truth("c"))))))
    same(cond("a and b or c"), a.Or((a.And((truth("a"), truth("b"))), truth("c"))))


def test_chains_flatten_into_one_node() -> None:
    same(cond("a or b or c or d"), a.Or(tuple(truth(n) for n in "abcd")))
    same(cond("a and b and c"), a.And(tuple(truth(n) for n in "abc")))


def test_parentheses_group() -> None:
    same(cond("(a or b) and c"), a.And((a.Or((truth("a"), truth("b"))), truth("c"))))
    same(cond("a and (b or c)"), a.And((truth("a"), a.Or((truth("b"), truth("c"))))))
    same(cond("((a))"), truth("a"))
    # A parenthesized chain on the right stays a node of its own.
    same(cond("a and (b and c)"), a.And((truth("a"), a.And((truth("b"), truth("c"))))))


def test_not_binds_tightest() -> None:
    same(cond("not a"), a.Not(truth("a")))
    same(cond("not a and b"), a.And((a.Not(truth("a")), truth("b"))))
    same(cond("not (a and b)"), a.Not(a.And((truth("a"), truth("b")))))
    same(cond("not not a"), a.Not(a.Not(truth("a"))))
    same(cond("a or not b"), a.Or((truth("a"), a.Not(truth("b")))))


def test_in_and_not_in() -> None:
    same(cond("channel in opted_out"), a.Member(R("channel"), R("opted_out")))
    same(cond("channel not in opted_out"), a.Member(R("channel"), R("opted_out"), negated=True))
    same(cond("not channel in opted_out"), a.Not(a.Member(R("channel"), R("opted_out"))))


def test_list_literal_of_strings() -> None:
    same(
        cond('destination in ["CA-QC", "CA-ON"]'),
        a.Member(R("destination"), a.ListLiteral((L("CA-QC"), L("CA-ON")))),
    )


def test_list_literal_of_terms() -> None:
    same(
        cond("purpose not in [consent_exempt, legal_compliance]"),
        a.Member(
            a.RequestRef("purpose"),
            a.ListLiteral((R("consent_exempt"), R("legal_compliance"))),
            negated=True,
        ),
    )


def test_list_literal_of_one_and_of_none() -> None:
    same(cond("x in [a]"), a.Member(R("x"), a.ListLiteral((R("a"),))))
    same(cond("x in []"), a.Member(R("x"), a.ListLiteral(())))
    same(cond("x in [ ]"), a.Member(R("x"), a.ListLiteral(())))


def test_is_known_and_is_missing() -> None:
    same(cond("age is known"), a.Presence(N("age"), known=True))
    same(cond("age is missing"), a.Presence(N("age"), known=False))
    same(
        cond("age is known and age < 14"),
        a.And((a.Presence(N("age"), True), a.Compare("<", R("age"), L(14)))),
    )


def test_conditions_in_unless_and_obligation_clauses_use_the_same_grammar() -> None:
    got = rule("rule r allow p to use d for u unless a or b and c with obligation o when not a")
    same(got.exceptions, (a.Or((truth("a"), a.And((truth("b"), truth("c"))))),))
    same(got.obligations, (a.ObligationClause((N("o"),), a.Not(truth("a"))),))


# ---- layout, comments, strings ----------------------------------------------------------------


def test_empty_file_and_only_comments() -> None:
    assert parse("") == ()
    assert parse("\n\n   \n") == ()
    assert parse("# nothing here\n  # still nothing") == ()


def test_items_keep_their_order_and_file_name() -> None:
    policy = parse_source(Source("dir/x.policy", "rule r allow p to use d for u\nparty p\n"))
    assert policy.name == "dir/x.policy"
    assert [type(i) for i in policy.items] == [a.Rule, a.TermDecl]


def test_comments_anywhere() -> None:
    text = (
        "# a file comment\n"
        "party p # end of line\n"
        "\n"
        "    # indented, own line\n"
        "rule r §1 # after the citation\n"
        "  # between the header and the effect\n"
        "  allow p # after the party\n"
        "    to use d for u # end of the scope\n"
        "  # before the condition\n"
        "  when a # inside the condition\n"
        "    and b\n"
        "  unless c # after an exception\n"
        "# last line, no newline"
    )
    same(
        parse(text),
        (
            a.TermDecl("party", (N("p"),)),
            a.Rule(
                N("r"),
                "allow",
                (N("p"),),
                (N("d"),),
                (N("u"),),
                citations=(C("§1"),),
                condition=a.And((truth("a"), truth("b"))),
                exceptions=(truth("c"),),
            ),
        ),
    )


def test_hash_inside_a_string_is_not_a_comment() -> None:
    same(one('party p "issue #4"'), a.TermDecl("party", (N("p"),), description="issue #4"))


def test_free_layout() -> None:
    same(
        parse("party\tp\r\n\r\nrule\n r\n allow\n p\n to\n use\n d\n for\n u"),
        (
            a.TermDecl("party", (N("p"),)),
            a.Rule(N("r"), "allow", (N("p"),), (N("d"),), (N("u"),)),
        ),
    )


def test_string_escapes() -> None:
    decl = one(r'party p "say \"hi\" \\ back\\"')
    assert isinstance(decl, a.TermDecl)
    assert decl.description == 'say "hi" \\ back\\'
    same(cond(r'note = "a\"b"'), a.Compare("=", R("note"), L('a"b')))
    context = one(r'context c: one of "x\\y", "\"q\"" default "x\\y"')
    same(
        context,
        a.ContextDecl(N("c"), a.OneOfType(("x\\y", '"q"')), default=L("x\\y")),
    )


def test_empty_string() -> None:
    same(cond('note = ""'), a.Compare("=", R("note"), L("")))


# ---- spans ------------------------------------------------------------------------------------


def test_equality_ignores_spans() -> None:
    decl = one("party alpha")
    assert isinstance(decl, a.TermDecl)
    assert decl.names[0].span is not None
    assert decl.names[0] == N("alpha")
    assert decl.span is not None


def test_name_spans_have_line_and_column() -> None:
    policy = parse_source(Source("spans.policy", "# header\nparty alpha,  beta under gamma\n"))
    decl = policy.items[0]
    assert isinstance(decl, a.TermDecl)
    positions = [
        (n.value, n.span.line, n.span.column, n.span.end_line, n.span.end_column)
        for n in (*decl.names, *decl.parents)
        if n.span is not None
    ]
    assert positions == [
        ("alpha", 2, 7, 2, 12),
        ("beta", 2, 15, 2, 19),
        ("gamma", 2, 26, 2, 31),
    ]
    span = decl.names[1].span
    assert span is not None
    assert span.source.name == "spans.policy"
    assert span.location == "spans.policy:2:15"


def test_rule_spans() -> None:
    text = (
        "party p\n"
        "\n"
        "rule   my_rule §5.1\n"
        "  allow p to use d for u\n"
        "  when age is known and\n"
        "       x in [a, b]\n"
    )
    got = parse_source(Source("r.policy", text)).items[1]
    assert isinstance(got, a.Rule)
    assert got.span is not None
    assert (got.span.line, got.span.column, got.span.end_line) == (3, 1, 6)
    assert got.id.span is not None
    assert (got.id.span.line, got.id.span.column, got.id.span.end_column) == (3, 8, 15)
    assert got.citations[0].span is not None
    assert (got.citations[0].span.line, got.citations[0].span.column) == (3, 16)
    assert got.parties is not None and got.parties[0].span is not None
    assert (got.parties[0].span.line, got.parties[0].span.column) == (4, 9)
    condition = got.condition
    assert isinstance(condition, a.And)
    presence, member = condition.operands
    assert isinstance(presence, a.Presence) and presence.key.span is not None
    assert (presence.key.span.line, presence.key.span.column) == (5, 8)
    assert isinstance(member, a.Member) and member.span is not None
    assert (member.span.line, member.span.column, member.span.end_column) == (6, 8, 19)
    assert isinstance(member.left, a.NameRef) and member.left.span is not None
    assert (member.left.span.line, member.left.span.column) == (6, 8)
    assert isinstance(member.right, a.ListLiteral)
    second = member.right.items[1]
    assert isinstance(second, a.NameRef) and second.span is not None
    assert (second.span.line, second.span.column) == (6, 17)


def test_literal_span_covers_the_quotes() -> None:
    condition = cond('note = "a b"')
    assert isinstance(condition, a.Compare)
    assert condition.right.span is not None
    assert (condition.right.span.column, condition.right.span.end_column) == (43, 48)
