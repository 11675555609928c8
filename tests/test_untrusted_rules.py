"""Rule files are untrusted input: what used to escape as a RecursionError or a ValueError is a
syntax error at its place, and long `and`/`or` chains are ordinary conditions."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import policy_engine
from policy_engine import PolicySyntaxError, load_policy_text
from policy_engine.language import limits
from policy_engine.language.builder_base import MAX_NESTING
from policy_engine.semantics import declarations
from policy_engine.semantics.check_state import SUGGESTION_BUDGET
from policy_engine.semantics.vocabulary import Hierarchy

HEAD = "party p\ndata d\npurpose u\ncontext b: boolean\ncontext k: string\ncontext a: integer\n"
RULE = "rule r §1\n  allow p to use d for u\n  when {}\n"


def refused(condition: str) -> policy_engine.Diagnostic:
    return refused_text(HEAD + RULE.format(condition))


def refused_text(
    text: str, error: type[policy_engine.PolicyError] = PolicySyntaxError
) -> policy_engine.Diagnostic:
    """The one error loading ``text`` reports (warnings aside)."""
    with pytest.raises(error) as caught:
        load_policy_text(text)
    [problem] = caught.value.errors
    return problem


@pytest.mark.parametrize("operator", ["and", "or"])
def test_a_chain_of_two_thousand_operands_is_an_ordinary_condition(operator: str) -> None:
    policy = load_policy_text(HEAD + RULE.format(f" {operator} ".join(["b"] * 2000)))
    assert policy.decide("p", "d", "u", {"b": True}).allowed
    assert not policy.decide("p", "d", "u", {"b": False}).allowed


@pytest.mark.parametrize(
    "condition",
    [
        "not " * 490 + "b",  # past Lark's recursion: caught where it recurses
        "not " * (MAX_NESTING + 1) + "b",  # past the limit, within the recursion
        "(b and " * 200 + "b" + ")" * 200,
        "k in " + "[" * 330 + '"x"' + "]" * 330,
    ],
    ids=["490 nots", "65 nots", "200 nested and", "330 nested lists"],
)
def test_a_condition_nested_too_deeply_is_a_syntax_error_at_its_place(condition: str) -> None:
    problem = refused(condition)
    assert problem.code == "too-deep"
    assert problem.message == f"this condition nests more than {MAX_NESTING} levels deep"
    assert problem.help == (
        "split it into rules or simpler conditions; `and`/`or` chains of any length are fine"
    )
    assert problem.span is not None and problem.span.line >= 7


def test_nesting_up_to_the_limit_loads() -> None:
    policy = load_policy_text(HEAD + RULE.format("not " * (MAX_NESTING - 1) + "b"))
    expected = (MAX_NESTING - 1) % 2 == 0
    assert policy.decide("p", "d", "u", {"b": True}).allowed is expected


def test_an_integer_literal_past_pythons_limit_is_a_syntax_error() -> None:
    problem = refused("a < " + "9" * 5000)
    assert problem.code == "integer-too-long"
    assert problem.message == "this integer has 5,000 digits; at most 4300 are allowed"
    assert problem.span is not None and (problem.span.line, problem.span.column) == (9, 12)


def test_a_decimal_literal_past_the_limit_is_a_syntax_error() -> None:
    problem = refused("a < 0." + "9" * 5000)
    assert problem.code == "decimal-too-long"
    assert problem.message == "this decimal has 5,001 digits; at most 4300 are allowed"


@pytest.mark.parametrize(
    ("party", "shown"),
    [
        (["staff"], "a list"),
        ({"name": "staff"}, "an object"),
        (10**5000, "a number too long to show"),
        (int("9" * 40), "the number " + "9" * 40),
    ],
    ids=["list", "object", "5,000 digits", "40 digits"],
)
def test_a_request_term_of_the_wrong_type_is_a_request_error(party: object, shown: str) -> None:
    """It used to raise TypeError (unhashable) or ValueError (too long to write out)."""
    policy = load_policy_text(HEAD + RULE.format("b"))
    with pytest.raises(policy_engine.RequestError) as caught:
        policy.decide(party, "d", "u")  # type: ignore[arg-type]
    assert caught.value.diagnostics[0].message == f"the party must be a name, got {shown}"


@pytest.mark.parametrize(
    ("char", "named"),
    [
        ("\u2028", "U+2028 (line separator)"),
        ("\u2029", "U+2029 (paragraph separator)"),
        ("\x85", "U+0085 (next line)"),
        ("\x0c", "U+000C (form feed)"),
        ("\x0b", "U+000B (vertical tab)"),
    ],
)
def test_a_line_break_only_editors_see_is_refused_outside_strings(char: str, named: str) -> None:
    """Written in a comment, it used to hide the deny rule that follows it from the parser."""
    text = HEAD + RULE.format("b") + f"# the exception{char}rule d §1 deny p from using d for u\n"
    with pytest.raises(PolicySyntaxError) as caught:
        load_policy_text(text)
    [problem] = caught.value.diagnostics
    assert problem.code == "hidden-line-break"
    assert problem.message == (
        f"{named} is not allowed outside a string: editors show a line break there, the parser "
        "does not"
    )
    assert problem.span is not None
    assert (problem.span.line, problem.span.column) == (10, 16)


def test_a_line_separator_inside_a_string_is_kept() -> None:
    policy = load_policy_text(HEAD + 'party q "one\u2028two" §1\n' + RULE.format("b"))
    assert "q" in policy.terms("party")


@pytest.mark.parametrize(
    ("written", "escape", "column"), [('"caf\\u00e9"', "\\u", 16), ('"\\q"', "\\q", 13)]
)
def test_an_unknown_escape_in_a_string_is_an_error(written: str, escape: str, column: int) -> None:
    """`"caf\\u00e9"` used to become "cafu00e9" without a word."""
    problem = refused(f"k = {written}")
    assert problem.code == "unknown-escape"
    assert problem.message == f"unknown escape `{escape}` in a string"
    assert problem.span is not None and (problem.span.line, problem.span.column) == (9, column)


@pytest.mark.parametrize(
    ("written", "text"), [('"a\\"b"', 'a"b'), ('"a\\\\b"', "a\\b"), ('"x\\ty"', "x\ty")]
)
def test_the_four_escapes_still_mean_what_they_did(written: str, text: str) -> None:
    policy = load_policy_text(HEAD + RULE.format(f"k = {written}"))
    assert policy.decide("p", "d", "u", {"k": text}).allowed


def test_a_link_out_of_the_policy_folder_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rules folder linking to /proc/self/environ printed the environment in a diagnostic."""
    secret = tmp_path / "secret.txt"
    secret.write_text("API_TOKEN=hunter2\n")
    rules = tmp_path / "work" / "rules"
    rules.mkdir(parents=True)
    (rules / "main.policy").write_text(HEAD + RULE.format("b"))
    (rules / "env.policy").symlink_to(secret)
    monkeypatch.chdir(tmp_path / "work")
    with pytest.raises(policy_engine.PolicyError) as caught:
        policy_engine.load_policy("rules")
    [problem] = caught.value.diagnostics
    assert problem.code == "link-out-of-folder"
    assert problem.message == "`rules/env.policy` is a link to a file outside `rules`: not followed"
    assert "hunter2" not in problem.render()


