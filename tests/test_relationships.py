"""Relationships: the request names the requester and facts about the record it is about, under
dotted context keys (`context record.author: string`), sent flat (`"record.author"`) or as nested
objects (`{"record": {"author": "dr_a"}}`); rules compare them: `requester = record.author`,
`requester in record.care_team`.

Key-to-key comparisons are exact in the analysis (a string key compared with another key, or
looked up in a list key, takes values in common with it: ``analysis/context_classes.py``); the
soundness harness generates dotted keys and sends them nested (``soundness_model.decide``), and
the planted cases below hold the analyses to the brute force on exactly these tests.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from policy_engine import PolicyValidationError, RequestError, check_policy, load_policy_text
from policy_engine.cli.batch import run_batch
from policy_engine.language.formatter import format_source
from policy_engine.traceability.cell_conditions import words
from policy_engine.traceability.matrix import build_matrix

from .soundness_model import (
    ONE_CELL,
    Key,
    compare_planted,
)

POLICY = """\
party clinicians
data clinical_notes
purpose care

context requester: string "who asks: the clinician's id"
context record.author: string "who wrote the note"
context record.care_team: list of string default [] "the clinicians caring for the subject"

rule originator_reads_own_notes §164.508(a)(2)
  allow clinicians to use clinical_notes for care
  when requester = record.author

rule care_team_reads_notes §164.506
  allow clinicians to use clinical_notes for care
  when requester in record.care_team
"""


def decide(context: dict[str, object]) -> tuple[str, list[str]]:
    d = load_policy_text(POLICY).decide("clinicians", "clinical_notes", "care", context)
    return d.effect, [r.id for r in d.reasons]


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"requester": "dr_a", "record": {"author": "dr_a"}}, ["originator_reads_own_notes"]),
        ({"requester": "dr_a", "record.author": "dr_a"}, ["originator_reads_own_notes"]),
        (
            {"requester": "dr_b", "record": {"author": "dr_a", "care_team": ["dr_b"]}},
            ["care_team_reads_notes"],
        ),
        ({"requester": "dr_c", "record": {"author": "dr_a", "care_team": ["dr_b"]}}, []),
        ({"requester": "dr_c", "record": None}, []),
    ],
)
def test_flat_and_nested_requests_mean_the_same(
    context: dict[str, object], expected: list[str]
) -> None:
    effect, reasons = decide(context)
    assert (effect, reasons) == ("allow" if expected else "deny", expected)


def test_a_key_given_both_ways_or_as_the_wrong_shape_is_a_request_error() -> None:
    with pytest.raises(RequestError, match=r"context key `record.author` is given twice"):
        decide({"record.author": "dr_a", "record": {"author": "dr_a"}})
    with pytest.raises(RequestError, match=r"`record` must be an object, got \"dr_a\""):
        decide({"record": "dr_a"})
    with pytest.raises(RequestError, match=r"did you mean `record.author`\?"):
        decide({"record": {"autor": "dr_a"}})


def test_the_explanation_names_the_dotted_keys() -> None:
    d = load_policy_text(POLICY).decide(
        "clinicians", "clinical_notes", "care", {"requester": "dr_a", "record": {"author": "dr_a"}}
    )
    text = d.explain()
    assert 'record.author = "dr_a", requester = "dr_a"' in text
    assert '`requester` is "dr_a"; `record.author` is "dr_a"' in text
    assert d.model_dump()["request"]["context"] == {
        "requester": "dr_a",
        "record": {"author": "dr_a"},
    }


def test_batch_reads_nested_objects(tmp_path: Path) -> None:
    line = {
        "party": "clinicians",
        "data": "clinical_notes",
        "purpose": "care",
        "context": {"requester": "dr_b", "record": {"author": "dr_a", "care_team": ["dr_b"]}},
    }
    path = tmp_path / "requests.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    run_batch(load_policy_text(POLICY), str(path), out, err)
    assert json.loads(out.getvalue())["effect"] == "allow"


def test_a_key_that_starts_another_is_refused() -> None:
    with pytest.raises(
        PolicyValidationError, match=r"`record` is a context key, and also the start"
    ):
        load_policy_text(POLICY + "context record: string\n")


def test_the_formatter_keeps_dotted_keys() -> None:
    rule = "\nrule r §1\n  deny clinicians from using clinical_notes for care\n"
    formatted = format_source(POLICY + rule + "  when record.author is missing\n")
    assert format_source(formatted) == formatted
    assert "context record.author: string" in formatted
    assert "when record.author is missing" in formatted


def test_check_and_the_matrix_read_relationships_exactly(tmp_path: Path) -> None:
    invariant = (
        "\ninvariant strangers_never §164.502\n"
        "  never clinicians use clinical_notes for care\n"
        "  unless requester = record.author or requester in record.care_team\n"
    )
    path = tmp_path / "p.policy"
    path.write_text(POLICY + invariant, encoding="utf-8")
    assert [d.code for d in check_policy(path) if d.severity == "error"] == []
    broken = invariant.replace(" or requester in record.care_team", "")
    path.write_text(POLICY + broken, encoding="utf-8")
    [found] = [d for d in check_policy(path) if d.code == "invariant-broken"]
    assert found.help is not None and '"record.care_team": ["' in found.help
    verdict = build_matrix(load_policy_text(POLICY), "p", prove=True).verdicts[
        ("clinicians", "clinical_notes", "care")
    ]
    assert verdict.condition is not None
    shown = words(verdict.condition)  # the rules by id
    assert shown == "`requester in record.care_team` or `requester = record.author`"


KEYS = (
    Key("requester", "str"),
    Key("rec.author", "str"),
    Key("rec.team", "anylist"),
    Key("rec.reviewers", "anylist"),
)
PLANTED = {
    "originator": ("cmp", "=", ("key", "requester"), ("key", "rec.author")),
    "not_the_originator": ("cmp", "!=", ("key", "requester"), ("key", "rec.author")),
    "in_the_team": ("in", False, ("key", "requester"), ("key", "rec.team")),
    "team_but_not_author": (
        "and",
        (
            ("in", False, ("key", "requester"), ("key", "rec.team")),
            ("cmp", "!=", ("key", "requester"), ("key", "rec.author")),
        ),
    ),
    "author_in_the_team": (
        "and",
        (
            ("in", False, ("key", "rec.author"), ("key", "rec.team")),
            ("in", True, ("key", "requester"), ("key", "rec.reviewers")),
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_relationships_match_brute_force(name: str) -> None:
    """Each test alone in an allow rule, with an invariant that nothing is allowed: check, the
    rule's reachability and diff against the policy without it match the brute force."""
    found = compare_planted(ONE_CELL, KEYS, PLANTED[name])
    assert found == [], found[0].render()


