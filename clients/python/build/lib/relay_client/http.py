"""The one place requests are sent: the key, retries with back-off, errors as exceptions, pages.

What is retried, and why only that: a request that cannot have been processed is always safe to
send again (429 rate limited, honouring Retry-After; 502/503/504 from a proxy or a restarting
server; a connection refused). A request that may have been processed (a 500, or a connection
dropped after it was sent) is sent again only when repeating it changes nothing: GET, PUT, PATCH,
DELETE, and POSTs the caller marks `idempotent` (an upload to a signed URL, a confirm, a cancel).
Repeating `POST /datasets` after a dropped connection could create the dataset twice.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from relay_client import __version__
from relay_client.errors import ConnectionFailed, RelayError, error_for

IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"}
NOT_PROCESSED = {429, 502, 503, 504}
PAGE_SIZE = 500  # the contract's maximum: fewest round trips

Sleep = Callable[[float], None]


class Transport:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        session: requests.Session | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        if not base_url:
            raise ValueError(
                "No Relay server: pass base_url or set RELAY_BASE_URL (e.g. http://127.0.0.1:8000)"
            )
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout, self.retries, self.backoff, self.max_backoff = timeout, retries, backoff, max_backoff
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"relay-client/{__version__}"
        self.sleep = sleep

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/api/v1/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        authenticated: bool = True,
        raw: bool = False,
    ) -> Any:
        """The decoded JSON answer (None for 204), or the Response itself with `raw`."""
        method, url = method.upper(), self.url(path)
        repeatable = method in IDEMPOTENT if idempotent is None else idempotent
        sent_headers = dict(headers or {})
        if authenticated and self.api_key:
            sent_headers["X-API-Key"] = self.api_key
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.session.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    data=data,
                    headers=sent_headers,
                    timeout=self.timeout,
                )
            except requests.ConnectionError as exc:
                never_sent = isinstance(exc, requests.ConnectTimeout) or "refused" in str(exc).lower()
                if last or not (never_sent or repeatable):
                    raise ConnectionFailed(0, f"no answer: {exc}", method, url) from exc
                self.sleep(self.delay(attempt))
                continue
            except requests.Timeout as exc:  # read timeout: it may have been processed
                if last or not repeatable:
                    raise ConnectionFailed(0, f"no answer within {self.timeout} s", method, url) from exc
                self.sleep(self.delay(attempt))
                continue
            status = response.status_code
            retry = status in NOT_PROCESSED or (status >= 500 and repeatable)
            if retry and not last:
                self.sleep(self.delay(attempt, response.headers.get("Retry-After")))
                continue
            if status >= 400:
                raise error_for(status, detail_of(response), method, url)
            if raw:
                return response
            if status == 204 or not response.content:
                return None
            return response.json() if "json" in response.headers.get("Content-Type", "") else response.text
        raise RelayError(0, "unreachable", method, url)  # the loop always returns or raises

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Retry-After when the server gives one; otherwise exponential back-off with jitter."""
        if retry_after:
            wait = parse_retry_after(retry_after)
            if wait is not None:
                return min(wait, self.max_backoff * 4)
        return min(self.max_backoff, self.backoff * 2**attempt) * random.uniform(0.8, 1.2)

    def pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, page after page."""
        page = 1
        while True:
            body = self.request("GET", path, params={**(params or {}), "page": page, "page_size": PAGE_SIZE})
            items = body["items"]
            yield from items
            if not items or page * PAGE_SIZE >= body["total"]:
                return
            page += 1


def parse_retry_after(value: str) -> float | None:
    """Seconds, or an HTTP date (RFC 9110 allows both)."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def detail_of(response: requests.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason
    return body.get("detail", body) if isinstance(body, dict) else body
