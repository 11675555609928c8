"""The HTTP service: a thin shell over :func:`policy_engine.load_policy` and ``Policy.decide``,
with the consent ledger and the decision log kept in :mod:`.storage`. :func:`create_app` puts it
together: the state (:mod:`.policy_service`), its lifetime (:mod:`.lifespan`), the middleware
(:mod:`.middleware`), the error handlers (:mod:`.handlers`) and the routes (``routes_*``)."""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI

from .. import __version__
from ..workbench import Options, ServedPolicy, create_workbench
from . import (
    routes_consents,
    routes_decisions,
    routes_disclosures,
    routes_log,
    routes_operations,
)
from .access_log import default_access_logging
from .auth import Access
from .config import ServiceConfig
from .handlers import add_error_handlers
from .lifespan import lifespan_of
from .metrics import ServiceMetrics
from .middleware import add_middleware
from .models import BatchRequest, DecisionRequest
from .openapi import finish_openapi
from .policy_service import PolicyService
from .records import open_records

logger = logging.getLogger("policy_engine.service")


def create_app(
    policy_path: str | os.PathLike[str],
    db_url: str | None = None,
    config: ServiceConfig | None = None,
) -> FastAPI:
    """The service for the policy at ``policy_path``, storing its ledger and log at ``db_url``
    (SQLite file ``policy-engine.db`` in the working directory by default). Loads the policy and
    opens the database now, so that a broken policy or database fails before serving."""
    config = config or ServiceConfig()
    access = Access.of(config)  # a blank token is a ConfigError before anything is opened
    _default_logging()
    for warning in access.warnings():
        logger.warning(warning)
    default_access_logging()
    metrics = ServiceMetrics()
    storage, anchors = open_records(db_url, config)
    try:
        service = PolicyService(os.fspath(policy_path), storage, config, metrics)
    except BaseException:
        storage.close()
        raise
    app = FastAPI(
        title="policy-engine",
        version=__version__,
        description="Privacy disclosure decisions over HTTP, with a consent ledger and a "
        "tamper-evident decision log.",
        lifespan=lifespan_of(service, anchors),
    )
    app.state.service = service
    finish_openapi(app, [DecisionRequest, BatchRequest])
    add_middleware(app, service.log_writer, config.max_body_bytes)
    add_error_handlers(app)
    # In this order: the OpenAPI document lists the paths in the order they were added.
    routes_operations.register_health(app, service, access)
    routes_decisions.register(app, service)
    routes_log.register(app, service, access)
    routes_operations.register_policy(app, service, access)
    routes_operations.register_metrics(app, service)
    routes_consents.register(app, service, access)
    routes_disclosures.register(app, service, access)
    # The workbench's pages at /ui/ (its log and ledger pages read /v1 with the read token).
    served = ServedPolicy(service.path, lambda: service.current.policy)
    masked = tuple(config.mask_context_keys)
    app.mount("/ui", create_workbench(served, Options(service_pages=True, masked_keys=masked)))
    return app


def _default_logging() -> None:
    """Reload outcomes go to stderr unless the application set up logging itself."""
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
