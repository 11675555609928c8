"""The cache folder is untrusted unless the user alone can write it: what another user could
have written is never read, and an entry moved to another policy's name is never used."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import policy_engine
from policy_engine.language import store

ALLOWS = "party p\ndata d\npurpose u\nrule r §1\n  allow p to use d for u\n"
DENIES = "party p\ndata d\npurpose u\nrule r §1\n  deny p from using d for u\n"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("POLICY_ENGINE_CACHE_DIR", str(folder))
    monkeypatch.delenv("POLICY_ENGINE_CACHE", raising=False)
    getattr(store, "_WARNED", set()).clear()
    return folder


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("[0-9a-f]*.pickle"))


def test_the_folder_is_created_private(cache_dir: Path) -> None:
    policy_engine.load_policy_text(ALLOWS)
    assert cache_dir.stat().st_mode & 0o777 == 0o700


def test_an_entry_moved_to_another_policys_name_is_never_used(cache_dir: Path) -> None:
    """The attack: the entry of a policy that allows, copied over the entry of one that denies."""
    policy_engine.load_policy_text(ALLOWS, "a.policy")
    [allows] = entries(cache_dir)
    policy_engine.load_policy_text(DENIES, "a.policy")
    [denies] = [e for e in entries(cache_dir) if e != allows]
    shutil.copyfile(allows, denies)
    policy = policy_engine.load_policy_text(DENIES, "a.policy")
    assert policy.decide("p", "d", "u").effect == "deny"


def test_a_folder_others_may_write_is_neither_read_nor_written(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_engine.load_policy_text(ALLOWS)
    cache_dir.chmod(0o777)
    calls = []
    real = store._EngineOnlyUnpickler

    def spy(*args: object) -> object:
        calls.append(args)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "_EngineOnlyUnpickler", spy)
    with pytest.warns(RuntimeWarning, match="not using the cache folder .*not yours alone"):
        policy = policy_engine.load_policy_text(DENIES)
    assert policy.decide("p", "d", "u").effect == "deny"
    assert calls == []
    assert len(entries(cache_dir)) == 1  # nothing written either


def test_the_warning_is_said_once(cache_dir: Path) -> None:
    cache_dir.mkdir(mode=0o700)
    cache_dir.chmod(0o775)
    with pytest.warns(RuntimeWarning) as said:
        policy_engine.load_policy_text(ALLOWS)
        policy_engine.load_policy_text(DENIES)
    assert len([w for w in said if "cache folder" in str(w.message)]) == 1


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="chown needs root")
def test_an_entry_another_user_owns_is_not_read(cache_dir: Path) -> None:
    policy_engine.load_policy_text(ALLOWS, "a.policy")
    [entry] = entries(cache_dir)
    os.chown(entry, 12345, -1)
    before = entry.stat().st_mtime_ns
    policy = policy_engine.load_policy_text(ALLOWS, "a.policy")
    assert policy.decide("p", "d", "u").allowed
    # Ignored, then rewritten by this user (the rename replaces it).
    assert entry.stat().st_uid == os.getuid()
    assert entry.stat().st_mtime_ns >= before


def test_a_group_writable_entry_is_not_read(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_engine.load_policy_text(ALLOWS, "a.policy")
    [entry] = entries(cache_dir)
    entry.chmod(0o664)
    loaded = []
    real = store._EngineOnlyUnpickler

    def spy(*args: object) -> object:
        loaded.append(args)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "_EngineOnlyUnpickler", spy)
    policy_engine.load_policy_text(ALLOWS, "a.policy")
    assert not any(len(a) == 2 and a[1] for a in loaded)  # no policy image was unpickled
