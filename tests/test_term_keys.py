"""Keys of one term (``context recipient: party``), the attributes of the term a key names
(``recipient.location``), ``is known`` on attributes, and date attributes (docs/language.md,
"Keys of one term"; docs/semantics.md, 50–53).

The random policies of the soundness harness (``soundness_model``) draw all of these, and
``test_soundness``, ``test_matrix`` and ``test_conformance`` hold check, diff, the matrix and
conforms to brute force on them; the property tests (``test_properties``) hold decide, explain and
a policy restored from the cache to the reference evaluator. Here: what a person sees (decisions,
explanations, errors with their places and hints, the service's and the editor's view), and
planted conditions whose analysis the brute force checks, among them one that only an analysis
cutting a set key at a key's terms gets right.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as lsp

from policy_engine import PolicyError, RequestError, load_policy_text
from policy_engine.analysis.budget import BudgetExceeded
from policy_engine.analysis.diff import diff_policies
from policy_engine.language.parser import parse_source
from policy_engine.language.source import Source
from policy_engine.lsp.completion import members
from policy_engine.lsp.hover import hover_text
from policy_engine.lsp.index import Index
from policy_engine.lsp.tokens import Token
from policy_engine.service.loaded_policy import LoadedPolicy

from .soundness_model import Key, compare_check, compare_planted
from .test_properties import DateValue, Vocab

POLICY = """\
attribute location of party: one of "CA-QC", "CA", "US" "where the recipient processes data" §17
attribute founded of party: date

party processors
party us_processor under processors with location = "US", founded = date "2021-03-01"
party us_subcontractor under us_processor
party qc_processor under processors with location = "CA-QC", founded = date "2010-06-01"
party new_processor under processors "not yet assessed"
party staff
data personal_information
purpose service_delivery

context recipient: party "who receives the data" §17
context today: date is now

rule transfer_outside_quebec §17
  deny staff from using personal_information for service_delivery
  when recipient.location != "CA-QC"

rule established_processors §17
  allow staff to use personal_information for service_delivery
  when recipient in processors and recipient.founded + 5 years <= now
