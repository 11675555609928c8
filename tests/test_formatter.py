"""The formatter, guarded four ways (STYLE.md habit 9): golden files, idempotence, the same syntax
tree after a re-parse, and random policies (hypothesis) with comments everywhere. Plus the
``policy-engine fmt`` command.

Golden files live in ``tests/golden``: ``NAME.input.policy`` formats to ``NAME.output.policy``.
After a deliberate change of layout, regenerate them with ``UPDATE_GOLDEN=1 pytest
tests/test_formatter.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine.cli.main import main
from policy_engine.language import ast
from policy_engine.language.errors import PolicySyntaxError
from policy_engine.language.formatter import WIDTH, format_source, layout, scan_comments
from policy_engine.language.parser import lark_parser, parse_source
from policy_engine.language.printer import doc_text, expr_doc, expr_text
from policy_engine.language.source import Source

from .conftest import PLANISO

GOLDEN = Path(__file__).resolve().parent / "golden"
INPUTS = sorted(GOLDEN.glob("*.input.policy"))
PLANISO_FILES = sorted(PLANISO.glob("*.policy"))


def read(path: Path) -> str:
    """The exact text of a file (no newline translation: CRLF input stays CRLF)."""
    return path.read_bytes().decode("utf-8")


def parsed(text: str) -> ast.PolicyFile:
    return parse_source(Source("<policy>", text))


def comment_texts(text: str) -> list[str]:
    return [c.text for c in scan_comments(text)]


def lark_comments(text: str) -> list[str]:
    """The comments as Lark's own lexer sees them: an oracle for :func:`scan_comments`."""
    tokens = lark_parser().lex(text, dont_ignore=True)
    return [str(t).rstrip() for t in tokens if t.type == "COMMENT"]


def conditions(policy: ast.PolicyFile) -> list[ast.Expr]:
    found: list[ast.Expr] = []
    for item in policy.items:
        if isinstance(item, ast.Rule | ast.Invariant):
            found += [item.condition] if item.condition is not None else []
            found += item.exceptions
        if isinstance(item, ast.Rule):
            found += [o.condition for o in item.obligations if o.condition is not None]
    return found


def assert_canonical_shape(text: str) -> None:
    """What every formatter output looks like, whatever went in."""
    if not text:
        return
    assert text.endswith("\n") and not text.endswith("\n\n")
    lines = text.split("\n")[:-1]
    assert lines[0] != ""
    assert all(line == line.rstrip() for line in lines)
    assert "\n\n\n" not in text
    assert "\r" not in text or '"' in text  # a raw CR can only sit inside a string


def check_round_trip(text: str) -> str:
    """The four guards on one input; returns the formatted text."""
    out = format_source(text)
    assert parsed(out) == parsed(text), "the formatted text means something else"
    assert format_source(out) == out, "formatting is not idempotent"
    assert comment_texts(out) == comment_texts(text), "a comment was lost, doubled or moved"
    for condition in conditions(parsed(text)):
        assert doc_text(expr_doc(condition)) == expr_text(condition)
    assert_canonical_shape(out)
    return out


# ---- (1) golden files -----------------------------------------------------------------------


def test_golden_files_exist() -> None:
    assert len(INPUTS) >= 5
    for path in INPUTS:
        assert path.with_name(path.name.replace(".input.", ".output.")).is_file(), path.name


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name.split(".")[0])
def test_golden(path: Path) -> None:
    expected_path = path.with_name(path.name.replace(".input.", ".output."))
    out = format_source(read(path), path.name)
    if os.environ.get("UPDATE_GOLDEN"):
        expected_path.write_bytes(out.encode("utf-8"))
    assert out == read(expected_path)


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name.split(".")[0])
def test_golden_output_is_a_fixed_point(path: Path) -> None:
    expected = read(path.with_name(path.name.replace(".input.", ".output.")))
    assert format_source(expected) == expected


