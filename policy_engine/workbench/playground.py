"""The Playground's answer to one request: the decision, its structured trace and its
plain-language explanation (``Policy.decide``, ``Decision.trace``, ``Decision.explain``), and the
same request as a ``policy-engine decide`` command and as a ``curl`` call to the decision service.

The decision log's pages explain a logged decision the same way, and say whether deciding it
again gives what was logged (the policy may have changed since; masked context values are gone).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from ..engine.decision import Decision
from ..engine.policy import Policy
from ..language.errors import Diagnostic, RequestError

DEFAULT_SERVICE_URL = "http://127.0.0.1:8181"
"""Where ``curl`` sends a request when the pages are not served by the decision service itself
(``policy-engine serve``'s default address)."""

MASK = "***"
"""What the decision service logs in place of a masked context value."""


def _bad(message: str) -> RequestError:
    return RequestError([Diagnostic("bad-request", message)])


def read_request(body: object) -> tuple[str, str, str, dict[str, Any] | None]:
    """Party, data, purpose and context of a request body; :class:`RequestError` when it is not
    an object with those three strings and, optionally, a context object."""
    if not isinstance(body, Mapping):
        raise _bad("the request must be a JSON object with `party`, `data` and `purpose`")
    terms = []
    for field in ("party", "data", "purpose"):
        value = body.get(field)
        if not isinstance(value, str) or not value:
            raise _bad(f"`{field}` must be a term of the policy (a non-empty string)")
        terms.append(value)
    context = body.get("context")
    if context is not None and not isinstance(context, Mapping):
        raise _bad("`context` must be a JSON object of context keys")
    return terms[0], terms[1], terms[2], None if context is None else dict(context)


def commands(
    name: str, terms: Sequence[str], context: Mapping[str, Any] | None, service_url: str
) -> dict[str, str]:
    """The request as a ``policy-engine decide`` command and as ``curl`` (shell-quoted)."""
    party, data, purpose = terms
    decide = ["policy-engine", "decide", name, "--party", party, "--data", data]
    decide += ["--purpose", purpose]
    if context:
        decide += ["--context", json.dumps(context, ensure_ascii=False)]
    body: dict[str, Any] = {"party": party, "data": data, "purpose": purpose}
    if context:
        body["context"] = context
    curl = ["curl", "-sS", "-X", "POST", f"{service_url.rstrip('/')}/v1/decisions"]
    curl += ["-H", "Content-Type: application/json", "-d", json.dumps(body, ensure_ascii=False)]
    return {"decide": shlex.join(decide), "curl": shlex.join(curl)}


def explain_payload(
    policy: Policy,
    name: str,
    body: object,
    service_url: str = DEFAULT_SERVICE_URL,
    masked: Sequence[str] = (),
) -> dict[str, Any]:
    """What the Playground shows for ``body``; raises :class:`RequestError` (an
    :class:`UnknownTermError` with suggestions for an undeclared term) for a bad request."""
    party, data, purpose, context = read_request(body)
    logged = body.get("logged") if isinstance(body, Mapping) else None
    hidden: list[str] = []
    if isinstance(logged, Mapping) and context is not None:
        hidden = sorted(k for k in masked if context.get(k) == MASK)
        context = {k: v for k, v in context.items() if k not in hidden}
    decision = policy.decide(party, data, purpose, context)
    payload: dict[str, Any] = {
        "decision": decision.model_dump(),
        "trace": decision.trace().model_dump(),
        "explanation": decision.explain(),
        "commands": commands(name, (party, data, purpose), context, service_url),
    }
    if isinstance(logged, Mapping):
        payload["log"] = compare(decision, logged, hidden)
    return payload


def compare(decision: Decision, logged: Mapping[str, Any], masked: list[str]) -> dict[str, Any]:
    """Whether deciding a logged request again gives what the log holds."""
    reasons = logged.get("reasons")
    same = (
        decision.effect == logged.get("effect")
        and isinstance(reasons, list)
        and sorted(r.id for r in decision.reasons) == sorted(str(r) for r in reasons)
        and sorted(decision.obligations) == sorted(logged.get("obligations") or [])
    )
    return {
        "same_version": decision.policy_version == logged.get("policy_version"),
        "same_outcome": same,
        "masked": masked,
    }
