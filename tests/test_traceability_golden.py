"""``policy-engine matrix`` and ``policy-engine register`` on PLANISO as people read them, pinned
in every format against golden files (tests/golden/matrix/, tests/golden/register/). The matrix's
text form is pinned whole; its other forms on a selection that collapses data categories (so
mixed cells are pinned too). Set ``POLICY_ENGINE_UPDATE_GOLDEN=1`` to rewrite the files after a
deliberate change (a change to PLANISO's rules is one), then read their diff. The policy version
is written as ``<version>``: the files pin what the rules allow, not the bytes of the files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import policy_engine
from policy_engine.cli.main import main
from policy_engine.traceability.matrix_models import MatrixDocument
from policy_engine.traceability.register import Register

from .conftest import PLANISO, ROOT

GOLDEN = Path(__file__).parent / "golden"

SELECTION = [
    "--party",
    "marketing_department",
    "--party",
    "cloud_providers",
    "--party",
    "data_subject",
    "--data-depth",
    "1",
]

CASES = [
    ("matrix", "text", [], "planiso.txt"),
    ("matrix", "text", SELECTION, "selection.txt"),
    ("matrix", "json", SELECTION, "selection.json"),
    ("matrix", "csv", SELECTION, "selection.csv"),
    ("matrix", "markdown", SELECTION, "selection.md"),
    ("matrix", "html", SELECTION, "selection.html"),
    ("register", "json", [], "planiso.json"),
    ("register", "csv", [], "planiso.csv"),
    ("register", "markdown", [], "planiso.md"),
    ("register", "html", [], "planiso.html"),
]


@pytest.fixture(autouse=True)
def _at_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands name the policy as given: `rules/planiso`, from the checkout's root."""
    monkeypatch.chdir(ROOT)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 0
    out = capsys.readouterr().out
    version = policy_engine.load_policy(PLANISO).version
    return out.replace(version, "<version>").replace(version[:12], "<version>")


@pytest.mark.parametrize(("command", "form", "extra", "name"), CASES)
def test_planiso_reads_as_pinned(
    command: str, form: str, extra: list[str], name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = run([command, "rules/planiso", "--format", form, *extra], capsys)
    path = GOLDEN / command / name
    if os.environ.get("POLICY_ENGINE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(shown, encoding="utf-8")
    assert shown == path.read_text(encoding="utf-8")


def test_the_json_forms_have_their_models_shape(capsys: pytest.CaptureFixture[str]) -> None:
    matrix = MatrixDocument.model_validate_json(
        run(["matrix", "rules/planiso", "--format", "json"], capsys)
    )
    assert len(matrix.entries) == len(matrix.parties) * len(matrix.data) * len(matrix.purposes)
    assert sum(matrix.counts.values()) == len(matrix.entries)
    register = Register.model_validate_json(
        run(["register", "rules/planiso", "--format", "json"], capsys)
    )
    assert register.organisation == "planiso"
