"""Reading settings from the environment strictly, and the development secret key.

A typo in a deployment's environment (`DEBUG=ture`, `RELAY_INGEST_WORKERS=two`) must stop the
process with a message naming the variable, never be read as a silent default.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
SECRET_KEY_FILE = "secret_key"


class ConfigError(ImproperlyConfigured):
    """A setting's value is unusable; manage.py prints the message alone and exits."""


def settings_or_exit() -> None:
    """Load Relay's settings now; on a bad environment, print why and exit (no traceback).

    manage.py, scripts/serve.py and gunicorn's master call it before starting anything.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relayweb.settings")
    from django.conf import settings

    try:
        settings.INSTALLED_APPS  # noqa: B018 (loads the settings, which read the environment)
    except ConfigError as error:
        sys.exit(f"Relay cannot start: {error}")


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ConfigError(
        f"{name}={os.environ[name]!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off"
    )


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is too small: the least allowed is {minimum}")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_url(name: str, schemes: tuple[str, ...], needs_host: bool = False) -> str:
    """A URL of one of `schemes` (empty when unset), refused with a reason when it is not one."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in schemes or (needs_host and not parts.netloc):
        expected = " or ".join(f"{scheme}://…" for scheme in schemes)
        raise ConfigError(f"{name}={raw!r} is not a usable URL: expected {expected}")
    return raw


def is_embedded() -> bool:
    """True for the single-machine stack `make run` starts, and for the test suite.

    scripts/serve.py and the Makefile set RELAY_EMBEDDED for what they start; pytest (8.2 and later)
    sets PYTEST_VERSION while it runs, and the workers a test starts inherit it.
    """
    return env_bool("RELAY_EMBEDDED", False) or bool(os.environ.get("PYTEST_VERSION"))


def secret_key(data_dir: Path, debug: bool) -> str:
    """SECRET_KEY from the environment; in development, one generated once and kept in `data_dir`.

    Outside development none is ever generated, so a production process without a key stops here.
    """
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    path = data_dir / SECRET_KEY_FILE
    # One generated earlier by `make run` is kept: `manage.py` commands beside it must share its key.
    if not (debug or is_embedded() or path.exists()):
        raise ConfigError(
            "SECRET_KEY is not set. Production (DEBUG=false, outside `make run`) needs its own key: "
            "set SECRET_KEY to a long random string, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    return stored_secret_key(path)


def stored_secret_key(path: Path) -> str:
    """Read the key at `path`, creating it first if it does not exist.

    The key is written to a private temporary file and hard-linked into place, so the file appears
    complete or not at all, and of two processes starting at once the first link wins and both read
    the same key.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process linked its key first; use that one
        finally:
            temporary.unlink(missing_ok=True)
    key = path.read_text().strip()
    if len(key) < 32:
        raise ConfigError(f"{path} holds no usable secret key; delete it to have a new one generated")
    return key
