"""The language server and packages (``use base from "../base"``): hover, go to definition and
completion find a package's declarations as the loader reads the package; ``now``, attributes,
named conditions and an obligation's parameters; a package that does not parse, is missing, is
reached through a symbolic link or in a cycle never breaks the server, and what the check finds
in a package's file is shown on the policy. The server tests speak to ``policy-engine lsp`` over
stdio (:mod:`tests.lsp_client`); the others call the functions the server calls."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pygls.workspace.position_codec import PositionCodec

from policy_engine.analysis.budget import Budget
from policy_engine.language.package_folders import DiskFolders
from policy_engine.language.parser import parse_source
from policy_engine.language.source import Source
from policy_engine.lsp.checking import by_file, check_document
from policy_engine.lsp.hover import hover_text
from policy_engine.lsp.hover_names import places
from policy_engine.lsp.index import Index
from policy_engine.lsp.packages import read_packages
from policy_engine.lsp.tokens import token_at

from .lsp_client import LspClient
from .packages_fixture import write
from .test_lsp import place

BASE = """\
source base "base.md"

attribute location of party: one of "CA-QC", "US" default "US" "where the party processes data" §1
party staff "the organisation's employees" §1
party contractor under staff "performs a contract for services" §1 with location = "CA-QC"
data email §2
purpose support §3
obligation retain_for(years: integer default 6, medium: one of "paper", "digital" default "paper")
  "keep the record" §3
context destination: string "where the data goes" §4

rule contractors_support §3
  allow contractor to use email for support
  with obligation retain_for(years = 2)

rule no_export §4 "Nothing leaves Québec"
  deny any party from using any data for any purpose
  when destination != "CA-QC"
"""

BASE_DOCUMENT = """\
# The base policy

1. Parties
Staff and contractors.

2. Data
Email.

3. Purposes
Support, and how long its records are kept.

4. Transfers
Nothing leaves Québec.
"""

DEPT = """\
use base from "../base"

party vendors "our vendors" §5
party base.contractor under vendors §5
context where: string supplies base.destination "where the data goes" §5
context emergency: boolean "a life is at risk" §5
context today: date is now "the day of the decision" §5
context consent_until: date "the day the consent ends" §5

condition consent_valid §5 "the consent has not ended" means now <= consent_until

override urgent_export §5 "an emergency lifts the transfer ban"
  lifts base.no_export
  when emergency

rule vendors_support §5, base.base:§3
  allow vendors to use base.email for base.support
  when consent_valid and party.base.location = "CA-QC"
  with obligation base.retain_for(years = 3, medium = "paper")
"""


def folders(root: Path, dept: str = DEPT) -> Path:
    """``base`` and ``dept`` below ``root``; the path of dept's rule file."""
    files = {"base/rules.policy": BASE, "base/base.md": BASE_DOCUMENT, "dept/rules.policy": dept}
    return write(root, files) / "dept" / "rules.policy"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LspClient]:
    where = tmp_path_factory.mktemp("lsp-packages")
    started = LspClient(where)
    started.initialize(where)
    yield started
    assert "Traceback" not in started.server_log()
    started.kill()


def location(file: Path, text: str, word: str, after: str = "") -> dict[str, Any]:
    line, character = place(text, word, after)
    return {
        "uri": file.as_uri(),
        "range": {
            "start": {"line": line, "character": character},
            "end": {"line": line, "character": character + len(word)},
        },
    }


def test_hover_and_definition_find_a_packages_declarations(
    client: LspClient, tmp_path: Path
) -> None:
    dept = folders(tmp_path)
    base = tmp_path / "base" / "rules.policy"
    uri = dept.as_uri()
    client.open(uri, DEPT)

    def ask(method: str, word: str, after: str = "") -> Any:
        line, character = place(DEPT, word, after)
        return client.request(method, client.at(uri, line, character + 2))

    shown = ask("textDocument/hover", "base.contractor")["contents"]["value"]
    assert shown.startswith("**party** `base.contractor`")
    assert "*performs a contract for services*" in shown
    assert "under `base.staff`, `vendors`" in shown  # the package's parent and the placement
    assert "cites §1 (Parties)" in shown  # in the package's own document
    assert "in the package `base`" in shown and "base/rules.policy:5:7" in shown
    assert "placed under `vendors`" in shown  # and the policy's placement, after it
    assert ask("textDocument/definition", "base.contractor") == [
        location(base, BASE, "contractor", "party contractor"),
        location(dept, DEPT, "base.contractor"),
    ]

    shown = ask("textDocument/hover", "base.no_export", "lifts")["contents"]["value"]
    assert shown.startswith("**rule** `base.no_export` (deny)")
    assert "*Nothing leaves Québec*" in shown and "cites §4 (Transfers)" in shown
    assert ask("textDocument/definition", "base.no_export", "lifts") == [
        location(base, BASE, "no_export")
    ]

    shown = ask("textDocument/hover", "base.destination")["contents"]["value"]
    assert shown.startswith("**context key** `base.destination`: string")
    assert "supplied by `where`" in shown
    assert ask("textDocument/definition", "base.destination") == [
        location(base, BASE, "destination")
    ]

    shown = ask("textDocument/hover", "base.base:§3")["contents"]["value"]
    assert shown.startswith("**base.base:§3** Purposes")
    assert "Support, and how long its records are kept." in shown
    shown = ask("textDocument/hover", "base", "use")["contents"]["value"]
    assert shown.startswith("**package** `base`") and 'from `"../base"`' in shown


