"""Rule files are untrusted input: what used to escape as a RecursionError or a ValueError is a
syntax error at its place, and long `and`/`or` chains are ordinary conditions."""

from __future__ import annotations

from pathlib import Path

import pytest

import policy_engine
from policy_engine import PolicySyntaxError, load_policy_text
from policy_engine.language.builder_base import MAX_NESTING

HEAD = "party p\ndata d\npurpose u\ncontext b: boolean\ncontext k: string\ncontext a: integer\n"
RULE = "rule r §1\n  allow p to use d for u\n  when {}\n"


def refused(condition: str) -> policy_engine.Diagnostic:
    with pytest.raises(PolicySyntaxError) as caught:
        load_policy_text(HEAD + RULE.format(condition))
    [problem] = caught.value.diagnostics
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
