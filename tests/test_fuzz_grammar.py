"""Fuzzing in the suite (issue #12): rule files drawn from the grammar itself
(``hypothesis.extra.lark``), PLANISO's rule files mutated (bytes flipped, lines deleted or
doubled, tokens swapped), and the atheris corpus replayed (tests/fuzz/). One property throughout
(:func:`tests.fuzz.fuzz_policy.exercise`): loading, the API's check, the formatter and deciding
raise nothing but the ``PolicyError`` family, and a policy that loads formats to a text that
formats to itself and loads to the same policy.

Every bug these found is a regression test at the end of this file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

import policy_engine
from policy_engine.language.formatter import format_source
from policy_engine.language.grammar import grammar_text

from .conftest import PLANISO
from .fuzz.fuzz_policy import TestOneInput, exercise, exercise_files

CORPUS = Path(__file__).resolve().parent / "fuzz" / "corpus"

FUZZ = settings(
    max_examples=int(os.environ.get("POLICY_ENGINE_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""A modest run per test in the suite (some 5 s each); POLICY_ENGINE_FUZZ_EXAMPLES asks for more."""


@pytest.fixture(scope="module", autouse=True)
def _no_cache_entries() -> Iterator[None]:
    """Every drawn policy would otherwise leave an entry in the compiled cache."""
    before = os.environ.get("POLICY_ENGINE_CACHE")
    os.environ["POLICY_ENGINE_CACHE"] = "off"
    yield
    if before is None:
        del os.environ["POLICY_ENGINE_CACHE"]
    else:
        os.environ["POLICY_ENGINE_CACHE"] = before


# ---- rule files drawn from the grammar ------------------------------------------------------

HEADER = """\
party staff
party clerk, manager under staff
data records
data email under records
purpose service
purpose marketing under service
obligation notify
context consented: set of purpose
context age: integer default 18
context verified: boolean
context channel: one of "email", "sms"
context tags: list of string
"""
"""A vocabulary the drawn rules can name: the names below are declared here."""

NAMES = (
    *("staff", "clerk", "manager", "records", "email", "service", "marketing", "notify"),
    *("consented", "age", "verified", "channel", "tags", "r1", "r2", "i1", "x"),
)


TEXT = st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from("\n\té§")
"""What patterns are drawn from (a pattern's `\\s` would otherwise draw U+2028 and the like, which
are refused outside strings: the mutations and atheris try those)."""


def _terminal(value: str) -> str:
    """Tokens are drawn with spaces around them: keywords glued to names are the mutation
    tests' business, not the grammar's."""
    return f" {value} "


def _terminals(grammar: Lark) -> dict[str, st.SearchStrategy[str]]:
    """A strategy for every terminal of the grammar, whatever it holds today: literals as they
    are, patterns drawn from their regular expression, and a few drawn from likely values."""
    likely: dict[str, st.SearchStrategy[str]] = {
        "NAME": st.sampled_from(NAMES),
        "STRING": st.sampled_from(['"email"', '"sms"', '""', '"a\\"b"', '"x\\ty"', '"é"']),
        "INT": st.sampled_from([str(i) for i in range(-3, 31)]),
        "CITATION": st.sampled_from(["§1", "§ 2.3", "§4.2(b)", "§1a"] * 3 + ["planiso:§5.1"]),
        "COMMENT": st.from_regex(r"#.{0,12}", fullmatch=True, alphabet=TEXT).map(
            lambda c: c + "\n"
        ),
        # (U+2028 and its kind are refused outside strings: the mutations and atheris try them)
        "WS": st.sampled_from([" ", "\n", "  ", "\n  ", "\r\n", "\t", "\n\n"]),
    }
    out: dict[str, st.SearchStrategy[str]] = {}
    for term in grammar.terminals:
        if term.name in likely:
            strategy = likely[term.name]
        elif term.pattern.type == "str":
            strategy = st.just(term.pattern.value)
        else:
            strategy = st.from_regex(term.pattern.to_regexp(), fullmatch=True, alphabet=TEXT)
        out[term.name] = strategy if term.name in ("WS", "COMMENT") else strategy.map(_terminal)
    return out


