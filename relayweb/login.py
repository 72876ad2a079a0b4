"""Failed sign-ins throttled per username and address, for every sign-in form.

The authentication backend enforces it (the dashboard's and the admin's sign-in pages both go
through it): once a username has failed RELAY_LOGIN_ATTEMPTS times from one address within
RELAY_LOGIN_WINDOW_S, its password is not even checked until the window has passed. The dashboard's
page also says how long to wait. Counts live in the "shared" cache, seen by every web process.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend
from django.core.cache import caches
from django.core.exceptions import PermissionDenied


class FailedSignIns:
    def __init__(self, request, username: str | None):
        address = request.META.get("REMOTE_ADDR", "")
        # Hashed: cache keys must be short and safe whatever the user typed.
        digest = hashlib.sha256(f"{(username or '').strip().lower()}\0{address}".encode()).hexdigest()
        self.key = f"login-failures:{digest}"
        self.cache = caches["shared"]

    def _read(self) -> tuple[int, float]:
        return self.cache.get(self.key, (0, time.time()))

    def seconds_to_wait(self) -> int:
        count, first_at = self._read()
        left = first_at + settings.RELAY_LOGIN_WINDOW_S - time.time()
        # The window decides, not the cache entry: that may outlive it by up to a second (its
        # timeout is rounded up), and a sign-in then must not be refused with "wait 1 s".
        if count < settings.RELAY_LOGIN_ATTEMPTS or left <= 0:
            return 0
        return max(1, math.ceil(left))

    def record(self) -> None:
        count, first_at = self._read()
        remaining = first_at + settings.RELAY_LOGIN_WINDOW_S - time.time()
        if remaining > 0:
            self.cache.set(self.key, (count + 1, first_at), timeout=math.ceil(remaining))

    def clear(self) -> None:
        self.cache.delete(self.key)


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:  # not a sign-in form (e.g. a management command): nothing to throttle
            return super().authenticate(request, username, password, **kwargs)
        failures = FailedSignIns(request, username)
        if failures.seconds_to_wait():
            raise PermissionDenied  # ends authentication here: no backend checks the password
        user = super().authenticate(request, username, password, **kwargs)
        if user is None:
            failures.record()
        else:
            failures.clear()
        return user


def wait_message(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-ins for this username. Wait {minutes} {unit} and try again."


class ThrottledLoginView(auth_views.LoginView):
    template_name = "relayweb/login.html"

    def post(self, request, *args, **kwargs):
        wait = FailedSignIns(request, request.POST.get("username")).seconds_to_wait()
        if wait:
            context = self.get_context_data(throttled=wait_message(wait))
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)
