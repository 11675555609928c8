"""Shared fixtures. Tests exercise the installed package; rule files are read from the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

import policy_engine

ROOT = Path(__file__).resolve().parent.parent
PLANISO = ROOT / "rules" / "planiso"


@pytest.fixture(scope="session")
def planiso() -> policy_engine.Policy:
    return policy_engine.load_policy(PLANISO)
