"""``policy-engine lsp`` end to end: the server is started as editors start it and spoken to over
JSON-RPC (:mod:`tests.lsp_client`), on copies of PLANISO. One server answers the tests of this
module (each in a folder of its own), as one editor's server answers every open policy."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policy_engine import check_policy
from policy_engine.language.errors import Diagnostic
from policy_engine.language.formatter import format_source

from .conftest import PLANISO
from .lsp_client import LspClient

ERROR, WARNING, INFORMATION = 1, 2, 3


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    copy = tmp_path / "planiso"
    shutil.copytree(PLANISO, copy)
    return copy


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LspClient]:
    where = tmp_path_factory.mktemp("lsp")
    started = LspClient(where)
    started.initialize(where)
    yield started
    started.kill()


def test_initialize_shutdown_and_exit(tmp_path: Path) -> None:
    client = LspClient(tmp_path)
    try:
        result = client.initialize(tmp_path)
        capabilities = result["capabilities"]
        for provider in ("hover", "definition", "documentFormatting", "documentSymbol"):
            assert capabilities[f"{provider}Provider"], provider
        assert "completionProvider" in capabilities
        assert result["serverInfo"]["name"] == "policy-engine"
        assert client.stop() == 0
    finally:
        client.kill()


def place(text: str, word: str, after: str = "") -> tuple[int, int]:
    """0-based line and character of ``word`` (the first after ``after``)."""
    at = text.index(word, text.index(after) if after else 0)
    line = text.count("\n", 0, at)
    return line, at - (text.rfind("\n", 0, at) + 1)


def as_published(d: Diagnostic) -> dict[str, Any]:
    """What the server must publish for a diagnostic of ``check``."""
    assert d.span is not None
    message = d.message + (f"\nhelp: {d.help}" if d.help else "")
    severity = {"error": ERROR, "warning": WARNING, "info": INFORMATION}[d.severity]
    start = {"line": d.span.line - 1, "character": d.span.column - 1}
    end = {"line": d.span.end_line - 1, "character": d.span.end_column - 1}
    return {"code": d.code, "message": message, "severity": severity, "start": start, "end": end}


def published(shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "code": d["code"],
            "message": d["message"],
            "severity": d["severity"],
            "start": d["range"]["start"],
            "end": d["range"]["end"],
        }
        for d in shown
    ]


def check_of(folder: Path, name: str, text: str) -> list[dict[str, Any]]:
    """What ``check`` reports about the file ``name`` of ``folder`` with ``text`` saved in it."""
    copy = folder.parent / "saved"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(folder, copy)
    (copy / name).write_text(text, "utf-8")
    found = check_policy(copy)
    return [as_published(d) for d in found if d.span and Path(d.span.source.name).name == name]


def test_diagnostics_as_you_type_are_those_of_check(client: LspClient, folder: Path) -> None:
    access = folder / "access.policy"
    uri, text = access.as_uri(), access.read_text("utf-8")
    client.open(uri, text)
    every = {f.name: client.diagnostics(f.as_uri()) for f in sorted(folder.glob("*.policy"))}
    for name, shown in every.items():
        assert published(shown) == check_of(folder, name, (folder / name).read_text("utf-8"))
    notes = [d for shown in every.values() for d in shown]
    assert notes and {d["severity"] for d in notes} == {INFORMATION}

    typo = text.replace("allow marketing_department to use", "allow marketing_departmnt to use")
    client.change(uri, 2, typo)
    shown = client.diagnostics(uri, lambda ds: any(d["severity"] == ERROR for d in ds))
    line, character = place(typo, "marketing_departmnt")
    assert shown[0]["range"] == {
        "start": {"line": line, "character": character},
        "end": {"line": line, "character": character + len("marketing_departmnt")},
    }
    assert shown[0]["code"] == "unknown-term"
    assert "did you mean `marketing_department`?" in shown[0]["message"]
    assert published(shown) == check_of(folder, "access.policy", typo)

    broken = text.replace("customer_service to use", "customer_service too use")
    client.change(uri, 3, broken)
    shown = client.diagnostics(uri, lambda ds: any("`too`" in d["message"] for d in ds))
    line, character = place(broken, "too")
    assert shown[0]["range"]["start"] == {"line": line, "character": character}
    assert published(shown) == check_of(folder, "access.policy", broken)

    client.change(uri, 4, text)
    shown = client.diagnostics(uri, lambda ds: not any(d["severity"] == ERROR for d in ds))
    assert published(shown) == check_of(folder, "access.policy", text)


def test_positions_count_utf16_code_units(client: LspClient, tmp_path: Path) -> None:
    """A character outside the Basic Multilingual Plane is two UTF-16 code units."""
    solo = tmp_path / "solo"
    solo.mkdir()
    text = 'party a\ndata d\npurpose p\nrule r §1 "😀 emoji" allow b to use d for p\n'
    (solo / "one.policy").write_text(text, "utf-8")
    uri = (solo / "one.policy").as_uri()
    client.open(uri, text)
    [shown] = client.diagnostics(uri, lambda ds: bool(ds))
    line, character = place(text, "b to use")
    assert shown["code"] == "unknown-term"
    assert shown["range"]["start"] == {"line": line, "character": character + 1}
    assert shown["range"]["end"] == {"line": line, "character": character + 2}


def test_a_document_that_is_no_file_is_a_policy_of_its_own(client: LspClient) -> None:
    uri = "untitled:Untitled-1"
    client.open(uri, "party a\nrule r §1 allow a to use d for p\n")
    shown = client.diagnostics(uri, lambda ds: bool(ds))
    assert {d["code"] for d in shown} == {"unknown-term"}
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert client.diagnostics(uri) == []


def test_hover_shows_a_terms_place_and_a_citations_text(client: LspClient, folder: Path) -> None:
    access = folder / "access.policy"
    uri, text = access.as_uri(), access.read_text("utf-8")
    client.open(uri, text)
    line, character = place(text, "marketing_department", "allow marketing_department")
    hover = client.request("textDocument/hover", client.at(uri, line, character + 3))
    shown = hover["contents"]["value"]
    assert hover["contents"]["kind"] == "markdown"
    assert shown.startswith("**party** `marketing_department`")
    assert "*Marketing department*" in shown
    assert "under `staff`" in shown and "covered by `staff`, `planiso`" in shown
    assert "cites §5.1 (The personal information collected by our organization" in shown
    assert "vocabulary.policy:9:7" in shown
    assert hover["range"] == {
        "start": {"line": line, "character": character},
        "end": {"line": line, "character": character + len("marketing_department")},
    }

    line, character = place(text, "§5.1", "rule customer_service_contact")
    hover = client.request("textDocument/hover", client.at(uri, line, character + 1))
    shown = hover["contents"]["value"]
    assert shown.startswith("**§5.1** The personal information collected")
    assert "Customer service : Accesses contact information to respond to requests;" in shown
    assert "planiso-privacy-policy.txt:57" in shown

    line, character = place(text, "consented_purposes")
    hover = client.request("textDocument/hover", client.at(uri, line, character))
    assert hover["contents"]["value"].startswith(
        "**context key** `consented_purposes`: set of purpose from consent ledger"
    )
    blank = client.request("textDocument/hover", client.at(uri, 0, 0))
    assert blank is None


def test_definition_of_terms_context_keys_rules_and_citations(
    client: LspClient, folder: Path
) -> None:
    access = folder / "access.policy"
    uri, text = access.as_uri(), access.read_text("utf-8")
    vocabulary = (folder / "vocabulary.policy").read_text("utf-8")
    client.open(uri, text)

    def definition(word: str, after: str = "") -> list[dict[str, Any]]:
        line, character = place(text, word, after)
        return list(client.request("textDocument/definition", client.at(uri, line, character)))

    def at(file: str, line: int, character: int, length: int) -> dict[str, Any]:
        return {
            "uri": (folder / file).as_uri(),
            "range": {
                "start": {"line": line, "character": character},
                "end": {"line": line, "character": character + length},
            },
        }

    line, character = place(vocabulary, "customer_service", "party customer_service")
    assert definition("customer_service", "allow") == [
        at("vocabulary.policy", line, character, len("customer_service"))
    ]
    line, character = place(vocabulary, "consented_purposes")
    assert definition("consented_purposes") == [
        at("vocabulary.policy", line, character, len("consented_purposes"))
    ]
    line, character = place(text, "it_technical_support")
    assert definition("it_technical_support") == [
        at("access.policy", line, character, len("it_technical_support"))
    ]
    document = (folder / "planiso-privacy-policy.txt").read_text("utf-8")
    line, _ = place(document, "5.1 The personal information")
    section = at("planiso-privacy-policy.txt", line, 0, len(document.splitlines()[line]))
    assert definition("§5.1", "rule customer_service_contact") == [section]
    assert definition("§5.1") == [section]  # in a comment


def test_completion_offers_keywords_terms_and_context_keys(client: LspClient, folder: Path) -> None:
    access = folder / "access.policy"
    uri, text = access.as_uri(), access.read_text("utf-8")
    client.open(uri, text + "\nrule new_rule\n  allow mark")
    last = text.count("\n") + 2
    found = client.request("textDocument/completion", client.at(uri, last, len("  allow mark")))
    kinds = {item["label"]: item["kind"] for item in found["items"]}
    assert kinds["allow"] == kinds["when"] == kinds["not a decision"] == 14  # Keyword
    assert kinds["marketing_department"] == 7  # Class: a party
    assert kinds["email"] == 22  # Struct: a data category
    assert kinds["marketing_communication"] == 13  # Enum: a purpose
    assert kinds["ensure_adequate_protection"] == 23  # Event: an obligation
    assert kinds["consented_purposes"] == 6  # Variable: a context key
    in_comment = client.request("textDocument/completion", client.at(uri, 0, 10))
    assert in_comment["items"] == []


def apply(text: str, edits: list[dict[str, Any]]) -> str:
    lines = text.split("\n")

    def offset(where: dict[str, int]) -> int:
        return sum(len(line) + 1 for line in lines[: where["line"]]) + where["character"]

    for edit in sorted(edits, key=lambda e: offset(e["range"]["start"]), reverse=True):
        start, end = offset(edit["range"]["start"]), offset(edit["range"]["end"])
        text = text[:start] + edit["newText"] + text[end:]
    return text


def test_formatting_is_fmt(client: LspClient, tmp_path: Path) -> None:
    file = tmp_path / "solo" / "one.policy"
    file.parent.mkdir()
    text = (
        "party   a,b  under c # the parties\nparty c\ndata d purpose p\n\n\n\n"
        "rule r allow a to use d for p  when  x\ncontext x : boolean"
    )
    file.write_text(text, "utf-8")
    client.open(file.as_uri(), text)
    asked = {
        "textDocument": {"uri": file.as_uri()},
        "options": {"tabSize": 2, "insertSpaces": True},
    }
    edits = client.request("textDocument/formatting", asked)
    assert apply(text, edits) == format_source(text)
    assert format_source(text) != text
    client.change(file.as_uri(), 2, format_source(text))
    assert client.request("textDocument/formatting", asked) == []
    client.change(file.as_uri(), 3, "rule (")
    assert client.request("textDocument/formatting", asked) == []


def test_document_symbols_are_rules_and_declarations(client: LspClient, folder: Path) -> None:
    for name in ("access.policy", "vocabulary.policy"):
        file = folder / name
        client.open(file.as_uri(), file.read_text("utf-8"))
    access = folder / "access.policy"
    symbols = client.request(
        "textDocument/documentSymbol", {"textDocument": {"uri": access.as_uri()}}
    )
    text = access.read_text("utf-8")
    rules = [line.split()[1] for line in text.splitlines() if line.startswith("rule ")]
    assert [s["name"] for s in symbols] == rules
    assert {s["kind"] for s in symbols} == {12}  # Function
    first = symbols[0]
    line, character = place(text, rules[0])
    assert first["selectionRange"]["start"] == {"line": line, "character": character}
    assert first["range"]["start"] == {"line": line, "character": 0}
    assert first["range"]["end"]["line"] > line
    assert first["detail"] == "allow rule §5.1"

    vocabulary = folder / "vocabulary.policy"
    symbols = client.request(
        "textDocument/documentSymbol", {"textDocument": {"uri": vocabulary.as_uri()}}
    )
    kinds = {s["name"]: s["kind"] for s in symbols}
    assert kinds["planiso"] == kinds["staff"] == 5  # Class: a party
    assert kinds["consented_purposes"] == 13  # Variable: a context key
    assert kinds["ensure_adequate_protection"] == 24  # Event: an obligation


FAULTS = """
import policy_engine.lsp.checking as checking
import policy_engine.lsp.server as server
def boom(*args, **kwargs):
    raise RuntimeError("boom")
server.hover_text = boom
checking.check_loaded = boom
from policy_engine.cli.main import main
main(["lsp"])
"""


def test_a_failing_handler_is_an_error_never_a_dead_server(tmp_path: Path, folder: Path) -> None:
    client = LspClient(tmp_path, [sys.executable, "-c", FAULTS])
    try:
        client.initialize(tmp_path)
        access = folder / "access.policy"
        uri = access.as_uri()
        client.open(uri, access.read_text("utf-8"))
        shown = client.diagnostics(uri, lambda ds: bool(ds))
        assert [d["code"] for d in shown] == ["internal-error"]
        assert "RuntimeError: boom" in shown[0]["message"]

        failed = client.call("textDocument/hover", client.at(uri, 6, 10))
        assert "boom" in failed["error"]["message"]
        malformed = client.call("textDocument/hover", {"textDocument": {"uri": uri}})
        assert "error" in malformed
        found = client.request("textDocument/completion", client.at(uri, 6, 10))
        assert found["items"]
        assert client.stop() == 0
        assert "RuntimeError: boom" in client.server_log()
    finally:
        client.kill()
