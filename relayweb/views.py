"""Pages for teams and access: team switching and Settings > API keys."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException, ValidationError

from relayweb.errors import flatten
from relayweb.models import ApiKey, Role, role_at_least
from relayweb.teams import SESSION_KEY


def team_required(role: str = Role.VIEWER):
    """Signed in, a member of the current team, with at least `role` there."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            membership = request.membership
            if membership is None:
                return render(request, "relayweb/no_team.html", status=403)
            if not role_at_least(membership.role, role):
                return HttpResponseForbidden(
                    f"This page needs the {role} role or above in {membership.team}."
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def team_object(model, request, pk):
    """One of the current team's objects, or a 404 (never another team's)."""
    return get_object_or_404(model, pk=pk, team=request.membership.team)


def flash_api_error(request, exc: APIException, prefix: str = "") -> None:
    """An API error (409, 422 …) shown on the page in words, validation errors as the API lists them."""
    if isinstance(exc, ValidationError):
        items = flatten(exc.detail, exc.get_codes(), [])[:5]
        text = "; ".join(f"{' › '.join(map(str, item['loc']))}: {item['msg']}" for item in items)
    else:
        text = str(exc.detail)
    messages.error(request, prefix + text)


@require_POST
@login_required
def switch_team(request):
    wanted = request.POST.get("team_id", "")
    if any(str(m.team_id) == wanted for m in request.memberships):
        request.session[SESSION_KEY] = wanted
    target = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = "/"
    return redirect(target)


@team_required(Role.ADMIN)
def api_keys(request):
    team = request.membership.team
    new_key = None
    if request.method == "POST":
        role = request.POST.get("role", Role.VIEWER)
        name = request.POST.get("name", "").strip()[:100]
        if role not in Role.values or not role_at_least(request.membership.role, role):
            messages.error(request, "You cannot create a key with a role above your own.")
        else:
            _, new_key = ApiKey.issue(team, role, name=name, user=request.user)
    keys = ApiKey.objects.filter(team=team).select_related("created_by")
    roles = [r for r in Role.values if role_at_least(request.membership.role, r)]
    return render(request, "relayweb/api_keys.html", {"keys": keys, "new_key": new_key, "roles": roles})


@require_POST
@team_required(Role.ADMIN)
def revoke_api_key(request, key_id):
    key = team_object(ApiKey, request, key_id)
    key.revoke()
    messages.success(request, f"Key {key.prefix}… revoked. Clients using it now get 401.")
    return redirect("api-keys")
