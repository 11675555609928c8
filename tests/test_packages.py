"""Packages (`use base from "../base"`): what a package means in the policy that uses it.

The package's rules apply together with the policy's own (deny overrides allow, default deny);
its names come in under its namespace; the keys the policy supplies are what its rules read; its
version is part of the policy's; and the interface `policy-engine conforms` relies on holds
(docs/semantics.md, "Packages")."""

from __future__ import annotations

from pathlib import Path

import pytest

import policy_engine
from policy_engine import RequestError, load_policy, load_policy_text
from policy_engine.engine import loading
from policy_engine.language import ast

from .packages_fixture import BASE_DOCUMENT, BASE_RULES, DEPT_RULES, base_and_dept, write


@pytest.fixture
def dept(tmp_path: Path) -> Path:
    return base_and_dept(tmp_path)


def _ids(d: policy_engine.Decision) -> list[str]:
    return [r.id for r in d.reasons]


def test_a_package_rule_applies_in_the_policy_that_uses_it(dept: Path) -> None:
    policy = load_policy(dept)
    d = policy.decide(
        "agents", "base.email", "base.support", {"where": "CA-QC", "base.verified": True}
    )
    assert (d.effect, _ids(d), d.obligations) == (
        "allow",
        ["agents_email", "base.staff_support"],
        ["base.log_access"],
    )
    reason = next(r for r in d.reasons if r.id == "base.staff_support")
    assert reason.citation == "§3" and reason.file.endswith("base/rules.policy")
    explained = d.explain()
    assert "allow `base.staff_support`  §3" in explained
    assert "base/rules.policy:" in explained


def test_deny_overrides_allow_across_the_package_and_the_policy(dept: Path) -> None:
    policy = load_policy(dept)
    # the package's deny overrides the policy's allow
    d = policy.decide("agents", "base.email", "base.support", {"where": "US"})
    assert (d.effect, _ids(d)) == ("deny", ["base.no_export"])
    # the policy's deny overrides the package's allow
    d = policy.decide(
        "base.staff", "base.health", "base.support", {"where": "CA-QC", "base.verified": True}
    )
    assert (d.effect, _ids(d)) == ("deny", ["no_health"])
    # nothing grants: default deny
    d = policy.decide("base.contractor", "base.email", "base.support", {"where": "CA-QC"})
    assert (d.effect, _ids(d)) == ("deny", [])


def test_a_supplied_key_is_read_by_the_packages_rules(dept: Path) -> None:
    policy = load_policy(dept)
    d = policy.decide("base.staff", "base.email", "base.support", {"base.verified": True})
    assert (d.effect, d.missing, _ids(d)) == ("deny", ["where"], ["base.no_export"])
    assert "where" in policy.compiled.context
    assert "base.destination" not in policy.compiled.context
    with pytest.raises(RequestError, match=r"base\.destination"):
        policy.decide("base.staff", "base.email", "base.support", {"base.destination": "CA-QC"})
    assert (
        'when where != "CA-QC"'
        in policy.decide("agents", "base.email", "base.support", {"where": "US"}).explain()
    )


def test_a_key_nobody_supplies_stays_the_packages_under_its_namespace(dept: Path) -> None:
    policy = load_policy(dept)
    assert {"base.verified", "base.consented_purposes", "where"} == set(policy.compiled.context)
    context = {"where": "CA-QC", "base.consented_purposes": ["base.research"]}
    d = policy.decide("agents", "base.email", "base.research", context)
    assert (d.effect, _ids(d)) == ("allow", ["base.research_with_consent"])
    # the package's ledger key keeps its mark when the policy marks none of its own
    assert policy.ledger_key == "base.consented_purposes"


def test_names_come_in_under_the_namespace(dept: Path) -> None:
    policy = load_policy(dept)
    assert policy.terms("party") == ["agents", "base.contractor", "base.staff"]
    assert policy.terms("obligation") == ["base.log_access"]
    assert sorted(policy.compiled.hierarchies["party"].parent_links["agents"]) == ["base.staff"]
    with pytest.raises(policy_engine.UnknownTermError, match=r"did you mean `base\.staff`"):
        policy.decide("staff", "base.email", "base.support")


