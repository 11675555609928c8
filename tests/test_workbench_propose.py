"""Proposing a change in the workbench: the edited copy checked, tested and diffed exactly as the
commands do, handed over as a patch or a zip, never written to disk; untrusted text never a 500.
And where the workbench gets its policy: files read again when they change, the decision
service's policy at ``/ui/``."""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi", reason="the workbench needs the server extra")

from fastapi.testclient import TestClient

import policy_engine
from policy_engine.analysis.diff import diff_policies
from policy_engine.workbench import FolderSource, create_workbench
from policy_engine.workbench import source as source_module
from policy_engine.workbench.state import MAX_WAITING, Workbench
from policy_engine.workbench.static_files import STATIC

from .conftest import PLANISO

GUARDED = (
    "  allow customer_service to use contact_information for respond_to_requests\n"
    "  when purpose in consented_purposes\n"
)
UNGUARDED = "  allow customer_service to use contact_information for respond_to_requests\n"


@pytest.fixture(scope="module")
def planiso() -> policy_engine.Policy:
    return policy_engine.load_policy(PLANISO)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_workbench(FolderSource(PLANISO))) as found:
        yield found


def access(planiso: policy_engine.Policy) -> tuple[str, str]:
    return next((s.name, s.text) for s in planiso.sources if s.name.endswith("access.policy"))


def test_no_change_is_the_loaded_policy_checked_and_tested(client: TestClient) -> None:
    result = client.post("/api/propose", json={"files": {}}).json()
    report = policy_engine.check_report(PLANISO)
    assert result["loads"] and result["changed"] == [] and result["patch"] == ""
    assert result["summary"] == report.summary()
    assert len(result["diagnostics"]) == len(report.diagnostics)
    assert result["tests"]["failed"] == 0 and result["tests"]["passed"] > 50
    assert result["diff"] is None


def test_a_syntax_error_is_a_diagnostic_at_its_line(
    client: TestClient, planiso: policy_engine.Policy
) -> None:
    name, text = access(planiso)
    broken = text.replace("rule it_technical_support §5.1", "rule it_technical_support §5.1 allow")
    line = broken[: broken.index("rule it_technical_support")].count("\n") + 1
    result = client.post("/api/propose", json={"files": {name: broken}}).json()
    assert not result["loads"] and result["tests"] is None and result["diff"] is None
    errors = [d for d in result["diagnostics"] if d["severity"] == "error"]
    assert errors and errors[0]["file"] == name
    assert errors[0]["line"] in (line, line + 1) and errors[0]["column"] >= 1
    assert result["changed"] == [name]


def test_a_widening_change_is_the_diff_of_the_command(
    client: TestClient, planiso: policy_engine.Policy
) -> None:
    name, text = access(planiso)
    widened = text.replace(GUARDED, UNGUARDED)
    assert widened != text
    result = client.post("/api/propose", json={"files": {name: widened}}).json()
    assert result["loads"] and result["diff_error"] == ""
    texts = {s.name: s.text for s in planiso.sources} | {name: widened}
    texts |= {d.source.name: d.source.text for d in planiso.documents}
    expected = diff_policies(planiso, policy_engine.load_policy_text(texts), "loaded", "proposed")
    assert result["diff"] == expected.model_dump()
    kinds = {g["kind"] for g in result["diff"]["groups"]}
    assert kinds == {"widened"}
    group = result["diff"]["groups"][0]
    assert group["parties"] == ["customer_service"] and group["new_rules"] == [
        "customer_service_contact"
    ]
    failing = [c for c in result["tests"]["cases"] if not c["passed"]]
    assert result["tests"]["failed"] == len(failing)


def test_the_patch_applies_to_the_files_and_the_zip_holds_them(
    client: TestClient, planiso: policy_engine.Policy, tmp_path: Path
) -> None:
    name, text = access(planiso)
    widened = text.replace(GUARDED, UNGUARDED)
    result = client.post("/api/propose", json={"files": {name: widened}}).json()
    copy = tmp_path / "repo"
    target = copy / name
    target.parent.mkdir(parents=True)
    target.write_text(text, "utf-8")
    (tmp_path / "change.patch").write_text(result["patch"], "utf-8")
    applied = subprocess.run(
        ["git", "apply", "--unsafe-paths", str(tmp_path / "change.patch")],
        cwd=copy,
        capture_output=True,
        text=True,
    )
    assert applied.returncode == 0, applied.stderr
    assert target.read_text("utf-8") == widened
    response = client.post("/api/propose/download", json={"files": {name: widened}})
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == [name.lstrip("/")]
    assert archive.read(name.lstrip("/")).decode("utf-8") == widened
    assert access(policy_engine.load_policy(PLANISO))[1] == text  # nothing written


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"files": {"elsewhere.policy": "x"}}, "is not one of the policy's rule files"),
        ({"files": {"rules/planiso/access.policy": 3}}, "must be a string"),
        ({"files": []}, "a proposal is a JSON object"),
        ([], "a proposal is a JSON object"),
    ],
)
def test_a_bad_proposal_is_a_clear_error(
    client: TestClient, planiso: policy_engine.Policy, body: object, said: str
) -> None:
    if isinstance(body, dict) and isinstance(body["files"], dict) and 3 in body["files"].values():
        body = {"files": {access(planiso)[0]: 3}}
    response = client.post("/api/propose", json=body)
    assert response.status_code == 400
    assert said in response.json()["error"]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(
        alphabet=st.sampled_from(list('rule allow deny party data for when "§5.1 \n\t#(),=<>01')),
        max_size=200,
    )
)
def test_untrusted_text_is_diagnostics_never_a_500(
    client: TestClient, planiso: policy_engine.Policy, tail: str
) -> None:
    name, text = access(planiso)
    response = client.post("/api/propose", json={"files": {name: text + "\n" + tail}})
    assert response.status_code == 200
    result = response.json()
    assert result["loads"] or all(d["message"] for d in result["diagnostics"])


