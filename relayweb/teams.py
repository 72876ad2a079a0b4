"""The browser's current team: chosen in the header, remembered in the session."""

from __future__ import annotations

from relayweb.models import Membership

SESSION_KEY = "relay_team_id"


def memberships_of(user) -> list[Membership]:
    return list(Membership.objects.filter(user=user).select_related("team").order_by("team__name"))


def current_membership(request, memberships: list[Membership]) -> Membership | None:
    if not memberships:
        return None
    wanted = request.session.get(SESSION_KEY)
    for membership in memberships:
        if str(membership.team_id) == wanted:
            return membership
    return memberships[0]


class CurrentTeamMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        request.memberships = memberships_of(user) if signed_in else []
        request.membership = current_membership(request, request.memberships)
        return self.get_response(request)


def team_context(request) -> dict:
    return {
        "membership": getattr(request, "membership", None),
        "memberships": getattr(request, "memberships", []),
    }