def test_the_interface_conforms_relies_on(dept: Path) -> None:
    policy = load_policy(dept)
    checked = policy.compiled.checked
    from_base = [r.id.value for r in checked.rules if r.id.value.startswith("base.")]
    assert sorted(from_base) == [
        "base.no_export",
        "base.research_with_consent",
        "base.staff_support",
    ]
    assert [i.id.value for i in checked.invariants] == ["base.never_abroad"]
    assert {r.id: policy.package_of(r.id) for r in policy.rules} == {
        "agents_email": None,
        "no_health": None,
        "base.no_export": "base",
        "base.research_with_consent": "base",
        "base.staff_support": "base",
    }
    packages = {f.name.rsplit("/", 2)[-2]: f.package for f in checked.files}
    assert packages == {"dept": "", "base": "base"}
    [use] = policy.packages
    assert (use.namespace, Path(use.folder).name) == ("base", "base")
    assert dict(use.supplies) == {"base.destination": "where"}
    assert use.version == load_policy(dept.parent / "base").version
    assert checked.packages == policy.packages


def test_a_policy_may_place_a_packages_term_under_another_term(tmp_path: Path) -> None:
    dept = base_and_dept(tmp_path, DEPT_RULES + "\nparty base.contractor under agents\n")
    policy = load_policy(dept)
    assert sorted(policy.compiled.hierarchies["party"].parent_links["base.contractor"]) == [
        "agents"
    ]
    d = policy.decide("base.contractor", "base.email", "base.support", {"where": "CA-QC"})
    assert (d.effect, _ids(d)) == ("allow", ["agents_email"])


def test_the_policys_own_mention_of_a_supplied_key_reads_the_supplying_key(tmp_path: Path) -> None:
    dept = base_and_dept(
        tmp_path,
        DEPT_RULES + "rule abroad allow agents to use base.email for base.research\n"
        '  when base.destination = "US"\n',
    )
    policy = load_policy(dept)
    d = policy.decide("agents", "base.email", "base.research", {"where": "US"})
    assert (d.effect, _ids(d)) == ("deny", ["base.no_export"])
    rule = next(r for r in policy.compiled.checked.rules if r.id.value == "abroad")
    assert "where" in repr(rule.condition)


def test_the_policys_version_reflects_the_package(tmp_path: Path) -> None:
    dept = base_and_dept(tmp_path)
    first = load_policy(dept)
    base_rules = tmp_path / "base" / "rules.policy"
    base_rules.write_text(
        BASE_RULES.replace('destination != "CA-QC"\n\ninvariant', 'destination = "US"\n\ninvariant')
    )
    second = load_policy(dept)
    assert second.version != first.version
    assert second.packages[0].version != first.packages[0].version
    d = second.decide("agents", "base.email", "base.support", {"where": "CA-ON"})
    assert d.effect == "allow" and d.policy_version == second.version
    # a new rule file in the package changes the version too
    write(tmp_path, {"base/more.policy": "purpose extra\n"})
    third = load_policy(dept)
    assert third.version not in (first.version, second.version)
    assert "base.extra" in third.terms("purpose")
    # and the document the package names is part of it
    (tmp_path / "base" / "base.md").write_text(BASE_DOCUMENT + "\n5. More\nText.\n")
    assert load_policy(dept).version != third.version


def test_without_packages_the_version_is_unchanged(tmp_path: Path) -> None:
    text = {"a.policy": "party p\ndata d\npurpose u\nrule r allow p to use d for u\n"}
    write(tmp_path, text)
    from policy_engine.language.files import content_version, read_sources

    assert load_policy(tmp_path).version == content_version(read_sources(tmp_path))


def test_the_cache_serves_a_policy_with_packages_and_never_a_stale_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLICY_ENGINE_CACHE_DIR", str(tmp_path / "cache"))
    dept = base_and_dept(tmp_path / "p")
    first = load_policy(dept)
    checks: list[int] = []
    real = loading.check_loaded

    def counting(policy: object) -> object:
        checks.append(1)
        return real(policy)  # type: ignore[arg-type]

    monkeypatch.setattr(loading, "check_loaded", counting)
    again = load_policy(dept)
    assert checks == [] and again.version == first.version
    request = ("agents", "base.email", "base.support", {"where": "US"})
    assert again.decide(*request).explain() == first.decide(*request).explain()
    assert again.packages == first.packages
    # a change inside the package is a miss, never the old image
    base_rules = tmp_path / "p" / "base" / "rules.policy"
    base_rules.write_text(
        BASE_RULES.replace(
            'when destination != "CA-QC"\n\ninvariant', 'when destination = "XX"\n\ninvariant'
        )
    )
    changed = load_policy(dept)
    assert checks == [1] and changed.version != first.version
    assert changed.decide(*request).effect == "allow"