def test_an_older_proposal_of_the_same_page_is_superseded(planiso: policy_engine.Policy) -> None:
    bench = Workbench(FolderSource(PLANISO))
    name, text = access(planiso)
    results: list[dict[str, object]] = []
    with bench._proposing:  # another proposal is being checked
        first = threading.Thread(
            target=lambda: results.append(bench.propose({name: text + "\n#a"}, "page"))
        )
        first.start()
        while bench._latest.get("page") is None:
            pass
        second = threading.Thread(
            target=lambda: results.append(bench.propose({name: text + "\n#b"}, "page"))
        )
        second.start()
        while bench._latest["page"] < 2:
            pass
    first.join()
    second.join()
    assert sorted("superseded" in r for r in results) == [False, True]


def test_past_the_proposals_waiting_a_page_is_told_to_try_again(
    planiso: policy_engine.Policy,
) -> None:
    app = create_workbench(FolderSource(PLANISO))
    bench = app.state.workbench
    name, text = access(planiso)
    with TestClient(app) as client:
        bench._waiting = MAX_WAITING
        busy = client.post("/api/propose", json={"files": {name: text + "\n#busy"}})
        assert busy.status_code == 429 and "try again" in busy.json()["error"]
        bench._waiting = 0
        assert client.post("/api/propose", json={"files": {name: text + "\n#busy"}}).json()["loads"]


# ---- where the policy comes from ---------------------------------------------------------------


def test_the_files_are_read_again_when_they_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_module, "CHECK_EVERY", 0.0)
    folder = tmp_path / "planiso"
    shutil.copytree(PLANISO, folder)
    with TestClient(create_workbench(FolderSource(folder))) as client:
        before = client.get("/api/summary").json()
        rule = folder / "access.policy"
        rule.write_text(rule.read_text("utf-8").replace(GUARDED, UNGUARDED), "utf-8")
        after = client.get("/api/summary").json()
        assert after["version"] != before["version"] and after["problems"] == []
        rule.write_text("rule broken", "utf-8")
        broken = client.get("/api/summary").json()
        assert broken["version"] == after["version"]  # the last version that loaded
        assert broken["problems"] and broken["problems"][0]["file"].endswith("access.policy")


def test_the_local_workbench_answers_only_to_its_own_names() -> None:
    app = create_workbench(FolderSource(PLANISO), allowed_hosts=("127.0.0.1", "localhost"))
    with TestClient(app, base_url="http://127.0.0.1:8182") as client:
        assert client.get("/policy").status_code == 200
        assert client.get("/policy", headers={"Host": "evil.example:8182"}).status_code == 400


def test_serve_has_the_workbench_at_ui_with_the_service_pages(tmp_path: Path) -> None:
    from policy_engine.service import create_app
    from policy_engine.service.config import ServiceConfig

    config = ServiceConfig(read_token="r" * 20, mask_context_keys=["destination"])
    app = create_app(PLANISO, f"sqlite:///{tmp_path / 'db.sqlite'}", config)
    with TestClient(app) as client:
        page = client.get("/ui/log")
        assert page.status_code == 200 and '<base href="/ui/">' in page.text
        assert '<a href="subjects"' in page.text
        main = client.get("/ui/static/js/main.js")
        assert main.content == (STATIC / "js" / "main.js").read_bytes()
        assert client.get("/ui/api/summary").json()["service"] is True
        request = {
            "party": "cloud_providers",
            "data": "email",
            "purpose": "data_hosting",
            "context": {"destination": "***"},
        }
        logged = {
            "effect": "allow",
            "reasons": ["cloud_providers_hosting"],
            "obligations": ["ensure_adequate_protection"],
            "policy_version": "old",
        }
        answer = client.post("/ui/api/explain", json={**request, "logged": logged}).json()
        assert answer["log"] == {
            "same_version": False,
            "same_outcome": False,
            "masked": ["destination"],
        }
        assert answer["commands"]["curl"].startswith(
            "curl -sS -X POST http://testserver/v1/decisions"
        )
        assert client.get("/v1/decisions").status_code == 401  # the log needs the read token