def completion(
    client: LspClient, uri: str, text: str, line: str, typed: str = ""
) -> list[dict[str, Any]]:
    """The items completing ``line``, written at the end of ``text`` (its last character
    typed, when ``typed`` says which: it then asks for completion)."""
    client.change(uri, 2, text + line)
    asked = client.at(uri, text.count("\n"), len(line))
    if typed:
        asked["context"] = {"triggerKind": 2, "triggerCharacter": typed}
    return list(client.request("textDocument/completion", asked)["items"])


def test_completion_after_a_namespace_and_in_an_obligations_parentheses(
    client: LspClient, tmp_path: Path
) -> None:
    uri = folders(tmp_path).as_uri()
    client.open(uri, DEPT)
    client.diagnostics(uri)  # checked: what is typed next does not parse, the last parse stands
    text = DEPT + "rule new §5\n"
    last = text.count("\n")

    items = completion(client, uri, text, "  allow vendors to use base.")
    assert {i["label"] for i in items} == {
        *("staff", "contractor", "email", "support", "retain_for", "destination"),
        *("contractors_support", "no_export"),
    }
    end = {"line": last, "character": len("  allow vendors to use base.")}
    assert {(i["textEdit"]["range"]["start"] == end) for i in items} == {True}
    email = next(i for i in items if i["label"] == "email")
    assert email["kind"] == 22 and email["detail"] == "data category base.email"

    items = completion(client, uri, text, "  allow vendors to use base.em")
    [email] = [i for i in items if i["label"] == "email"]
    assert email["textEdit"]["newText"] == "email"
    assert email["textEdit"]["range"]["start"] == end

    items = completion(client, uri, text, "  with obligation base.retain_for(", "(")
    assert [(i["label"], i["textEdit"]["newText"]) for i in items] == [
        ("years", "years = "),
        ("medium", "medium = "),
    ]
    assert items[0]["detail"] == "years: integer default 6"
    items = completion(client, uri, text, "  with obligation base.retain_for(years = 3, me")
    assert [i["label"] for i in items] == ["medium"]
    items = completion(client, uri, text, "  with obligation base.retain_for(years = ")
    assert "years" not in {i["label"] for i in items} and "allow" in {i["label"] for i in items}

    items = completion(client, uri, text, "  when party.", ".")
    # A package's attribute is named under its namespace: `party.base.location`.
    assert [(i["label"], i["kind"]) for i in items] == [("base.location", 10)]  # Property
    assert completion(client, uri, text, "  when (", "(") == []  # no obligation's parentheses
    assert completion(client, uri, text, "  when 0.", ".") == []


def test_hover_on_now_attributes_conditions_and_parameters(tmp_path: Path) -> None:
    dept = folders(tmp_path)
    files = [parse_source(Source(str(dept), DEPT))]
    packages = read_packages(files, DiskFolders())
    index = Index(files, packages)
    documents = packages.documents()
    lines = DEPT.split("\n")

    def hover(word: str, after: str = "") -> str:
        line, character = place(DEPT, word, after)
        token = token_at(lines[line], line, character)
        assert token is not None and token.text == word
        shown = hover_text(token, index, documents, lines)
        assert shown is not None
        found = places(token, index, lines)
        assert found, word
        return f"{shown}\n@{found[0].source.name}:{found[0].line}"

    shown = hover("now", "means")
    assert shown.startswith("**now** the decision's time: `today`")
    assert "**context key** `today`: date is now" in shown and shown.endswith("dept/rules.policy:7")
    shown = hover("party.base.location")
    assert shown.startswith('**attribute** `base.location` of party: one of "CA-QC", "US"')
    assert 'default "US"' in shown and "*where the party processes data*" in shown
    assert "in the package `base`" in shown and shown.endswith("base/rules.policy:3")
    shown = hover("consent_valid", "when")
    assert shown.startswith("**named condition** `consent_valid`")
    assert "means `now <= consent_until`" in shown and "*the consent has not ended*" in shown
    shown = hover("years", "base.retain_for(")
    assert shown.startswith("**parameter** `years` of `base.retain_for`: integer default 6")
    assert shown.endswith("base/rules.policy:8")
    shown = hover("base.retain_for")
    assert shown.startswith(
        '**obligation** `base.retain_for`(years: integer default 6, medium: one of "paper", '
        '"digital" default "paper")'
    )
    assert "*keep the record*" in shown and "cites §3 (Purposes)" in shown


