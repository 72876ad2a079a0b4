"""API authentication (X-API-Key or the browser session) and role checks.

Every authenticated request carries a `Caller` in `request.auth`: the team all queries are scoped
to and the role that decides what may be written.
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.throttling import SimpleRateThrottle

from relayweb.models import ApiKey, Role, Team, role_at_least


@dataclass(frozen=True)
class Caller:
    team: Team
    role: str
    user: object | None = None
    api_key: ApiKey | None = None


class ApiKeyAuthentication(BaseAuthentication):
    header = "HTTP_X_API_KEY"

    def authenticate(self, request):
        raw = request.META.get(self.header, "").strip()
        if not raw:
            return None
        key = ApiKey.find(raw)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key")
        key.touch()
        return (
            key.created_by,
            Caller(team=key.team, role=key.role, user=key.created_by, api_key=key),
        )

    def authenticate_header(self, request) -> str:
        # Having a header makes DRF answer 401 (not 403) when credentials are missing.
        return "X-API-Key"


class TeamSessionAuthentication(SessionAuthentication):
    """The dashboard's session, scoped to the team chosen in the page header."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        membership = getattr(request._request, "membership", None)
        if membership is None:
            raise exceptions.PermissionDenied("You are not a member of any team")
        return (user, Caller(team=membership.team, role=membership.role, user=user))


def caller_of(request) -> Caller:
    caller = getattr(request, "auth", None)
    if not isinstance(caller, Caller):
        raise exceptions.NotAuthenticated("Missing API key: send it in the X-API-Key header")
    return caller


class TeamRolePermission(permissions.BasePermission):
    """Reads need viewer, writes annotator, unless the view names another role.

    Views may set `required_roles = {"action_or_method": Role.ADMIN}`; keys are DRF action names
    (for viewsets) or lower-case HTTP methods.
    """

    def has_permission(self, request, view) -> bool:
        caller = caller_of(request)
        required = required_role(request, view)
        if not role_at_least(caller.role, required):
            raise exceptions.PermissionDenied(
                f"Your role ({caller.role}) cannot do this; it needs {required} or above"
            )
        return True


def required_role(request, view) -> str:
    overrides = getattr(view, "required_roles", {})
    action = getattr(view, "action", None)
    for key in (action, request.method.lower()):
        if key and key in overrides:
            return overrides[key]
    return Role.VIEWER if request.method in permissions.SAFE_METHODS else Role.ANNOTATOR


class Public(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return True


class TeamRateThrottle(SimpleRateThrottle):
    """N requests per period per team, as a token bucket (GCRA): one number per team in the cache.

    DRF's own throttle keeps every request's time in the period and pickles that list into the
    cache on each request (6000 floats at the default rate); this allows the same N per period
    (a burst of N from idle, then one every period / N) at a constant cost, and says in
    Retry-After when the next request fits.
    """

    scope = "team"
    wait_s = 0.0

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now, interval = self.timer(), self.duration / self.num_requests
        # The theoretical arrival time: when the bucket is empty again if nothing else comes.
        due = max(self.cache.get(self.key, now), now)
        if due + interval - now > self.duration:
            self.wait_s = due + interval - now - self.duration
            return False
        self.cache.set(self.key, due + interval, self.duration)
        return True

    def wait(self) -> float:
        return self.wait_s

    def get_cache_key(self, request, view):
        caller = getattr(request, "auth", None)
        if not isinstance(caller, Caller):
            return None
        return f"throttle_team_{caller.team.pk}"