def test_golden_inputs_cover_every_construct() -> None:
    text = "\n".join(read(p) for p in INPUTS)
    policy_items = [item for p in INPUTS for item in parsed(read(p)).items]
    kinds = {type(i).__name__ for i in policy_items}
    assert {"TermDecl", "ContextDecl", "Rule", "Invariant"} <= kinds
    assert {i.kind for i in policy_items if isinstance(i, ast.TermDecl)} == {
        "party",
        "data",
        "purpose",
        "obligation",
    }
    types = {type(i.type).__name__ for i in policy_items if isinstance(i, ast.ContextDecl)}
    assert types == {
        "BoolType",
        "IntType",
        "StrType",
        "OneOfType",
        "ListType",
        "TermSetType",
        "TermType",
        "DateType",
        "InstantType",
    }
    assert any(isinstance(i, ast.ContextDecl) and i.is_now for i in policy_items)
    assert any(isinstance(i, ast.ContextDecl) and i.source for i in policy_items)
    for word in ("any party", "any data", "any purpose", "deny", "unless", "with obligations"):
        assert word in text
    for word in (" not ", " or ", " and ", "is known", "is missing", "not in", "[", "<=", "!="):
        assert word in text
    for word in ("never", "always allow", "always deny", "except", "§ ", '\\"', "\r\n"):
        assert word in text
    for word in ("+13 months", "now-1 week", 'date "', 'instant "', "1 year + 1 day"):
        assert word in text
    assert any(len(line) > WIDTH for line in text.split("\n"))


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name.split(".")[0])
def test_golden_comments_are_kept_in_order(path: Path) -> None:
    text = read(path)
    out = read(path.with_name(path.name.replace(".input.", ".output.")))
    assert comment_texts(text) == lark_comments(text)
    assert comment_texts(out) == comment_texts(text)


def test_comment_placement() -> None:
    out = read(GOLDEN / "comments.output.policy")
    assert out.startswith("# A header comment")
    assert "party planiso  # end of a declaration\n# directly above staff\nparty staff" in out
    assert '  "description"  # after the description\n' in out
    assert "  # before unless\n  unless c\n" in out
    assert "  with obligation o  # after the obligation\n\n# after the last clause" in out
    assert out.endswith("# a comment before the end\n\n# the last comment\n#\n")


# ---- (2) idempotence and (3) the same syntax tree ------------------------------------------


@pytest.mark.parametrize(
    "path", INPUTS + PLANISO_FILES, ids=lambda p: f"{p.parent.name}/{p.name.split('.')[0]}"
)
def test_round_trip(path: Path) -> None:
    check_round_trip(read(path))


@pytest.mark.parametrize("path", PLANISO_FILES, ids=lambda p: p.name)
def test_planiso_is_in_canonical_form(path: Path) -> None:
    text = read(path)
    assert format_source(text, path.name) == text, f"run `policy-engine fmt {path}`"


# ---- layout details -------------------------------------------------------------------------


def test_small_things() -> None:
    assert format_source("") == ""
    assert format_source("\n \n\t\n") == ""
    assert format_source("# only\n\n\n# comments") == "# only\n\n# comments\n"
    assert format_source("party a party b") == "party a\nparty b\n"
    assert format_source("party a data b") == "party a\n\ndata b\n"
    assert format_source("party a\n\n\n\nparty b\n") == "party a\n\nparty b\n"
    assert format_source('party a "x" § 1.2(c)') == 'party a "x" §1.2(c)\n'
    assert format_source("rule r deny a to use b for c") == (
        "rule r\n  deny a from using b for c\n"
    )
    assert format_source("rule r allow a from using b for c with obligations o") == (
        "rule r\n  allow a to use b for c\n  with obligation o\n"
    )
    assert format_source('party a "tab\tand \\t"') == 'party a "tab\tand \t"\n'


def test_long_lines_wrap_at_natural_points() -> None:
    names = ", ".join(f"purpose_number_{i}" for i in range(12))
    out = format_source(f"rule r allow some_party to use some_data for {names}")
    lines = out.split("\n")
    assert lines[1] == "  allow some_party to use some_data"
    assert lines[2].startswith("    for purpose_number_0, purpose_number_1,")
    assert all(len(line) <= WIDTH for line in lines)
    out = format_source(f"rule r allow a to use b for c when {' and '.join(['x'] * 60)}")
    assert all(len(line) <= WIDTH for line in out.split("\n"))
    assert all(line.startswith("    and x") for line in out.split("\n")[3:-1])


def test_layout_never_breaks_a_piece() -> None:
    long_word = "w" * 150
    assert layout(("a", long_word, "b"), "", "  ") == ["a", "  " + long_word, "  b"]
    assert layout(("a", ("b,", "c")), "", "  ", width=6) == ["a b, c"]
    assert layout(("aa", ("b,", "c")), "", "  ", width=6) == ["aa", "  b, c"]
    assert layout(("a", ("b,", "c")), "", "  ", width=5) == ["a", "  b,", "  c"]


def test_syntax_error_is_reported_with_the_name() -> None:
    with pytest.raises(PolicySyntaxError) as info:
        format_source("party a\nrulle r\n", "x.policy")
    assert str(info.value).startswith("x.policy:2:1: error: unknown keyword `rulle`")


