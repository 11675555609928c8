"""Source documents: `source "file"`, citation forms, sections read from plain text and Markdown,
citations that must resolve, `not a decision`, `ground`, and what they do to the version and the
compiled cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine import load_policy
from policy_engine.language.citations import citation_parts, citation_text
from policy_engine.language.documents import read_document
from policy_engine.language.errors import PolicyError
from policy_engine.language.formatter import format_source
from policy_engine.language.parser import parse_source
from policy_engine.language.source import Source

VOCABULARY = """
party staff
data email
purpose support
"""


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _codes(exc: PolicyError) -> list[str]:
    return [d.code for d in exc.diagnostics]


@pytest.mark.parametrize(
    ("written", "document", "key"),
    [
        ("§5.1", None, "5.1"),
        ("§ 5.1", None, "5.1"),
        ("§164.508(a)(2)", None, "164.508(a)(2)"),
        ("§164.512(f)(2)(ii)", None, "164.512(f)(2)(ii)"),
        ("Art. 9(2)(h)", None, "9(2)(h)"),
        ("Article 9", None, "9"),
        ("s. 18(7)", None, "18(7)"),
        ("section 5", None, "5"),
        ("§links-to-other-websites", None, "links-to-other-websites"),
        ("law25:s. 18(7)", "law25", "18(7)"),
        ("s.12 para 2", None, "12"),
        ("s. 12 para 4(2)", None, "12"),
    ],
)
def test_every_citation_form_parses_and_names_its_section(
    written: str, document: str | None, key: str
) -> None:
    text = f"{VOCABULARY}rule r {written}\n  allow staff to use email for support\n"
    rule = parse_source(Source("p.policy", text)).items[-1]
    citation = rule.citations[0]  # type: ignore[union-attr]
    assert citation.text == citation_text(written)
    assert citation_parts(citation.text).document == document
    assert citation_parts(citation.text).key == key


def test_without_a_document_citations_stay_free_text() -> None:
    from policy_engine import load_policy_text

    policy = load_policy_text(f"{VOCABULARY}rule r §99.9\n  allow staff to use email for support\n")
    assert policy.documents == []
    assert policy.decide("staff", "email", "support").allowed


PLAIN = """\
PRIVACY POLICY
Why this policy exists.
1. Consent
1.1 Commitment
We ask first.
1.2 Withdrawal
You may withdraw.
2. Sharing
Partners receive data:
1. delivery partners
2. payment providers
3. Contact
Write to us.
"""


def test_plain_text_sections_and_a_numbered_list_that_is_not_sections() -> None:
    document = read_document(Source("policy.txt", PLAIN), "policy")
    assert [s.key for s in document.sections] == [
        "privacy-policy",
        "1",
        "1.1",
        "1.2",
        "2",
        "3",
    ]
    by_key = {s.key: s for s in document.sections}
    assert by_key["1.1"].parent == "1" and by_key["1"].parent is None
    assert not by_key["1"].counted  # a heading over sub-sections only
    assert by_key["2"].counted and "payment providers" in by_key["2"].text
    assert by_key["privacy-policy"].text.endswith("Why this policy exists.")


MARKDOWN = """\
# Regulation

## Art. 9 Processing of special categories

(1) Processing is prohibited.

(2) Paragraph 1 shall not apply if:

(a) the subject consented;

(h) processing is necessary for medicine;

(i) processing is necessary for public health;

## §164.512 Uses and disclosures

(f) Standard: law enforcement.

(2) Identification:

(i) name;

(ii) date of birth;

(A) a sub-item;

## Children's privacy

