"""Relay's Python client: `Relay(base_url, api_key)`, configured from RELAY_BASE_URL and RELAY_API_KEY
as Relay's docs do. See README.md for a tour."""

__version__ = "0.1.0"

from relay_client.client import Relay  # noqa: E402
from relay_client.errors import (  # noqa: E402
    AuthenticationFailed,
    Conflict,
    ConnectionFailed,
    NotFound,
    PermissionDenied,
    RateLimited,
    RelayError,
    ServerError,
    Timeout,
    TooLarge,
    ValidationFailed,
)

__all__ = [
    "AuthenticationFailed",
    "Conflict",
    "ConnectionFailed",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "Relay",
    "RelayError",
    "ServerError",
    "Timeout",
    "TooLarge",
    "ValidationFailed",
    "__version__",
]
