"""The workbench in a real browser: Playwright driving Debian's Chromium against
``policy-engine workbench`` (and ``serve`` at ``/ui/``) started here on 127.0.0.1. Each page is
loaded and used as a person would; what it shows is checked against the library; axe-core (from
the ``axe-playwright-python`` package, see ``pyproject.toml``) finds no serious or critical
accessibility violation; and no page asks anything of another host.

Without Playwright or Chromium these tests skip, unless ``POLICY_ENGINE_REQUIRE_BROWSER=1``
(set by ``.ci/run``), which makes that a failure. ``POLICY_ENGINE_CHROMIUM`` names another
Chromium executable than ``/usr/bin/chromium``.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import policy_engine
from policy_engine.traceability.coverage import coverage_of
from policy_engine.traceability.register import build_register

from .browser_support import (
    Served,
    TabWatch,
    axe_runner,
    chromium,
    no_serious_violations,
    serve,
)
from .conftest import PLANISO

GUARDED = (
    "  allow customer_service to use contact_information for respond_to_requests\n"
    "  when purpose in consented_purposes\n"
)
UNGUARDED = "  allow customer_service to use contact_information for respond_to_requests\n"
DAG_POLICY = """
party company "the organisation"
party sales, support under company
party account_managers under sales, support "in both teams"
data personal_information
data email under personal_information
purpose service
rule managers_email allow account_managers to use email for service
rule sales_all allow sales to use personal_information for service when consented
context consented: boolean
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def axe() -> Any:
    return axe_runner()


@pytest.fixture(scope="module")
def planiso() -> policy_engine.Policy:
    return policy_engine.load_policy(PLANISO)


@pytest.fixture(scope="module")
def workbench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(["workbench", str(PLANISO)], tmp_path_factory.mktemp("workbench")) as served:
        yield served


@pytest.fixture
def tab(browser: Any, workbench: Served) -> Iterator[TabWatch]:
    with TabWatch.open(browser, workbench) as watched:
        yield watched


# ---- Policy --------------------------------------------------------------------------------------


def test_the_policy_page_shows_the_text_with_its_rules_and_searches(tab: TabWatch) -> None:
    page = tab.go("policy")
    report = coverage_of(PLANISO)
    assert page.inner_text("#coverage-summary") == report.summary()
    sections = [s for d in report.documents for s in d.sections]
    assert page.locator("article.section").count() == len(sections)
    citing = {s.key for s in sections if any(r.id == "cloud_providers_hosting" for r in s.rules)}
    page.fill("#policy-search", "cloud_providers_hosting")
    page.wait_for_function("() => location.search.includes('q=cloud_providers_hosting')")
    shown = page.locator("article.section:visible")
    assert shown.count() == len(citing) > 0
    assert shown.first.locator('[data-rule="cloud_providers_hosting"]').count() == 1
    assert "§5.1" in shown.first.inner_text()
    again = tab.go(page.url.split("/", 3)[3])  # the address holds the search
    assert again.input_value("#policy-search") == "cloud_providers_hosting"
    assert again.locator("article.section:visible").count() == len(citing)


# ---- Matrix --------------------------------------------------------------------------------------

GENEROUS = {
    "identity_verified": True,
    "subject_age": 30,
    "cookies_accepted": True,
    "profiling_enabled": True,
}


def test_a_matrix_cell_opens_to_the_purposes_decide_allows(
    tab: TabWatch, planiso: policy_engine.Policy
) -> None:
    page = tab.go(
        "matrix?open_party=planiso,partners&open_data=personal_information,"
        "personal_identifiers,contact_information"
    )
    page.click('button.cell[data-party="cloud_providers"][data-data="email"]')
    page.wait_for_selector(".detail .purpose")
    assert "cell=cloud_providers" in page.url
    listed = {
        el.get_attribute("data-purpose"): el.get_attribute("data-status")
        for el in page.locator(".detail .purpose").element_handles()
    }
    generous = {**GENEROUS, "consented_purposes": planiso.terms("purpose")}
    for purpose in planiso.terms("purpose"):
        bare = planiso.decide("cloud_providers", "email", purpose, {})
        rich = planiso.decide("cloud_providers", "email", purpose, generous)
        if bare.allowed or rich.allowed:
            assert purpose in listed, purpose
        if listed.get(purpose) == "always":
            assert bare.allowed and rich.allowed, purpose
        if purpose not in listed:
            assert not bare.allowed and not rich.allowed, purpose
    assert "data_hosting" in listed