"""

REQUEST = ("staff", "personal_information", "service_delivery")


def decide(context: dict[str, object]) -> tuple[str, list[str], list[str]]:
    d = load_policy_text(POLICY).decide(*REQUEST, context)
    return d.effect, [r.id for r in d.reasons], d.missing


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (
            {"recipient": "qc_processor", "today": "2026-01-01"},
            ("allow", ["established_processors"], []),
        ),
        ({"recipient": "qc_processor", "today": "2014-01-01"}, ("deny", [], [])),
        (
            {"recipient": "us_subcontractor", "today": "2026-01-01"},
            ("deny", ["transfer_outside_quebec"], []),
        ),
        # a term without a location: the deny fails closed; nothing a request could add
        (
            {"recipient": "new_processor", "today": "2026-01-01"},
            ("deny", ["transfer_outside_quebec"], []),
        ),
        # a missing key: unknown, listed
        ({"today": "2026-01-01"}, ("deny", ["transfer_outside_quebec"], ["recipient"])),
        (
            {"recipient": None, "today": "2026-01-01"},
            ("deny", ["transfer_outside_quebec"], ["recipient"]),
        ),
    ],
)
def test_decisions(context: dict[str, object], expected: tuple[str, list[str], list[str]]) -> None:
    assert decide(context) == expected


def test_the_explanation_says_which_term_has_no_value() -> None:
    text = (
        load_policy_text(POLICY)
        .decide(*REQUEST, {"recipient": "new_processor", "today": "2026-01-01"})
        .explain()
    )
    assert "`recipient.location` is unknown: `new_processor` has no `location`" in text
    assert "fail closed: `recipient.location` is unknown" in text
    known = load_policy_text(POLICY).decide(*REQUEST, {"recipient": "us_subcontractor"}).explain()
    assert (
        '`recipient` is `us_subcontractor`; `recipient.location` is "US" (from `us_processor`)'
        in known
    )
    assert "`recipient` is missing" in load_policy_text(POLICY).decide(*REQUEST, {}).explain()


@pytest.mark.parametrize(
    ("value", "message", "help"),
    [
        (
            "new_procesor",
            "context key `recipient` names unknown party `new_procesor`",
            "did you mean `new_processor`?",
        ),
        (
            "personal_information",
            "context key `recipient` names `personal_information`, which is a data category, "
            "not a party",
            "`recipient` names a declared party",
        ),
        (
            3,
            "context key `recipient` must name a party, got the number 3",
            "send the party's name as a string",
        ),
        (
            ["qc_processor"],
            "context key `recipient` must name a party, got a list",
            "send the party's name as a string",
        ),
    ],
)
def test_a_request_naming_no_term_of_the_kind_is_an_error(
    value: object, message: str, help: str
) -> None:
    with pytest.raises(RequestError) as raised:
        load_policy_text(POLICY).decide(*REQUEST, {"recipient": value})
    [problem] = raised.value.diagnostics
    assert (problem.message, problem.help) == (message, help)


HEAD = """\
attribute location of party: one of "CA-QC", "US"
attribute founded of party: date
party us_processor with location = "US"
data email
purpose support
context destination: string
"""


@pytest.mark.parametrize(
    ("text", "code", "message", "help"),
    [
        (
            "context recipient: party default email\n",
            "wrong-kind",
            "`email` is a data category, not a party",
            None,
        ),
        (
            "context recipient: party default us_procesor\n",
            "unknown-term",
            "unknown party `us_procesor`",
            "did you mean `us_processor`?",
        ),
        (
            'context recipient: party default "us_processor"\n',
            "bad-default",
            'the default of `recipient` must be a party, not `"us_processor"`',
            "name a declared party without quotes, e.g. `default party_name`",
        ),
        (
            "context recipient: party\nrule r §1\n  allow us_processor to use email for support\n"
            '  when recipient.locaton = "US"\n',
            "unknown-attribute",
            "unknown attribute `locaton` of party terms",
            "did you mean `location`?",
        ),
        (
            "context recipient: party\nrule r §1\n  allow us_processor to use email for support\n"
            '  when recipient.location = "XX"\n',
            "unknown-value",
            '`"XX"` is not a value of `recipient.location`',
            'its values are "CA-QC", "US"',
        ),
        (
            "context recipient: party\nrule r §1\n  allow us_processor to use email for support\n"
            "  when party in [recipient]\n",
            "bad-list-item",
            "a list can hold quoted strings or vocabulary terms, not `recipient`",
            None,
        ),
        (
            "context recipient: party\nrule r §1\n  allow us_processor to use email for support\n"
            "  when recipient\n",
            "not-a-condition",
            "`recipient` is a party, not a condition",
            'compare it with something, e.g. `subject_age >= 14` or `destination = "CA-QC"`',
        ),
        (
            "context recipient: party\nrule r §1\n  allow us_processor to use email for support\n"
            "  when recipient = email\n",
            "type-mismatch",
            "cannot compare `recipient` (party) with `email` (data category)",
            "compare `recipient` with a party",
        ),
        (
            "rule r §1\n  allow us_processor to use email for support\n"
            "  when destination.location is known\n",
            "not-a-context-key",
            "unknown context key `destination.location`",
            "did you mean `destination`?",
        ),
        (
            "rule r §1\n  allow us_processor to use email for support\n"
            "  when data.location is known\n",
            "unknown-attribute",
            "unknown attribute `location` of data category terms",
            "`location` is an attribute of party, not of data",
        ),
        (
            'party p with founded = "2021-03-01"\n',
            "bad-attribute-value",
            'the value of `founded` must be a date, written `date "2020-01-01"`',
            "`party.founded` is declared as date",
        ),
        (
            "attribute since of data: instant default 3\n",
            "bad-default",
            "the default of attribute `since` must be an instant, written "
            '`instant "2020-01-01T09:00:00Z"`',
            "`data.since` is declared as instant",
        ),
        (
            "attribute kind of data: party\n",
            "attribute-type",
            "attribute `kind` is declared as party, but an attribute holds one value",
            "declare it boolean, integer, decimal, string, one of listed strings, date or instant",
        ),
    ],
)
def test_errors_are_located_with_a_hint(
    text: str, code: str, message: str, help: str | None
) -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy_text(HEAD + text)
    found = [d for d in raised.value.diagnostics if d.severity == "error"]
    assert [(d.code, d.message, d.help) for d in found] == [(code, message, help)]
    assert found[0].span is not None and found[0].span.line > HEAD.count("\n")


def test_an_instant_attribute_moves_by_hours() -> None:
    text = (
        "attribute opened of party: instant\n"
        'party desk with opened = instant "2026-01-05T08:00:00Z"\nparty kiosk\n'
        "data email\npurpose support\ncontext at: instant is now\n"
        "rule opened_two_hours_ago §1\n  allow any party to use email for support\n"
        "  when party.opened + 2 hours <= now\n"
    )
    policy = load_policy_text(text)
    for party, at, effect in (
        ("desk", "2026-01-05T10:00:00Z", "allow"),
        ("desk", "2026-01-05T10:59:59+01:00", "deny"),
        ("kiosk", "2026-01-05T12:00:00Z", "deny"),
    ):
        assert policy.decide(party, "email", "support", {"at": at}).effect == effect, (party, at)


def test_is_known_on_attributes_is_never_unknown() -> None:
    text = HEAD + (
        "party new_processor\ncontext recipient: party\n"
        "rule r §1\n  allow any party to use email for support\n"
        "  when recipient.location is known and party.location is missing\n"
    )
    policy = load_policy_text(text)
    decided = {
        (party, recipient): policy.decide(
            party, "email", "support", {} if recipient is None else {"recipient": recipient}
        )
        for party in ("us_processor", "new_processor")
        for recipient in (None, "us_processor", "new_processor")
    }
    allowed = {k for k, d in decided.items() if d.allowed}
    assert allowed == {("new_processor", "us_processor")}
    assert all(d.missing == [] for d in decided.values())


def test_a_policy_restored_from_the_cache_reads_keys_terms_as_checked() -> None:
    fresh = load_policy_text(POLICY)
    restored = load_policy_text(POLICY)
    assert all(rule._source is None for rule in restored.compiled.rules)
    for recipient in ("qc_processor", "new_processor", "us_subcontractor"):
        context = {"recipient": recipient, "today": "2026-01-01"}
        assert (
            restored.decide(*REQUEST, context).explain()
            == fresh.decide(*REQUEST, context).explain()
        )


def test_the_service_describes_keys_of_one_term() -> None:
    info = LoadedPolicy(load_policy_text(POLICY), "now", None, None).info("p")
    keys = {k.name: (k.type, k.terms) for k in info.context}
    assert keys == {"recipient": ("party", "party"), "today": ("date", None)}


def test_the_editor_knows_a_keys_attributes() -> None:
    index = Index([parse_source(Source("p.policy", POLICY))])
    hover = hover_text(Token("name", "recipient.location", 0, 0, 18), index, [])
    assert hover is not None
    assert hover.startswith("the `location` of the party `recipient` names")
    assert "**attribute** `location` of party" in hover
    key = hover_text(Token("name", "recipient", 0, 0, 9), index, [])
    assert key is not None and "party (one term, by its name)" in key
    edit = (lsp.Position(line=0, character=0), lsp.Position(line=0, character=0))
    assert {item.label for item in members("recipient", index, edit)} == {"location", "founded"}


# ---- the analysis on planted conditions, against the brute force ------------------------------

VOCAB = Vocab(
    {
        "party": {"pa0": (), "pa1": ("pa0",), "pa2": ("pa0",), "pa3": ()},
        "data": {"da0": ()},
        "purpose": {"pu0": ()},
    },
    ("ob0",),
    {"level": {"pa1": 2, "pa3": 0}, "since": {"pa0": DateValue("2024-02-29")}},
)
TERM_KEYS = (
    Key("kk_party", "term", kind="party"),
    Key("kj_party", "term", kind="party", default="pa3"),
    Key("kt_party", "set", kind="party"),
    Key("kn", "date", now=True),
    Key("ki0", "int"),
)


@pytest.mark.parametrize(
    "condition",
    [
        # A set key tested only with a key of one term: its classes must be cut at the key's
        # terms (no literal says which sets matter).
        ("in", False, ("key", "kk_party"), ("key", "kt_party")),
        (
            "and",
            (
                ("in", False, ("key", "kk_party"), ("key", "kt_party")),
                ("in", True, ("term", "party", "pa0"), ("key", "kt_party")),
            ),
        ),
        ("cmp", "=", ("key", "kk_party"), ("key", "kj_party")),
        ("in", False, ("key", "kj_party"), ("key", "kk_party")),
        ("in", True, ("req", "party"), ("key", "kk_party")),
        ("cmp", "<", ("key", "ki0"), ("kattr", "kk_party", "party", "level")),
        ("aknown", ("kattr", "kk_party", "party", "level"), True),
        ("aknown", ("attr", "party", "level"), False),
        # a date attribute moved, compared with the decision's time
        (
            "cmp",
            "<=",
            ("shift", ("kattr", "kk_party", "party", "since"), "+", 1, "months"),
            ("now", "kn"),
        ),
        ("cmp", ">", ("attr", "party", "since"), ("shift", ("key", "kn"), "-", 1, "years")),
    ],
)
def test_planted_conditions_match_brute_force(condition: tuple[object, ...]) -> None:
    found = compare_planted(VOCAB, TERM_KEYS, condition)
    assert found == [], found[0].render()


def test_the_brute_force_sees_what_a_key_of_one_term_allows() -> None:
    """The harness is not blind to keys of one term: a rule allowing only when `kk_party` names
    a term under `pa0` breaks an invariant that nothing is allowed, and the counterexample says
    so; a check that missed it would disagree."""
    from .soundness_model import InvariantSpec, Spec
    from .test_properties import RuleSpec

    condition = ("in", False, ("key", "kk_party"), ("term", "party", "pa0"))
    rule = RuleSpec("r0", "allow", (None, None, None), condition, (), (), "§1", None)
    never = InvariantSpec("inv0", "never", ((None, ()),) * 3, None, ())
    spec = Spec(VOCAB, TERM_KEYS, (rule,), (never,))
    requests, found = compare_check(spec)
    assert found == []
    # every cell: each term of the kind, or the key missing; and the counterexample, decided
    assert requests == 4 * (4 + 1) + 1


def test_a_set_tested_against_too_many_keys_terms_is_not_compared(tmp_path: Path) -> None:
    """Two keys of one term tested in one set key: each gets one class per term, and the set key
    every combination of them; past 16 terms `diff` says it cannot compare, never guesses."""
    parties = "\n".join(f"party p{i}" for i in range(20))
    text = (
        f"{parties}\ndata d\npurpose u\n"
        "context recipient: party\ncontext sender: party\ncontext allowed: set of party\n"
    )
    rule = (
        "rule r §1\n  allow any party to use d for u\n"
        "  when recipient in allowed and sender in allowed\n"
    )
    old, new = load_policy_text(text), load_policy_text(text + rule)
    with pytest.raises(BudgetExceeded) as raised:
        diff_policies(old, new)
    assert str(raised.value).startswith("cannot analyse exactly: `allowed` is tested against 20")
    assert str(raised.value).endswith("the analysis tries (<policy>:25:9)")


def test_the_planted_set_case_fails_an_analysis_that_ignores_the_keys_terms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were a set key's classes not cut at the terms of the keys tested in it, `diff` would miss
    the requests `kk_party in kt_party` allows: the planted case says so (it can fail)."""
    from policy_engine.analysis.term_classes import TermClasses

    monkeypatch.setattr(TermClasses, "representatives", lambda self, key, terms: [])
    found = compare_planted(
        VOCAB, TERM_KEYS, ("in", False, ("key", "kk_party"), ("key", "kt_party"))
    )
    assert {d.verdict for d in found} == {"diff"}
    assert any("widened here, but diff reports []" in d.message for d in found)


