"""The workbench's server side on attributes and overrides: the Vocabulary endpoint gives each
term's value of every attribute of its kind and where it comes from (its own declaration, a term
above it, the default, or none), as the library resolved them, and each kind's declared
attributes with the rules reading them; the Policy endpoint lists overrides, beside the sections
they cite (Québec's Act: its page could not be made before, an override was looked up among the
rules), after the rules of a policy without a source document, and with the rules that cite no
section. The pages are driven in a browser in ``test_workbench_attributes_browser.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the workbench needs the server extra")

from fastapi.testclient import TestClient

import policy_engine
from policy_engine.semantics.attribute_table import DEFAULT
from policy_engine.workbench import FolderSource, create_workbench

from .conftest import ROOT
from .test_workbench_attributes_browser import COMPANY, LAW


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("attributes")
    for name, text in (("law/rules.policy", LAW), ("co/rules.policy", COMPANY)):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")
    return root / "co"


@pytest.fixture(scope="module")
def client(folder: Path) -> Iterator[TestClient]:
    with TestClient(create_workbench(FolderSource(folder))) as found:
        yield found


def test_every_term_has_its_value_of_every_attribute_and_its_source(
    client: TestClient, folder: Path
) -> None:
    vocab = client.get("/api/vocabulary").json()
    compiled = policy_engine.load_policy(folder).compiled
    for kind in ("party", "data", "purpose"):
        declared = sorted(name for of, name in compiled.attributes if of == kind)
        for term in vocab["kinds"][kind]:
            assert [a["name"] for a in term["attributes"]] == declared
            for shown in term["attributes"]:
                attribute = compiled.attributes[(kind, shown["name"])]
                origin = attribute.origins.get(term["name"])
                expected = (
                    "none"
                    if origin is None
                    else "default"
                    if origin == DEFAULT
                    else "own"
                    if origin == term["name"]
                    else "inherited"
                )
                assert shown["source"] == expected, (term["name"], shown)
                assert (shown["origin"] is not None) == (expected == "inherited")
                assert (shown["value"] is None) == (expected == "none")
    sub = next(t for t in vocab["kinds"]["party"] if t["name"] == "our_sub")
    assert {a["name"]: (a["value"], a["origin"]) for a in sub["attributes"]} == {
        "law.location": ('"US"', "our_vendor"),
        "region": ('"EU"', "our_vendor"),
        "tier": ("2", "vendors"),
    }
    declared_party = {a["text"]: a for a in vocab["attributes"]["party"]}
    assert set(declared_party) == {"party.law.location", "party.region", "party.tier"}
    assert declared_party["party.tier"]["rules"] == ["no_tier_one"]
    assert declared_party["party.law.location"]["default_text"] == '"CA-QC"'
    assert declared_party["party.law.location"]["location"].endswith("law/rules.policy:1")
    assert vocab["attributes"]["data"] == [] and vocab["attributes"]["purpose"] == []


def test_a_policy_without_a_source_document_lists_its_overrides(client: TestClient) -> None:
    page = client.get("/api/policy").json()
    assert page["overrides_total"] == 1
    [card] = page["overrides"]
    assert (card["id"], card["effect"], card["lifts"]) == (
        "emergencies",
        "override",
        ["no_tier_one"],
    )
    assert card["sentence"] == "override emergencies lifts no_tier_one"
    assert card["conditions"] == ["when `emergency`"] and card["citation"] == "§3"
    assert card["location"].endswith("co/rules.policy:19")


def test_an_override_without_a_citation_is_with_the_rules_that_cite_none(folder: Path) -> None:
    text = COMPANY.replace(
        'override emergencies §3 "an emergency', 'override emergencies "an emergency'
    )
    other = folder.parent / "uncited"
    other.mkdir()
    (other / "rules.policy").write_text(text, "utf-8")
    with TestClient(create_workbench(FolderSource(other))) as client:
        page = client.get("/api/policy").json()
    assert [c["id"] for c in page["uncited"]] == ["emergencies"]


def test_the_act_s_page_shows_its_override_beside_the_sections_it_cites() -> None:
    law25 = ROOT / "rules" / "law25"
    with TestClient(create_workbench(FolderSource(law25))) as client:
        answer = client.get("/api/policy")
    assert answer.status_code == 200
    sections = [s for d in answer.json()["coverage"]["documents"] for s in d["sections"]]
    citing = {s["label"]: r for s in sections for r in s["rules"] if r["effect"] == "override"}
    [override] = policy_engine.load_policy(law25).compiled.overrides
    assert {r["id"] for r in citing.values()} == {override.id}
    assert {"§17", "§18(7)"} <= set(citing)
    assert citing["§18(7)"]["lifts"] == list(override.lifts)