No child's data.
"""


def test_markdown_headings_nested_paragraphs_and_letter_i_after_h() -> None:
    document = read_document(Source("law.md", MARKDOWN), "law")
    keys = [s.key for s in document.sections]
    assert keys == [
        "regulation",
        "9",
        "9(1)",
        "9(2)",
        "9(2)(a)",
        "9(2)(h)",
        "9(2)(i)",
        "164.512",
        "164.512(f)",
        "164.512(f)(2)",
        "164.512(f)(2)(i)",
        "164.512(f)(2)(ii)",
        "164.512(f)(2)(ii)(A)",
        "children-s-privacy",
    ]
    by_key = {s.key: s for s in document.sections}
    assert by_key["9(2)(h)"].parent == "9(2)"
    assert by_key["9(2)(h)"].label == "Art. 9(2)(h)"
    assert by_key["164.512(f)(2)(ii)"].label == "§164.512(f)(2)(ii)"
    assert by_key["children-s-privacy"].parent == "regulation"
    assert [s.key for s in document.within("9(2)")] == ["9(2)", "9(2)(a)", "9(2)(h)", "9(2)(i)"]


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_reads_as_a_document_without_error(text: str) -> None:
    for name in ("doc.txt", "doc.md"):
        document = read_document(Source(name, text), "doc")
        keys = [s.key for s in document.sections]
        assert len(keys) == len(set(keys))
        for section in document.sections:
            assert citation_parts(section.label).key == section.key


_TREE = st.recursive(
    st.just([]),
    lambda children: st.lists(children, min_size=1, max_size=3),
    max_leaves=12,
)


def _numbered(tree: list[object], prefix: str, lines: list[str], keys: list[str]) -> None:
    for index, child in enumerate(tree, start=1):
        key = f"{prefix}.{index}" if prefix else str(index)
        lines.append(f"{key}{'.' if not prefix else ''} Heading {key}")
        lines.append(f"Text of {key}.")
        keys.append(key)
        _numbered(child, key, lines, keys)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(_TREE)
def test_a_generated_numbered_outline_reads_back_exactly(tree: list[object]) -> None:
    lines: list[str] = []
    keys: list[str] = []
    _numbered(tree, "", lines, keys)
    document = read_document(Source("doc.txt", "\n".join(lines)), "doc")
    assert [s.key for s in document.sections] == keys
    for section in document.sections:
        expected_parent = section.key.rsplit(".", 1)[0] if "." in section.key else None
        assert section.parent == expected_parent
        assert section.text.splitlines()[-1] == f"Text of {section.key}."


def _policy(tmp_path: Path, rules: str, document: str = PLAIN, name: str = "policy.txt") -> Path:
    return _write(
        tmp_path,
        {name: document, "p.policy": f'source "{name}"\n{VOCABULARY}{rules}'},
    )


def test_an_unknown_citation_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    folder = _policy(tmp_path, "rule r §1.3\n  allow staff to use email for support\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(folder)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "unknown-citation"
    assert diagnostic.span is not None and diagnostic.span.line == 6
    assert "`§1.2`" in (diagnostic.help or "") or "`§1.1`" in (diagnostic.help or "")


def test_every_kind_of_statement_has_its_citations_resolved(tmp_path: Path) -> None:
    rules = (
        "party partner §7\n"
        'not a decision §8 "x"\n'
        'rule r §1.1\n  ground §9 "y"\n  allow staff to use email for support\n'
        "invariant i §10 never staff use email\n"
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(_policy(tmp_path, rules))
    assert sorted(_codes(caught.value)) == ["unknown-citation"] * 4


def test_two_documents_ambiguous_and_qualified_citations(tmp_path: Path) -> None:
    _write(tmp_path, {"law.txt": "1. Law\nThe law says.\n"})
    folder = _policy(
        tmp_path,
        'source law "law.txt"\nrule r §1\n  allow staff to use email for support\n',
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(folder)
    assert _codes(caught.value) == ["ambiguous-citation"]
    assert "`policy:§1`" in (caught.value.diagnostics[0].help or "")
    text = (folder / "p.policy").read_text().replace("rule r §1\n", "rule r law:§1, policy:§1.1\n")
    (folder / "p.policy").write_text(text)
    assert len(load_policy(folder).documents) == 2


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("missing.txt", "source-not-found"),
        ("../outside.txt", "link-out-of-folder"),
        ("secrets.env", "source-not-text"),
    ],
)
def test_a_document_that_cannot_be_read_is_an_error_at_its_statement(
    tmp_path: Path, path: str, code: str
) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (tmp_path / "outside.txt").write_text("1. Outside\n")
    _write(folder, {"p.policy": f'source "{path}"\n{VOCABULARY}'})
    with pytest.raises(PolicyError) as caught:
        load_policy(folder)
    assert _codes(caught.value) == [code]
    assert caught.value.diagnostics[0].span is not None


def test_a_link_to_a_document_outside_the_folder_is_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (tmp_path / "outside.txt").write_text("1. Outside\n")
    os.symlink(tmp_path / "outside.txt", folder / "doc.txt")
    _write(folder, {"p.policy": f'source "doc.txt"\n{VOCABULARY}'})
    with pytest.raises(PolicyError) as caught:
        load_policy(folder)
    assert _codes(caught.value) == ["link-out-of-folder"]


def test_the_document_is_part_of_the_version_and_of_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLICY_ENGINE_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "rules"
    folder.mkdir()
    _policy(folder, "rule r §1.2\n  allow staff to use email for support\n")
    first = load_policy(folder)
    again = load_policy(folder)  # from the cache
    assert again.version == first.version and again.documents[0].section("1.2") is not None
    (folder / "policy.txt").write_text(PLAIN.replace("1.2 Withdrawal", "1.3 Withdrawal"))
    with pytest.raises(PolicyError) as caught:  # the cached image must not hide the error
        load_policy(folder)
    assert _codes(caught.value) == ["unknown-citation"]
    (folder / "policy.txt").write_text(PLAIN + "4. More\nMore text.\n")
    assert load_policy(folder).version != first.version


def test_source_not_a_decision_and_ground_format_and_round_trip() -> None:
    text = (
        'source law "law.txt"\n'
        f"{VOCABULARY}"
        'not a decision §6, Art. 9(2)(h) "links: no disclosure by us"\n'
        'rule r §1.4 "d"\n'
        '  ground §1.4 "fraud prevention"\n'
        "  allow staff to use email for support\n"
    )
    formatted = format_source(text, "p.policy")
    assert format_source(formatted, "p.policy") == formatted
    assert parse_source(Source("p.policy", formatted)) == parse_source(Source("p.policy", text))
    assert 'not a decision §6, Art. 9(2)(h) "links: no disclosure by us"' in formatted
    assert '  ground §1.4 "fraud prevention"' in formatted


STATUTE = """\
12. Personal information may not be used except for the purposes of its collection.
It may, however, be used for another purpose without consent:
(1) for consistent purposes;
(2) clearly for the benefit of the person concerned;
For the purposes of this Act, personal information is
(1) de-identified if it no longer allows the person to be directly identified;
13. No person may communicate personal information to a third person.
"""


def test_a_paragraph_of_a_section_is_cited_and_must_exist(tmp_path: Path) -> None:
    rules = "rule r s.12 para 2, s.12 para 3(1), s.12(2)\n  allow staff to use email for support\n"
    policy = load_policy(_policy(tmp_path, rules, STATUTE, "act.txt"))
    assert citation_parts("s.12 para 3(1)").paragraph == 3
    assert policy.documents[0].paragraphs("12") == 3
    (tmp_path / "p.policy").write_text(
        (tmp_path / "p.policy").read_text().replace("s.12 para 2", "s.12 para 4")
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path)
    assert _codes(caught.value) == ["unknown-citation"]
    assert "has 3 paragraph(s)" in caught.value.diagnostics[0].message


def test_statute_numbering_decimal_subparagraphs_and_dotted_sections_of_their_own() -> None:
    text = (
        "18. A person may communicate personal information\n"
        "(9) to a debt collector;\n"
        "(9.1) to a person, for the recovery of a claim of the enterprise;\n"
        "An entry is made of every communication.\n"
        "18.1. In addition, a person may communicate to protect a person.\n"
        "19. Another section.\n"
    )
    document = read_document(Source("act.txt", text), "act")
    by_key = {s.key: s for s in document.sections}
    assert list(by_key) == ["18", "18(9)", "18(9.1)", "18.1", "19"]
    assert by_key["18(9.1)"].parent == "18" and by_key["18.1"].parent is None
    assert document.paragraphs("18") == 2
    assert [s.key for s in document.within("18")] == ["18", "18(9)", "18(9.1)"]
    rule = parse_source(
        Source(
            "p.policy", f"{VOCABULARY}rule r s.18(9.1)\n  allow staff to use email for support\n"
        )
    ).items[-1]
    assert citation_parts(rule.citations[0].text).key == "18(9.1)"  # type: ignore[union-attr]


def test_two_documents_under_one_name_and_a_document_too_large_or_not_utf8(tmp_path: Path) -> None:
    from policy_engine.language.document_files import MAX_DOCUMENT_BYTES

    _write(tmp_path, {"a.txt": PLAIN, "b.txt": PLAIN})
    (tmp_path / "big.txt").write_bytes(b"x" * (MAX_DOCUMENT_BYTES + 1))
    (tmp_path / "latin.txt").write_bytes("1. Caf\xe9\n".encode("latin-1"))
    cases = {
        'source doc "a.txt"\nsource doc "b.txt"\n': ("duplicate-source", "already named"),
        'source "big.txt"\n': ("source-too-large", "larger than"),
        'source "latin.txt"\n': ("not-utf8", "is not UTF-8 text"),
    }
    for statements, (code, words) in cases.items():
        (tmp_path / "p.policy").write_text(statements + VOCABULARY)
        with pytest.raises(PolicyError) as caught:
            load_policy(tmp_path)
        (diagnostic,) = caught.value.diagnostics
        assert diagnostic.code == code and words in diagnostic.message
        assert diagnostic.span is not None
