"""REST API v1: export and import of annotation sets (JSON, CSV, Audacity labels; zip per set)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from datasets import annotations as service
from datasets import transfer
from datasets.annotation_api import get_set
from datasets.api import get_audio, get_dataset
from datasets.serializers import AnnotationSerializer, CreatedAnnotationsSerializer
from relayweb.auth import caller_of
from relayweb.negotiation import FormatIsOurs
from relayweb.pagination import query_choice, query_uuid
from relayweb.schema import binary


def attachment(content: bytes, fmt: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=transfer.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def audio_param(request, dataset, source):
    audio_id = query_uuid(request, "audio_file_id", source)
    return get_audio(dataset, audio_id) if audio_id else None


class ExportView(GenericAPIView):
    content_negotiation_class = FormatIsOurs

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=list(transfer.FORMATS), default="json"),
            OpenApiParameter(
                "audio_file_id", OpenApiTypes.UUID, description="one file's document; omit for a zip of all"
            ),
        ],
        responses=binary(tuple(transfer.CONTENT_TYPES.values()), json=OpenApiTypes.OBJECT),
    )
    def get(self, request, dataset_id, set_id):
        """One audio file's annotations (JSON, CSV or Audacity labels), or the whole set zipped."""
        dataset = get_dataset(request, dataset_id)
        annotation_set = get_set(dataset, set_id)
        fmt = query_choice(request, "format", list(transfer.FORMATS)) or "json"
        audio = audio_param(request, dataset, request.query_params)
        if audio is not None:
            rows = list(
                annotation_set.annotations.filter(audio_file=audio)
                .select_related("artifact_type")
                .order_by("start_ms", "end_ms")
            )
            content = transfer.render(fmt, annotation_set, audio, rows)
            return attachment(content, fmt, transfer.entry_name(audio, fmt, set()))
        content = transfer.export_zip(fmt, annotation_set, dataset.audio_files.order_by("original_filename"))
        return attachment(content, "zip", f"{slug(dataset.name)}-v{annotation_set.version}-{fmt}.zip")


def slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text).strip("-")[:80] or "dataset"


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=[*transfer.FORMATS, "zip"], required=False)
    audio_file_id = serializers.UUIDField(required=False)
    mode = serializers.ChoiceField(choices=["append", "replace"], default="append")


class ImportView(GenericAPIView):
    serializer_class = ImportRequestSerializer

    @extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={201: CreatedAnnotationsSerializer},
    )
    def post(self, request, dataset_id, set_id):
        """All or nothing into a draft set; `mode=replace` first removes the set's annotations of the
        files the import covers."""
        dataset = get_dataset(request, dataset_id)
        annotation_set = get_set(dataset, set_id)
        service.ensure_draft(annotation_set)
        form = ImportRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        created = transfer.import_file(
            annotation_set,
            form.validated_data["file"],
            form.validated_data.get("format"),
            audio=audio_param(request, dataset, request.data),
            replace=form.validated_data["mode"] == "replace",
            user=caller_of(request).user,
        )
        return Response(
            {"created": len(created), "annotations": AnnotationSerializer(created, many=True).data},
            status=status.HTTP_201_CREATED,
        )