PACKAGE = """
attribute location of party: one of "CA-QC", "US"
party processors
party us_processor under processors with location = "US"
data info
purpose service
context recipient: party
rule outside s.1
  deny any party from using info for service
  when recipient.location != "CA-QC" or recipient.location is missing
rule processors_serve s.1
  allow processors to use info for service
"""

USING = """
use base from "../base"
party local under base.processors with base.location = "CA-QC"
rule local_destination §1
  allow base.processors to use base.info for base.service
  when destination.base.location = "CA-QC" and base.recipient.base.location is known
"""


@pytest.mark.parametrize("supplied", [True, False])
def test_a_packages_key_of_one_term_reads_its_attributes_supplied_or_not(supplied: bool) -> None:
    """The package's `recipient.location` reads the using policy's key when it supplies the
    package's (`destination`), else the package's own under its namespace; the policy reads the
    package's attribute under the namespace too (`destination.base.location`), and its mention
    of the package's key (`base.recipient.base.location`) reads the supplying key."""
    key = "context destination: party" + (" supplies base.recipient\n" if supplied else "\n")
    policy = load_policy_text({"dept/rules.policy": key + USING, "base/rules.policy": PACKAGE})
    for term, effect in (("local", "allow"), ("base.us_processor", "deny")):
        context = (
            {"destination": term} if supplied else {"destination": term, "base.recipient": term}
        )
        d = policy.decide("local", "base.info", "base.service", context)
        assert d.effect == effect, (term, d)
    assert ("base.recipient" in policy.compiled.context) is not supplied


def test_an_obligation_a_keys_term_leaves_unknown_is_said() -> None:
    """An obligation whose condition reads the attribute of a key's term that has no value is
    not attached and the decision says so, naming the term (docs/semantics.md, 48); a missing
    key is listed in `missing` instead."""
    text = HEAD + (
        "party new_processor\ncontext recipient: party\nobligation assess_transfer\n"
        "rule r §1\n  allow any party to use email for support\n"
        '  with obligation assess_transfer when recipient.location != "CA-QC"\n'
    )
    policy = load_policy_text(text)
    d = policy.decide("us_processor", "email", "support", {"recipient": "new_processor"})
    assert (d.effect, d.obligations, d.missing) == ("allow", [], [])
    [left] = d.undetermined_obligations
    assert (left.name, left.missing, left.unknown_attributes) == (
        "assess_transfer",
        [],
        ["recipient.location"],
    )
    said = (
        "`recipient.location` is unknown (`recipient` is `new_processor`, which has no `location`)"
    )
    assert said in d.explain()
    missing = policy.decide("us_processor", "email", "support", {})
    assert missing.missing == ["recipient"]
    assert [u.missing for u in missing.undetermined_obligations] == [["recipient"]]
