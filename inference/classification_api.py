"""API for clip classifications in seed 004's shape (`../shared/api-contract.md`, Clip
classifications): upload, batch retrieval by up to 100 identifiers, one by identifier, override."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from datasets.api import validated
from datasets.uploads import uploaded_files
from inference import classifications
from inference.models import Classification
from relayml.verdict_heuristics import HEURISTICS
from relayweb.auth import caller_of
from relayweb.errors import Unprocessable
from training.services import checked_verdict_model

MAX_IDENTIFIERS = 100


def label_scores(score: float) -> list[dict]:
    return [
        {"label": "human", "score": round(1 - score, 4)},
        {"label": "artificial", "score": round(score, 4)},
    ]


def model_result(c: Classification, score: float, elapsed_ms: int | None) -> dict:
    return {
        "model": c.model_name, "unknown": False, "elapsed_time": elapsed_ms,
        "classification": label_scores(score), "classification_details": {},
    }  # fmt: skip


def seed_verdict(c: Classification, v: dict) -> dict:
    return {"heuristic": v["heuristic"], "confidence": v["confidence"], "classification": v["classification"],
            "models": [c.model_name]}  # fmt: skip


def document(request, c: Classification) -> dict:
    """One classification exactly as seed 004 returns it (plus our `overrides` history)."""
    verdicts = c.result.get("verdicts") or {}
    chosen = verdicts.get(c.team.verdict_heuristic)
    overall = chosen["score"] if chosen else None
    clips = [
        {"index": k["index"], "start": k["start"], "end": k["end"],
         "results": [model_result(c, k["score"], None)], "verdict": seed_verdict(c, k["verdict"])}
        for k in c.result.get("clips", [])
    ]  # fmt: skip
    return {
        "hash": c.sha256,
        "identifier": str(c.pk),
        "api_version": c.api_version or None,
        "status": classifications.api_status(c),
        "errors": c.errors or None,
        "name": c.name,
        "ref_id": c.ref_id,
        "result_url": request.build_absolute_uri(reverse("inference:classification", args=[c.pk])),
        "verdict": seed_verdict(c, chosen) if chosen else None,
        "verdicts": [seed_verdict(c, verdicts[h]) for h in HEURISTICS if h in verdicts],
        "force_classification": c.force_classification or None,
        "results": [model_result(c, overall, c.result.get("elapsed_ms"))] if overall is not None else [],
        "details": {"clips": clips},
        "overrides": c.overrides,
    }


def team_classifications(request):
    return Classification.objects.filter(team=caller_of(request).team).select_related("team")


def get_classification(request, identifier) -> Classification:
    c = team_classifications(request).filter(pk=identifier).first()
    if c is None:
        raise Http404("Classification not found")
    return c


def who_is(request) -> str:
    """A person's name, or the API key's name and prefix."""
    caller = caller_of(request)
    if caller.user is not None:
        return caller.user.get_username()
    key = caller.api_key
    if key is None:
        return "unknown"
    return f"key {key.name} {key.prefix}…" if key.name else f"key {key.prefix}…"


class CreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    ref_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    model_id = serializers.UUIDField(
        required=False, allow_null=True, default=None,
        help_text="a human / artificial classifier of yours (training task classification); "
        "default: the built-in verdict model",
    )  # fmt: skip


class OverrideSerializer(serializers.Serializer):
    force_classification = serializers.ChoiceField(choices=["human", "artificial"], allow_null=True)
    reason = serializers.CharField(max_length=1000)


class ClassificationListView(GenericAPIView):
    serializer_class = CreateSerializer

    @extend_schema(
        parameters=[OpenApiParameter("identifiers[]", OpenApiTypes.UUID, many=True, required=True)],
        responses={200: {"type": "array", "items": {"type": "object"}}},
    )
    def get(self, request):
        """Up to 100 classifications by identifier, in the order asked (unknown ones left out)."""
        wanted = request.query_params.getlist("identifiers[]") or request.query_params.getlist("identifiers")
        if not 1 <= len(wanted) <= MAX_IDENTIFIERS:
            raise Unprocessable(
                ["query", "identifiers[]"], f"give 1 to {MAX_IDENTIFIERS} identifiers, not {len(wanted)}"
            )
        try:
            ids = [str(serializers.UUIDField().to_internal_value(x)) for x in wanted]
        except serializers.ValidationError as exc:
            raise Unprocessable(["query", "identifiers[]"], "each identifier is a UUID") from exc
        found = {str(c.pk): c for c in team_classifications(request).filter(pk__in=ids)}
        return Response([document(request, found[i]) for i in ids if i in found])

    @extend_schema(
        request={"multipart/form-data": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}, "name": {"type": "string"},
            "ref_id": {"type": "string"}, "model_id": {"type": "string", "format": "uuid"}},
            "required": ["file"]}},
        responses={201: OpenApiTypes.OBJECT},
    )  # fmt: skip
    def post(self, request):
        """Upload one audio file to classify; its verdict arrives when `status` is `done`."""
        [upload, *extra] = uploaded_files(request)
        if extra:
            raise Unprocessable(["body", "file"], "one file per classification: send the others separately")
        data = validated(CreateSerializer, request.data)
        caller = caller_of(request)
        model = checked_verdict_model(caller.team, data["model_id"], ["body", "model_id"])
        with transaction.atomic():
            c = classifications.create(caller.team, upload, data["name"], data["ref_id"], caller.user, model)
        c = team_classifications(request).get(pk=c.pk)
        return Response(document(request, c), status=status.HTTP_201_CREATED)


class ClassificationDetailView(GenericAPIView):
    serializer_class = OverrideSerializer

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, identifier):
        return Response(document(request, get_classification(request, identifier)))

    @extend_schema(request=OverrideSerializer, responses={200: OpenApiTypes.OBJECT})
    def patch(self, request, identifier):
        """Override the verdict (`force_classification`, or null to lift it) with a `reason`."""
        c = get_classification(request, identifier)
        data = validated(OverrideSerializer, request.data)
        classifications.override(c, data["force_classification"], data["reason"], who_is(request))
        return Response(document(request, get_classification(request, identifier)))