# ---- (4) random policies --------------------------------------------------------------------

NAMES = ("alpha", "beta", "gamma_2", "_delta", "Epsilon", "partyline", "data_set", "anyone", "x")
CITATIONS = ("§1", "§ 5.1", "§4.2(b)", "§12.3a", "§3.2.1", "§ 9", "§1.4")
# Line breaks only editors see are refused outside strings (tests/test_untrusted_rules.py).
COMMENT_TEXT = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\n\r\u2028\u2029\x85\x0c\x0b"),
    max_size=12,
)
STRING_VALUE = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r"), max_size=8
)


def quoted(value: str, escape_letters: bool) -> str:
    """``value`` as a string token, escaped in one of the ways the grammar allows."""
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t" and escape_letters:
            out.append("\\t")
        else:  # any other escape is an error (tests/test_untrusted_rules.py)
            out.append(char)
    return '"' + "".join(out) + '"'


class Writer:
    """Draws tokens and joins them with messy whitespace and comments; remembers the comments."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.comments: list[str] = []

    def comment(self) -> str:
        text = "#" + self.draw(COMMENT_TEXT)
        self.comments.append(text.rstrip())
        return text

    def gap(self, between_statements: bool = False) -> str:
        kinds = ["space"] * 6 + ["newline", "indent", "tab", "eol", "own", "blank"]
        if between_statements:
            kinds += ["newline"] * 4 + ["blank", "own", "eol"]
        kind = self.draw(st.sampled_from(kinds))
        if kind == "space":
            return " "
        if kind == "newline":
            return "\n"
        if kind == "indent":
            return "\n" + " " * self.draw(st.integers(1, 6))
        if kind == "tab":
            return "\t "
        if kind == "blank":
            return "\n\n" + " " * self.draw(st.integers(0, 2))
        if kind == "eol":
            return " " * self.draw(st.integers(0, 2)) + self.comment() + "\n  "
        indent = " " * self.draw(st.integers(0, 4))
        blank = "\n" if self.draw(st.booleans()) else ""
        return f"\n{blank}{indent}{self.comment()}\n{blank}{indent}"

    def join(self, tokens: list[str]) -> str:
        out = tokens[:1]
        for token in tokens[1:]:
            out += [self.gap(), token]
        return "".join(out)


def name(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(NAMES))


def names(draw: st.DrawFn, before: str | None = None) -> list[str]:
    chosen = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4))
    tokens = [] if before is None else [before]
    for index, item in enumerate(chosen):
        tokens += [",", item] if index else [item]
    return tokens


def string(draw: st.DrawFn) -> str:
    return quoted(draw(STRING_VALUE), draw(st.booleans()))


def optional(draw: st.DrawFn, tokens: list[str]) -> list[str]:
    return tokens if draw(st.booleans()) else []


def citations(draw: st.DrawFn) -> list[str]:
    chosen = draw(st.lists(st.sampled_from(CITATIONS), max_size=3))
    tokens: list[str] = []
    for index, citation in enumerate(chosen):
        tokens += [",", citation] if index else [citation]
    return tokens


def literal(draw: st.DrawFn) -> list[str]:
    kind = draw(st.sampled_from(["string", "int", "bool"]))
    if kind == "string":
        return [string(draw)]
    if kind == "int":
        number = draw(st.integers(-999, 999))
        return [str(number).replace("-", "-0") if draw(st.booleans()) else str(number)]
    return [draw(st.sampled_from(["true", "false"]))]


def operand(draw: st.DrawFn, depth: int = 1) -> list[str]:
    kind = draw(st.sampled_from(["name", "name", "request", "literal", "list"][: 4 + (depth > 0)]))
    if kind == "name":
        return [name(draw)]
    if kind == "request":
        return [draw(st.sampled_from(["party", "data", "purpose"]))]
    if kind == "literal":
        return literal(draw)
    items = [operand(draw, depth - 1) for _ in range(draw(st.integers(0, 4)))]
    tokens = ["["]
    for index, item in enumerate(items):
        tokens += ([","] if index else []) + item
    return [*tokens, "]"]


def expression(draw: st.DrawFn, depth: int = 3) -> list[str]:
    kinds = ["compare", "member", "presence", "truth"]
    if depth > 0:
        kinds += ["not", "and", "or", "and", "or", "paren"]
    kind = draw(st.sampled_from(kinds))
    if kind == "compare":
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        return [*operand(draw), op, *operand(draw)]
    if kind == "member":
        word = ["not", "in"] if draw(st.booleans()) else ["in"]
        return [*operand(draw), *word, *operand(draw)]
    if kind == "presence":
        subject = [name(draw)]
        if draw(st.booleans()):  # an attribute: of the request's term, or of a key's (`a.b`)
            before = draw(st.sampled_from(["party", "data", "purpose", name(draw)]))
            subject = [f"{before}.{name(draw).lstrip('_') or 'x'}"]
        return [*subject, "is", draw(st.sampled_from(["known", "missing"]))]
    if kind == "truth":
        return operand(draw)
    if kind == "not":
        return ["not", *expression(draw, depth - 1)]
    if kind == "paren":
        return ["(", *expression(draw, depth - 1), ")"]
    return [*expression(draw, depth - 1), kind, *expression(draw, depth - 1)]


def terms(draw: st.DrawFn, kind: str) -> list[str]:
    return ["any", kind] if draw(st.booleans()) else names(draw)


def declaration(draw: st.DrawFn) -> list[str]:
    kind = draw(st.sampled_from(["party", "data", "purpose", "obligation"]))
    tokens = names(draw, kind)
    if kind != "obligation":
        tokens += optional(draw, names(draw, "under"))
    return tokens + optional(draw, [string(draw)]) + citations(draw)


def context(draw: st.DrawFn) -> list[str]:
    strings = [string(draw) for _ in range(draw(st.integers(1, 3)))]
    string_list = [t for index, s in enumerate(strings) for t in ([","] if index else []) + [s]]
    type_tokens = draw(
        st.sampled_from(
            [
                ["boolean"],
                ["integer"],
                ["string"],
                ["one", "of", *string_list],
                ["list", "of", *string_list],
                ["list", "of", "string"],
                ["set", "of", "party"],
                ["set", "of", "data"],
                ["set", "of", "purpose"],
                ["party"],
                ["data"],
                ["purpose"],
            ]
        )
    )
    tokens = ["context", name(draw), ":", *type_tokens]
    # `consent ledger` is one token: whitespace (a line break too) may part its words, not a comment
    ledger_words = draw(st.sampled_from(["consent ledger", "consent  ledger", "consent\n  ledger"]))
    tokens += optional(draw, ["from", ledger_words])
    default = literal(draw) if draw(st.booleans()) else [name(draw)]  # a term, for a key of one
    tokens += optional(draw, ["default", *default])
    return tokens + optional(draw, [string(draw)]) + citations(draw)


def conditions_tokens(draw: st.DrawFn) -> list[str]:
    tokens = optional(draw, ["when", *expression(draw)])
    for _ in range(draw(st.integers(0, 2))):
        tokens += ["unless", *expression(draw)]
    return tokens


def rule(draw: st.DrawFn) -> list[str]:
    tokens = ["rule", name(draw), *citations(draw), *optional(draw, [string(draw)])]
    tokens += [draw(st.sampled_from(["allow", "deny"])), *terms(draw, "party")]
    tokens += draw(st.sampled_from([["to", "use"], ["from", "using"]]))
    tokens += [*terms(draw, "data"), "for", *terms(draw, "purpose")]
    tokens += conditions_tokens(draw)
    for _ in range(draw(st.integers(0, 2))):
        word = draw(st.sampled_from(["obligation", "obligations"]))
        tokens += ["with", word, *names(draw)]
        tokens += optional(draw, ["when", *expression(draw)])
    return tokens


def invariant(draw: st.DrawFn) -> list[str]:
    tokens = ["invariant", name(draw), *citations(draw), *optional(draw, [string(draw)])]
    if draw(st.booleans()):
        tokens += ["never"]
    else:
        tokens += ["always", draw(st.sampled_from(["allow", "deny"]))]

    def scope(kind: str) -> list[str]:
        return terms(draw, kind) + optional(draw, names(draw, "except"))

    tokens += scope("party")
    tokens += draw(st.sampled_from([["use"], ["to", "use"], ["from", "using"]]))
    tokens += scope("data")
    tokens += optional(draw, ["for", *scope("purpose")])
    return tokens + conditions_tokens(draw)


@st.composite
def policies(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A random policy in a messy layout, and the comments written into it, in order."""
    writer = Writer(draw)
    makers = [declaration, declaration, context, rule, rule, invariant]
    chunks: list[str] = []
    for _ in range(draw(st.integers(0, 3))):
        chunks.append(writer.comment() + "\n" * draw(st.integers(1, 2)))
    count = draw(st.integers(0, 5))
    for index in range(count):
        tokens = draw(st.sampled_from(makers))(draw)
        chunks.append(writer.join(tokens))
        if index + 1 < count:
            chunks.append(writer.gap(between_statements=True))
    for _ in range(draw(st.integers(0, 2))):
        chunks.append("\n" * draw(st.integers(1, 2)) + writer.comment())
    chunks.append(draw(st.sampled_from(["", "\n", "\n\n", "  \n"])))
    return "".join(chunks), writer.comments


