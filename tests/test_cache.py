"""The cache of parsed rule files: used when the input is identical, safe when it is not."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest

import policy_engine
from policy_engine import cache, parser

from .conftest import PLANISO

REQUEST = ("cloud_providers", "email", "data_hosting", {"destination": "US"})


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("POLICY_ENGINE_CACHE_DIR", str(folder))
    monkeypatch.delenv("POLICY_ENGINE_CACHE", raising=False)
    return folder


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    target = tmp_path / "planiso"
    shutil.copytree(PLANISO, target)
    return target


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pickle")) if folder.exists() else []


def test_second_load_skips_the_parser(
    cache_dir: Path, policy_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = policy_engine.load_policy(policy_copy)
    assert len(_entries(cache_dir)) == 1

    def no_parsing(*args: object) -> None:
        raise AssertionError("the parser ran although the cache had the files")

    monkeypatch.setattr(parser, "parse_source", no_parsing)
    monkeypatch.setattr(policy_engine.api, "parse_source", no_parsing)
    second = policy_engine.load_policy(policy_copy)
    assert second.version == first.version
    assert second.decide(*REQUEST).model_dump() == first.decide(*REQUEST).model_dump()
    assert [r.location for r in second.rules] == [r.location for r in first.rules]


def test_changed_text_never_uses_the_old_entry(cache_dir: Path, policy_copy: Path) -> None:
    policy_engine.load_policy(policy_copy)
    rules = policy_copy / "access.policy"
    rules.write_text(
        rules.read_text().replace(
            "allow cloud_providers to use personal_information for data_hosting",
            "allow cloud_providers to use technical_information for data_hosting",
        )
    )
    changed = policy_engine.load_policy(policy_copy)
    assert changed.decide(*REQUEST).effect == "deny"
    assert len(_entries(cache_dir)) == 2


def test_corrupt_entry_is_ignored_and_rewritten(cache_dir: Path, policy_copy: Path) -> None:
    policy_engine.load_policy(policy_copy)
    [entry] = _entries(cache_dir)
    entry.write_bytes(b"\x80\x05not a pickle at all")
    again = policy_engine.load_policy(policy_copy)
    assert again.decide(*REQUEST).effect == "allow"
    [rewritten] = _entries(cache_dir)
    assert rewritten.read_bytes() != b"\x80\x05not a pickle at all"


class _Payload:
    """What an attacker would put in a shared cache folder: unpickling it runs a command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_foreign_objects_in_an_entry_are_never_constructed(
    cache_dir: Path, policy_copy: Path, tmp_path: Path
) -> None:
    policy_engine.load_policy(policy_copy)
    [entry] = _entries(cache_dir)
    marker = tmp_path / "pwned"
    entry.write_bytes(pickle.dumps([_Payload(marker)]))
    again = policy_engine.load_policy(policy_copy)
    assert not marker.exists()
    assert again.decide(*REQUEST).effect == "allow"


def test_cache_can_be_turned_off(
    cache_dir: Path, policy_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLICY_ENGINE_CACHE", "off")
    policy_engine.load_policy(policy_copy)
    assert _entries(cache_dir) == []


def test_unwritable_cache_folder_is_not_an_error(
    tmp_path: Path, policy_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("POLICY_ENGINE_CACHE_DIR", str(blocker / "cache"))
    assert policy_engine.load_policy(policy_copy).decide(*REQUEST).effect == "allow"


def test_syntax_errors_are_not_cached(cache_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.policy"
    broken.write_text('party a "unterminated\n')
    with pytest.raises(policy_engine.PolicySyntaxError):
        policy_engine.load_policy(broken)
    assert _entries(cache_dir) == []


def test_default_location_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("POLICY_ENGINE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.folder() == tmp_path / "policy-engine"
