"""The workbench's state: the policy its source gives, what the pages derive from it (computed
once per policy, on first use, whoever asks first), and the proposals being checked."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from ..analysis.budget import Budget, BudgetExceeded
from ..analysis.search_values import AnalysisDisagreement
from ..engine.policy import Policy
from ..language.errors import PolicyError
from ..traceability.register import Register, build_register
from .http import WorkbenchError
from .matrix_view import FullMatrix, full_matrix
from .policy_view import policy_page
from .proposal import BUDGET, propose, read_cases
from .source import PolicySource
from .vocabulary_view import vocabulary_page

T = TypeVar("T")

KEPT_PROPOSALS = 16
"""Results of recent proposals kept, so that undoing an edit answers at once."""

MAX_WAITING = 4
"""Proposals under way or waiting their turn at most: past that, a page is told to try again
(each one holds a worker thread of the server while it waits)."""

KEPT_CLIENTS = 1000
"""Pages whose latest proposal is remembered (an older request of a page is superseded)."""


@dataclass(frozen=True)
class Options:
    service_pages: bool = False
    """Show the pages of the decision service: the decision log and the consent ledger."""
    masked_keys: tuple[str, ...] = ()
    """Context keys the decision log masks (their logged values cannot be decided again)."""
    service_url: str | None = None
    """Where the Playground's ``curl`` sends requests; None: this server when it is the
    decision service, else ``policy-engine serve``'s default address."""
    budget: Budget = field(default=BUDGET)
    """What the analysis of one proposal (its check, its diff) may spend."""


class Workbench:
    def __init__(self, source: PolicySource, options: Options | None = None) -> None:
        self.source = source
        self.options = options or Options()
        self._lock = threading.Lock()
        self._policy: Policy | None = None
        self._cache: dict[str, object] = {}
        self._key_locks: dict[str, threading.Lock] = {}
        self._results: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._latest: OrderedDict[str, int] = OrderedDict()
        self._sequence = 0
        self._proposing = threading.Lock()
        self._waiting = 0

    @property
    def name(self) -> str:
        return self.source.name

    def policy(self) -> Policy:
        return self.source.current()

    def derived(self, key: str, make: Callable[[Policy], T]) -> tuple[Policy, T]:
        """``make(policy)`` for the current policy, computed once per policy."""
        policy = self.policy()
        with self._lock:
            if policy is not self._policy:
                self._policy = policy
                self._cache = {}
                self._key_locks = {}
                self._results.clear()
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if self._policy is policy and key in self._cache:
                    return policy, cast(T, self._cache[key])
            value = make(policy)
            with self._lock:
                if self._policy is policy:
                    self._cache[key] = value
            return policy, value

    def policy_page(self) -> dict[str, Any]:
        return self.derived("policy", lambda p: policy_page(p, self.name))[1]

    def vocabulary(self) -> dict[str, Any]:
        return self.derived("vocabulary", lambda p: vocabulary_page(p, self.name))[1]

    def matrix(self) -> tuple[Policy, FullMatrix]:
        return self.derived("matrix", lambda p: full_matrix(p, self.name))

    def register(self) -> Register:
        return self.derived("register", lambda p: build_register(p, self.name))[1]

    def propose(self, changed: Mapping[str, str], client: str = "") -> dict[str, Any]:
        """The proposal's result; ``{"superseded": true}`` when the same page sent a newer one
        while this one waited for its turn (one proposal is analysed at a time); a 429 when
        :data:`MAX_WAITING` proposals are already under way or waiting."""
        policy, cases = self.derived("cases", lambda p: read_cases(self.name))
        text = json.dumps([policy.version, sorted(changed.items())], ensure_ascii=False)
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        with self._lock:
            self._sequence += 1
            mine = self._sequence
            self._latest[client] = mine
            self._latest.move_to_end(client)
            while len(self._latest) > KEPT_CLIENTS:
                self._latest.popitem(last=False)
            found = self._results.get(key)
            if found is None:
                if self._waiting >= MAX_WAITING:
                    raise WorkbenchError(429, "other proposals are being checked: try again")
                self._waiting += 1
        if found is not None:
            return found
        try:
            with self._proposing:
                with self._lock:
                    if self._latest.get(client, mine) != mine:
                        return {"superseded": True}
                result = propose(policy, self.name, changed, cases, self.options.budget)
        finally:
            with self._lock:
                self._waiting -= 1
        with self._lock:
            self._results[key] = result
            while len(self._results) > KEPT_PROPOSALS:
                self._results.popitem(last=False)
        return result

    def warm(self) -> None:
        """Compute what the pages show before anyone asks (for a large policy's matrix). What
        cannot be computed is left for the page that asks to report."""
        steps: list[Callable[[], object]] = [
            self.policy_page,
            self.vocabulary,
            self.matrix,
            self.register,
            lambda: self.propose({}),
        ]
        for step in steps:
            try:
                step()
            except (PolicyError, BudgetExceeded, AnalysisDisagreement):
                continue