def test_matrix_lines_open_and_the_grid_is_walked_with_arrows(tab: TabWatch) -> None:
    page = tab.go("matrix")
    before = page.locator("table.matrix tbody tr").count()
    page.click('button[aria-label="open planiso"]')
    page.wait_for_function(
        f"() => document.querySelectorAll('table.matrix tbody tr').length > {before}"
    )
    assert "open_party=planiso" in page.url
    first = page.locator('button.cell[data-r="0"][data-c="0"]')
    first.focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.r") == "1"
    page.keyboard.press("Enter")
    page.wait_for_selector(".detail h2")


def test_the_matrix_exports_the_csv_of_the_command(tab: TabWatch, workbench: Served) -> None:
    page = tab.go("matrix?purpose=marketing")
    assert page.input_value("#purpose-filter") == "marketing"
    with page.expect_download() as download:
        page.click("text=Export CSV")
    text = Path(download.value.path()).read_text("utf-8")
    cli = workbench.cli("matrix", str(PLANISO), "--purpose", "marketing", "--format", "csv")
    assert text + "\n" == cli


# ---- Playground ----------------------------------------------------------------------------------


def test_the_playground_decides_as_the_library_and_keeps_the_request(
    tab: TabWatch, planiso: policy_engine.Policy
) -> None:
    page = tab.go("playground")
    for kind, term in (
        ("party", "marketing_department"),
        ("data", "email"),
        ("purpose", "marketing_communication"),
    ):
        page.check(f'input[name="{kind}"][value="{term}"]')
    page.uncheck("#missing-consented_purposes")
    page.check('input[name="ctx-consented_purposes"][value="marketing"]')
    page.select_option("#ctx-channel", "email")
    context = {"consented_purposes": ["marketing"], "channel": "email"}
    decision = planiso.decide("marketing_department", "email", "marketing_communication", context)
    page.wait_for_function(
        "() => document.querySelector('#explanation')?.textContent.includes('channel')"
    )
    assert page.inner_text("#decision") == decision.effect.upper()
    assert page.inner_text("#explanation") == decision.explain()
    assert page.inner_text("#missing") == (", ".join(decision.missing) or "none")
    command = page.input_value("#command-decide")
    assert command.startswith(f"policy-engine decide {PLANISO} --party marketing_department")
    assert json.loads(command.split("--context ", 1)[1].strip("'")) == context
    again = tab.go(page.url.split("/", 3)[3])
    again.wait_for_selector("#decision")
    assert again.inner_text("#explanation") == decision.explain()
    assert again.is_checked('input[name="ctx-consented_purposes"][value="marketing"]')


def test_the_playground_shows_a_bad_term_as_an_error(tab: TabWatch) -> None:
    page = tab.go("playground?party=nobody&data=email&purpose=marketing")
    page.wait_for_selector(".error-box")
    assert "nobody" in page.inner_text(".error-box")


# ---- Vocabulary ----------------------------------------------------------------------------------


def test_the_vocabulary_graph_has_every_term_and_opens_one(
    tab: TabWatch, planiso: policy_engine.Policy
) -> None:
    page = tab.go("vocabulary?kind=data")
    nodes = page.locator("svg.graph a.node")
    assert nodes.count() == len(planiso.terms("data"))
    links = planiso.compiled.hierarchies["data"].parent_links
    assert page.locator("svg.graph .edge").count() == sum(len(p) for p in links.values())
    page.click('svg.graph a.node[data-term="email"]')
    assert "term=email" in page.url
    row = page.locator('tr[data-term="email"]')
    assert "chosen" in (row.get_attribute("class") or "")
    assert "contact_information" in row.inner_text()


