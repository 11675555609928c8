"""Shared fixtures. Tests exercise the installed package; rule files are read from the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import policy_engine

ROOT = Path(__file__).resolve().parent.parent
PLANISO = ROOT / "rules" / "planiso"


@pytest.fixture(scope="session", autouse=True)
def _cache_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests (and the processes they start) keep the parse cache out of the user's home."""
    os.environ["POLICY_ENGINE_CACHE_DIR"] = str(tmp_path_factory.mktemp("policy-engine-cache"))


@pytest.fixture(scope="session")
def planiso() -> policy_engine.Policy:
    return policy_engine.load_policy(PLANISO)


PLANISO_DOCUMENT = "planiso-privacy-policy.txt"


def planiso_texts() -> dict[str, str]:
    """PLANISO's rule files and its source document by file name, for ``load_policy_text``."""
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted(PLANISO.glob("*.policy"))}
    texts[PLANISO_DOCUMENT] = (PLANISO / PLANISO_DOCUMENT).read_text(encoding="utf-8")
    return texts
