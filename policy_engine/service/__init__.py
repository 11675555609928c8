"""The decision service (``policy-engine serve``): needs the ``server`` extra
(``pip install 'policy-engine[server]'``). :mod:`.storage` alone needs no web framework."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .config import ServiceConfig, load_config

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ServiceConfig", "create_app", "load_config"]


def create_app(
    policy_path: str | os.PathLike[str],
    db_url: str | None = None,
    config: ServiceConfig | None = None,
) -> FastAPI:
    """See :func:`policy_engine.service.app.create_app`."""
    from .app import create_app as _create_app

    return _create_app(policy_path, db_url, config)
