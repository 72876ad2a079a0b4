"""Waiting for jobs and files: poll with back-off until a terminal status, or give up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from relay_client.errors import Timeout

Fetch = Callable[[], dict[str, Any]]


def wait_until(
    fetch: Fetch,
    done: Callable[[dict[str, Any]], bool],
    *,
    timeout: float | None = 3600.0,
    first: float = 0.5,
    most: float = 10.0,
    on_poll: Callable[[dict[str, Any]], None] | None = None,
    what: str = "job",
) -> dict[str, Any]:
    """Poll `fetch` (0.5 s, then ×1.5 up to `most`) until `done(obj)`; the last answer."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = first
    while True:
        obj = fetch()
        if on_poll is not None:
            on_poll(obj)
        if done(obj):
            return obj
        if deadline is not None and time.monotonic() + pause > deadline:
            raise Timeout(0, f"{what} still {obj.get('status')!r} after {timeout:.0f} s")
        time.sleep(pause)
        pause = min(most, pause * 1.5)
