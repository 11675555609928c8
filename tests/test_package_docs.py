"""The examples of packages in the docs run: docs/semantics.md's ("Packages", 41-45: each
decision line, and the claims of 44 and 45) and docs/language.md's (each example parses, and
rules/planiso-law25's README shows its own first file)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from policy_engine import PolicyError, load_policy, load_policy_text
from policy_engine.language.parser import parse_source
from policy_engine.language.source import Source

from .conftest import ROOT

SEMANTICS = (ROOT / "docs" / "semantics.md").read_text(encoding="utf-8")
LANGUAGE = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
FILES = dict(re.findall(r"^```package-file (\S+)\n(.*?)^```", SEMANTICS, re.S | re.M))
DECISIONS = [
    line
    for block in re.findall(r"^```package-decisions\n(.*?)^```", SEMANTICS, re.S | re.M)
    for line in block.strip().splitlines()
]


def test_the_page_has_the_examples() -> None:
    assert set(FILES) == {"base/rules.policy", "dept/rules.policy"}
    assert len(DECISIONS) >= 10
    for sentence in range(41, 46):
        assert f"**{sentence}. " in SEMANTICS


@pytest.mark.parametrize("line", DECISIONS)
def test_a_decision_of_the_page(line: str) -> None:
    request, _, answer = line.partition("→")
    parts = [p.strip() for p in request.strip().split(",", 3)]
    context = json.loads(parts[3]) if len(parts) > 3 else None
    fields = [f.strip() for f in answer.split("|")]
    policy = load_policy_text(FILES)
    if fields[0] not in ("allow", "deny"):
        error, _, message = fields[0].partition(":")
        with pytest.raises(PolicyError) as raised:
            policy.decide(parts[0], parts[1], parts[2], context)
        assert type(raised.value).__name__ == error.strip()
        assert message.strip() in str(raised.value)
        return
    d = policy.decide(parts[0], parts[1], parts[2], context)
    got = [d.effect]
    for label, values in (
        ("reasons", [r.id for r in d.reasons]),
        ("obligations", d.obligations),
        ("missing", d.missing),
    ):
        if values:
            got.append(f"{label}: {', '.join(values)}")
    assert got == fields


def _folders(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_s44_a_change_in_the_package_changes_the_version(tmp_path: Path) -> None:
    root = _folders(tmp_path)
    dept = load_policy(root / "dept")
    assert dept.packages[0].version == load_policy(root / "base").version
    rules = root / "base" / "rules.policy"
    rules.write_text(rules.read_text() + "\n# a note\n")
    assert load_policy(root / "dept").version != dept.version


def test_s45_the_interface_tools_rely_on(tmp_path: Path) -> None:
    dept = load_policy(_folders(tmp_path) / "dept")
    assert dept.package_of("base.no_export") == "base"
    assert dept.package_of("agents_email") is None
    assert [(u.namespace, dict(u.supplies)) for u in dept.packages] == [
        ("base", {"base.destination": "where"})
    ]
    own = [r.id for r in dept.rules if dept.package_of(r.id) is None]
    assert own == ["agents_email", "no_health"] and not any("." in i for i in own)
    assert all(r.id.startswith("base.") for r in dept.rules if dept.package_of(r.id) == "base")
    assert {f.package for f in dept.compiled.checked.files} == {"", "base"}


def test_the_language_pages_examples_parse() -> None:
    section = LANGUAGE[LANGUAGE.index("## Packages") : LANGUAGE.index("## Limits")]
    blocks = re.findall(r"^```policy\n(.*?)^```", section, re.S | re.M)
    assert blocks
    for block in blocks:
        items = parse_source(Source("example.policy", block)).items
        assert items
    readme = (ROOT / "rules" / "planiso-law25" / "README.md").read_text(encoding="utf-8")
    [shown] = re.findall(r"^```policy\n(.*?)^```", readme, re.S | re.M)
    assert shown in (ROOT / "rules" / "planiso-law25" / "packages.policy").read_text()