@given(policies())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_policies_survive_formatting(case: tuple[str, list[str]]) -> None:
    text, comments = case
    assert comment_texts(text) == comments
    assert lark_comments(text) == comments
    out = check_round_trip(text)
    assert sorted(comment_texts(out)) == sorted(comments)


# ---- the command ----------------------------------------------------------------------------

MESSY = "party   a\nrule r §1 allow a to use b for c   # why\n"
CANONICAL = "party a\n\nrule r §1\n  allow a to use b for c  # why\n"


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "messy.policy").write_text(MESSY, encoding="utf-8")
    (tmp_path / "sub" / "canonical.policy").write_text(CANONICAL, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("party   a\n", encoding="utf-8")
    return tmp_path


def test_fmt_rewrites_files_in_place(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    code, out, err = run(capsys, "fmt", tree)
    assert code == 0, err
    assert out.splitlines() == [
        f"reformatted {tree / 'messy.policy'}",
        "1 file reformatted, 1 file left unchanged",
    ]
    assert (tree / "messy.policy").read_text(encoding="utf-8") == CANONICAL
    assert (tree / "notes.txt").read_text(encoding="utf-8") == "party   a\n"
    code, out, _ = run(capsys, "fmt", tree)
    assert code == 0
    assert out == "0 files reformatted, 2 files left unchanged\n"


def test_fmt_one_file_and_crlf(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    file = tmp_path / "p.policy"
    file.write_bytes(b"party a\r\nparty b\r\n")
    code, out, _ = run(capsys, "fmt", file)
    assert code == 0
    assert f"reformatted {file}" in out
    assert file.read_bytes() == b"party a\nparty b\n"


def test_fmt_check(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    code, out, _ = run(capsys, "fmt", tree, "--check")
    assert code == 1
    assert out.splitlines() == [
        f"would reformat {tree / 'messy.policy'}",
        "1 file would be reformatted, 1 file already formatted",
    ]
    assert (tree / "messy.policy").read_text(encoding="utf-8") == MESSY
    code, out, _ = run(capsys, "fmt", tree / "sub", "--check")
    assert code == 0
    assert out == "0 files would be reformatted, 1 file already formatted\n"


def test_fmt_diff(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    code, out, _ = run(capsys, "fmt", tree, "--diff")
    assert code == 1
    messy = tree / "messy.policy"
    assert out.startswith(f"--- {messy}\n+++ {messy}\n@@ ")
    assert out.endswith(
        "-party   a\n-rule r §1 allow a to use b for c   # why\n"
        "+party a\n+\n+rule r §1\n+  allow a to use b for c  # why\n"
    )
    assert messy.read_text(encoding="utf-8") == MESSY
    code, out, _ = run(capsys, "fmt", tree / "sub", "--diff")
    assert (code, out) == (0, "")


def test_fmt_diff_shows_a_missing_final_newline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "p.policy"
    file.write_text("party a", encoding="utf-8")
    code, out, _ = run(capsys, "fmt", file, "--diff", "--check")
    assert code == 1
    assert "-party a\n\\ No newline at end of file\n+party a\n" in out


def test_fmt_syntax_error_exits_2(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    bad = tree / "bad.policy"
    bad.write_text("party a\nrulle r\n", encoding="utf-8")
    code, out, err = run(capsys, "fmt", tree)
    assert code == 2
    assert f"{bad}:2:1: error: unknown keyword `rulle`" in err
    assert "2 | rulle r\n  | ^^^^^" in err
    assert bad.read_text(encoding="utf-8") == "party a\nrulle r\n"
    assert (tree / "messy.policy").read_text(encoding="utf-8") == CANONICAL
    assert out.splitlines()[-1] == (
        "1 file reformatted, 1 file left unchanged, 1 could not be formatted"
    )
    code, _, err = run(capsys, "fmt", bad, "--check")
    assert code == 2
    assert "unknown keyword `rulle`" in err


def test_fmt_bad_paths_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "fmt", tmp_path / "nowhere")
    assert code == 2
    assert "no such file or directory" in err
    code, _, err = run(capsys, "fmt", tmp_path)
    assert code == 2
    assert "no `.policy` files" in err
