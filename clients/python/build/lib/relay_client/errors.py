"""Errors the API answered, as exceptions carrying the contract's `detail`."""

from __future__ import annotations

from typing import Any


class RelayError(Exception):
    """The API refused a request. `detail` is the contract's: a message, or for a 422 a list of
    `{"loc": [...], "msg": ..., "type": ...}`. `status` is the HTTP status (0: no answer at all)."""

    def __init__(self, status: int, detail: Any, method: str = "", url: str = "") -> None:
        self.status, self.detail, self.method, self.url = status, detail, method, url
        super().__init__(f"{status} {method} {url}: {describe(detail)}".strip())


class ConnectionFailed(RelayError):
    """No answer after every retry: the server is down, unreachable or dropped the connection."""


class AuthenticationFailed(RelayError):
    """401: the key is missing, wrong or revoked."""


class PermissionDenied(RelayError):
    """403: the key is valid but its role may not do this."""


class NotFound(RelayError):
    """404: no such object in the key's team."""


class Conflict(RelayError):
    """409: the object's state forbids it (a published set, a draft set to train on, ...)."""


class TooLarge(RelayError):
    """413: the upload is over the server's size limit."""


class ValidationFailed(RelayError):
    """400 or 422: the request itself is wrong; `detail` names each field."""


class RateLimited(RelayError):
    """429 after every retry."""


class ServerError(RelayError):
    """5xx after every retry."""


class Timeout(RelayError):
    """A wait helper gave up before the job finished."""


BY_STATUS: dict[int, type[RelayError]] = {
    400: ValidationFailed,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: ValidationFailed,
    429: RateLimited,
}


def error_for(status: int, detail: Any, method: str, url: str) -> RelayError:
    kind = BY_STATUS.get(status) or (ServerError if status >= 500 else RelayError)
    return kind(status, detail, method, url)


def describe(detail: Any) -> str:
    """A 422's list of field errors as one line: `body.name: field required; ...`."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(x) for x in item.get("loc", []))
                parts.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", "")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return "" if detail is None else str(detail)
