"""One source for highlighting: the VS Code extension's TextMate grammar and the workbench
editor's tokens are generated from the grammar's words (``scripts/build_syntax.py``); both
highlight every keyword of the grammar, every form of citation, strings, numbers, comments."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from policy_engine.language.grammar import lark_parser
from policy_engine.lsp.highlighting import (
    SCOPES,
    TEXTMATE_PATH,
    WORKBENCH_PATH,
    textmate_text,
    workbench_script,
)

from .conftest import ROOT

CITATIONS = [
    "§5.1",
    "§ 5.1",
    "§164.512(f)(2)(ii)",
    "Art. 9(2)(h)",
    "Article 9",
    "s.18(7)",
    "s. 18(7)",
    "S. 3",
    "Sec. 4",
    "section 5",
    "s.12 para 2",
    "s.12 para 4(2)",
    "law25:s. 18(7)",
    "§links-to-other-websites",
]
TOKEN_TERMINALS = {"NAME", "CITATION", "STRING", "INT", "COMMENT", "WS", "COMPARE", "DURATION"}


def grammar_words() -> tuple[set[str], set[str]]:
    """Every keyword of the Lark grammar, read from its terminals here (not from the module
    the highlighters are made from): single words, and phrases of several."""
    words: set[str] = set()
    phrases: set[str] = set()
    for term in lark_parser().terminals:
        value = term.pattern.value
        if term.name in TOKEN_TERMINALS:
            continue
        if term.pattern.type == "str":
            if value.isalpha():
                words.add(value)
        elif r"\s+" in value:
            phrases.add(" ".join(value.removesuffix(r"\b").split(r"\s+")))
        else:
            words.update(re.findall(r"[a-z]+", value.replace(r"\b", "")))
    return words, phrases


def test_the_grammar_has_the_words_the_tests_expect() -> None:
    words, phrases = grammar_words()
    assert {"allow", "deny", "party", "when", "unless", "invariant", "true", "is"} <= words
    assert phrases == {"not a decision", "consent ledger"}


def test_the_committed_highlighters_are_what_the_generator_makes() -> None:
    assert (ROOT / TEXTMATE_PATH).read_text("utf-8") == textmate_text()
    assert (ROOT / WORKBENCH_PATH).read_text("utf-8") == workbench_script()
    package = json.loads((ROOT / "editors" / "vscode" / "package.json").read_text("utf-8"))
    [grammar] = package["contributes"]["grammars"]
    assert grammar["path"] == "./syntaxes/policy.tmLanguage.json"
    assert grammar["scopeName"] == json.loads(textmate_text())["scopeName"]


# ---- the TextMate grammar, run by a small TextMate tokenizer (one line, no nesting) --------


def _patterns(grammar: dict[str, Any], entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in entries:
        if "include" in entry:
            out += _patterns(grammar, [grammar["repository"][entry["include"][1:]]])
        elif "patterns" in entry and "begin" not in entry:
            out += _patterns(grammar, entry["patterns"])
        else:
            out.append(entry)
    return out


def textmate_scopes(line: str) -> list[tuple[str, str]]:
    """The pieces of ``line`` the grammar gives a scope, with their scopes."""
    grammar = json.loads(textmate_text())
    patterns = _patterns(grammar, grammar["patterns"])
    pieces: list[tuple[str, str]] = []
    at = 0
    while at < len(line):
        found = [
            (m, p)
            for p in patterns
            if (m := re.compile(p.get("match") or p["begin"]).search(line, at)) is not None
        ]
        if not found:
            break
        match, pattern = min(found, key=lambda pair: pair[0].start())
        if "begin" in pattern:
            at = _inside(line, match.end(), pattern)
            pieces.append((line[match.start() : at], pattern["name"]))
        elif "captures" in pattern:
            pieces += [(match.group(int(g)), c["name"]) for g, c in pattern["captures"].items()]
            at = match.end()
        else:
            pieces.append((match.group(), pattern["name"]))
            at = max(match.end(), match.start() + 1)
    return pieces


def _inside(line: str, at: int, pattern: dict[str, Any]) -> int:
    """Where a begin/end pattern ends (its inner patterns consume first, as TextMate's do)."""
    inner = [re.compile(p["match"]) for p in pattern.get("patterns", [])]
    end = re.compile(pattern["end"])
    while at <= len(line):
        consumed = next((m for rx in inner if (m := rx.match(line, at)) and m.end() > at), None)
        if consumed is not None:
            at = consumed.end()
            continue
        closing = end.match(line, at)
        if closing is not None:
            return closing.end()
        at += 1
    return len(line)


def test_textmate_highlights_every_keyword_of_the_grammar() -> None:
    words, phrases = grammar_words()
    keyword_scopes = set(SCOPES.values())
    for word in sorted(words | phrases):
        [(text, scope)] = textmate_scopes(word)
        assert text == word and scope in keyword_scopes, (word, scope)
    assert textmate_scopes("allow")[0][1] != textmate_scopes("deny")[0][1]
    assert textmate_scopes("data_hosting rules mission") == []


def test_textmate_highlights_citations_strings_numbers_comments() -> None:
    line = "rule r " + ", ".join(CITATIONS) + ' "a \\"quoted\\" word\\n" # §9 and more'
    pieces = textmate_scopes(line)
    assert pieces[:2] == [("rule", SCOPES["statement"]), ("r", "entity.name.function.policy")]
    cited = [text for text, scope in pieces if scope == "constant.other.citation.policy"]
    assert cited == CITATIONS
    assert ('"a \\"quoted\\" word\\n"', "string.quoted.double.policy") in pieces
    assert pieces[-1] == ("# §9 and more", "comment.line.number-sign.policy")
    condition = textmate_scopes("when subject_age >= -14 and x != 3 or not y in [z]")
    assert ("-14", "constant.numeric.integer.policy") in condition
    assert (">=", "keyword.operator.comparison.policy") in condition
    assert ("not", SCOPES["operator"]) in condition
    assert textmate_scopes("context age: integer")[:2] == [
        ("context", SCOPES["statement"]),
        ("age", "variable.other.declaration.policy"),
    ]
    inside_names = textmate_scopes("bus.5 s1 mass. 5")
    assert all(scope != "constant.other.citation.policy" for _, scope in inside_names)


# ---- the workbench's tokens --------------------------------------------------------------


def workbench_tokens(text: str) -> list[tuple[str, str]]:
    """``syntax.js``'s TOKEN run as the editor runs it (sticky, from the start), in Python."""
    script = (ROOT / WORKBENCH_PATH).read_text("utf-8")
    token = re.compile(json.loads(re.search(r"new RegExp\((\".*\"), 'gy'\)", script).group(1)))
    classes = json.loads(re.search(r"CLASSES = (\[.*\]);", script).group(1))
    words = json.loads(re.search(r"WORDS = (\{.*?\});", script, re.S).group(1))
    out = []
    at = 0
    while at < len(text):
        match = token.match(text, at)
        assert match is not None
        group = next(i for i, g in enumerate(match.groups(), 1) if g is not None)
        cls = classes[group - 1]
        cls = words.get(match.group(), "") if cls is None else cls
        if cls:
            out.append((match.group(), cls))
        at = match.end()
    return out


def test_the_workbench_highlights_every_keyword_and_citation() -> None:
    words, phrases = grammar_words()
    for word in sorted(words | phrases):
        [(text, cls)] = workbench_tokens(word)
        assert text == word and cls in {"tok-keyword", "tok-allow", "tok-deny"}, word
    assert workbench_tokens("allow deny") == [("allow", "tok-allow"), ("deny", "tok-deny")]
    line = "rule r " + ", ".join(CITATIONS) + ' "a \\"b\\"" 42 # §9'
    cited = [text for text, cls in workbench_tokens(line) if cls == "tok-citation"]
    assert cited == CITATIONS
    assert workbench_tokens(line)[-3:] == [
        ('"a \\"b\\""', "tok-string"),
        ("42", "tok-number"),
        ("# §9", "tok-comment"),
    ]


HIGHLIGHT = """
import { highlight, Words } from "./editor.js";
const words = new Words([], { party: ["staff"] }, ["age"]);
process.stdout.write(highlight(process.argv[2], words));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_workbench_editor_highlights_with_the_generated_tokens(tmp_path: Path) -> None:
    """The editor itself (``editor.js``, run by node), not a copy of its loop."""
    static = ROOT / "policy_engine" / "workbench" / "static" / "js"
    for name in ("editor.js", "common.js", "syntax.js"):
        shutil.copy(static / name, tmp_path / name)
    (tmp_path / "package.json").write_text('{"type": "module"}')
    (tmp_path / "run.js").write_text(HIGHLIGHT)
    words, phrases = grammar_words()
    line = " ".join(sorted(words | phrases)) + " staff age " + ", ".join(CITATIONS)
    html = subprocess.run(
        ["node", "run.js", line], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    spans = re.findall(r'<span class="([^"]+)">([^<]*)</span>', html)
    shown = {text: cls for cls, text in spans}
    for word in words | phrases:
        assert shown[word] in {"tok-keyword", "tok-allow", "tok-deny"}, word
    assert shown["staff"] == "tok-party" and shown["age"] == "tok-context"
    assert [text for cls, text in spans if cls == "tok-citation"] == CITATIONS


def test_the_vscode_extension_declares_the_language_and_starts_the_server() -> None:
    folder = ROOT / "editors" / "vscode"
    package = json.loads((folder / "package.json").read_text("utf-8"))
    [language] = package["contributes"]["languages"]
    assert language["id"] == "policy" and language["extensions"] == [".policy"]
    configuration = json.loads((folder / language["configuration"]).read_text("utf-8"))
    assert configuration["comments"] == {"lineComment": "#"}
    assert {"open": '"', "close": '"', "notIn": ["string", "comment"]} in configuration[
        "autoClosingPairs"
    ]
    assert (
        package["contributes"]["configuration"]["properties"]["policyEngine.path"]["default"]
        == "policy-engine"
    )
    client = (folder / package["main"]).read_text("utf-8")
    assert '["lsp", ...config.get("arguments", [])' in client
    lock = json.loads((folder / "package-lock.json").read_text("utf-8"))
    for name, version in package["dependencies"].items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    if shutil.which("node") is not None:
        subprocess.run(["node", "--check", str(folder / package["main"])], check=True)