GRAMMAR = Lark(grammar_text(), parser="lalr", maybe_placeholders=False)
TERMINALS = _terminals(GRAMMAR)


def drawn(start: str) -> st.SearchStrategy[str]:
    """Texts of the grammar's rule ``start``, each terminal it reaches drawn as above."""
    terminals, rules, ignored = GRAMMAR.grammar.compile([start], ())
    reached = {t.name for t in terminals} | set(ignored)
    reached |= {s.name for rule in rules for s in rule.expansion if s.is_term}
    explicit = {name: strategy for name, strategy in TERMINALS.items() if name in reached}
    return from_lark(GRAMMAR, start=start, explicit=explicit)


@FUZZ
@given(drawn("start"))
def test_a_rule_file_drawn_from_the_grammar(text: str) -> None:
    exercise(text)


@st.composite
def statements(draw: st.DrawFn) -> str:
    """A rule or an invariant over the vocabulary of ``HEADER``, written by hand: every term of
    the right kind, so that many load (the grammar's own statements are drawn whole by the test
    above and after this vocabulary below)."""
    shape = draw(st.sampled_from(["rule", "invariant"]))
    party = draw(st.sampled_from(["staff", "clerk", "manager", "any party"]))
    data = draw(st.sampled_from(["records", "email", "any data"]))
    purpose = draw(st.sampled_from(["service", "marketing", "any purpose"]))
    conditions = draw(st.lists(st.sampled_from(["when", "unless"]), max_size=2))
    clauses = [f"  {word} {draw(CONDITIONS)}" for word in sorted(conditions, reverse=True)]
    if shape == "invariant":
        head = f"invariant {draw(st.sampled_from(['i1', 'i2']))} §9\n  never {party} use {data}"
        return f"{head} for {purpose}\n" + "\n".join(clauses)
    effect = draw(st.sampled_from(["allow", "deny"]))
    verb = "to use" if effect == "allow" else "from using"
    head = f"rule {draw(st.sampled_from(['r1', 'r2', 'r3']))} §1\n  {effect} {party} {verb} {data}"
    if draw(st.booleans()):
        clauses.append(f"  with obligation notify when {draw(CONDITIONS)}")
    return f"{head} for {purpose}\n" + "\n".join(clauses)


ATOMS = (
    *("verified", "age >= 14", "age < 3", 'channel = "email"', 'channel != "sms"', "true"),
    *("purpose in consented", "marketing in consented", "data in records", "party in staff"),
    *("age is known", "channel is missing", '"x" in tags', "party in [clerk, manager]"),
    *("party = clerk", 'channel in ["email"]', "purpose not in consented", "tags = []"),
)
CONDITIONS = st.recursive(
    st.sampled_from(ATOMS),
    lambda inner: (
        st.tuples(inner, inner).map(" and ".join)
        | st.tuples(inner, inner).map(" or ".join)
        | inner.map("not ({})".format)
        | inner.map("({})".format)
    ),
    max_leaves=6,
)
"""Conditions over ``HEADER``'s keys and terms (the grammar's own `expr`, drawn whole, nests
until hypothesis gives up: seconds per example)."""


@settings(FUZZ, max_examples=FUZZ.max_examples * 2)
@given(st.lists(statements(), min_size=1, max_size=4))
def test_rules_over_a_vocabulary(items: list[str]) -> None:
    """Rules and invariants over declared names: many of these load, so deciding and the
    formatter's round trip are exercised, not only the parser's errors."""
    exercise(HEADER + "\n".join(items) + "\n")


@FUZZ
@given(drawn("rule") | drawn("invariant"))
def test_a_statement_drawn_from_the_grammar_after_a_vocabulary(item: str) -> None:
    exercise(HEADER + item + "\n")


# ---- PLANISO mutated ---------------------------------------------------------------------------


