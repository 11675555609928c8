"""`policy-engine conforms` on a small example (tests/fixtures/conforms: a shop that uses a small
privacy law as a package): the three formats pinned against golden files, exit codes, the ways
to name the package and the errors. Set ``POLICY_ENGINE_UPDATE_GOLDEN=1`` to rewrite the golden
files after a deliberate change, then read their diff."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from policy_engine.analysis import conformance_examples
from policy_engine.cli.main import main

from .conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "conforms"
GOLDEN = ROOT / "tests" / "golden" / "conforms"
SHOP = "tests/fixtures/conforms/shop"

CONFORMING_SHOP = """
use law from "../law"

party shop under law.enterprise
party couriers under law.contractor
data address under law.personal_information
purpose delivery under law.service
purpose newsletter under law.prospection
context consents: set of purpose supplies law.consented_purposes
context ship_to: string supplies law.destination

rule couriers_deliver_at_home §1
  allow couriers to use address for delivery
  when ship_to = "QC"
  with obligation law.written_contract

rule newsletter_with_consent §2
  allow shop to use address for newsletter
  when purpose in consents
  with obligation law.offer_withdrawal
"""


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _at_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths in the output are as given: run from the checkout's root."""
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("form", ["text", "markdown", "json"])
def test_conforms_reads_as_pinned(capsys: pytest.CaptureFixture[str], form: str) -> None:
    code, out, err = run(capsys, "conforms", SHOP, "--to", "law", "--format", form)
    assert (code, err) == (1, "")
    path = GOLDEN / f"shop.{ {'text': 'txt', 'markdown': 'md', 'json': 'json'}[form] }"
    if os.environ.get("POLICY_ENGINE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")


def test_each_example_is_what_its_group_says(capsys: pytest.CaptureFixture[str]) -> None:
    """The examples of the JSON report, decided by each side, are findings of their kind."""
    report = json.loads(run(capsys, "conforms", SHOP, "--to", "law", "--format", "json")[1])
    kinds = {g["kind"]: g for g in report["groups"]}
    assert set(kinds) == {"not-allowed", "obligations"}
    for group in report["groups"]:
        assert group["example_policy"]["effect"] == "allow"
        assert group["example_package"]["effect"] == (
            "deny" if group["kind"] == "not-allowed" else "allow"
        )
        assert "law.assessment_done" not in group["example"]["context"]
    lacking = [g["lacking"] for g in report["groups"] if g["kind"] == "obligations"]
    assert lacking == [["law.written_contract"], ["law.offer_withdrawal"]]


def test_the_package_may_be_named_by_its_folder(capsys: pytest.CaptureFixture[str]) -> None:
    by_name = run(capsys, "conforms", SHOP, "--to", "law", "--format", "json")
    by_folder = run(capsys, "conforms", SHOP, "--to", FIXTURES / "law", "--format", "json")
    assert by_name == by_folder


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_policy_and_its_package_are_read_from_a_git_revision(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`git:REV:path` reads the policy and the package it uses from the revision, not from the
    work tree: the committed shop breaks the law, the edited work tree does not."""
    shutil.copytree(FIXTURES, tmp_path / "rules")
    for args in (
        ["init", "--quiet"],
        ["-c", "user.name=T", "-c", "user.email=t@example.com", "add", "."],
        ["-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "shop"],
    ):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    (tmp_path / "rules" / "shop" / "shop.policy").write_text(CONFORMING_SHOP)
    (tmp_path / "rules" / "law" / "law.policy").write_text("this is not a policy")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "conforms", "git:HEAD:rules/shop", "--to", "law")
    assert (code, err) == (1, "")
    committed = (GOLDEN / "shop.txt").read_text(encoding="utf-8")
    assert out.splitlines()[-1] == committed.splitlines()[-1]
    assert out.splitlines()[0] == "policy conforms git:HEAD:rules/shop → law"
    assert run(capsys, "conforms", "rules/shop", "--to", "law")[0] == 2  # the work tree's law


def test_a_policy_within_its_package_exits_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copytree(FIXTURES / "law", tmp_path / "law")
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "shop.policy").write_text(CONFORMING_SHOP)
    code, out, _ = run(capsys, "conforms", tmp_path / "shop", "--to", "law")
    assert code == 0
    assert "no findings: every request the policy allows, `law` allows" in out
    assert out.rstrip().endswith(
        "0 of 12 requests are findings (each request stands for a class of contexts)"
    )


def test_an_unknown_package_is_an_error_that_lists_the_packages(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "conforms", SHOP, "--to", "lwa")
    assert (code, out) == (2, "")
    assert "error: `lwa` is not a package of `tests/fixtures/conforms/shop`" in err
    assert "help: did you mean `law`? the policy uses `law` (tests/fixtures/conforms/law)" in err
    code, _, err = run(capsys, "conforms", SHOP, "--to", "rules/law25")
    assert code == 2
    assert "`rules/law25` is not a package of" in err


def test_a_policy_without_packages_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "conforms", FIXTURES / "law", "--to", "law")
    assert code == 2
    assert "uses no package" in err
    assert 'the policy says `use NAME from "folder"`' in err


def test_a_policy_that_does_not_load_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "conforms", FIXTURES / "nowhere", "--to", "law")
    assert (code, out) == (2, "")
    assert "nowhere" in err


def test_the_budget_running_out_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "conforms", SHOP, "--to", "law", "--budget-steps", "1")
    assert (code, out) == (3, "")
    assert "error: conformance could not be decided" in err
    assert "nothing is reported as conforming" in err


def test_an_example_the_evaluator_does_not_confirm_is_exit_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each finding's example is decided again on both sides; were the evaluator to disagree
    with the analysis, the finding is not reported as one."""
    real = conformance_examples.evaluate

    def allowing_everything(compiled: Any, cell: Any, context: Any) -> Any:
        outcome = real(compiled, cell, context)
        return outcome._replace(effect="allow")

    monkeypatch.setattr(conformance_examples, "evaluate", allowing_everything)
    code, out, err = run(capsys, "conforms", SHOP, "--to", "law")
    assert (code, out) == (3, "")
    assert "is not one: the policy decides allow and the package allow" in err


@pytest.mark.parametrize("doc", ["docs/analysis.md", "README.md"])
def test_the_docs_show_what_the_command_prints(doc: str) -> None:
    """The example output in the docs is the golden text, line for line."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    assert (GOLDEN / "shop.txt").read_text(encoding="utf-8") in text + "\n"


def test_a_package_key_the_policy_reads_is_one_its_requests_send(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The package's keys the policy's own rules read are facts of its requests, not absent:
    a shop whose couriers rule reads the law's assessment stays within the law abroad."""
    shutil.copytree(FIXTURES / "law", tmp_path / "law")
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "shop.policy").write_text(
        CONFORMING_SHOP.replace('when ship_to = "QC"', 'when ship_to = "QC" or law.assessment_done')
    )
    code, out, _ = run(capsys, "conforms", tmp_path / "shop", "--to", "law", "--format", "json")
    report = json.loads(out)
    assert code == 0
    assert report["absent_keys"] == []
