"""The sign-in page, with failed attempts throttled per username and address.

Counts live in the "shared" cache, so every web process on the machine sees the same count. Once
the limit is reached the password is not even checked until the window has passed.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import caches


class FailedSignIns:
    def __init__(self, request):
        username = request.POST.get("username", "").strip().lower()
        address = request.META.get("REMOTE_ADDR", "")
        # Hashed: cache keys must be short and safe whatever the user typed.
        digest = hashlib.sha256(f"{username}\0{address}".encode()).hexdigest()
        self.key = f"login-failures:{digest}"
        self.cache = caches["shared"]

    def _read(self) -> tuple[int, float]:
        return self.cache.get(self.key, (0, time.time()))

    def seconds_to_wait(self) -> int:
        count, first_at = self._read()
        if count < settings.RELAY_LOGIN_ATTEMPTS:
            return 0
        return max(1, math.ceil(first_at + settings.RELAY_LOGIN_WINDOW_S - time.time()))

    def record(self) -> None:
        count, first_at = self._read()
        remaining = first_at + settings.RELAY_LOGIN_WINDOW_S - time.time()
        if remaining > 0:
            self.cache.set(self.key, (count + 1, first_at), timeout=math.ceil(remaining))

    def clear(self) -> None:
        self.cache.delete(self.key)


def wait_message(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-ins for this username. Wait {minutes} {unit} and try again."


class ThrottledLoginView(auth_views.LoginView):
    template_name = "relayweb/login.html"

    def post(self, request, *args, **kwargs):
        self.failures = FailedSignIns(request)
        wait = self.failures.seconds_to_wait()
        if wait:
            context = self.get_context_data(throttled=wait_message(wait))
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        self.failures.clear()
        return super().form_valid(form)

    def form_invalid(self, form):
        self.failures.record()
        return super().form_invalid(form)