def test_a_broken_or_missing_package_is_shown_on_the_policy(
    client: LspClient, tmp_path: Path
) -> None:
    dept = folders(tmp_path)
    uri = dept.as_uri()
    broken = tmp_path / "base" / "rules.policy"
    broken.write_text(BASE.replace("party staff", "party staff ((", 1), "utf-8")
    client.open(uri, DEPT)
    [shown] = client.diagnostics(uri, lambda ds: bool(ds))
    assert shown["code"] == "unexpected-token" and shown["severity"] == 1
    assert shown["range"] == location(dept, DEPT, 'use base from "../base"')["range"]
    assert shown["message"].startswith("in the package `base`, ")
    assert "base/rules.policy:4:" in shown["message"]
    [related] = shown["relatedInformation"]
    assert related["location"]["uri"] == broken.as_uri()
    assert related["location"]["range"]["start"]["line"] == 3
    line, character = place(DEPT, "vendors", "allow")
    hover = client.request("textDocument/hover", client.at(uri, line, character))
    assert hover["contents"]["value"].startswith("**party** `vendors`")

    shutil.rmtree(tmp_path / "base")
    client.change(uri, 2, DEPT + "\n")
    shown = client.diagnostics(uri, lambda ds: any(d["code"] == "package-not-found" for d in ds))
    assert [d["code"] for d in shown] == ["package-not-found"]
    line, character = place(DEPT, "base.email")
    hover = client.request("textDocument/hover", client.at(uri, line, character))
    assert hover is None
    items = completion(client, uri, DEPT, "  allow vendors to use base.")
    assert [i["label"] for i in items] == ["contractor"]  # the policy's own placement


def test_the_package_files_diagnostics_are_published_on_the_policy_only(tmp_path: Path) -> None:
    dept = folders(tmp_path)
    base = tmp_path / "base" / "rules.policy"
    base.write_text(BASE.replace("party staff", "party staff ((", 1), "utf-8")
    checked = check_document(dept.as_uri(), {}, Budget(seconds=10))
    found = by_file(checked, dept.as_uri(), PositionCodec())
    assert list(found) == [dept.as_uri()]
    assert [d.code for d in found[dept.as_uri()]] == ["unexpected-token"]
    # The package is known from its files that parse: here none.
    assert [v.namespace for v in checked.packages.views] == ["base"]
    assert checked.packages.views[0].files == ()


def test_packages_are_read_as_the_loader_reads_them(tmp_path: Path) -> None:
    """A package's package is named under both namespaces; a symbolic link and a cycle give
    nothing to show; a file that does not parse leaves the package's other files."""
    write(
        tmp_path,
        {
            "top/rules.policy": 'use mid from "../mid"\nparty a under mid.inner.b\n',
            "mid/rules.policy": 'use inner from "../inner"\nparty m\n',
            "inner/rules.policy": 'party b "the inner party"\n',
            "loop/rules.policy": 'use top from "../loop2"\nparty l\n',
            "loop2/rules.policy": 'use back from "../loop"\nparty l2\n',
            "broken/good.policy": 'party g "good"\n',
            "broken/bad.policy": "party (\n",
        },
    )
    (tmp_path / "linked").symlink_to(tmp_path / "inner")

    def read(text: str, at: str = "top") -> tuple[list[str], Index]:
        files = [parse_source(Source(str(tmp_path / at / "rules.policy"), text))]
        packages = read_packages(files, DiskFolders())
        return packages.namespaces(), Index(files, packages)

    namespaces, index = read('use mid from "../mid"\n')
    assert namespaces == ["mid", "mid.inner"]
    [declared] = index.declarations("mid.inner.b")
    assert (declared.kind, declared.package) == ("party", "mid.inner")
    assert declared.span.source.name.endswith("inner/rules.policy")
    assert read('use l from "../linked"\n')[0] == []
    assert read('use l from "../loop2"\n', "loop")[0] == []
    namespaces, index = read('use b from "../broken"\n')
    assert namespaces == ["b"] and index.names("party") == ["b.g"]
