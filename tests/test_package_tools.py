"""The tools on a policy that uses packages: a git revision reads its packages from the same
revision; the formatter keeps `use` and `supplies`; the language server and the workbench load
it; and `rules/planiso-law25` (PLANISO read in the Act's terms) loads and maps what it says."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import policy_engine
from policy_engine import PolicyError, load_policy
from policy_engine.analysis.versions import load_version
from policy_engine.language.formatter import format_source
from policy_engine.language.parser import parse_source
from policy_engine.language.source import Source

from .conftest import ROOT
from .packages_fixture import BASE_RULES, DEPT_RULES, base_and_dept

PLANISO_LAW25 = ROOT / "rules" / "planiso-law25"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base_and_dept(tmp_path)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "base and dept")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_git_revision_reads_its_packages_from_the_same_revision(repo: Path) -> None:
    before = load_version("git:HEAD:dept")
    assert before.version == load_policy("dept").version
    assert [u.folder for u in before.packages] == ["HEAD:base"]
    (repo / "base" / "rules.policy").write_text(BASE_RULES.replace("when verified\n", ""))
    after = load_policy("dept")
    assert load_version("git:HEAD:dept").version == before.version != after.version
    from policy_engine.analysis.diff import diff_policies

    report = diff_policies(before, after, "git:HEAD:dept", "dept")
    assert report.requests_changed > 0


def test_a_symlink_in_a_package_at_a_revision_is_refused(repo: Path) -> None:
    os.symlink("rules.policy", repo / "base" / "again.policy")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "a link")
    with pytest.raises(PolicyError) as raised:
        load_version("git:HEAD:dept")
    [error] = raised.value.diagnostics
    assert error.code == "package-symlink" and "HEAD:base/again.policy" in error.message


def test_a_git_path_with_no_package_there(repo: Path) -> None:
    (repo / "dept" / "rules.policy").write_text(DEPT_RULES.replace("../base", "../bsae"))
    _git(repo, "commit", "-qam", "typo")
    with pytest.raises(PolicyError) as raised:
        load_version("git:HEAD:dept")
    [error] = raised.value.diagnostics
    assert (error.code, error.help) == ("package-not-found", "did you mean `base`?")


def test_the_formatter_keeps_use_and_supplies() -> None:
    text = 'use   base from "../base"\ncontext where:string  supplies base.destination,base.x "w"\n'
    formatted = format_source(text)
    assert formatted == (
        'use base from "../base"\n\ncontext where: string supplies base.destination, base.x "w"\n'
    )
    assert format_source(formatted) == formatted
    same = parse_source(Source("a", text)).items
    assert parse_source(Source("b", formatted)).items == same


def test_the_language_server_checks_a_policy_with_a_package(tmp_path: Path) -> None:
    from policy_engine.analysis.budget import Budget
    from policy_engine.lsp.checking import check_document

    dept = base_and_dept(tmp_path)
    uri = (dept / "rules.policy").as_uri()
    checked = check_document(uri, {}, Budget(seconds=20))
    assert checked.policy is not None
    assert not [d for d in checked.diagnostics if d.severity == "error"]
    broken = check_document(
        uri, {uri: DEPT_RULES.replace("base.email", "base.emial")}, Budget(seconds=20)
    )
    assert [d.code for d in broken.diagnostics if d.severity == "error"] == ["unknown-term"]


def test_the_workbench_shows_a_policy_with_a_package(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="the workbench needs the server extra")
    from fastapi.testclient import TestClient

    from policy_engine.workbench import FolderSource, create_workbench

    dept = base_and_dept(tmp_path)
    with TestClient(create_workbench(FolderSource(dept))) as client:
        assert client.get("/api/policy").status_code == 200
        assert client.get("/api/vocabulary").status_code == 200
        request = {"party": "agents", "data": "base.email", "purpose": "base.support"}
        answer = client.post("/api/explain", json={**request, "context": {"where": "US"}}).json()
        assert answer["decision"]["reasons"][0]["id"] == "base.no_export"
        # a proposed change to the policy's own file loads with the package it uses
        name = next(s.name for s in load_policy(dept).sources)
        widened = DEPT_RULES.replace(
            "deny any party from using base.health", "deny agents from using base.health"
        )
        result = client.post("/api/propose", json={"files": {name: widened}}).json()
        assert result["loads"] and result["changed"] == [name]
        assert {g["kind"] for g in result["diff"]["groups"]} == {"widened"}


# ---- rules/planiso-law25 ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def mapped() -> policy_engine.Policy:
    return load_policy(PLANISO_LAW25)


def test_planiso_law25_uses_both_texts_as_packages(mapped: policy_engine.Policy) -> None:
    uses = {u.namespace: u for u in mapped.packages}
    assert set(uses) == {"planiso", "law25"}
    assert uses["planiso"].version == load_policy(ROOT / "rules" / "planiso").version
    assert uses["law25"].version == load_policy(ROOT / "rules" / "law25").version
    for use in uses.values():
        assert dict(use.supplies) == {
            f"{use.namespace}.{key}": key
            for key in ("consented_purposes", "subject_age", "destination")
        }
    assert mapped.ledger_key == "consented_purposes"
    assert len(mapped.rules) == 27 + 32
    assert [Path(s.name).name for s in mapped.sources] == [
        "data.policy",
        "packages.policy",
        "parties.policy",
        "purposes.policy",
    ]


@pytest.mark.parametrize(
    ("kind", "term", "above"),
    [
        ("party", "planiso.customer_service", "law25.staff"),
        ("party", "planiso.delivery_partners", "law25.contractor"),
        ("party", "planiso.collection_agencies", "law25.debt_collector"),
        ("party", "planiso.law_enforcement", "law25.crime_prevention_body"),
        ("data", "planiso.email", "law25.contact_information"),
        ("data", "planiso.payment_details", "law25.financial_information"),
        ("purpose", "planiso.debt_collection", "law25.debt_recovery"),
        ("purpose", "planiso.advertising", "law25.prospection"),
        ("purpose", "planiso.order_delivery", "law25.mandate_performance"),
    ],
)
def test_planiso_law25_places_planisos_terms_under_the_acts(
    mapped: policy_engine.Policy, kind: str, term: str, above: str
) -> None:
    assert above in mapped.compiled.hierarchies[kind].ancestors[term]


def test_planiso_law25_reads_one_destination_in_both_texts(mapped: policy_engine.Policy) -> None:
    context = {"consented_purposes": ["planiso.order_delivery"], "destination": "US"}
    d = mapped.decide(
        "planiso.delivery_partners", "planiso.postal_address", "planiso.order_delivery", context
    )
    assert (d.effect, [r.id for r in d.reasons]) == (
        "deny",
        ["law25.outside_quebec_without_adequate_assessment"],
    )
    assert d.missing == ["law25.pia_adequate_protection"]
    context["law25.pia_adequate_protection"] = True
    d = mapped.decide(
        "planiso.delivery_partners", "planiso.postal_address", "planiso.order_delivery", context
    )
    assert d.effect == "allow"
    assert {"planiso.ensure_adequate_protection", "law25.written_agreement_outside_quebec"} <= set(
        d.obligations
    )


def test_planiso_law25_breaks_the_invariants_its_readme_names(mapped: policy_engine.Policy) -> None:
    """`check` proves the other 15 (some 20 s: too slow to repeat here); each of the 12 the
    README names is broken, with a counterexample the evaluator confirms."""
    from policy_engine.analysis.budget import Meter
    from policy_engine.analysis.invariants import policy_invariant_exprs, prove_invariant
    from policy_engine.analysis.search import CellSearch
    from policy_engine.analysis.space import RequestSpace

    compiled = mapped.compiled
    readme = (PLANISO_LAW25 / "README.md").read_text(encoding="utf-8")
    assert "**12 of the 27 do not hold there**" in readme
    invariants = {i.id.value: i for i in compiled.checked.invariants}
    assert len(invariants) == 27
    named = [name for name in invariants if f"`{name}`" in readme]
    assert len(named) == 12
    search = CellSearch(
        compiled, RequestSpace([compiled], policy_invariant_exprs(compiled)), Meter()
    )
    for name in named:
        assert prove_invariant(search, invariants[name]).counterexample is not None, name