def test_a_link_inside_the_folder_and_a_file_named_outside_the_working_directory_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names used to mix relative and absolute paths (ValueError from the version hash)."""
    rules = tmp_path / "rules"
    (rules / "shared").mkdir(parents=True)
    (rules / "shared" / "main.policy").write_text(HEAD + RULE.format("b"))
    (rules / "alias.policy").symlink_to(rules / "shared" / "main.policy")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    outside = tmp_path / "one.policy"
    outside.write_text(HEAD + RULE.format("b"))
    assert policy_engine.load_policy(outside).decide("p", "d", "u", {"b": True}).allowed
    with pytest.raises(policy_engine.PolicyValidationError):  # the same rule twice, as expected
        policy_engine.load_policy(rules)


def test_the_version_of_files_named_relative_and_absolute() -> None:
    from policy_engine.language.files import content_version
    from policy_engine.language.source import Source

    version = content_version([Source("a.policy", "x"), Source("/abs/b.policy", "y")])
    assert len(version) == 64


# ---- a deep hierarchy -------------------------------------------------------------------------

CHAIN = 6000


def chain_text(depth: int) -> str:
    """`party p1`, `party p2 under p1`, … `party pN under pN-1`, and one rule about p1."""
    parties = "".join(f"party p{i} under p{i - 1}\n" for i in range(2, depth + 1))
    rule = "rule r §1\n  allow p1 to use d for u\n"
    return f"party p1\nparty other\n{parties}data d\npurpose u\n{rule}"


def test_a_chain_of_six_thousand_parties_loads_in_memory_proportional_to_it() -> None:
    """Every closure was made at load: 18 million set entries, 1.7 GB and some 50 s. Closures
    are now made when asked for, and a cell's rules are found without walking all ancestors."""
    tracemalloc.start()
    try:
        policy = load_policy_text(chain_text(CHAIN))
        decision = policy.decide(f"p{CHAIN}", "d", "u")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert decision.allowed
    assert [r.id for r in decision.reasons] == ["r"]
    assert not policy.decide("other", "d", "u").allowed
    assert peak < 100 * 2**20, f"{peak / 2**20:.0f} MiB"
    assert f"p{CHAIN // 2}" in decision.explain() or "p1" in decision.explain()


