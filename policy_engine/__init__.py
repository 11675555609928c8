"""policy-engine: privacy disclosure decisions from rule files that read like the policy.

>>> import policy_engine
>>> policy = policy_engine.load_policy("rules/planiso")          # doctest: +SKIP
>>> d = policy.decide("customer_service", "email", "respond_to_requests",
...                   {"consented_purposes": ["respond_to_requests"]})  # doctest: +SKIP
>>> d.allowed, d.reasons[0].citation                              # doctest: +SKIP
(True, '§5.1')
"""

from ._version import __version__
from .api import (
    Budget,
    CheckReport,
    Policy,
    check_policy,
    check_report,
    load_policy,
    load_policy_text,
)
from .engine.decision import Decision
from .engine.models import DecisionModel, ReasonModel, TraceModel
from .language.errors import (
    Diagnostic,
    PolicyError,
    PolicySyntaxError,
    PolicyValidationError,
    RequestError,
    UnknownTermError,
)

__all__ = [
    "Budget",
    "CheckReport",
    "Decision",
    "DecisionModel",
    "Diagnostic",
    "Policy",
    "PolicyError",
    "PolicySyntaxError",
    "PolicyValidationError",
    "ReasonModel",
    "RequestError",
    "TraceModel",
    "UnknownTermError",
    "__version__",
    "check_policy",
    "check_report",
    "load_policy",
    "load_policy_text",
]