def _planiso() -> dict[str, str]:
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(PLANISO.glob("*.policy"))}
    for document in sorted(PLANISO.glob("*.txt")):  # the text its citations name, if any
        files[document.name] = document.read_text(encoding="utf-8")
    return files


PLANISO_FILES = _planiso()
RULE_FILES = sorted(name for name in PLANISO_FILES if name.endswith(".policy"))


def _flip(text: str, at: int, byte: int) -> str:
    raw = bytearray(text.encode("utf-8", "surrogatepass"))  # after an inserted surrogate
    raw[at % len(raw)] = byte
    return raw.decode("utf-8", "replace")


def _delete_line(text: str, at: int, _: int) -> str:
    lines = text.splitlines(keepends=True)
    del lines[at % len(lines)]
    return "".join(lines)


def _double_line(text: str, at: int, _: int) -> str:
    lines = text.splitlines(keepends=True)
    line = lines[at % len(lines)]
    lines.insert(at % len(lines), line)
    return "".join(lines)


def _swap_tokens(text: str, at: int, other: int) -> str:
    tokens = text.split(" ")
    i, j = at % len(tokens), other % len(tokens)
    tokens[i], tokens[j] = tokens[j], tokens[i]
    return " ".join(tokens)


ODD_CHARACTERS = ("\ud800", "\udfff", "\u2028", "\x0c", "\x00", "\ufeff", "\r", "\\", '"', "§", "#")
"""Characters a ``str`` may hold and a rule file should not, or only in places."""


def _insert(text: str, at: int, which: int) -> str:
    at %= len(text) + 1
    return text[:at] + ODD_CHARACTERS[which % len(ODD_CHARACTERS)] + text[at:]


MUTATIONS = (_flip, _delete_line, _double_line, _swap_tokens, _insert)


@st.composite
def mutated_planiso(draw: st.DrawFn) -> dict[str, str]:
    files = dict(PLANISO_FILES)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(RULE_FILES))
        mutate = draw(st.sampled_from(MUTATIONS))
        at = draw(st.integers(0, 1 << 20))
        if files[name]:
            files[name] = mutate(files[name], at, draw(st.integers(0, 255)))
    return files


@settings(FUZZ, max_examples=max(FUZZ.max_examples // 2, 1))
@given(mutated_planiso())
def test_planiso_mutated(files: dict[str, str]) -> None:
    exercise_files(files)


def test_planiso_itself_passes_the_property() -> None:
    assert exercise_files(PLANISO_FILES) is not None


# ---- the atheris corpus -------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(CORPUS.iterdir()), ids=lambda p: p.name)
def test_the_fuzzers_corpus(path: Path) -> None:
    """Each seed of tests/fuzz/corpus through the atheris harness's own entry point."""
    TestOneInput(path.read_bytes())


def test_the_corpus_has_policies_that_load() -> None:
    loaded = [p.name for p in sorted(CORPUS.iterdir()) if exercise(p.read_text("utf-8"))]
    assert "planiso.policy" in loaded and "chain.policy" in loaded


# ---- what the fuzzers found ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('party p "\ud800"\ndata d\npurpose u\n', (1, 10)),
        ("party p\ndata d # \udcff\npurpose u\n", (2, 10)),
    ],
    ids=["in a string", "in a comment"],
)
def test_a_lone_surrogate_is_a_syntax_error_where_it_stands(
    text: str, where: tuple[int, int]
) -> None:
    """Half of a UTF-16 pair in a text given as a string escaped ``load_policy_text`` as a
    UnicodeEncodeError (hashing the text for its version); the formatter passed it through."""
    for step in (policy_engine.load_policy_text, format_source):
        with pytest.raises(policy_engine.PolicySyntaxError) as caught:
            step(text)
        [problem] = caught.value.diagnostics
        assert problem.code == "lone-surrogate"
        assert problem.span is not None and (problem.span.line, problem.span.column) == where
        problem.render().encode("utf-8")  # printable: shown as U+FFFD
    assert TestOneInput(text.encode("utf-8", "surrogatepass")) is None
