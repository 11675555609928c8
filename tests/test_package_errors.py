"""Every way a `use` or a mapping to a package can be wrong is an error at its place, with a hint:
never a load that reads what it should not, and never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policy_engine import PolicyError, load_policy, load_policy_text

from .packages_fixture import BASE_DOCUMENT, BASE_RULES, DEPT_RULES, base_and_dept, write


def _error(path: Path) -> tuple[str, str, str | None, str]:
    """The one error loading ``path`` gives: code, message, help, and place (file:line:col)."""
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    errors = [d for d in raised.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1, raised.value
    found = errors[0]
    place = (
        f"{Path(found.span.source.name).name}:{found.span.line}:{found.span.column}"
        if found.span
        else ""
    )
    return found.code, found.message, found.help, place


def _dept(tmp_path: Path, extra: str = "", head: str = DEPT_RULES) -> Path:
    return base_and_dept(tmp_path, head + extra)


# ---- where a `use` leads ---------------------------------------------------------------------


def test_an_unknown_package_path_with_did_you_mean(tmp_path: Path) -> None:
    dept = _dept(tmp_path, head=DEPT_RULES.replace('"../base"', '"../bsae"'))
    code, message, help, place = _error(dept)
    assert (code, message, place) == (
        "package-not-found",
        "no package folder `../bsae`",
        "rules.policy:1:1",
    )
    assert help == "did you mean `base`?"


def test_a_path_that_is_not_a_folder(tmp_path: Path) -> None:
    dept = _dept(tmp_path, head=DEPT_RULES.replace('"../base"', '"../base/rules.policy"'))
    code, message, _, _ = _error(dept)
    assert code == "package-not-a-folder"
    assert (
        message
        == "`../base/rules.policy` is not a folder: a package is a folder of `.policy` files"
    )


@pytest.mark.parametrize("path", ["/etc", "", "..\\\\base", "C:/base"])
def test_a_path_that_is_not_relative(tmp_path: Path, path: str) -> None:
    dept = _dept(tmp_path, head=DEPT_RULES.replace('"../base"', f'"{path}"'))
    code, _, help, _ = _error(dept)
    assert code == "package-path"
    assert help and "from the folder of this file" in help


def test_a_folder_without_rule_files(tmp_path: Path) -> None:
    dept = _dept(tmp_path, head=DEPT_RULES.replace('"../base"', '"../empty"'))
    (tmp_path / "empty").mkdir()
    code, message, _, _ = _error(dept)
    assert code == "no-policy-files" and "no `.policy` files in" in message


# ---- symbolic links: never a way in ----------------------------------------------------------


def test_a_symlinked_package_folder_is_refused(tmp_path: Path) -> None:
    dept = _dept(tmp_path, head=DEPT_RULES.replace('"../base"', '"../linked"'))
    os.symlink(tmp_path / "base", tmp_path / "linked")
    code, message, help, place = _error(dept)
    assert (code, place) == ("package-symlink", "rules.policy:1:1")
    assert message.endswith("linked` is a symbolic link: not followed")
    assert help and help.startswith("a symlinked folder is not a way in")


def test_a_symlinked_folder_on_the_way_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"real/base/rules.policy": BASE_RULES, "real/base/base.md": BASE_DOCUMENT})
    os.symlink(tmp_path / "real", tmp_path / "via")
    dept = _dept(tmp_path, head=DEPT_RULES.replace('"../base"', '"../via/base"'))
    code, message, _, _ = _error(dept)
    assert code == "package-symlink" and "via` is a symbolic link" in message


@pytest.mark.parametrize("inside", ["more.policy", "sub"])
def test_a_symlink_inside_the_package_is_refused(tmp_path: Path, inside: str) -> None:
    dept = _dept(tmp_path)
    write(tmp_path, {"elsewhere/more.policy": "purpose extra\n"})
    target = tmp_path / "elsewhere" / ("more.policy" if inside.endswith(".policy") else "")
    os.symlink(target, tmp_path / "base" / inside)
    code, message, _, _ = _error(dept)
    assert code == "package-symlink"
    assert message.endswith(f"{inside}` in the package is a symbolic link: not followed")


def test_dot_dot_is_read_as_written_not_through_a_link(tmp_path: Path) -> None:
    """`here/../base` goes up a name from `here`, even when `here` is a link elsewhere."""
    dept = base_and_dept(tmp_path / "p")
    write(
        tmp_path,
        {
            "other/base/rules.policy": BASE_RULES + "party intruder\n",
            "other/base/base.md": BASE_DOCUMENT,
        },
    )
    os.symlink(tmp_path / "p" / "dept", tmp_path / "other" / "dept")
    policy = load_policy(tmp_path / "other" / "dept")
    assert "base.intruder" in policy.terms("party")  # `../base` beside the link, as written
    assert "base.staff" in load_policy(dept).terms("party")


# ---- cycles ----------------------------------------------------------------------------------


def test_a_cycle_between_packages_is_named(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a/rules.policy": 'use b from "../b"\nparty pa\n',
            "b/rules.policy": 'use a from "../a"\nparty pb\n',
        },
    )
    code, message, help, place = _error(tmp_path / "a")
    assert (code, place) == ("package-cycle", "rules.policy:1:1")
    a, b = (str(tmp_path / n) for n in "ab")
    assert message == f"packages use each other in a cycle: `{a}` → `{b}` → `{a}`"
    assert help and "a package cannot use the policy that uses it" in help


@pytest.mark.parametrize("path", [".", "..", "../a"])
def test_a_package_that_holds_the_policy_using_it_is_a_cycle(tmp_path: Path, path: str) -> None:
    write(tmp_path, {"a/rules.policy": f'use me from "{path}"\nparty pa\n'})
    assert _error(tmp_path / "a")[0] == "package-cycle"


def test_a_longer_cycle_is_named_whole(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a/r.policy": 'use b from "../b"\n',
            "b/r.policy": 'use c from "../c"\n',
            "c/r.policy": 'use b from "../b"\n',
        },
    )
    _, message, _, place = _error(tmp_path / "a")
    b, c = (str(tmp_path / n) for n in "bc")
    assert message == f"packages use each other in a cycle: `{b}` → `{c}` → `{b}`"
    assert place == "r.policy:1:1"


# ---- namespaces ------------------------------------------------------------------------------


def test_two_uses_of_one_namespace(tmp_path: Path) -> None:
    dept = _dept(tmp_path, 'use base from "../base"\n')
    code, message, _, place = _error(dept)
    assert (code, message, place) == (
        "duplicate-namespace",
        "the namespace `base` is used twice",
        "rules.policy:11:5",
    )


def test_a_namespace_clashing_with_a_name(tmp_path: Path) -> None:
    dept = _dept(tmp_path, "purpose base\n")
    code, message, _, place = _error(dept)
    assert (code, place) == ("namespace-clash", "rules.policy:1:5")
    assert message == "`base` is the namespace of a package and a purpose of this policy"


@pytest.mark.parametrize(
    ("statement", "what"),
    [
        ("rule base.mine allow agents to use base.email for base.support\n", "a rule"),
        ("context base.key: boolean\n", "a context key"),
        ("obligation base.note\n", "an obligation"),
        ("invariant base.claim never agents use base.email\n", "an invariant"),
        ('use base.inner from "../small"\n', "a namespace"),
    ],
)
def test_a_policy_declares_names_of_its_own(tmp_path: Path, statement: str, what: str) -> None:
    write(tmp_path, {"small/r.policy": "party s\n"})
    code, message, _, _ = _error(_dept(tmp_path, statement))
    assert code == "qualified-declaration"
    assert message.endswith(f": {what} of this policy has a name of its own")


PLACE_ONLY = (
    "`base.contractor` is the package's own: this policy can only place it under its terms or "
    "another package's"
)


@pytest.mark.parametrize(
    ("statement", "code", "message"),
    [
        ("party base.stafff under agents\n", "unknown-term", "unknown party `base.stafff`"),
        (
            "data base.staff under base.email\n",
            "wrong-kind-placement",
            "`base.staff` is a party, not a data category",
        ),
        (
            'party base.contractor under agents "mine now"\n',
            "bad-placement",
            PLACE_ONLY,
        ),
        (
            "party base.contractor\n",
            "bad-placement",
            PLACE_ONLY,
        ),
        (
            "party base.contractor under base.contractor\n",
            "cycle",
            "`base.contractor` is declared under itself",
        ),
    ],
)
def test_placing_a_packages_term(tmp_path: Path, statement: str, code: str, message: str) -> None:
    found = _error(_dept(tmp_path, statement))
    assert found[:2] == (code, message)


def test_an_unknown_qualified_name_has_a_did_you_mean(tmp_path: Path) -> None:
    _, message, help, _ = _error(
        _dept(tmp_path, "rule r allow agents to use base.emial for base.support\n")
    )
    assert "base.emial" in message and help == "did you mean `base.email`?"


# ---- supplying a package's keys --------------------------------------------------------------


@pytest.mark.parametrize(
    ("declaration", "code", "message", "help"),
    [
        (
            "context w: string supplies base.destinaton\n",
            "supply-unknown-key",
            "the package `base` has no context key `destinaton`",
            "did you mean `base.destination`?",
        ),
        (
            "context w: string supplies bsae.destination\n",
            "supply-unknown-key",
            "`bsae.destination` names the namespace `bsae`, but the policy uses no package `bsae`",
            "did you mean `base`?",
        ),
        (
            "context w: string supplies destination\n",
            "supply-unknown-key",
            "`destination` is not a package's key: a key supplies a key of a package it uses",
            "name the package's key with its namespace, e.g. `base.destination`",
        ),
        (
            "context w: integer supplies base.verified\n",
            "supply-type",
            "`w` is an integer but `base.verified` is a boolean: a key supplies only a key of the "
            "same type",
            "declare `w` as `boolean`, or supply the package's key from another key",
        ),
        ("context w: boolean default false supplies base.verified\n", None, None, None),
        (
            "context w: boolean supplies base.verified default false\n",
            "supply-default",
            "`base.verified` has no default, but `w` does not say the same: the package's rules "
            "would read an absent key differently",
            "give `w` no default too",
        ),
        (
            "context w: string supplies base.destination\n",
            "duplicate-supply",
            "`base.destination` is supplied twice: by `where` and by `w`",
            "a package's key reads one key of the policy; keep one `supplies`",
        ),
    ],
)
def test_supplying_a_packages_key(
    tmp_path: Path, declaration: str, code: str | None, message: str | None, help: str | None
) -> None:
    dept = _dept(tmp_path, declaration)
    if code is None:  # `default` before `supplies` is a syntax error, said as such
        with pytest.raises(PolicyError, match="expected"):
            load_policy(dept)
        return
    assert _error(dept)[:3] == (code, message, help)


def test_a_one_of_key_supplies_a_one_of_key_with_the_same_values_in_any_order(
    tmp_path: Path,
) -> None:
    base = BASE_RULES + (
        'context channel: one of "sms", "email"\n'
        'rule by_sms allow staff to use email for support when channel = "sms"\n'
    )
    write(
        tmp_path,
        {
            "base/rules.policy": base,
            "base/base.md": BASE_DOCUMENT,
            "dept/rules.policy": (
                'use base from "../base"\n'
                'context via: one of "email", "sms" supplies base.channel\n'
            ),
        },
    )
    policy = load_policy(tmp_path / "dept")
    assert (
        policy.decide(
            "base.staff", "base.email", "base.support", {"via": "sms", "base.destination": "CA-QC"}
        ).effect
        == "allow"
    )


def test_a_packages_ledger_key_left_unsupplied_loses_its_mark_with_a_warning(
    tmp_path: Path,
) -> None:
    dept = _dept(tmp_path, "context agreed: set of purpose from consent ledger\n")
    policy = load_policy(dept)
    assert policy.ledger_key == "agreed"
    [warning] = [w for w in policy.warnings if w.code == "package-ledger-key"]
    assert "`base.consented_purposes` is the consent ledger's key in the package" in warning.message
    assert warning.span is not None and warning.span.line == 1


# ---- errors inside a package, and packages without folders ------------------------------------


def test_an_error_in_a_package_is_located_in_the_packages_file(tmp_path: Path) -> None:
    write(tmp_path, {"base/broken.policy": "rule r allow nobody to use email for support\n"})
    dept = _dept(tmp_path)
    code, message, _, place = _error(dept)
    assert (code, place) == ("unknown-term", "broken.policy:1:14")
    assert message == "unknown party `base.nobody`"


def test_a_packages_citation_must_name_its_own_document(tmp_path: Path) -> None:
    write(tmp_path, {"base/more.policy": "party helper §9\n"})
    code, message, _, place = _error(_dept(tmp_path))
    assert (code, place) == ("unknown-citation", "more.policy:1:14")
    assert message.startswith("`§9` is not a section of")


def test_a_citation_of_a_packages_document_from_the_policy(tmp_path: Path) -> None:
    code, message, _, _ = _error(_dept(tmp_path, "party helpers under base.staff base.base:§7\n"))
    assert code == "unknown-citation" and message.startswith("`base.base:§7` is not a section of")
    code, message, _, _ = _error(_dept(tmp_path, "party aides under base.staff base.nodoc:§1\n"))
    assert code == "unknown-citation" and "names the document `base.nodoc`" in message


def test_a_policy_given_as_one_text_cannot_use_a_package() -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy_text(DEPT_RULES)
    [error] = raised.value.diagnostics
    assert error.code == "package-not-found"
    assert error.message == "a policy given as one text cannot use a package"


def test_a_mapping_without_the_package(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy_text({"dept/rules.policy": DEPT_RULES, "bsae/rules.policy": "party x\n"})
    [error] = raised.value.diagnostics
    assert (error.code, error.help) == ("package-not-found", "did you mean `bsae`?")
    with pytest.raises(PolicyError, match="leads out of the texts given"):
        load_policy_text({"rules.policy": DEPT_RULES})


# ---- limits ----------------------------------------------------------------------------------


def test_a_policy_reads_a_bounded_number_of_package_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policy_engine.language import packages

    monkeypatch.setattr(packages, "MAX_PACKAGES", 1)
    dept = _dept(tmp_path, 'use again from "../base"\n')
    code, message, _, place = _error(dept)
    assert (code, place) == ("too-many-packages", "rules.policy:11:1")
    assert message.startswith(
        "this is package folder 2 the policy reads; a policy may read at most 1"
    )


def test_a_policy_and_its_packages_stay_within_one_policys_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policy_engine.language import packages

    monkeypatch.setattr(packages, "MAX_POLICY_BYTES", len(DEPT_RULES) + 100)
    code, message, _, place = _error(_dept(tmp_path))
    assert (code, place) == ("policy-too-large", "rules.policy:1:1")
    assert "its packages' included" in message


def test_the_service_watches_the_packages_folders(tmp_path: Path) -> None:
    from policy_engine.service.loaded_policy import policy_files_fingerprint

    dept = _dept(tmp_path)
    folders = [u.folder for u in load_policy(dept).packages]
    before = policy_files_fingerprint(str(dept), folders)
    assert len(before) == 2
    write(tmp_path, {"base/more.policy": "purpose extra\n"})
    assert policy_files_fingerprint(str(dept), folders) != before


def test_a_package_folder_is_not_walked_past_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policy_engine.language import package_folders

    monkeypatch.setattr(package_folders, "MAX_PACKAGE_ENTRIES", 1)
    code, message, _, _ = _error(_dept(tmp_path))
    assert code == "package-too-large" and "holds more than 1 files and folders" in message


def test_a_packages_now_key_is_supplied_by_a_now_key(tmp_path: Path) -> None:
    dept = _dept(tmp_path, "context today: date supplies base.decided_on\n")
    write(tmp_path, {"base/rules.policy": BASE_RULES + "context decided_on: date is now\n"})
    code, message, help, _ = _error(dept)
    assert code == "supply-now"
    assert message == (
        "`base.decided_on` holds the decision's time (`is now`) in the package, but `today` "
        "does not"
    )
    assert help == "mark `today` `is now` too: the package's `now` then reads it"
