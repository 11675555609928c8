"""Who may call what: two roles, each with a bearer token of its own, both optional.

- **admin** (``admin_token``, or ``POLICY_ENGINE_ADMIN_TOKEN``): reloads and consent writes; it
  reads too.
- **read** (``read_token``, or ``POLICY_ENGINE_READ_TOKEN``): reads of personal data, the decision
  log and the consent records, which need a token unless the config says ``protect_reads =
  false``; and the details of ``/readyz`` and ``GET /v1/policy`` (storage URL, server path).

The environment variable, when set, takes precedence over the config key. A role without a token
is closed: 403, saying how to open it. Tokens are compared in constant time, and every token a
role accepts is compared, whichever matches. An empty token (or one of spaces) would let
``Authorization: Bearer`` with nothing after it in: it is refused at start (:class:`ConfigError`),
as is one with spaces around it, which no header can carry.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from .config import ADMIN_TOKEN_ENV, READ_TOKEN_ENV, ConfigError, ServiceConfig
from .errors import ServiceError

#: The OpenAPI security requirements of each kind of operation (schemes: see .openapi).
ADMIN_SECURITY: list[dict[str, list[str]]] = [{"adminToken": []}]
READ_SECURITY: list[dict[str, list[str]]] = [{"readToken": []}, {"adminToken": []}]
OPTIONAL_SECURITY: list[dict[str, list[str]]] = [{}, *READ_SECURITY]


@dataclass(frozen=True)
class Access:
    """The tokens of both roles (UTF-8 bytes; None: not configured) and ``protect_reads``."""

    admin: bytes | None
    read: bytes | None
    protect_reads: bool

    @classmethod
    def of(cls, config: ServiceConfig, environ: Mapping[str, str] | None = None) -> Access:
        """The tokens ``config`` and the environment give; :class:`ConfigError` for a blank one."""
        env = os.environ if environ is None else environ
        return cls(
            _token("admin", config.admin_token, "admin_token", ADMIN_TOKEN_ENV, env),
            _token("read", config.read_token, "read_token", READ_TOKEN_ENV, env),
            config.protect_reads,
        )

    def warnings(self) -> list[str]:
        """What start-up should warn about: a closed admin role, closed or open reads."""
        found = []
        if self.admin is None:
            found.append(
                f"no admin token is set ({ADMIN_TOKEN_ENV} or `admin_token` in the config): "
                "reloads over HTTP and consent writes are closed"
            )
        if not self.protect_reads:
            found.append(
                "`protect_reads = false`: anyone who reaches the service reads the decision log "
                "and the consent records (personal information)"
            )
        elif self.admin is None and self.read is None:
            found.append(
                f"no read token is set ({READ_TOKEN_ENV} or `read_token` in the config): reads "
                "of the decision log and the consent records are closed"
            )
        return found

    def require_admin(self, request: Request) -> None:
        """Refuse ``request`` (401 without a token, else 403) unless it carries the admin token."""
        if self.admin is None:
            raise ServiceError(
                403,
                "forbidden",
                "no admin token is configured, so admin endpoints are closed",
                f"set {ADMIN_TOKEN_ENV} (or `admin_token` in the config file) and restart",
            )
        given = _bearer(request, "the admin bearer token")
        if not _matches(given, [self.admin]):
            raise ServiceError(403, "forbidden", "the admin bearer token is not valid")

    def require_reader(self, request: Request) -> None:
        """Refuse ``request`` unless it carries the read or the admin token (when reads are
        protected)."""
        if not self.protect_reads:
            return
        if self.admin is None and self.read is None:
            raise ServiceError(
                403,
                "forbidden",
                "no read or admin token is configured, so reads of personal data are closed",
                f"set {READ_TOKEN_ENV} (or `read_token` in the config file) and restart; "
                "`protect_reads = false` in the config opens them to anyone",
            )
        given = _bearer(request, "a read (or admin) bearer token")
        if not _matches(given, [self.read, self.admin]):
            raise ServiceError(403, "forbidden", "the read bearer token is not valid")

    def may_read(self, request: Request) -> bool:
        """Whether ``request`` carries the read or the admin token (never an error)."""
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return _matches(_raw(given), [self.read, self.admin])


def _token(role: str, configured: str | None, key: str, variable: str, env: Any) -> bytes | None:
    from_env: str | None = env.get(variable)
    value, where = (
        (from_env, f"{variable} in the environment")
        if from_env is not None
        else (configured, f"`{key}` in the config")
    )
    if value is None:
        return None
    if not value.strip():
        raise ConfigError(
            f"the {role} token ({where}) is empty: it would let `Authorization: Bearer` with "
            "nothing after it in; set a long random token (e.g. `python -c 'import secrets; "
            f"print(secrets.token_urlsafe(32))'`), or unset it to close the {role} role"
        )
    if value != value.strip():
        raise ConfigError(
            f"the {role} token ({where}) starts or ends with white space, which no "
            "`Authorization` header can carry; remove it"
        )
    return value.encode("utf-8", "surrogateescape")


def _raw(given: str) -> bytes:
    """A header value as its bytes (Starlette decodes headers as Latin-1), spaces stripped."""
    return given.strip().encode("latin-1", "replace")


def _bearer(request: Request, what: str) -> bytes:
    """The bearer token ``request`` carries; 401 without an ``Authorization`` header, 403 for
    another scheme."""
    header = request.headers.get("authorization", "")
    if not header:
        raise ServiceError(
            401,
            "unauthorized",
            f"this endpoint needs {what}",
            "send `Authorization: Bearer <token>`",
            {"WWW-Authenticate": "Bearer"},
        )
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        raise ServiceError(
            403, "forbidden", f"this endpoint needs {what}", "send `Authorization: Bearer <token>`"
        )
    return _raw(given)


def _matches(given: bytes, tokens: list[bytes | None]) -> bool:
    """Whether ``given`` is one of ``tokens``: compared with each in constant time (all of them,
    so the time says nothing about which role's token came close)."""
    results = [hmac.compare_digest(given, token) for token in tokens if token is not None]
    return bool(given) and any(results)
