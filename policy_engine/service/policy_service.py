"""The service's state (:class:`PolicyService`): the policy being served and its reload, the
storage with the consent ledger and the decision log, the log writer, the settings and the
metrics; deciding requests (with the ledger's consents, logged before they are answered)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import anyio.to_thread

from ..api import Policy, load_policy
from ..engine.decision import Decision
from ..language.errors import Diagnostic, PolicyError
from .config import ServiceConfig
from .decision_ids import new_decision_ids
from .errors import ReloadRefused, diagnostic_json
from .heap import refreeze
from .inputs import consent_row
from .ledger import consent_state
from .loaded_policy import LoadedPolicy, policy_files_fingerprint
from .log_chain import is_plain
from .log_writer import DecisionLogWriter
from .metrics import ServiceMetrics
from .models import ConsentEventIn, ConsentState, DecisionRequest, PolicyInfo
from .request_context import clock_value, gives, supplied_context
from .storage import PlainEntry, Storage, now_text

logger = logging.getLogger("policy_engine.service")

MASK = "***"
#: Up to this many requests that need no ledger read are decided on the event loop itself.
INLINE_DECISIONS = 16

#: (decision, response body, log entry or None when the log is off)
Decided = tuple[Decision, dict[str, Any], dict[str, Any] | None]


def masked_context(context: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """``context`` with the values of ``keys`` replaced by :data:`MASK` (a copy; the same object
    when none is there). A dotted key is masked flat (``"record.author"``) and inside nested
    objects (``{"record": {"author": …}}``), as a request may give it either way."""
    found = context
    for key in keys:
        if key in found:
            found = {**found, key: MASK}
            continue
        head, _, rest = key.partition(".")
        inner = found.get(head)
        if rest and isinstance(inner, dict):
            hidden = masked_context(inner, [rest])
            if hidden is not inner:
                found = {**found, head: hidden}
    return found


def _entries(decided: list[Decided]) -> list[dict[str, Any]]:
    return [entry for _, _, entry in decided if entry is not None]


class PolicyService:
    """The loaded policy, the storage and the settings; the routes call into this."""

    def __init__(
        self,
        policy_path: str,
        storage: Storage,
        config: ServiceConfig,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.path = policy_path
        self.storage = storage
        self.config = config
        self._zone = ZoneInfo(config.time_zone)  # checked when the settings were read
        self.metrics = metrics or ServiceMetrics()
        self._reload_lock = threading.Lock()
        # The one attribute a reload swaps (a single assignment, atomic under the GIL).
        self.current: LoadedPolicy = LoadedPolicy.of(load_policy(policy_path), config)
        self.fingerprint = policy_files_fingerprint(policy_path, self._package_folders())
        self.metrics.policy_loaded_now(self.current.policy.version, time.time())
        # Every decision of the process is logged through this one writer (group commit).
        self.log_writer = DecisionLogWriter(storage) if config.log_decisions else None

    @property
    def policy(self) -> Policy:
        return self.current.policy

    @property
    def loaded_at(self) -> str:
        return self.current.loaded_at

    # ---- reload -------------------------------------------------------------------------------

    def reload(self, trigger: str) -> dict[str, Any]:
        """Load, check and compile the rule files again, and serve them if they load; otherwise
        raise :class:`ReloadRefused` with their errors and keep serving the policy in place.
        Reloads run one at a time; requests in flight keep the policy they started with."""
        with self._reload_lock:
            previous = self.current
            fingerprint = policy_files_fingerprint(self.path, self._package_folders())
            policy = self._load(trigger, previous, fingerprint)
            loaded = LoadedPolicy.of(policy, self.config)
            self.current = loaded
            self.fingerprint = fingerprint
            self.metrics.reloads.inc(outcome="success", trigger=trigger)
            self.metrics.policy_loaded_now(policy.version, time.time())
        refreeze()
        changed = policy.version != previous.policy.version
        logger.info(
            "policy reloaded (%s): version %s%s",
            trigger,
            policy.version,
            f" (was {previous.policy.version})" if changed else " (unchanged)",
        )
        return {
            "version": policy.version,
            "previous_version": previous.policy.version,
            "changed": changed,
            "loaded_at": loaded.loaded_at,
            "warnings": [diagnostic_json(d) for d in policy.warnings],
        }

    def _load(
        self, trigger: str, previous: LoadedPolicy, fingerprint: tuple[tuple[str, int, int], ...]
    ) -> Policy:
        """The policy at the rule files now, or :class:`ReloadRefused` (logged and counted)."""
        try:
            return load_policy(self.path)
        except PolicyError as exc:
            self.fingerprint = fingerprint
            self.metrics.reloads.inc(outcome="failure", trigger=trigger)
            logger.error(
                "policy reload (%s) refused; still serving version %s:\n%s",
                trigger,
                previous.policy.version,
                "\n\n".join(d.render() for d in exc.diagnostics),
            )
            raise ReloadRefused(exc.diagnostics, previous.policy.version) from None
        except Exception as exc:
            self.metrics.reloads.inc(outcome="failure", trigger=trigger)
            logger.exception("policy reload (%s) failed", trigger)
            message = f"the policy could not be loaded: {exc}"
            raise ReloadRefused(
                [Diagnostic("reload-failed", message)], previous.policy.version
            ) from None

    def reload_quietly(self, trigger: str) -> None:
        """A reload nobody waits for (signal, watcher): the outcome is logged and counted."""
        with contextlib.suppress(ReloadRefused):
            self.reload(trigger)

    def files_changed(self) -> bool:
        return policy_files_fingerprint(self.path, self._package_folders()) != self.fingerprint

    def _package_folders(self) -> list[str]:
        """The folders of the packages the policy being served uses (watched with its own)."""
        return [use.folder for use in self.current.policy.packages]

    # ---- consent ------------------------------------------------------------------------------

    def consents(self, subject: str) -> ConsentState:
        events = self.storage.consent_events(subject)
        state = consent_state(events, self.current.purposes, now_text())
        return ConsentState.model_validate(
            {
                "subject": subject,
                "consented_purposes": sorted(state),
                "active": list(state.values()),
                "history": events,
            }
        )

    def consented_purposes(self, subject: str, loaded: LoadedPolicy | None = None) -> list[str]:
        purposes = (loaded or self.current).purposes
        events = self.storage.consent_events(subject)
        state = consent_state(events, purposes, now_text())
        # A purpose the policy no longer declares cannot be used in a request.
        return sorted(p for p in state if p in purposes)

    def record_consent(self, subject: str, event: ConsentEventIn) -> dict[str, Any]:
        return self.storage.append_consent(subject, consent_row(event, self.current.purposes))

    # ---- decisions ----------------------------------------------------------------------------

    def decide(
        self, requests: Sequence[DecisionRequest], loaded: LoadedPolicy | None = None
    ) -> list[Decided]:
        """Decide every request (all or none: the first bad one raises, naming its position),
        then log them together, waiting until they are committed. Returns (decision, response
        body, log entry or None when the log is off) triples. ``loaded``: the policy to decide
        with (the one the body was read for), the current one when None."""
        decided = self.decide_unlogged(requests, loaded)
        if self.log_writer is not None:
            try:
                self.log_writer.append_blocking(_entries(decided))
            except Exception:
                self.metrics.log_write_failures.inc()
                raise
        self._count(decided)
        return decided

    async def decide_async(
        self, requests: Sequence[DecisionRequest], loaded: LoadedPolicy | None = None
    ) -> list[Decided]:
        """:meth:`decide` for the event loop: a few requests that need no ledger read are
        decided right here (microseconds); a batch, or a request whose consent comes from the
        ledger (a database read), in a worker thread. The log write is awaited, never blocked
        on, so the loop serves other requests while the group holding these entries commits."""
        loaded = loaded or self.current
        if len(requests) > INLINE_DECISIONS or self._reads_ledger(requests, loaded):
            decided = await anyio.to_thread.run_sync(self.decide_unlogged, requests, loaded)
        else:
            decided = self.decide_unlogged(requests, loaded)
        if self.log_writer is not None:
            try:
                await self.log_writer.append(_entries(decided))
            except Exception:
                self.metrics.log_write_failures.inc()
                raise
        self._count(decided)
        return decided

    def _reads_ledger(self, requests: Sequence[DecisionRequest], loaded: LoadedPolicy) -> bool:
        key = loaded.consent_key
        if key is None:
            return False
        return any(r.subject is not None and not gives(r.context, key) for r in requests)

    def decide_unlogged(
        self, requests: Sequence[DecisionRequest], loaded: LoadedPolicy | None = None
    ) -> list[Decided]:
        """Decide every request and build its response body, and its log entry when the log is
        on (the entries of one call share one ``time``, when the call decided); reads the consent
        ledger where a request needs it, writes nothing."""
        # The policy this call decides with from start to end, whatever a reload does meanwhile.
        loaded = loaded or self.current
        ledger: dict[str, list[str]] = {}
        decided: list[Decided] = []
        many = len(requests) > 1
        logging_on = self.log_writer is not None
        ids = new_decision_ids(len(requests))
        moment = now_text()
        decide = loaded.policy.decide
        clock = clock_value(loaded, moment, self._zone) if loaded.now_key is not None else None

        def consents(subject: str) -> list[str]:
            purposes = ledger.get(subject)
            if purposes is None:
                purposes = ledger[subject] = self.consented_purposes(subject, loaded)
            return purposes

        for index, request in enumerate(requests):
            context, sources = supplied_context(request, loaded, consents, clock)
            try:
                decision = decide(request.party, request.data, request.purpose, context)
            except PolicyError as exc:
                if many:
                    exc.add_note(f"in request {index}")
                raise
            body = decision.model_dump()
            body["decision_id"] = ids[index]
            body["subject"] = request.subject
            body["context_sources"] = sources
            entry = self._entry(ids[index], moment, decision, body, loaded) if logging_on else None
            decided.append((decision, body, entry))
        return decided

    def _count(self, decided: list[Decided]) -> None:
        allowed = sum(1 for decision, _, _ in decided if decision.allowed)
        if allowed:
            self.metrics.decisions.inc(allowed, effect="allow")
        if len(decided) > allowed:
            self.metrics.decisions.inc(len(decided) - allowed, effect="deny")

    def _entry(
        self,
        decision_id: str,
        moment: str,
        decision: Decision,
        body: dict[str, Any],
        loaded: LoadedPolicy,
    ) -> dict[str, Any]:
        """The decision's log entry. It shares the response body's lists and request (both are
        only ever serialized), except that a context with masked keys is copied. A
        :class:`PlainEntry` unless the context may hold a float (a decimal key) or an obligation
        a decimal argument, which :func:`.log_chain.canonical_json` then writes its own way (the
        one text the hashes cover). The obligations are there by name and in detail, with their
        arguments (``obligation_details``; entries logged before it have only the names)."""
        request = body["request"]
        if self.config.mask_context_keys:
            context = request["context"]
            masked = masked_context(context, self.config.mask_context_keys)
            if masked is not context:
                request = {**request, "context": masked}
        details = body["obligation_details"]
        plain = (not loaded.takes_floats or is_plain(request)) and (
            not loaded.decimal_arguments or is_plain(details)
        )
        return (PlainEntry if plain else dict)(
            id=decision_id,
            time=moment,
            subject=body["subject"],
            party=decision.party,
            data=decision.data,
            purpose=decision.purpose,
            request=request,
            context_sources=body["context_sources"],
            effect=decision.effect,
            obligations=body["obligations"],
            obligation_details=details,
            reasons=[reason.id for reason in decision.reasons],
            missing=body["missing"],
            policy_version=decision.policy_version,
        )

    async def close(self) -> None:
        """Write the log entries still queued and stop the log writer."""
        if self.log_writer is not None:
            await self.log_writer.close()

    # ---- the policy ---------------------------------------------------------------------------

    def info(self) -> PolicyInfo:
        """The policy being served (``GET /v1/policy``)."""
        return self.current.info(self.path)
