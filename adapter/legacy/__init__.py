"""The legacy billing gateway: the only package that imports zeep."""

from adapter.legacy.errors import BillingError, BusinessFault, CircuitOpen, TransientFailure
from adapter.legacy.gateway import FailedCall, Gateway, build_gateway

__all__ = [
    "BillingError",
    "BusinessFault",
    "CircuitOpen",
    "FailedCall",
    "Gateway",
    "TransientFailure",
    "build_gateway",
]