def test_a_chain_of_six_thousand_parties_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "chain.policy"
    path.write_text(chain_text(CHAIN) + "party lonely\ninvariant i §2\n  never other use d\n")
    report = policy_engine.check_report(path)
    assert [d.code for d in report.diagnostics] == ["unused-term"]
    assert report.diagnostics[0].message.startswith("party `lonely` is declared")
    assert (report.proven, report.broken) == (1, 0)


def test_a_chain_restored_from_the_compiled_cache_decides_alike(tmp_path: Path) -> None:
    """The compiled cache keeps parent links only (it kept every closure)."""
    path = tmp_path / "chain.policy"
    path.write_text(chain_text(CHAIN))
    first = policy_engine.load_policy(path)
    again = policy_engine.load_policy(path)
    for party in ("p1", f"p{CHAIN}", "other"):
        assert again.decide(party, "d", "u").allowed == first.decide(party, "d", "u").allowed
    assert again.compiled.hierarchies["party"].ancestors["p3"] == {"p1", "p2", "p3"}


# ---- limits -------------------------------------------------------------------------------------


def test_a_rule_file_over_ten_mib_is_refused_where_it_passes_the_limit() -> None:
    padding = "#" * (limits.MAX_FILE_BYTES - len(HEAD) - 1) + "\n"
    assert load_policy_text(HEAD + padding).terms("party") == ["p"]  # exactly the limit
    with pytest.raises(PolicySyntaxError) as caught:
        load_policy_text(HEAD + padding + "party q\n")
    [problem] = caught.value.diagnostics
    assert problem.code == "file-too-large"
    assert problem.message == (
        "this rule file is larger than 10 MiB, the most a rule file may be; it goes past it here"
    )
    assert problem.span is not None and (problem.span.line, problem.span.column) == (8, 1)
    assert len(problem.render()) < 500  # a window of the line, not ten megabytes of it


def test_a_rule_file_on_disk_is_read_no_further_than_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 100)
    (tmp_path / "big.policy").write_text(HEAD + "# é" * 40 + "\n")
    with pytest.raises(PolicySyntaxError) as caught:
        policy_engine.load_policy(tmp_path / "big.policy")
    [problem] = caught.value.diagnostics
    assert problem.code == "file-too-large"
    assert problem.span is not None  # at the é the limit splits:
    assert problem.span.location.endswith("big.policy:7:15")
    assert len(problem.span.source.text) < 100  # only what was read


@pytest.mark.parametrize("on_disk", [False, True], ids=["text", "folder"])
def test_a_policy_over_its_size_is_refused_at_the_file_that_passes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_disk: bool
) -> None:
    monkeypatch.setattr(limits, "MAX_POLICY_BYTES", 250)
    files = {"a.policy": HEAD, "b.policy": "#" * 100 + "\n", "c.policy": "#" * 100 + "\n"}
    if on_disk:
        for name, text in files.items():
            (tmp_path / name).write_text(text)
    with pytest.raises(PolicySyntaxError) as caught:
        policy_engine.load_policy(tmp_path) if on_disk else load_policy_text(files)
    [problem] = caught.value.diagnostics
    assert problem.code == "policy-too-large"
    assert problem.message == (
        "the policy's rule files are larger than 250 bytes together, the most a policy may be; "
        "they go past it here"
    )
    assert problem.span is not None
    assert problem.span.location.endswith(f"c.policy:1:{250 - len(HEAD) - 101 + 1}")


def test_a_name_longer_than_256_characters_is_a_syntax_error() -> None:
    assert "x" * 256 in load_policy_text(HEAD + "party " + "x" * 256 + "\n").terms("party")
    problem = refused_text(HEAD + "party " + "x" * 257 + "\n")
    assert problem.code == "name-too-long"
    assert problem.message == "this name has 257 characters; at most 256 are allowed"
    assert problem.span is not None and (problem.span.line, problem.span.column) == (7, 7)


def test_a_string_longer_than_ten_thousand_characters_is_a_syntax_error() -> None:
    fits = f'party q "{"y" * 10_000}"\n'
    assert "q" in load_policy_text(HEAD + fits).terms("party")
    problem = refused_text(HEAD + f'party q "{"y" * 10_001}"\n')
    assert problem.code == "string-too-long"
    assert problem.message == "this string has 10,001 characters; at most 10,000 are allowed"
    assert problem.span is not None and (problem.span.line, problem.span.column) == (7, 9)


