"""The service's clock fills the context key a policy marks ``is now`` when a request leaves it
out (docs/semantics.md, "Time"; README, the service): the instant of the call for an
``instant`` key, today's date in the configured time zone for a ``date`` key. The response's
``context_sources`` and the decision log say so, and the logged request holds the value, so the
logged decision replays exactly. A request that gives the key, flat or nested, keeps its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service needs the server extra")

import policy_engine
from policy_engine.service import policy_service as service_module
from policy_engine.service.config import ConfigError, ServiceConfig, load_config
from policy_engine.service.models import ConsentEventIn, DecisionRequest
from policy_engine.service.policy_service import PolicyService
from policy_engine.service.storage import open_storage

INSTANT_POLICY = """
party org
data email
purpose marketing
context decision.at: instant is now
context consent_expires: instant
rule consent_still_valid §1
  allow org to use email for marketing
  when now < consent_expires
"""

DATE_POLICY = """
party org
data email
purpose marketing
context today: date is now
rule from_the_seventh §1
  allow org to use email for marketing
  when today >= date "2026-12-07"
"""

LEDGER_POLICY = """
party org
data email
purpose marketing
context consent.purposes: set of purpose from consent ledger
context at: instant is now
rule agreed §1
  allow org to use email for marketing
  when purpose in consent.purposes and at < instant "2100-01-01T00:00:00Z"
"""

MOMENT = "2026-12-07T03:30:00.250000Z"  # 22:30 on the 6th in Toronto


def request(**fields: Any) -> DecisionRequest:
    return DecisionRequest.model_validate(
        {"party": "org", "data": "email", "purpose": "marketing", **fields}
    )


@pytest.fixture
def make_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A service on a policy text, its clock stopped at :data:`MOMENT`."""
    monkeypatch.setattr(service_module, "now_text", lambda: MOMENT)
    opened = []

    def make(text: str, **config: Any) -> PolicyService:
        folder = tmp_path / f"policy{len(opened)}"
        folder.mkdir()
        (folder / "p.policy").write_text(text, encoding="utf-8")
        storage = open_storage(f"sqlite:///{folder / 'log.db'}")
        opened.append(storage)
        return PolicyService(str(folder), storage, ServiceConfig(**config))

    yield make
    for storage in opened:
        storage.close()


def test_an_instant_key_left_out_is_the_time_of_the_call(make_service: Any) -> None:
    service = make_service(INSTANT_POLICY)
    later = request(context={"consent_expires": "2026-12-07T04:00:00Z"})
    ((decision, body, entry),) = service.decide([later])
    assert decision.effect == "allow"
    assert body["request"]["context"]["decision.at"] == MOMENT
    assert body["context_sources"] == {"decision.at": "service-clock"}
    assert entry is not None and entry["time"] == MOMENT
    assert entry["context_sources"] == {"decision.at": "service-clock"}
    # The logged request decides again as it was decided.
    again = service.policy.decide("org", "email", "marketing", entry["request"]["context"])
    assert again.effect == "allow"
    earlier = request(context={"consent_expires": "2026-12-07T03:00:00Z"})
    assert service.decide([earlier])[0][0].effect == "deny"


@pytest.mark.parametrize(
    "context",
    [
        {"consent_expires": "2030-01-01T00:00:00Z", "decision.at": "2031-01-01T00:00:00Z"},
        {"consent_expires": "2030-01-01T00:00:00Z", "decision": {"at": "2031-01-01T00:00:00Z"}},
    ],
)
def test_a_request_that_gives_the_time_keeps_it(make_service: Any, context: dict[str, Any]) -> None:
    service = make_service(INSTANT_POLICY)
    ((decision, body, _),) = service.decide([request(context=context)])
    assert decision.effect == "deny"  # its own time, after the consent expired
    assert body["context_sources"] == {"decision.at": "request"}


def test_a_null_time_stays_unknown_and_fails_closed(make_service: Any) -> None:
    service = make_service(INSTANT_POLICY)
    context = {"consent_expires": "2030-01-01T00:00:00Z", "decision.at": None}
    ((decision, body, _),) = service.decide([request(context=context)])
    assert (decision.effect, decision.missing) == ("deny", ["decision.at"])
    assert body["context_sources"] == {"decision.at": "request"}


@pytest.mark.parametrize(
    ("zone", "effect", "today"),
    [("UTC", "allow", "2026-12-07"), ("America/Toronto", "deny", "2026-12-06")],
)
def test_a_date_key_is_today_in_the_configured_time_zone(
    make_service: Any, zone: str, effect: str, today: str
) -> None:
    service = make_service(DATE_POLICY, time_zone=zone)
    ((decision, body, _),) = service.decide([request()])
    assert (decision.effect, body["request"]["context"]) == (effect, {"today": today})
    assert body["context_sources"] == {"today": "service-clock"}


def test_policy_info_names_the_clock_key(make_service: Any) -> None:
    info = make_service(INSTANT_POLICY).info()
    assert {k.name: k.source for k in info.context} == {
        "consent_expires": "request",
        "decision.at": "service-clock",
    }


def test_the_ledger_and_the_clock_fill_together_and_a_nested_ledger_key_is_the_requests(
    make_service: Any,
) -> None:
    service = make_service(LEDGER_POLICY)
    grant = {"event": "grant", "purposes": ["marketing"], "recorded_by": "a", "source": "w"}
    service.record_consent("s-1", ConsentEventIn.model_validate(grant))
    ((decision, body, _),) = service.decide([request(subject="s-1")])
    assert decision.effect == "allow"
    assert body["context_sources"] == {
        "consent.purposes": "consent-ledger",
        "at": "service-clock",
    }
    # Given inside a nested object, the key is the request's: the ledger does not add it flat
    # beside it (which the library refuses as a key given twice).
    nested = request(subject="s-1", context={"consent": {"purposes": []}})
    ((decision, body, _),) = service.decide([nested])
    assert decision.effect == "deny"
    assert body["context_sources"] == {"consent.purposes": "request", "at": "service-clock"}


def test_a_policy_without_a_clock_key_gets_nothing_added(make_service: Any) -> None:
    text = INSTANT_POLICY.replace(" is now", "").replace("now <", "decision.at <")
    service = make_service(text)
    ((decision, body, _),) = service.decide([request(context={"consent_expires": MOMENT})])
    assert (decision.effect, body["context_sources"]) == ("deny", {})
    assert decision.missing == ["decision.at"]


def test_an_unknown_time_zone_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "service.toml"
    config.write_text('[service]\ntime_zone = "America/Torono"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert "`time_zone`" in str(raised.value)
    assert "`America/Torono` is not a time zone this machine knows" in str(raised.value)


def test_the_library_alone_never_reads_a_clock() -> None:
    """`decide` stays pure: without the key, `now` is unknown (the service adds the clock)."""
    policy = policy_engine.load_policy_text({"p.policy": INSTANT_POLICY})
    decision = policy.decide("org", "email", "marketing", {"consent_expires": MOMENT})
    assert (decision.effect, decision.missing) == ("deny", ["decision.at"])
