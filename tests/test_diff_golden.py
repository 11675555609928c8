"""The diff as people read it, pinned: the text and markdown forms of one change to PLANISO (a
scope widened, a deny added) against golden files. Set ``POLICY_ENGINE_UPDATE_GOLDEN=1`` to
rewrite them after a deliberate change, then read the diff of the golden files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import policy_engine
from policy_engine.analysis.diff import diff_policies, render_markdown, render_text

from .conftest import planiso_texts

GOLDEN = Path(__file__).parent / "golden" / "diff"

ADDED_DENY = """
rule no_sms_marketing §4.2
  "No marketing text messages to a number given for deliveries"
  deny marketing_department from using phone_number for marketing_communication
  when channel = "sms"
"""


def versions() -> tuple[policy_engine.Policy, policy_engine.Policy]:
    sources = planiso_texts()
    old = policy_engine.load_policy_text(sources)
    changed = dict(sources)
    changed["access.policy"] = changed["access.policy"].replace(
        "delivery_partners to use postal_address",
        "delivery_partners to use postal_address, phone_number",
    )
    changed["added.policy"] = ADDED_DENY
    return old, policy_engine.load_policy_text(changed)


@pytest.mark.parametrize(("form", "render"), [("txt", render_text), ("md", render_markdown)])
def test_the_diff_reads_as_pinned(form: str, render: object) -> None:
    old, new = versions()
    report = diff_policies(old, new, "planiso", "planiso-changed")
    assert callable(render)
    shown = render(report) + "\n"
    path = GOLDEN / f"planiso.{form}"
    if os.environ.get("POLICY_ENGINE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(shown, encoding="utf-8")
    assert shown == path.read_text(encoding="utf-8")
