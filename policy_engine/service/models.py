"""The service's request and response bodies. Decisions reuse the library's models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..engine.models import DecisionModel, ReasonModel, TraceModel

Name = Field(min_length=1, max_length=200)


class DecisionRequest(BaseModel):
    """One request: may ``party`` use ``data`` for ``purpose`` given ``context``? ``subject``
    names the client organization the data is about, for the consent ledger and the log."""

    model_config = ConfigDict(extra="forbid")

    party: str
    data: str
    purpose: str
    context: dict[str, Any] | None = None
    subject: str | None = Field(default=None, min_length=1, max_length=200)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests: list[DecisionRequest]


class DecisionResponse(DecisionModel):
    """The library's decision, plus its id in the decision log and where context came from."""

    decision_id: str
    subject: str | None = None
    context_sources: dict[str, str] = Field(default_factory=dict)
    """Context key → ``request`` or ``consent-ledger``, for the keys the ledger can supply."""


class BatchResponse(BaseModel):
    decisions: list[DecisionResponse]


class ExplainResponse(BaseModel):
    decision: DecisionResponse
    trace: TraceModel
    explanation: str


class DiagnosticModel(BaseModel):
    code: str
    message: str
    help: str | None = None
    severity: str = "error"
    file: str | None = None
    """Where in the rule files, for problems found there (a refused reload)."""
    line: int | None = None
    column: int | None = None


class ErrorResponse(BaseModel):
    error: str
    diagnostics: list[DiagnosticModel] = Field(default_factory=list)
    policy_version: str | None = None
    """A refused reload: the version that keeps serving."""


class ReloadResponse(BaseModel):
    version: str
    """The version now served."""
    previous_version: str
    changed: bool
    """False when the rule files still hold the same policy (it was reloaded all the same)."""
    loaded_at: str
    warnings: list[DiagnosticModel]


class ConsentEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal["grant", "withdraw"]
    purposes: list[str] = Field(min_length=1, max_length=1000)
    recorded_by: str = Name
    source: str = Name
    timestamp: datetime | None = None
    """When the client organization gave or withdrew it; now when left out."""
    expires_at: datetime | None = None
    """Grants only: when the consent lapses."""


class ConsentEvent(BaseModel):
    seq: int
    subject: str
    event: Literal["grant", "withdraw"]
    purposes: list[str]
    recorded_by: str
    source: str
    timestamp: str
    expires_at: str | None
    recorded_at: str


class ConsentGrant(BaseModel):
    purpose: str
    granted_at: str
    expires_at: str | None
    recorded_by: str
    source: str
    seq: int


class ConsentState(BaseModel):
    subject: str
    consented_purposes: list[str]
    active: list[ConsentGrant]
    history: list[ConsentEvent]


class ConsentRecorded(BaseModel):
    """A consent event just recorded, and the subject's state after it."""

    event: ConsentEvent
    state: ConsentState


class TermModel(BaseModel):
    name: str
    parents: list[str]


class ContextKeyModel(BaseModel):
    name: str
    type: str = Field(
        description="The type as the policy declares it: `boolean`, `integer`, `decimal`, "
        '`string`, `one of "a", "b"`, `list of …`, `set of party` (a list of terms), `party`, '
        "`data` or `purpose` (one term, by its name), `date`, `instant`"
    )
    terms: Literal["party", "data", "purpose"] | None = Field(
        default=None,
        description="For a key whose values are terms of the vocabulary: their kind (one term's "
        "name for a key of type `party`, a list of names for `set of party`)",
    )
    default: Any = None
    source: Literal["request", "consent-ledger", "service-clock"] = "request"
    """``consent-ledger``: the policy marks the key ``from consent ledger``, so the service fills
    it from the ledger when a request names a ``subject`` and leaves the key out.
    ``service-clock``: the policy marks the key ``is now``, so the service fills it from its
    clock when a request leaves it out. ``request``: only the request gives it."""


class PolicyInfo(BaseModel):
    version: str
    loaded_at: str
    path: str | None
    """Where the server reads the rule files; null without the read or the admin token."""
    vocabulary: dict[str, list[TermModel]]
    """Kind (party, data, purpose, obligation) → its terms with their parents."""
    context: list[ContextKeyModel]
    consent_context_key: str | None
    """The context key the policy marks ``from consent ledger``; None: the ledger fills nothing."""
    rules: list[ReasonModel]


class LoggedDecision(BaseModel):
    model_config = ConfigDict(extra="allow")

    seq: int
    id: str
    time: str
    hash: str


class DecisionLogPage(BaseModel):
    decisions: list[LoggedDecision]
    next: int | None
    """The cursor of the following page: send it as ``after``. The ``seq`` of the last entry of
    this page (the ``after`` sent when the page is empty); null when there is none."""
    more: bool
    """Whether more entries matched than this page holds (right now: the log grows)."""


class ReadyResponse(BaseModel):
    status: Literal["ready"]
    policy_version: str
    storage: str | None = None
    """The database URL (password left out); only with the read or the admin token."""
