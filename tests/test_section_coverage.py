"""`policy-engine coverage`: each section of the source documents, who cites it, why it carries
no decision, or uncovered; the summary and `--min-coverage`; every format pinned on PLANISO
(set ``POLICY_ENGINE_UPDATE_GOLDEN=1`` to rewrite the golden files after a deliberate change)."""

from __future__ import annotations

import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from policy_engine.cli import main
from policy_engine.traceability.coverage import coverage_of

from .conftest import PLANISO, ROOT

GOLDEN = Path(__file__).parent / "golden" / "coverage"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "planiso"
    shutil.copytree(PLANISO, target)
    return target


def test_planiso_is_fully_covered_with_every_reason_written_down(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "coverage", str(PLANISO), "--min-coverage", "100")
    assert code == 0
    assert out.splitlines()[-1] == "21 of 21 sections covered (100%)"
    report = coverage_of(PLANISO)
    statuses = {s.label: s.status for d in report.documents for s in d.sections}
    assert statuses["§5.1"] == "covered" and statuses["§10"] == "not a decision"
    assert statuses["§1"] == "heading"  # nothing of its own but sub-sections: not counted
    assert all(
        s.reasons for d in report.documents for s in d.sections if s.status == "not a decision"
    )


def test_an_uncited_section_is_uncovered_and_fails_the_minimum(
    capsys: pytest.CaptureFixture[str], copy: Path
) -> None:
    document = copy / "document.policy"
    document.write_text(
        document.read_text().replace(
            'not a decision §10 "policy changes: how the text itself changes"\n', ""
        )
    )
    code, out, _ = run(capsys, "coverage", str(copy), "--min-coverage", "100")
    assert code == 1
    assert "§10 Policy Changes\n      UNCOVERED" in out
    assert out.splitlines()[-1] == "20 of 21 sections covered (95%)"
    assert run(capsys, "coverage", str(copy), "--min-coverage", "95")[0] == 0


def test_an_added_rule_citing_a_section_covers_it(
    capsys: pytest.CaptureFixture[str], copy: Path
) -> None:
    document = copy / "document.policy"
    document.write_text(
        document.read_text().replace(
            'not a decision §10 "policy changes: how the text itself changes"\n', ""
        )
    )
    (copy / "added.policy").write_text(
        "rule notify_changes §10\n  allow planiso to use email for marketing_communication\n"
        "  when purpose in consented_purposes\n"
    )
    report = coverage_of(copy)
    section = next(s for s in report.documents[0].sections if s.key == "10")
    assert section.status == "covered"
    assert [r.id for r in section.rules] == ["notify_changes"]
    assert report.covered == report.total


def test_an_unknown_citation_stops_the_policy_from_loading(
    capsys: pytest.CaptureFixture[str], copy: Path
) -> None:
    (copy / "added.policy").write_text(
        "rule notify_changes §10.2\n  allow planiso to use email for marketing_communication\n"
    )
    code, _, err = run(capsys, "coverage", str(copy))
    assert code == 2
    assert "added.policy:1:21: error: `§10.2` is not a section of" in err
    assert "did you mean `§10`?" in err


def test_a_test_citing_no_section_is_reported(
    capsys: pytest.CaptureFixture[str], copy: Path
) -> None:
    tests = copy / "planiso.tests.toml"
    tests.write_text(tests.read_text().replace('cite = "§1.3"', 'cite = "§1.9"', 1))
    code, out, _ = run(capsys, "coverage", str(copy))
    assert code == 1
    assert "cites `§1.9`, which is not a section of the policy's documents" in out


def test_a_policy_without_a_document_has_no_coverage(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "p.policy").write_text("party a\ndata d\npurpose p\n")
    code, _, err = run(capsys, "coverage", str(tmp_path))
    assert code == 2
    assert "names no source document" in err


class _Checked(HTMLParser):
    """Collects the text of an HTML page, failing on tags left open."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("meta", "br", "link"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1:]}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("form", ["text", "json", "markdown", "html"])
def test_every_format_reads_as_pinned(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = run(capsys, "coverage", "rules/planiso", "--format", form)
    assert code == 0
    if form == "json":
        data = json.loads(out)
        assert data["covered"] == data["total"] == 21
    if form == "html":
        page = _Checked()
        page.feed(out)
        assert page.open == []
        assert "Commitment to Privacy Protection" in "".join(page.text)
    path = GOLDEN / f"planiso.{ {'text': 'txt', 'markdown': 'md'}.get(form, form) }"
    if os.environ.get("POLICY_ENGINE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(out, encoding="utf-8")
    assert out == path.read_text(encoding="utf-8")
