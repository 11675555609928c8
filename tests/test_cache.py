"""The compiled-policy cache: used when the input is identical, safe when it is not, and a
restored policy answers, explains and analyses exactly as a freshly compiled one."""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import lark
import pytest

import policy_engine
from policy_engine.api import check_policy
from policy_engine.engine import image
from policy_engine.engine import loading as loading_module
from policy_engine.language import ast, grammar, parser, store
from policy_engine.language.source import Source

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
    """The policy images (not the parser tables, ``grammar-*.pickle``)."""
    return sorted(folder.glob("[0-9a-f]*.pickle")) if folder.exists() else []


def test_second_load_skips_the_parser(
    cache_dir: Path, policy_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = policy_engine.load_policy(policy_copy)
    assert len(_entries(cache_dir)) == 1

    def no_parsing(*args: object) -> None:
        raise AssertionError("the parser ran although the cache had the files")

    monkeypatch.setattr(parser, "parse_source", no_parsing)
    monkeypatch.setattr(loading_module, "check_loaded", no_parsing)
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
    assert store.folder() == tmp_path / "policy-engine"


def _twice(cache_dir: Path, path: Path | str) -> tuple[policy_engine.Policy, policy_engine.Policy]:
    """Load twice: compiled, then restored from the cache (a string is policy text)."""

    def load() -> policy_engine.Policy:
        if isinstance(path, str):
            return policy_engine.load_policy_text(path, "crlf.policy")
        return policy_engine.load_policy(path)

    fresh = load()
    assert len(_entries(cache_dir)) == 1
    restored = load()
    assert restored.compiled.rules[0]._source is None  # really restored, trees not yet parsed
    return fresh, restored


def _requests(policy: policy_engine.Policy) -> list[tuple[str, str, str, dict[str, object]]]:
    contexts: list[dict[str, object]] = [
        {},
        {"consented_purposes": ["marketing"], "channel": "email", "opted_out_channels": []},
        {"consented_purposes": policy.terms("purpose"), "subject_age": 12, "destination": "US"},
        {"identity_verified": True, "non_payment": True, "cookies_accepted": False},
    ]
    parties, data, purposes = (policy.terms(k) for k in ("party", "data", "purpose"))
    return [
        (parties[i % len(parties)], data[(i * 7) % len(data)], purposes[(i * 3) % len(purposes)], c)
        for i in range(0, 400, 3)
        for c in contexts
    ]


def test_restored_policy_decides_and_explains_exactly_as_a_fresh_one(
    cache_dir: Path, policy_copy: Path
) -> None:
    fresh, restored = _twice(cache_dir, policy_copy)
    assert restored.warnings == fresh.warnings
    assert [r.model_dump() for r in restored.rules] == [r.model_dump() for r in fresh.rules]
    # Summaries come from the image: describing every rule re-parsed none of them.
    assert all(rule._source is None for rule in restored.compiled.rules)
    for request in _requests(fresh):
        assert restored.decide(*request).model_dump() == fresh.decide(*request).model_dump()
        assert restored.decide(*request).explain() == fresh.decide(*request).explain()
    with pytest.raises(policy_engine.UnknownTermError) as wrong:
        restored.decide("marketing", "email", "data_hosting")
    with pytest.raises(policy_engine.UnknownTermError) as right:
        fresh.decide("marketing", "email", "data_hosting")
    assert str(wrong.value) == str(right.value)


def test_restored_rules_reparse_to_the_same_trees_and_places(cache_dir: Path) -> None:
    # Comments and a blank line inside a rule, tabs, CRLF line ends and non-ASCII text.
    text = (
        '# Règles d\u2019équipe\r\nparty equipe, tiers "l\u2019équipe"\r\n'
        "data courriel\r\npurpose marketing\r\n"
        "context consent: boolean\r\nobligation log_it\r\n\r\n"
        '# a rule\r\nrule r1 §4.1 "Envoi d\u2019un courriel"\r\n'
        "  allow equipe to use courriel for marketing # inline\r\n\r\n"
        "\twhen consent\r\n  unless consent = false\r\n  with obligation log_it when consent\r\n"
        "rule r2\tdeny tiers to use courriel for marketing\r\n"
    )
    fresh, restored = _twice(cache_dir, text)
    for old, new in zip(fresh.compiled.rules, restored.compiled.rules, strict=True):
        assert new.source == old.source
        assert _spans(new.source) == _spans(old.source)
    assert restored.decide("equipe", "courriel", "marketing", {"consent": True}).obligations == [
        "log_it"
    ]


def _spans(node: object) -> list[tuple[int, int, int, int]]:
    """Every span in a syntax tree, in a fixed walk order (equality of nodes ignores spans)."""
    found: list[tuple[int, int, int, int]] = []
    if isinstance(node, tuple):
        for item in node:
            found += _spans(item)
        return found
    names = getattr(type(node), "__slots__", ())
    if isinstance(node, ast.Name):  # keeps its place in plain slots, `span` is a property
        names = ("value", "span")
    for name in names:
        value = getattr(node, name)
        if name == "span" and value is not None:
            assert isinstance(value.source, Source)
            found.append((value.line, value.column, value.end_line, value.end_column))
        elif not isinstance(value, str | int | bool | type(None)):
            found += _spans(value)
    return found


def test_analyses_of_a_restored_policy_match(cache_dir: Path, policy_copy: Path) -> None:
    first = check_policy(policy_copy)
    assert len(_entries(cache_dir)) == 1
    again = check_policy(policy_copy)
    assert [d.render() for d in again] == [d.render() for d in first]


def test_entry_of_another_format_is_ignored(cache_dir: Path, policy_copy: Path) -> None:
    policy_engine.load_policy(policy_copy)
    [entry] = _entries(cache_dir)
    entry.write_bytes(pickle.dumps({"format": store.FORMAT - 1, "rules": []}))
    again = policy_engine.load_policy(policy_copy)
    assert again.decide(*REQUEST).effect == "allow"
    assert len(again.compiled.rules) > 0


@pytest.fixture
def fresh_parsers() -> Iterator[None]:
    """Forget this process's parsers, as a new process would start; forget them again after."""

    def forget() -> None:
        for built in (grammar._parser_tables, grammar.lark_parser, parser._fast_parser):
            built.cache_clear()

    forget()
    yield
    forget()


def test_parser_tables_are_kept_and_reused(
    cache_dir: Path, policy_copy: Path, fresh_parsers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_engine.load_policy(policy_copy)
    assert len(list(cache_dir.glob("grammar-*.pickle"))) == 1

    def no_grammar_analysis(*args: object, **kwargs: object) -> None:
        raise AssertionError("the grammar was analysed again although its tables were kept")

    for built in (grammar._parser_tables, grammar.lark_parser, parser._fast_parser):
        built.cache_clear()
    monkeypatch.setattr(lark.Lark, "__init__", no_grammar_analysis)
    with pytest.raises(policy_engine.PolicySyntaxError, match="expected"):
        policy_engine.load_policy_text("rule r allow")  # the careful path's parser too
    # Restored from the image, then its rules re-parsed on first use: the fast parser too.
    assert policy_engine.load_policy(policy_copy).decide(*REQUEST).effect == "allow"


def test_corrupt_parser_tables_are_rebuilt(
    cache_dir: Path, policy_copy: Path, fresh_parsers: None
) -> None:
    parser.lark_parser()
    [tables] = cache_dir.glob("grammar-*.pickle")
    tables.write_bytes(pickle.dumps({"format": store.FORMAT, "content": ("not", "tables", 1)}))
    for built in (grammar._parser_tables, grammar.lark_parser, parser._fast_parser):
        built.cache_clear()
    assert policy_engine.load_policy(policy_copy).decide(*REQUEST).effect == "allow"


def test_restored_policy_decides_without_reparsing_any_rule(
    cache_dir: Path, policy_copy: Path
) -> None:
    fresh, restored = _twice(cache_dir, policy_copy)
    for request in _requests(fresh):
        assert restored.decide(*request).model_dump() == fresh.decide(*request).model_dump()
    # Conditions came from the image (decoded once, shared), not from re-parsed rule text.
    assert all(rule._source is None for rule in restored.compiled.rules)
    for old, new in zip(fresh.compiled.rules, restored.compiled.rules, strict=True):
        assert new.logic == old.logic


def test_a_policy_the_image_cannot_describe_still_loads(
    cache_dir: Path, policy_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot(*args: object) -> None:
        raise ValueError("rule `r` has no place in the policy's sources")

    monkeypatch.setattr(image, "capture", cannot)
    assert policy_engine.load_policy(policy_copy).decide(*REQUEST).effect == "allow"
    assert _entries(cache_dir) == []
