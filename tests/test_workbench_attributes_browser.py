"""The workbench in a real browser on a policy with attributes, a package and overrides
(Playwright and Debian's Chromium, as ``test_workbench_browser.py``): the Vocabulary page shows
each term's attribute values, its own, inherited (from which term) or the default, and those it
has none of, and each kind's declared attributes (a package's under its namespace); the Policy
page lists the overrides, beside the sections they cite or after the rules; the Playground says
which obligation was not attached, and why. ``WORKBENCH_SCREENSHOTS=DIR`` keeps a picture of each
page (how it looks is checked by eye)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import policy_engine

from .browser_support import Served, TabWatch, axe_runner, chromium, no_serious_violations, serve
from .conftest import ROOT

LAW = """\
attribute location of party: one of "CA-QC", "US" default "CA-QC" "where it processes the data"
party processor
party qc_processor under processor with location = "CA-QC"
data pi
purpose hosting
obligation assess "assess the protection abroad" when party.location != "CA-QC"

rule processors_host §1
  allow processor to use pi for hosting
  with obligation assess
"""

COMPANY = """\
use law from "../law"
attribute tier of party: integer "how far the vendor is trusted"
attribute region of party: one of "QC", "EU" "where the vendor works"
party vendors under law.processor with tier = 2
party our_vendor under vendors with law.location = "US", region = "EU"
party our_sub under our_vendor
party new_vendor under vendors
context emergency: boolean
obligation log_it when party.region = "EU"

rule vendors_host §1
  allow vendors to use law.pi for law.hosting
  with obligation log_it

rule no_tier_one §2
  deny vendors from using law.pi for law.hosting
  when party.tier < 2 and not emergency

override emergencies §3 "an emergency lifts the tier limit"
  lifts no_tier_one
  when emergency
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def axe() -> Any:
    return axe_runner()


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    root = tmp_path_factory.mktemp("attributes")
    for name, text in (("law/rules.policy", LAW), ("co/rules.policy", COMPANY)):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")
    with serve(["workbench", str(root / "co")], root) as served:
        yield served, root / "co"


def shot(page: Any, name: str, part: Any = None) -> None:
    """A picture of the page (or of ``part`` of it) when ``WORKBENCH_SCREENSHOTS`` names a
    folder."""
    folder = os.environ.get("WORKBENCH_SCREENSHOTS")
    if folder:
        path = str(Path(folder) / f"{name}.png")
        if part is not None:
            part.screenshot(path=path)
        else:
            page.screenshot(path=path, full_page=True)


def test_each_term_shows_its_attribute_values_and_where_they_come_from(
    browser: Any, company: tuple[Served, Path]
) -> None:
    served, folder = company
    policy = policy_engine.load_policy(folder)
    with TabWatch.open(browser, served) as tab:
        page = tab.go("vocabulary?kind=party&term=our_sub")
        shot(page, "vocabulary-attributes")

        def said(term: str) -> dict[str, str]:
            items = page.locator(f'tr[data-term="{term}"] td.attributes li')
            return {
                (item.get_attribute("data-attribute") or ""): item.inner_text()
                for item in items.element_handles()
            }

        assert said("our_vendor") == {
            "law.location": 'law.location = "US" (its own)',
            "region": 'region = "EU" (its own)',
            "tier": "tier = 2 (from vendors)",
        }
        assert said("our_sub")["law.location"] == 'law.location = "US" (from our_vendor)'
        assert said("new_vendor") == {
            "law.location": 'law.location = "CA-QC" (the default)',
            "region": "region: no value (unknown)",
            "tier": "tier = 2 (from vendors)",
        }
        assert said("law.processor")["tier"] == "tier: no value (unknown)"
        # The same values as the library's.
        tier = policy.compiled.attributes[("party", "tier")]
        assert {t for t in policy.terms("party") if t in tier.values} == {
            t for t in policy.terms("party") if said(t)["tier"] != "tier: no value (unknown)"
        }
        table = page.locator("#attributes-party")
        assert table.locator("tr[data-attribute]").count() == 3
        row = table.locator('tr[data-attribute="region"]').inner_text()
        assert "party.region" in row and 'one of "QC", "EU"' in row and "vendors_host" in row
        assert "party.law.location" in table.inner_text()


def test_the_vocabulary_with_attributes_has_no_serious_accessibility_violation(
    browser: Any,
    axe: Any,
    company: tuple[Served, Path],
) -> None:
    served, _ = company
    with TabWatch.open(browser, served) as tab:
        tab.go("vocabulary?kind=party")
        no_serious_violations(axe, tab)
        tab.go("policy")
        no_serious_violations(axe, tab)


def test_the_policy_page_lists_the_overrides_after_the_rules(
    browser: Any, company: tuple[Served, Path]
) -> None:
    served, _ = company
    with TabWatch.open(browser, served) as tab:
        page = tab.go("policy")
        shot(page, "policy-overrides")
        card = page.locator('article[data-rule="emergencies"]')
        assert card.get_attribute("aria-label") == "override emergencies"
        text = card.inner_text()
        assert "override emergencies lifts no_tier_one" in text
        assert "when emergency" in text and "an emergency lifts the tier limit" in text
        assert page.locator("#overrides").count() == 1


def test_the_policy_page_shows_an_override_beside_the_sections_it_cites(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Québec's Act: its override (s.18(7)) cites sections of the Act's text (the page could not
    be shown at all before: it looked overrides up among the rules)."""
    folder = ROOT / "rules" / "law25"
    [override] = policy_engine.load_policy(folder).compiled.overrides
    workdir = tmp_path_factory.mktemp("law25")
    with (
        serve(["workbench", str(folder)], workdir) as served,
        TabWatch.open(browser, served) as tab,
    ):
        page = tab.go("policy")
        cards = page.locator(f'article[data-rule="{override.id}"]')
        assert cards.count() >= 2  # s.17 para 4 and s.18(7), each with its card
        assert f"lifts {override.lifts[0]}" in cards.first.inner_text()
        section = page.locator("#s-18-7-")  # §18(7): the urgent situation it cites
        assert section.locator(f'article[data-rule="{override.id}"]').count() == 1
        shot(page, "policy-law25-override", section)


def test_the_playground_says_which_obligation_was_not_attached(
    browser: Any, company: tuple[Served, Path]
) -> None:
    served, folder = company
    policy = policy_engine.load_policy(folder)
    with TabWatch.open(browser, served) as tab:
        page = tab.go("playground?party=new_vendor&data=law.pi&purpose=law.hosting")
        page.wait_for_selector("#decision")
        shot(page, "playground-undetermined")
        expected = policy.decide("new_vendor", "law.pi", "law.hosting", {})
        assert [u.name for u in expected.undetermined_obligations] == ["log_it"]
        said = page.inner_text("#undetermined")
        assert said == "log_it of vendors_host: party.region is unknown"
        assert "not attached" in page.inner_text("#decision-summary")
