"""The service's settings: defaults, a TOML file (``--config``), the environment."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ADMIN_TOKEN_ENV = "POLICY_ENGINE_ADMIN_TOKEN"
READ_TOKEN_ENV = "POLICY_ENGINE_READ_TOKEN"
MAX_BATCH = 10_000
MAX_BODY_BYTES = 8 * 1024 * 1024


class ConfigError(Exception):
    """The configuration file is unreadable or says something invalid."""


class ServiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = Field(default=MAX_BODY_BYTES, gt=0)
    """Larger request bodies get 413."""
    max_batch: int = Field(default=MAX_BATCH, gt=0)
    """More requests than this in one batch get 413."""
    log_decisions: bool = True
    """Append every decision to the decision log."""
    mask_context_keys: list[str] = []
    """Context keys whose values are replaced by ``"***"`` before a decision is logged."""
    admin_token: str | None = None
    """Bearer token for admin endpoints (reload, consent writes), which also reads; the
    environment variable, when set, takes precedence. None: admin endpoints are closed."""
    read_token: str | None = None
    """Bearer token for reading personal data (the decision log, consent records); the
    environment variable, when set, takes precedence. See :mod:`.auth`."""
    protect_reads: bool = True
    """Reading the decision log and the consent records (``GET /v1/decisions``,
    ``GET /v1/subjects/{subject}/consents``) needs the read or the admin bearer token: both hold
    personal information (subjects, request contexts, consent history). False opens them."""
    max_log_page: int = Field(default=1000, gt=0)
    watch_interval: float = Field(default=0, ge=0)
    """Seconds between checks of the rule files' mtimes; reload when they change. 0: off."""
    log_key_file: str | None = None
    """A file holding the log key (at least 16 bytes; a trailing line break is not part of it),
    never stored in the database: each logged entry then carries an HMAC-SHA256 of its chain
    hash, and anchors are signed (:mod:`.log_mac`). ``POLICY_ENGINE_LOG_KEY`` (the key itself)
    or ``POLICY_ENGINE_LOG_KEY_FILE`` in the environment take precedence. None: no MACs."""
    anchor_path: str | None = None
    """Where to keep anchors of the decision log's head, outside the database (``serve
    --anchor-path``): a folder (a new file per anchor) or a file (one JSON line appended per
    anchor, fsync'd); never the database file itself. ``log verify --anchor PATH`` then fails
    when the log no longer reaches an anchored head. None: no anchors."""
    anchor_interval: float = Field(default=60, ge=0)
    """Seconds between anchors while serving (``serve --anchor-interval``), besides the one
    written at shutdown; 0: only at shutdown. Entries logged since the last anchor are not
    covered by one."""
    time_zone: str = "UTC"
    """The IANA time zone (``America/Toronto``) of the date the service's clock gives a `date`
    key the policy marks ``is now``, when a request leaves it out (an `instant` key gets the
    instant itself, in UTC)."""
    allow_readable_database: bool = False
    """Open a SQLite database file (or its -wal, -shm) that users other than its owner may read
    or write. By default the service refuses to start on one (it holds personal information);
    files it creates are 0600 either way."""

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"`{value}` is not a time zone this machine knows (an IANA name such as "
                "`America/Toronto` or `UTC`)"
            ) from None
        return value


def load_config(path: str | os.PathLike[str] | None) -> ServiceConfig:
    """Settings from a TOML file (top-level keys or a ``[service]`` table), or the defaults."""
    if path is None:
        return ServiceConfig()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file `{path}`: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file `{path}` is not valid TOML: {exc}") from None
    section = data.get("service", data)
    if isinstance(section, dict) and "consent_context_key" in section:
        raise ConfigError(
            f"config file `{path}`: `consent_context_key` is no longer a setting: the policy "
            "marks the context key the consent ledger supplies, e.g. `context consented_purposes: "
            "set of purpose from consent ledger`; remove the setting and mark the key instead"
        )
    try:
        return ServiceConfig.model_validate(section)
    except ValidationError as exc:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in e['loc'])}`: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"config file `{path}`: {problems}") from None
