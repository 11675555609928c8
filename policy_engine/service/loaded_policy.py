"""One loaded policy as the service holds it (:class:`LoadedPolicy`: the policy, when it was
loaded, the context key the consent ledger fills, its purposes, and its description for
``GET /v1/policy``), and the fingerprint of its rule files that the watcher compares."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api import Policy
from ..engine.context import plain_value
from ..language.ast import DateType, DecimalType
from ..language.files import POLICY_SUFFIX
from .config import ServiceConfig
from .models import PolicyInfo
from .storage import now_text


@dataclass(frozen=True)
class LoadedPolicy:
    """One loaded policy and what the service derives from it; replaced whole on reload, so a
    request that took a reference at its start finishes on the version it started with."""

    policy: Policy
    loaded_at: str
    consent_key: str | None
    purposes: Any
    takes_floats: bool = False
    """Whether a valid context may hold a float (the policy declares a `decimal` key): then a
    log entry is not plain JSON by construction (:class:`.log_chain.PlainEntry`)."""
    decimal_arguments: bool = False
    """Whether an obligation has a `decimal` parameter: then a decision's `obligation_details`
    may hold a float, and a log entry is not plain JSON by construction either."""
    now_key: str | None = None
    """The context key the policy marks ``is now``, which the service's clock fills when a
    request leaves it out (:mod:`.request_context`)."""
    now_is_date: bool = False
    """Whether that key is a ``date`` (else an ``instant``)."""

    @classmethod
    def of(cls, policy: Policy, config: ServiceConfig) -> LoadedPolicy:
        # The ledger fills the key the policy marks `from consent ledger` (the checker allows one,
        # a `set of purpose`); a policy that marks none gets nothing from the ledger.
        compiled = policy.compiled
        floats = any(isinstance(k.decl.type, DecimalType) for k in compiled.context.values())
        decimals = any(
            isinstance(p.type, DecimalType)
            for decl in compiled.checked.term_decls.values()
            for p in decl.parameters
        )
        purposes = compiled.hierarchies["purpose"]
        now_key = policy.now_key
        is_date = now_key is not None and isinstance(compiled.context[now_key].decl.type, DateType)
        return cls(
            policy, now_text(), policy.ledger_key, purposes, floats, decimals, now_key, is_date
        )

    def _source(self, key: str) -> str:
        """Who gives ``key`` when the request leaves it out (``GET /v1/policy``)."""
        if key == self.consent_key:
            return "consent-ledger"
        return "service-clock" if key == self.now_key else "request"

    def info(self, path: str) -> PolicyInfo:
        """The policy loaded from ``path``: version hash, load time, vocabulary trees, context
        schema, rules."""
        policy = self.policy
        compiled = policy.compiled
        vocabulary = {
            kind: [
                {"name": term, "parents": hierarchy.parents(term)} for term in policy.terms(kind)
            ]
            for kind, hierarchy in sorted(compiled.hierarchies.items())
        }
        context = [
            {
                "name": name,
                "type": key.decl.type.describe(),
                "terms": getattr(key.decl.type, "kind", None),
                "default": plain_value(compiled.default_values.get(name)),
                "source": self._source(name),
            }
            for name, key in sorted(compiled.context.items())
        ]
        return PolicyInfo.model_validate(
            {
                "version": policy.version,
                "loaded_at": self.loaded_at,
                "path": path,
                "vocabulary": vocabulary,
                "context": context,
                "consent_context_key": self.consent_key,
                "rules": policy.rules,
            }
        )


def policy_files_fingerprint(
    path: str, packages: Iterable[str] = ()
) -> tuple[tuple[str, int, int], ...]:
    """Name, mtime and size of every rule file at ``path`` and in the folders of the packages
    the policy uses: what the watcher compares."""
    root = Path(path)
    try:
        files = [root] if root.is_file() else sorted(root.rglob(f"*{POLICY_SUFFIX}"))
        for folder in packages:
            files += sorted(Path(folder).rglob(f"*{POLICY_SUFFIX}"))
        out = []
        for file in files:
            stat = file.stat()
            out.append((str(file), stat.st_mtime_ns, stat.st_size))
        return tuple(out)
    except OSError:
        return ()