def test_packages_nest_under_nested_namespaces(tmp_path: Path) -> None:
    base_and_dept(tmp_path)
    write(
        tmp_path,
        {
            "top/rules.policy": 'use dept from "../dept"\n'
            "context destination: string supplies dept.where\n"
            "party boss under dept.agents\n"
        },
    )
    policy = load_policy(tmp_path / "top")
    assert "dept.base.staff_support" in {r.id for r in policy.rules}
    assert [u.namespace for u in policy.packages] == ["dept", "dept.base"]
    assert dict(policy.packages[1].supplies) == {"dept.base.destination": "destination"}
    d = policy.decide("boss", "dept.base.email", "dept.base.support", {"destination": "US"})
    assert (d.effect, _ids(d)) == ("deny", ["dept.base.no_export"])
    assert policy.package_of("dept.base.no_export") == "dept.base"


def test_a_package_may_sit_in_a_folder_of_the_policy(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "dept/rules.policy": DEPT_RULES.replace('"../base"', '"base"'),
            "dept/base/rules.policy": BASE_RULES,
            "dept/base/base.md": BASE_DOCUMENT,
        },
    )
    policy = load_policy(tmp_path / "dept")
    assert [Path(s.name).name for s in policy.sources] == ["rules.policy"]
    assert "base.staff_support" in {r.id for r in policy.rules}


def test_load_policy_text_reads_packages_from_the_mapping() -> None:
    texts = {
        "dept/rules.policy": DEPT_RULES,
        "base/rules.policy": BASE_RULES,
        "base/base.md": BASE_DOCUMENT,
    }
    policy = load_policy_text(texts)
    assert [s.name for s in policy.sources] == ["dept/rules.policy"]
    d = policy.decide("agents", "base.email", "base.support", {"where": "US"})
    assert (d.effect, _ids(d)) == ("deny", ["base.no_export"])
    assert [doc.name for doc in policy.documents] == ["base.base"]


def test_the_package_keeps_its_documents_and_citations(tmp_path: Path) -> None:
    dept = base_and_dept(tmp_path, DEPT_RULES + "party helpers under base.staff base.base:§1\n")
    policy = load_policy(dept)
    [document] = policy.documents
    assert (document.name, document.namespace) == ("base.base", "base")
    from policy_engine.traceability.coverage import section_coverage

    report = section_coverage(policy, [], str(dept))
    cited = {s.key: [c.id for c in s.terms] for d in report.documents for s in d.sections}
    assert "helpers" in cited["1"] and "base.staff" in cited["1"]
    assert report.covered == report.total


def test_the_analyses_run_on_a_policy_with_a_package(dept: Path) -> None:
    report = policy_engine.check_report(dept)
    assert report.invariants == 1 and report.proven == 1
    assert not [d for d in report.diagnostics if d.severity == "error"]
    from policy_engine.analysis.diff import diff_policies
    from policy_engine.traceability.matrix import build_matrix

    policy = load_policy(dept)
    base = load_policy(dept.parent / "base")
    assert diff_policies(policy, policy).groups == []
    changed = diff_policies(base, policy)  # the names moved under a namespace: all new terms
    assert changed.terms_added["party"] == ["agents", "base.contractor", "base.staff"]
    matrix = build_matrix(policy, str(dept))
    allowed = {(p.term, d.term, u.term): shown.status for p, d, u, shown in matrix.allowed()}
    assert allowed[("agents", "base.email", "base.support")] == "conditional"


def test_named_conditions_and_obligation_parameters_of_a_package(tmp_path: Path) -> None:
    base = BASE_RULES + (
        'condition at_home §4 "the data stays in Québec" means destination = "CA-QC"\n'
        "obligation retain_for(years: integer default 6) §3\n"
        "rule home_research §3 allow staff to use email for research when at_home\n"
        "  with obligation retain_for\n"
    )
    dept = DEPT_RULES + (
        "rule agents_research §1 allow agents to use base.email for base.research\n"
        "  when base.at_home with obligation base.retain_for(years = 2)\n"
    )
    write(
        tmp_path,
        {"base/rules.policy": base, "base/base.md": BASE_DOCUMENT, "dept/rules.policy": dept},
    )
    policy = load_policy(tmp_path / "dept")
    d = policy.decide("agents", "base.email", "base.research", {"where": "CA-QC"})
    assert (d.effect, _ids(d)) == ("allow", ["agents_research", "base.home_research"])
    assert sorted(o.text for o in d.obligation_details) == [
        "base.retain_for(years = 2)",
        "base.retain_for(years = 6)",
    ]
    assert "named condition" in d.explain()
    assert policy.decide("agents", "base.email", "base.research", {"where": "US"}).effect == "deny"


