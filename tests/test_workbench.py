"""The workbench's server side (``policy-engine workbench``; ``serve`` at ``/ui/``): its pages,
files and JSON endpoints against the library they are built on, and every kind of bad input
refused with a clear error, never a 500. The pages themselves are tested in a real browser in
``test_workbench_browser.py``."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the workbench needs the server extra")

from fastapi.testclient import TestClient

import policy_engine
from policy_engine.traceability.coverage import coverage_of
from policy_engine.traceability.matrix import build_matrix
from policy_engine.traceability.selection import declaration_order
from policy_engine.workbench import FolderSource, create_workbench
from policy_engine.workbench.proposal import MAX_PROPOSAL_BYTES
from policy_engine.workbench.shell import PAGES, SERVICE_PAGES
from policy_engine.workbench.static_files import STATIC

from .conftest import PLANISO, ROOT

ACCESS = "access.policy"
GUARDED_RULE = (
    "  allow customer_service to use contact_information for respond_to_requests\n"
    "  when purpose in consented_purposes\n"
)
UNGUARDED_RULE = "  allow customer_service to use contact_information for respond_to_requests\n"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_workbench(FolderSource(PLANISO))) as found:
        yield found


@pytest.fixture(scope="module")
def planiso() -> policy_engine.Policy:
    return policy_engine.load_policy(PLANISO)


def access_name(planiso: policy_engine.Policy) -> str:
    return next(s.name for s in planiso.sources if s.name.endswith(ACCESS))


def access_text(planiso: policy_engine.Policy) -> str:
    return next(s.text for s in planiso.sources if s.name.endswith(ACCESS))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policy_engine", *args], capture_output=True, text=True, timeout=120
    )


# ---- pages and files ---------------------------------------------------------------------------


def test_every_page_is_the_shell_with_its_title_and_the_navigation(client: TestClient) -> None:
    for page, title in PAGES.items():
        response = client.get(f"/{page}")
        assert response.status_code == 200
        html = response.text
        assert f"<h1>{title}</h1>" in html
        assert '<base href="/">' in html
        assert f'<a href="{page}" aria-current="page">' in html
        assert all(f'<a href="{p}"' in html for p in PAGES)
        assert not any(f'<a href="{p}"' in html for p in SERVICE_PAGES)
        assert "script-src 'self'" in response.headers["content-security-policy"]
    assert client.get("/", follow_redirects=False).headers["location"] == "/policy"


def test_an_unknown_page_or_a_service_page_is_a_page_saying_not_found(client: TestClient) -> None:
    for path in ("/nothing", "/log", "/subjects"):
        response = client.get(path)
        assert response.status_code == 404
        assert "Not found" in response.text and "text/html" in response.headers["content-type"]
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and "error" in missing.json()


def test_static_files_are_served_from_the_package_and_revalidate(client: TestClient) -> None:
    main = client.get("/static/js/main.js")
    assert main.status_code == 200
    assert main.content == (STATIC / "js" / "main.js").read_bytes()
    assert main.headers["content-type"].startswith("text/javascript")
    again = client.get("/static/js/main.js", headers={"If-None-Match": main.headers["etag"]})
    assert again.status_code == 304
    for outside in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/js/nothing.js"):
        assert client.get(outside).status_code == 404


def test_the_package_ships_every_page_asset() -> None:
    """Every file of the checkout's ``static/`` is package data, and the installed package (a
    wheel in CI) has exactly those files."""
    checkout = ROOT / "policy_engine" / "workbench" / "static"
    expected = {p.relative_to(checkout).as_posix() for p in checkout.rglob("*") if p.is_file()}
    shipped = {p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*") if p.is_file()}
    assert shipped == expected
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    assert "policy_engine.workbench" in tool["packages"]
    patterns = tool["package-data"]["policy_engine.workbench"]
    for name in expected:
        path = f"static/{name}"
        assert any(fnmatch.fnmatch(path, p) and path.count("/") == p.count("/") for p in patterns)


def test_no_page_asset_names_another_host() -> None:
    """Scripts, styles and icons are the package's own: nothing to fetch from anywhere else
    (the SVG namespace is a name, not an address)."""
    assets = [p for p in STATIC.rglob("*") if p.is_file()]
    assert {p.suffix for p in assets} <= {".js", ".css", ".svg"}
    for asset in assets:
        text = asset.read_text("utf-8").replace("http://www.w3.org/2000/svg", "")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE), asset
        assert "@import" not in text and "url(" not in text, asset
        for imported in re.findall(r"""import\(?\s*(?:[\w{}\s,*]+from\s+)?["']([^"']+)""", text):
            assert imported.startswith("./") or imported.startswith("../"), (asset, imported)


# ---- the pages' data ---------------------------------------------------------------------------


def test_the_policy_page_is_the_coverage_with_each_rule_in_words(
    client: TestClient, planiso: policy_engine.Policy
) -> None:
    page = client.get("/api/policy").json()
    report = coverage_of(PLANISO)
    assert page["coverage"]["summary"] == report.summary()
    sections = [s for d in page["coverage"]["documents"] for s in d["sections"]]
    expected = [s for d in report.documents for s in d.sections]
    assert [(s["key"], s["status"]) for s in sections] == [(s.key, s.status) for s in expected]
    for shown, section in zip(sections, expected, strict=True):
        assert [r["id"] for r in shown["rules"]] == [c.id for c in section.rules]
    card = next(r for s in sections for r in s["rules"] if r["id"] == "cloud_providers_hosting")
    reason = next(r for r in planiso.rules if r.id == "cloud_providers_hosting")
    assert card["location"] == reason.location and card["citation"] == reason.citation
    assert card["sentence"] == (
        "allow cloud_providers to use personal_information for data_hosting"
    )
    [obligation] = card["obligations"]
    assert obligation["names"] == ["ensure_adequate_protection"]
    assert (
        obligation["when"].startswith("when ") and '`destination != "CA-QC"`' in obligation["when"]
    )
    assert page["uncited"] == []


def test_the_vocabulary_lists_every_term_with_the_rules_that_name_it(
    client: TestClient, planiso: policy_engine.Policy
) -> None:
    vocab = client.get("/api/vocabulary").json()
    hierarchies = planiso.compiled.hierarchies
    for kind in ("party", "data", "purpose", "obligation"):
        terms = vocab["kinds"][kind]
        assert sorted(t["name"] for t in terms) == sorted(hierarchies[kind].terms)
        for term in terms:
            assert term["parents"] == list(hierarchies[kind].parent_links[term["name"]])
    contact = next(t for t in vocab["kinds"]["data"] if t["name"] == "contact_information")
    assert "customer_service_contact" in contact["rules"]
    assert contact["citations"] == ["§3.1"] and contact["location"].endswith("vocabulary.policy:27")
    shapes = {k["name"]: k["shape"] for k in vocab["context"]}
    assert shapes["consented_purposes"] == "set" and shapes["channel"] == "one_of"
    assert shapes["opted_out_channels"] == "list" and shapes["subject_age"] == "integer"
    assert vocab["ledger_key"] == "consented_purposes"


def test_the_register_and_its_downloads_are_the_commands(client: TestClient) -> None:
    shown = client.get("/api/register").json()
    assert [a["purpose"] for a in shown["activities"]]
    assert all(a["words"]["parties"] for a in shown["activities"])
    markdown = client.get("/api/register.markdown")
    assert markdown.headers["content-disposition"] == 'attachment; filename="register.md"'
    cli = run_cli("register", str(PLANISO), "--format", "markdown")
    assert markdown.text + "\n" == cli.stdout
    assert client.get("/api/register.pdf").status_code == 404


# ---- the matrix --------------------------------------------------------------------------------


def test_the_matrix_opens_line_by_line_and_combines_what_it_closes(
    client: TestClient, planiso: policy_engine.Policy
) -> None:
    matrix = build_matrix(planiso, "m")
    closed = client.get("/api/matrix").json()
    links = planiso.compiled.hierarchies["party"].parent_links
    roots = [t for t in declaration_order(planiso.compiled, "party") if not links[t]]
    assert [r["term"] for r in closed["rows"]] == roots
    children = planiso.compiled.hierarchies["party"].child_links
    assert [r["whole"] for r in closed["rows"]] == [bool(children[t]) for t in roots]
    assert any(r["whole"] for r in closed["rows"])
    parties = planiso.terms("party")
    data = planiso.terms("data")
    opened = client.get(
        "/api/matrix", params={"open_party": ",".join(parties), "open_data": ",".join(data)}
    ).json()
    purposes = planiso.terms("purpose")
    for r, row in enumerate(opened["rows"]):
        for c, col in enumerate(opened["columns"]):
            found = [matrix.verdicts.get((row["term"], col["term"], p)) for p in purposes]
            statuses = {v.status if v else "never" for v in found}
            expected = statuses.pop() if len(statuses) == 1 else "conditional"
            assert opened["cells"][r][c] == expected, (row["term"], col["term"])
    marketing = client.get("/api/matrix", params={"purpose": "marketing"}).json()
    assert marketing["counts"]["always"] == 0 and marketing["purpose"] == "marketing"


def test_a_cell_opens_to_its_purposes_as_decide_answers_them(
    client: TestClient, planiso: policy_engine.Policy
) -> None:
    cell = client.get(
        "/api/matrix/cell", params={"party": "security_officers", "data": "email"}
    ).json()
    listed = {p["purpose"]: p for p in cell["purposes"]}
    assert set(listed) | set(cell["never"]) == set(planiso.terms("purpose"))
    generous = {
        "consented_purposes": planiso.terms("purpose"),
        "identity_verified": True,
        "subject_age": 30,
        "cookies_accepted": True,
        "profiling_enabled": True,
    }
    for purpose in planiso.terms("purpose"):
        bare = planiso.decide("security_officers", "email", purpose, {})
        rich = planiso.decide("security_officers", "email", purpose, generous)
        if bare.allowed or rich.allowed:
            assert purpose in listed, purpose
        if purpose in listed and listed[purpose]["status"] == "always":
            assert bare.allowed and rich.allowed, purpose
            assert [r["id"] for r in listed[purpose]["rules"]]
    collapsed = client.get(
        "/api/matrix/cell",
        params={
            "party": "staff",
            "party_whole": "1",
            "data": "contact_information",
            "data_whole": "1",
            "purpose": "marketing",
        },
    ).json()
    assert collapsed["party_whole"] and collapsed["data_whole"]
    assert any(p["mixed"] and p["members"] for p in collapsed["purposes"])


def test_the_csv_is_the_command_s(client: TestClient) -> None:
    for params, flags in (({}, []), ({"purpose": "marketing"}, ["--purpose", "marketing"])):
        response = client.get("/api/matrix.csv", params=params)
        assert response.headers["content-type"].startswith("text/csv")
        cli = run_cli("matrix", str(PLANISO), "--format", "csv", *flags)
        assert response.text + "\n" == cli.stdout


def test_matrix_requests_naming_what_is_not_there_are_refused(client: TestClient) -> None:
    unknown = client.get("/api/matrix", params={"purpose": "marketting"})
    assert unknown.status_code == 400
    assert "marketing" in json.dumps(unknown.json())  # the suggestion
    assert client.get("/api/matrix", params={"open_party": "nobody"}).status_code == 400
    bad_flag = client.get(
        "/api/matrix/cell", params={"party": "staff", "data": "email", "party_whole": "yes"}
    )
    assert bad_flag.status_code == 400 and "party_whole" in bad_flag.json()["error"]
    assert client.get("/api/matrix/cell", params={"party": "staff"}).status_code == 400


# ---- the playground ----------------------------------------------------------------------------

REQUEST = {
    "party": "marketing_department",
    "data": "email",
    "purpose": "marketing_communication",
    "context": {"consented_purposes": ["marketing"], "channel": "email", "opted_out_channels": []},
}


def test_the_playground_answers_what_the_library_does(
    client: TestClient, planiso: policy_engine.Policy
) -> None:
    answer = client.post("/api/explain", json=REQUEST).json()
    decision = planiso.decide(**REQUEST)
    assert answer["decision"] == decision.model_dump()
    assert answer["explanation"] == decision.explain()
    assert answer["trace"] == decision.trace().model_dump()
    command = answer["commands"]["decide"]
    assert command.startswith(f"policy-engine decide {PLANISO} --party marketing_department")
    args = shlex.split(command)[1:]
    assert run_cli(*args).stdout.startswith("ALLOW")
    curl = answer["commands"]["curl"]
    assert curl.startswith("curl -sS -X POST http://127.0.0.1:8181/v1/decisions")
    assert json.loads(shlex.split(curl)[-1]) == REQUEST


def test_a_near_miss_and_a_missing_key_are_shown(client: TestClient) -> None:
    answer = client.post(
        "/api/explain", json={"party": "delivery_partners", "data": "email", "purpose": "marketing"}
    ).json()
    assert answer["decision"]["effect"] == "deny"
    assert answer["trace"]["near_misses"]


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        ({**REQUEST, "party": "marketting_department"}, 400, "marketing_department"),
        ({**REQUEST, "context": {"subject_age": "old"}}, 400, "subject_age"),
        ({**REQUEST, "context": {"nope": 1}}, 400, "nope"),
        ({"party": "planiso"}, 400, "`data`"),
        ([1, 2], 400, "JSON object"),
        ({**REQUEST, "context": [1]}, 400, "`context`"),
    ],
)
def test_a_bad_request_is_a_clear_error(
    client: TestClient, body: Any, status: int, said: str
) -> None:
    response = client.post("/api/explain", json=body)
    assert response.status_code == status
    assert said in json.dumps(response.json())


def test_a_body_that_is_not_json_too_large_or_of_another_type_is_refused(
    client: TestClient,
) -> None:
    headers = {"Content-Type": "application/json"}
    assert client.post("/api/explain", content=b"{", headers=headers).status_code == 400
    deep = b"[" * 100_000 + b"]" * 100_000
    assert client.post("/api/explain", content=deep, headers=headers).status_code in (400, 413)
    assert client.post("/api/explain", content=b"x=1").status_code == 415
    huge = b'{"files": {"x": "' + b"a" * (MAX_PROPOSAL_BYTES + 1) + b'"}}'
    assert client.post("/api/propose", content=huge, headers=headers).status_code == 413


def test_the_command_refuses_a_policy_that_does_not_load_and_a_bad_port(tmp_path: Path) -> None:
    missing = run_cli("workbench", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "no such file or directory" in missing.stderr
    broken = tmp_path / "broken.policy"
    broken.write_text("rule r allow", "utf-8")
    refused = run_cli("workbench", str(broken))
    assert refused.returncode == 2 and "broken.policy:1:" in refused.stderr
    port = run_cli("workbench", str(PLANISO), "--port", "70000")
    assert port.returncode == 2 and "--port must be from 1 to 65535" in port.stderr
