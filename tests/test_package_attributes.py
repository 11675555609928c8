"""Attributes of terms in packages (docs/language.md "Packages", docs/semantics.md 42): a
package's attribute is named under its namespace like its terms (its `location` of parties is
`law.location`, read `party.law.location` by the policy that uses it), so the policy's own
`location` is another attribute; a term of the policy gives the package's attribute a value
(`party our_vendor under law.processor with law.location = "US"`) and the package's rules read
it; errors are located, with did-you-mean. The property that a package decides like the same
rules written flat, attributes included, is in ``test_package_properties.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_engine import PolicyError, load_policy_text

LAW = """\
attribute location of party: one of "CA-QC", "US" "where it processes the data"
party processor
party qc_processor under processor with location = "CA-QC"
data pi
purpose hosting
context location: string "a key of the same name: attributes are not keys"
obligation assess "assess the protection abroad" when party.location != "CA-QC"

rule processors_host §1
  allow processor to use pi for hosting
  with obligation assess

rule no_unknown_place §2
  deny processor from using pi for hosting
  when party.location = "US" and location = "nowhere"
"""

COMPANY = """\
use law from "../law"
attribute location of party: boolean "ours: a location of our own"
party our_vendor under law.processor with law.location = "US", location = true
party other_vendor under law.processor
context where: string supplies law.location

rule vendors_in_place §1
  allow our_vendor to use law.pi for law.hosting
  when party.location and party.law.location = "US"
"""


def company(extra: str = "", head: str = COMPANY) -> dict[str, str]:
    return {"law/rules.policy": LAW, "co/rules.policy": head + extra}


def test_the_package_reads_its_attribute_as_the_policy_s_term_gives_it() -> None:
    policy = load_policy_text(company())
    d = policy.decide("our_vendor", "law.pi", "law.hosting", {"where": "here"})
    assert (d.effect, d.obligations) == ("allow", ["law.assess"])
    assert [r.id for r in d.reasons] == ["law.processors_host", "vendors_in_place"]
    assert '`party.law.location` is "US" (from `our_vendor`)' in d.explain()
    assert "`party.location` is true (from `our_vendor`)" in d.explain()
    # A supplied key of the same name as the attribute replaces the key, not the attribute.
    refused = policy.decide("our_vendor", "law.pi", "law.hosting", {"where": "nowhere"})
    assert [r.id for r in refused.reasons] == ["law.no_unknown_place"]
    # The package's own term keeps its own value.
    qc = policy.decide("law.qc_processor", "law.pi", "law.hosting", {"where": "here"})
    assert (qc.effect, qc.obligations) == ("allow", [])


def test_a_term_without_the_package_s_value_is_unknown_to_the_package_s_rules() -> None:
    policy = load_policy_text(company())
    d = policy.decide("other_vendor", "law.pi", "law.hosting", {"where": "here"})
    assert (d.effect, d.obligations) == ("allow", [])
    [undetermined] = d.undetermined_obligations
    assert (undetermined.name, undetermined.unknown_attributes) == (
        "law.assess",
        ["party.law.location"],
    )
    assert "`party.law.location` is unknown (`other_vendor` has no `law.location`)" in d.explain()


def test_nested_packages_name_the_attribute_under_each_namespace() -> None:
    files = {
        "base/rules.policy": 'attribute region of party: one of "QC", "EU"\nparty staff with '
        'region = "QC"\ndata d\npurpose p\nrule r §1\n  allow staff to use d for p\n'
        '  when party.region = "QC"\n',
        "dept/rules.policy": 'use base from "../base"\nparty agents under base.staff\n'
        'party eu_agents under agents with base.region = "EU"\n',
        "top/rules.policy": 'use dept from "../dept"\nrule mine §1\n  allow dept.agents to use '
        'dept.base.d for dept.base.p\n  when party.dept.base.region = "EU"\n',
    }
    policy = load_policy_text(files)
    assert [r.id for r in policy.decide("dept.agents", "dept.base.d", "dept.base.p").reasons] == [
        "dept.base.r"
    ]
    assert [
        r.id for r in policy.decide("dept.eu_agents", "dept.base.d", "dept.base.p").reasons
    ] == ["mine"]


def _error(files: dict[str, str]) -> list[tuple[str, str, str | None]]:
    with pytest.raises(PolicyError) as raised:
        load_policy_text(files)
    return [
        (d.code, d.message, d.help)
        for d in raised.value.diagnostics  # type: ignore[attr-defined]
        if d.severity == "error"
    ]


@pytest.mark.parametrize(
    ("extra", "code", "message", "hint"),
    [
        (
            'party x under law.processor with law.locaton = "US"\n',
            "unknown-attribute",
            "unknown attribute `law.locaton` of party terms",
            "did you mean `law.location`?",
        ),
        (
            "rule r §1\n  allow our_vendor to use law.pi for law.hosting\n"
            '  when party.law9.location = "US"\n',
            "unknown-attribute",
            "unknown attribute `law9.location` of party terms",
            "the policy uses no package `law9`; did you mean `law.location` or `location`?",
        ),
        (
            "attribute law.where of party: boolean\n",
            "qualified-declaration",
            "`law.where` is a name of the package `law`: an attribute of this policy has a name "
            "of its own",
            "write the name without a namespace (`attribute where of party: …`); a package's "
            "attribute is declared in the package, and the policy's terms give it values (`with "
            "law.where = …`)",
        ),
        (
            'party law.qc_processor under our_vendor with law.location = "US"\n',
            "bad-placement",
            "`law.qc_processor` is the package's own: this policy can only place it under its "
            "terms or another package's",
            "write `party law.qc_processor under PARENT`, without a description or attribute "
            "values (a term of the policy placed under it can give them)",
        ),
        (
            'party x under law.processor with law.location = "FR"\n',
            "bad-attribute-value",
            'the value of `law.location` must be one of "CA-QC", "US"',
            None,
        ),
    ],
)
def test_errors_are_located_with_did_you_mean(
    extra: str, code: str, message: str, hint: str | None
) -> None:
    found = _error(company(extra))
    assert any(c == code and m.startswith(message) and (hint is None or h == hint)
               for c, m, h in found), found  # fmt: skip


def test_the_policy_s_own_name_is_not_the_package_s() -> None:
    """Without an attribute of its own, `party.location` is the package's only under its
    namespace."""
    head = COMPANY.replace(
        'attribute location of party: boolean "ours: a location of our own"\n', ""
    )
    head = head.replace(", location = true", "").replace(
        "party.location and ", 'party.location = "US" and '
    )
    found = _error(company(head=head))
    assert ("unknown-attribute", "unknown attribute `location` of party terms",
            "did you mean `law.location`?") in found  # fmt: skip


def test_a_package_alone_reads_its_own_names(tmp_path: Path) -> None:
    (tmp_path / "rules.policy").write_text(LAW, encoding="utf-8")
    from policy_engine import load_policy

    policy = load_policy(tmp_path)
    assert policy.decide("qc_processor", "pi", "hosting").allowed


def test_a_restored_policy_reads_the_package_s_attributes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLICY_ENGINE_CACHE_DIR", str(tmp_path / "cache"))
    fresh = load_policy_text(company())
    restored = load_policy_text(company())
    assert all(rule._source is None for rule in restored.compiled.rules)
    for party in ("our_vendor", "other_vendor", "law.qc_processor"):
        args = (party, "law.pi", "law.hosting", {"where": "here"})
        assert restored.decide(*args).explain() == fresh.decide(*args).explain()