def test_an_override_in_a_package_is_named_under_it_and_lifts_the_package_deny(
    tmp_path: Path,
) -> None:
    """An override is a statement of its package like a rule: its id and what it lifts come in
    under the namespace, and the using policy's overrides can lift the package's denies."""
    write(
        tmp_path,
        {
            "law/rules.policy": (
                "party staff\ndata health\npurpose care\ncontext emergency: boolean\n"
                "context legal_duty: boolean\n"
                "rule care §1\n  allow staff to use health for care\n"
                "rule no_health §2\n  deny any party from using health for any purpose\n"
                "override urgent §3\n  lifts no_health\n  when emergency\n"
            ),
            "org/rules.policy": (
                'use law from "../law"\n'
                "override duty §1\n  lifts law.no_health\n  when law.legal_duty\n"
            ),
        },
    )
    policy = load_policy(tmp_path / "org")
    decide = policy.decide
    assert decide("law.staff", "law.health", "law.care", {"law.emergency": False}).effect == "deny"
    lifted = decide("law.staff", "law.health", "law.care", {"law.emergency": True})
    assert lifted.effect == "allow" and "override `law.urgent`" in lifted.explain()
    by_duty = decide("law.staff", "law.health", "law.care", {"law.legal_duty": True})
    assert by_duty.effect == "allow" and "override `duty`" in by_duty.explain()


def test_an_override_of_the_policy_may_lift_a_packages_deny(tmp_path: Path) -> None:
    dept = base_and_dept(
        tmp_path,
        DEPT_RULES
        + "context emergency: boolean\n"
        + "override urgent §1 lifts base.no_export when emergency\n"
        + "override by_section §1 lifts denies citing base.base:§4 when emergency\n",
    )
    policy = load_policy(dept)
    context = {"where": "US", "base.verified": True, "emergency": True}
    d = policy.decide("agents", "base.email", "base.support", context)
    assert (d.effect, _ids(d)) == ("allow", ["agents_email", "base.staff_support"])
    assert policy.decide("agents", "base.email", "base.support", {"where": "US"}).effect == "deny"


def test_a_policy_restored_from_the_cache_reads_the_supplying_key_where_it_names_the_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (found by the soundness harness's package layouts): the policy's own mention
    of a supplied package key by the package's name (`base.destination`, which reads `where`)
    was re-parsed from the cache as `base.destination`, no key of the policy, and `check` of a
    policy loaded once before crashed with a KeyError."""
    monkeypatch.setenv("POLICY_ENGINE_CACHE_DIR", str(tmp_path / "cache"))
    dept = base_and_dept(
        tmp_path / "p",
        DEPT_RULES + "rule unknown_destination §2\n"
        "  deny agents from using base.email for base.support\n"
        "  when base.destination is missing\n",
    )
    fresh = load_policy(dept)
    restored = load_policy(dept)  # from the compiled cache
    for policy in (fresh, restored):
        rule = next(r for r in policy.compiled.rules if r.id == "unknown_destination")
        assert rule.source.condition == ast.Presence(ast.Name("where"), known=False)
    restored_check = [d.render() for d in policy_engine.check_policy(dept)]
    monkeypatch.setenv("POLICY_ENGINE_CACHE_DIR", str(tmp_path / "empty-cache"))
    assert restored_check == [d.render() for d in policy_engine.check_policy(dept)]
    assert any("`unknown_destination`" in line for line in restored_check)


def test_a_key_of_a_packages_package_supplied_from_the_top_is_listed_with_its_package(
    tmp_path: Path,
) -> None:
    """Regression (found by the soundness harness's package layouts): a key of `dept.base` that
    the top policy supplies was listed among the keys supplied to `dept`."""
    base_and_dept(tmp_path)
    write(
        tmp_path,
        {
            "top/rules.policy": 'use dept from "../dept"\n'
            "context destination: string supplies dept.where\n"
            "context checked: boolean supplies dept.base.verified\n"
        },
    )
    policy = load_policy(tmp_path / "top")
    supplies = {u.namespace: dict(u.supplies) for u in policy.packages}
    assert supplies == {
        "dept": {"dept.where": "destination"},
        "dept.base": {"dept.base.destination": "destination", "dept.base.verified": "checked"},
    }
    context = {"destination": "CA-QC", "checked": True}
    d = policy.decide("dept.agents", "dept.base.email", "dept.base.support", context)
    assert (d.effect, _ids(d)) == ("allow", ["dept.agents_email", "dept.base.staff_support"])