def test_a_term_with_two_parents_has_an_edge_from_each(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("dag")
    (folder / "dag.policy").write_text(DAG_POLICY, "utf-8")
    with serve(["workbench", str(folder)], folder) as served, TabWatch.open(browser, served) as tab:
        page = tab.go("vocabulary?kind=party")
        edges = page.locator('svg.graph .edge[data-to="account_managers"]')
        assert sorted(e.get_attribute("data-from") or "" for e in edges.element_handles()) == [
            "sales",
            "support",
        ]
        assert "sales, support" in page.inner_text('tr[data-term="account_managers"]')


# ---- Propose a change ----------------------------------------------------------------------------


def checked(page: Any, count: int) -> None:
    page.wait_for_function(f"() => Number(document.body.dataset.checked || 0) >= {count}")


def test_an_edit_shows_its_diagnostic_at_its_line_then_its_diff(
    tab: TabWatch, planiso: policy_engine.Policy
) -> None:
    page = tab.go("propose")
    checked(page, 1)
    name, text = next((s.name, s.text) for s in planiso.sources if s.name.endswith("access.policy"))
    area = page.locator(f'textarea[aria-label="rule file {name}"]')
    broken = text.replace("rule it_technical_support", "rule it_technical_support allow")
    line = broken[: broken.index("rule it_technical_support")].count("\n") + 1
    area.fill(broken)
    checked(page, 2)
    problems = page.inner_text("#problems")
    assert f"{name}:{line}:" in problems or f"{name}:{line + 1}:" in problems
    marked = page.locator(f'[data-file="{name}"] .gutter .mark-error').inner_text()
    assert int(marked) in (line, line + 1)
    assert "do not load" in page.inner_text("#changes")
    area.fill(text.replace(GUARDED, UNGUARDED))
    checked(page, 3)
    group = page.locator("#changes .diff-group.kind-widened")
    assert group.count() == 1
    assert "customer_service" in group.inner_text() and "widened" in group.inner_text()
    assert "-  when purpose in consented_purposes" in page.text_content("#patch")
    with page.expect_download() as download:
        page.click("#download")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert archive.read(name.lstrip("/")).decode("utf-8") == text.replace(GUARDED, UNGUARDED)
    assert (
        next(s.text for s in policy_engine.load_policy(PLANISO).sources if s.name == name) == text
    )


def test_the_editor_completes_terms_and_keywords(tab: TabWatch) -> None:
    page = tab.go("propose")
    checked(page, 1)
    area = page.locator("textarea:visible")
    area.focus()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nrule late allow cloud_prov")
    page.wait_for_selector(".completions:visible")
    assert "cloud_providers" in page.inner_text(".completions:visible")
    page.keyboard.press("Enter")
    assert area.input_value().endswith("allow cloud_providers")


# ---- Register --------------------------------------------------------------------------------


def test_the_register_page_and_its_download(
    tab: TabWatch, workbench: Served, planiso: policy_engine.Policy
) -> None:
    page = tab.go("register")
    register = build_register(planiso, str(PLANISO))
    assert page.locator("section.activity").count() == len(register.activities)
    with page.expect_download() as download:
        page.click("text=Download as Markdown")
    text = Path(download.value.path()).read_text("utf-8")
    assert text + "\n" == workbench.cli("register", str(PLANISO), "--format", "markdown")


# ---- every page: accessible, reachable by keyboard -----------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "policy",
        "matrix?open_party=planiso&cell=planiso|1|personal_information|1",
        "playground?party=planiso&data=email&purpose=marketing",
        "vocabulary?kind=party&term=staff",
        "vocabulary?kind=context",
        "propose",
        "register",
    ],
)
def test_no_serious_accessibility_violation(tab: TabWatch, axe: Any, address: str) -> None:
    page = tab.go(address)
    if address == "propose":
        checked(page, 1)
    no_serious_violations(axe, tab)


def test_the_skip_link_is_the_first_stop_and_leads_to_the_content(tab: TabWatch) -> None:
    page = tab.go("policy")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


# ---- on the decision service: the log and the ledger, with the read token ------------------------


def test_serve_shows_the_log_and_the_ledger_to_the_read_token(
    browser: Any, axe: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("serve")
    tokens = {"POLICY_ENGINE_READ_TOKEN": "read-" + "r" * 20, "POLICY_ENGINE_ADMIN_TOKEN": "a" * 24}
    args = ["serve", str(PLANISO), "--db", f"sqlite:///{folder / 'db.sqlite'}"]
    with serve(args, folder, tokens, root="ui/") as served:
        served.call(
            "POST",
            "v1/subjects/acme/consents",
            tokens["POLICY_ENGINE_ADMIN_TOKEN"],
            {"event": "grant", "purposes": ["marketing"], "recorded_by": "t", "source": "t"},
        )
        served.call(
            "POST",
            "v1/decisions",
            None,
            {
                "party": "marketing_department",
                "data": "email",
                "subject": "acme",
                "purpose": "marketing_communication",
                "context": {"channel": "email", "opted_out_channels": []},
            },
        )
        with TabWatch.open(browser, served) as tab:
            page = tab.go("log")
            page.fill("#log-subject", "acme")
            page.click("button[type=submit]")
            page.wait_for_selector(".error-box")
            assert "read" in page.inner_text(".error-box")  # no token: refused by the service
            page.fill("#read-token", tokens["POLICY_ENGINE_READ_TOKEN"])
            page.click("button[type=submit]")
            page.wait_for_selector("table.log tbody tr")
            page.click("table.log tbody tr button")
            page.wait_for_selector("#log-explanation")
            assert "gives what was logged" in page.inner_text(".detail")
            no_serious_violations(axe, tab)
            page = tab.go("subjects?subject=acme")
            page.wait_for_selector("#disclosures-summary")
            assert page.inner_text("#consented-now") == "marketing"
            assert "1 allowed decision" in page.inner_text("#disclosures-summary")
            no_serious_violations(axe, tab)