def test_the_service_masks_a_dotted_key_flat_or_nested() -> None:
    """`mask_context_keys = ["record.author"]` hides the author however the request gave it."""
    from policy_engine.service.policy_service import MASK, masked_context

    nested = {"requester": "dr_a", "record": {"author": "dr_a", "care_team": ["dr_b"]}}
    assert masked_context(nested, ["record.author"]) == {
        "requester": "dr_a",
        "record": {"author": MASK, "care_team": ["dr_b"]},
    }
    assert nested["record"]["author"] == "dr_a"  # the response's own context is not touched
    flat = {"record.author": "dr_a"}
    assert masked_context(flat, ["record.author"]) == {"record.author": MASK}
    assert masked_context(flat, ["requester"]) is flat


PACKAGE = "party staff\ndata notes\npurpose care\ncontext record.author: string\n"
USER = (
    'use pkg from "../pkg"\ncontext requester: string\n'
    "context record.author: string supplies pkg.record.author\n"
    "rule own §1\n  allow pkg.staff to use pkg.notes for pkg.care\n"
    "  when requester = record.author\n"
)


def test_dotted_keys_and_packages() -> None:
    """A dotted key is the policy's own unless its first part is a package's namespace: a
    package has dotted keys of its own (`pkg.record.author`), which a key of the user supplies."""
    policy = load_policy_text({"pkg/p.policy": PACKAGE, "user/u.policy": USER})
    context = {"requester": "dr_a", "record": {"author": "dr_a"}}
    assert policy.decide("pkg.staff", "pkg.notes", "pkg.care", context).allowed
    with pytest.raises(PolicyValidationError, match=r"`pkg\.author` is a name of the package"):
        load_policy_text(
            {"pkg/p.policy": PACKAGE, "user/u.policy": USER + "context pkg.author: string\n"}
        )


def test_a_reserved_word_is_no_part_of_a_dotted_name() -> None:
    with pytest.raises(Exception, match=r"`party` is a reserved word and cannot be used as a name"):
        load_policy_text("context record.party: string\n")
