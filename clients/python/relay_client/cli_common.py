"""What every `relay` command shares: the connection, errors as exit status 2, output helpers."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from relay_client import Relay, RelayError


class Settings:
    """Where the server is; the connection is made only when a command needs it (so `--help`
    works anywhere)."""

    def __init__(self, base_url: str | None, api_key: str | None) -> None:
        self.base_url, self.api_key = base_url, api_key

    def connect(self) -> Relay:
        if not self.base_url:
            raise click.UsageError("no server: pass --base-url or set RELAY_BASE_URL")
        return Relay(self.base_url, self.api_key)


def with_relay(command: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the connection as the first argument; the server's refusal (or a bad local file) is one
    line on stderr and exit status 2, not a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        settings = click.get_current_context().find_object(Settings)
        if settings is None:  # a command run outside `main` (as a test might): only the environment
            settings = Settings(os.environ.get("RELAY_BASE_URL"), os.environ.get("RELAY_API_KEY"))
        relay = settings.connect()
        try:
            return command(relay, *args, **kwargs)
        except (RelayError, ValueError, FileNotFoundError) as exc:
            click.echo(f"relay: {exc}", err=True)
            sys.exit(2)

    return run


def show(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def bar(label: str, total: int) -> Any:
    return click.progressbar(length=max(total, 1), label=label, file=sys.stderr, show_pos=True)


class Mover:
    """Moves a click progress bar to a position (its own API only steps forward by deltas); also an
    upload's `progress(sent, total)`. `base` is added to every position: one bar across files."""

    def __init__(self, progress: Any) -> None:
        self.progress, self.at, self.base = progress, 0, 0

    def __call__(self, position: int, _total: int = 0) -> None:
        self.progress.update(self.base + position - self.at)
        self.at = self.base + position


def model_id(relay: Relay, model: str) -> str:
    """A model's id from its id, its name, or its name as a slug (`relay-base-detector-v3` for
    "Relay base detector v3"); a name two models share must be given as an id."""
    wanted = slug(model)
    found = [m for m in relay.models.list() if model == m["id"] or wanted == slug(m["name"])]
    if len(found) != 1:
        raise ValueError(f"{len(found)} models are called {model!r}: give its id (`relay models list`)")
    return found[0]["id"]


def slug(name: str) -> str:
    return "-".join(name.lower().split())
