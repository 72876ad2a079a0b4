"""Dashboard pages for clip classifications: a list with batch upload and live status, and a page
per file (its verdict, the clips coloured by score, every heuristic, the override and its history)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from rest_framework.exceptions import APIException

from inference import classifications
from inference.models import Classification
from relayml.verdict_heuristics import HEURISTICS
from relayweb.models import Role, role_at_least
from relayweb.views import flash_api_error, team_required
from training.builtin import team_verdict_models


@team_required()
def classification_list(request):
    rows = Classification.objects.filter(team=request.membership.team).select_related("team")[:200]
    context = {
        "rows": [(c, classifications.api_status(c), verdict_of(c)) for c in rows],
        "can_upload": role_at_least(request.membership.role, Role.ANNOTATOR),
        # The team's own human / artificial classifiers, offered beside the built-in verdict model.
        "verdict_models": team_verdict_models(request.membership.team),
    }
    return render(request, "inference/classification_list.html", context)


def verdict_of(c: Classification) -> dict | None:
    return (c.result.get("verdicts") or {}).get(c.team.verdict_heuristic)


@team_required()
def classification_detail(request, identifier):
    c = get_object_or_404(
        Classification.objects.select_related("team"), pk=identifier, team=request.membership.team
    )
    if request.method == "POST" and role_at_least(request.membership.role, Role.ANNOTATOR):
        chosen = request.POST.get("force_classification") or None
        try:
            classifications.override(c, chosen, request.POST.get("reason", ""), request.user.get_username())
            messages.success(request, "Override saved." if chosen else "Override lifted.")
        except APIException as exc:
            flash_api_error(request, exc, "Not saved: ")
        return redirect("inference:classification", identifier=c.pk)
    verdicts = c.result.get("verdicts") or {}
    duration = max((k["end"] for k in c.result.get("clips", [])), default=0) or 1
    clips = [
        {**k, "left": 100 * k["start"] / duration, "width": 100 * (k["end"] - k["start"]) / duration,
         "hue": round(120 * (1 - k["score"]))}
        for k in c.result.get("clips", [])
    ]  # fmt: skip
    context = {
        "c": c,
        "status": classifications.api_status(c),
        "verdict": verdict_of(c),
        "verdicts": [verdicts[h] for h in HEURISTICS if h in verdicts],
        "clips": clips,
        "can_override": role_at_least(request.membership.role, Role.ANNOTATOR),
    }
    return render(request, "inference/classification_detail.html", context)