def test_more_terms_than_the_limit_is_an_error_at_the_first_past_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(declarations, "MAX_TERMS", 8)
    load_policy_text(HEAD + "party q, r\n")  # 8 names with the 6 of HEAD
    problem = refused_text(HEAD + "party q, r, s\n", policy_engine.PolicyValidationError)
    assert problem.code == "too-many-terms"
    assert problem.message == (
        "this is name 9 of the policy's terms and context keys; a policy may declare at most 8"
    )
    assert problem.span is not None and (problem.span.line, problem.span.column) == (7, 13)


def test_more_rules_than_the_limit_is_an_error_at_the_first_past_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(declarations, "MAX_RULES", 2)
    rules = RULE.format("b").replace("rule r", "rule r1") + RULE.format("b").replace("r §", "r2 §")
    load_policy_text(HEAD + rules)
    problem = refused_text(
        HEAD + rules + "invariant i §2\n  never p use d\n", policy_engine.PolicyValidationError
    )
    assert problem.code == "too-many-rules"
    assert problem.message == (
        "this is rule 3 of the policy (invariants counted); a policy may have at most 2"
    )
    assert problem.span is not None and (problem.span.line, problem.span.column) == (13, 11)


def test_the_limits_leave_room_for_the_largest_benchmark_policy() -> None:
    """The benchmark's 10,000-rule policy is 1.4 MiB, with some 1,200 names."""
    assert limits.MAX_FILE_BYTES >= 5 * 1_400_000
    assert limits.MAX_RULES >= 10 * 10_000 and limits.MAX_TERMS >= 10 * 1_200
    assert limits.MAX_NESTING == MAX_NESTING


# ---- hints within a budget ----------------------------------------------------------------------


MISSPELT = 2000


def test_thousands_of_misspelt_names_cost_a_bounded_number_of_hints() -> None:
    """Each unknown name was compared with every declared one (difflib): 4,000 of each took five
    minutes. Hints stop when the check's budget of comparisons is spent."""
    names = "".join(f"party customer_service_{i}\n" for i in range(MISSPELT))
    rule = "rule r{0} §1\n  allow customer_servce_{0} to use d for u\n"
    rules = "".join(rule.format(i) for i in range(MISSPELT))
    with pytest.raises(policy_engine.PolicyValidationError) as caught:
        load_policy_text(HEAD + names + rules)
    errors = caught.value.errors
    assert len(errors) == MISSPELT and {e.code for e in errors} == {"unknown-term"}
    hinted = [e for e in errors if e.help and e.help.startswith("did you mean")]
    assert hinted[0].help == (
        "did you mean `customer_service_0` or `customer_service_10` or `customer_service_20`?"
    )
    assert 0 < len(hinted) <= SUGGESTION_BUDGET // MISSPELT
    assert errors[-1].help == "declare it: `party customer_servce_1999`"


def test_a_key_of_thousands_of_values_lists_ten_in_an_error() -> None:
    values = ", ".join(f'"v{i}"' for i in range(3000))
    text = HEAD + f"context c: one of {values}\n" + RULE.format('c = "w"')
    problem = refused_text(text, policy_engine.PolicyValidationError)
    assert problem.code == "unknown-value"
    assert problem.help == "its values are " + ", ".join(f'"v{i}"' for i in range(10)) + (
        ", … (3,000 in all)"
    )


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    """Terms t0 … tN and parent → child edges that only go from a lower number to a higher."""
    count = draw(st.integers(1, 12))
    terms = [f"t{i}" for i in range(count)]
    pairs = [(a, b) for a in range(count) for b in range(a + 1, count)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True) if pairs else st.just([]))
    return terms, [(terms[a], terms[b]) for a, b in chosen]


@given(dags(), st.data())
def test_closures_made_on_demand_agree_with_networkx(
    dag: tuple[list[str], list[tuple[str, str]]], data: st.DataObject
) -> None:
    terms, edges = dag
    graph = nx.DiGraph()
    graph.add_nodes_from(terms)
    graph.add_edges_from(edges)
    above = {t: frozenset(nx.ancestors(graph, t)) | {t} for t in terms}
    below = {t: frozenset(nx.descendants(graph, t)) | {t} for t in terms}
    hierarchy = Hierarchy.build("party", terms, edges)
    assert {t: hierarchy.ancestors[t] for t in terms} == above
    assert {t: hierarchy.descendants[t] for t in terms} == below
    named = data.draw(st.sets(st.sampled_from(terms)))
    assert dict(hierarchy.above_among(named)) == {t: above[t] & named for t in terms}
    assert hierarchy.related_to(named) == {t for t in terms if (above[t] | below[t]) & named}
    closed = [(a, b) for b in terms for a in above[b] if a != b]  # the transitive closure
    assert hierarchy.same_order(Hierarchy.build("party", terms, closed))
    if edges:
        fewer = Hierarchy.build("party", terms, edges[1:])
        lost = edges[0][0] not in fewer.ancestors[edges[0][1]]
        assert hierarchy.same_order(fewer) is not lost
