"""REST API v1: annotation sets and annotations (contract sections Annotation sets, Annotations)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from datasets import annotations as service
from datasets.api import get_dataset, validated
from datasets.models import Annotation, AnnotationSet, Dataset
from datasets.serializers import (
    AnnotationInputSerializer,
    AnnotationPatchSerializer,
    AnnotationSerializer,
    AnnotationSetCreateSerializer,
    AnnotationSetDetailSerializer,
    AnnotationSetSerializer,
    BulkAnnotationSerializer,
    CreatedAnnotationsSerializer,
    DatasetContext,
    valid_uuid_strings,
)
from relayweb.auth import caller_of
from relayweb.errors import Unprocessable
from relayweb.models import Role
from relayweb.pagination import query_int, query_uuid
from relayweb.schema import paginated


def annotation_rows(annotation_set: AnnotationSet):
    return annotation_set.annotations.select_related("artifact_type").order_by(
        "audio_file_id", "start_ms", "id"
    )


def get_set(dataset: Dataset, set_id) -> AnnotationSet:
    found = dataset.annotation_sets.filter(pk=set_id).first()
    if found is None:
        raise Http404("Annotation set not found")
    return found


# A set's detail embeds at most this many annotations (10k of them were one 3.4 MB response);
# `annotations_truncated` says when there are more, to page through with GET …/annotations.
MAX_EMBEDDED_ANNOTATIONS = 1000


def set_data(annotation_set: AnnotationSet, annotations_limit: int | None = None) -> dict:
    """The set with its statistics; with `annotations_limit`, also its first annotations."""
    for key, value in service.set_stats(annotation_set).items():
        setattr(annotation_set, key, value)
    data = AnnotationSetSerializer(annotation_set).data
    if annotations_limit is not None:
        rows = list(annotation_rows(annotation_set)[: annotations_limit + 1])
        data["annotations"] = AnnotationSerializer(rows[:annotations_limit], many=True).data
        data["annotations_truncated"] = len(rows) > annotations_limit
    return data


def raw_audio_ids(items) -> list:
    if not isinstance(items, list):
        return []
    return [item.get("audio_file_id") for item in items if isinstance(item, dict)]


class AnnotationSetListView(GenericAPIView):
    serializer_class = AnnotationSetSerializer

    @paginated(AnnotationSetSerializer)
    def get(self, request, dataset_id):
        dataset = get_dataset(request, dataset_id)
        page = self.paginate_queryset(dataset.annotation_sets.order_by("-version"))
        return self.get_paginated_response([set_data(s) for s in page])

    @extend_schema(request=AnnotationSetCreateSerializer, responses={201: AnnotationSetSerializer})
    def post(self, request, dataset_id):
        dataset = get_dataset(request, dataset_id)
        body = request.data if isinstance(request.data, dict) else {}
        data = validated(AnnotationSetCreateSerializer, body)
        source = None
        if data.get("copy_from"):
            source = dataset.annotation_sets.filter(pk=data["copy_from"]).first()
            if source is None:
                raise Unprocessable(
                    ["body", "copy_from"],
                    "annotation set not found in this dataset",
                    "value_error.not_found",
                )
        created = service.create_set(dataset, source, caller_of(request).user)
        return Response(set_data(created), status=status.HTTP_201_CREATED)


class AnnotationSetDetailView(GenericAPIView):
    serializer_class = AnnotationSetSerializer
    required_roles = {"delete": Role.ADMIN}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "annotations_limit",
                int,
                description=f"annotations to embed, 0–{MAX_EMBEDDED_ANNOTATIONS} (default); "
                "page through GET …/annotations for the rest",
            )
        ],
        responses=AnnotationSetDetailSerializer,
    )
    def get(self, request, dataset_id, set_id):
        annotation_set = get_set(get_dataset(request, dataset_id), set_id)
        limit = query_int(request, "annotations_limit", MAX_EMBEDDED_ANNOTATIONS, 0, MAX_EMBEDDED_ANNOTATIONS)
        return Response(set_data(annotation_set, annotations_limit=limit))

    def delete(self, request, dataset_id, set_id):
        service.delete_set(get_set(get_dataset(request, dataset_id), set_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PublishView(GenericAPIView):
    serializer_class = AnnotationSetSerializer
    required_roles = {"post": Role.ADMIN}

    @extend_schema(request=None)
    def post(self, request, dataset_id, set_id):
        published = service.publish(get_set(get_dataset(request, dataset_id), set_id))
        return Response(set_data(published))


class AnnotationListView(GenericAPIView):
    serializer_class = AnnotationSerializer

    @paginated(AnnotationSerializer, parameters=[OpenApiParameter("audio_file_id", OpenApiTypes.UUID)])
    def get(self, request, dataset_id, set_id):
        annotation_set = get_set(get_dataset(request, dataset_id), set_id)
        rows = annotation_rows(annotation_set)
        if audio_id := query_uuid(request, "audio_file_id"):
            rows = rows.filter(audio_file_id=audio_id)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=AnnotationInputSerializer, responses={201: AnnotationSerializer})
    def post(self, request, dataset_id, set_id):
        dataset = get_dataset(request, dataset_id)
        annotation_set = get_set(dataset, set_id)
        service.ensure_draft(annotation_set)
        body = request.data if isinstance(request.data, dict) else {}
        ctx = DatasetContext(dataset, valid_uuid_strings(raw_audio_ids([body])))
        item = validated(AnnotationInputSerializer, body, dataset_context=ctx)
        (created,) = service.create_annotations(annotation_set, [item], caller_of(request).user)
        return Response(AnnotationSerializer(created).data, status=status.HTTP_201_CREATED)


class BulkAnnotationView(GenericAPIView):
    serializer_class = BulkAnnotationSerializer

    @extend_schema(request=BulkAnnotationSerializer, responses={201: CreatedAnnotationsSerializer})
    def post(self, request, dataset_id, set_id):
        """All or nothing: one invalid item rejects the batch, its index named in `loc`."""
        dataset = get_dataset(request, dataset_id)
        annotation_set = get_set(dataset, set_id)
        service.ensure_draft(annotation_set)
        body = request.data if isinstance(request.data, dict) else {}
        ctx = DatasetContext(dataset, valid_uuid_strings(raw_audio_ids(body.get("annotations"))))
        data = validated(BulkAnnotationSerializer, body, dataset_context=ctx)
        created = service.create_annotations(annotation_set, data["annotations"], caller_of(request).user)
        return Response(
            {"created": len(created), "annotations": AnnotationSerializer(created, many=True).data},
            status=status.HTTP_201_CREATED,
        )


def expected_version(request, body_version: int | None) -> int | None:
    """The version the client edited, from If-Match (an ETag) or the body's `version`."""
    header = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    if header and header != "*":
        if not header.isdigit():
            raise Unprocessable(["header", "If-Match"], "If-Match must be the annotation's ETag")
        return int(header)
    return body_version


class AnnotationDetailView(GenericAPIView):
    serializer_class = AnnotationSerializer

    def get_annotation(self, request, dataset_id, set_id, annotation_id):
        dataset = get_dataset(request, dataset_id)
        annotation_set = get_set(dataset, set_id)
        found = (
            annotation_set.annotations.select_related("artifact_type", "audio_file", "annotation_set")
            .filter(pk=annotation_id)
            .first()
        )
        if found is None:
            raise Http404("Annotation not found")
        return dataset, found

    def respond(self, annotation: Annotation, code=status.HTTP_200_OK) -> Response:
        response = Response(AnnotationSerializer(annotation).data, status=code)
        response["ETag"] = f'"{annotation.version}"'
        return response

    def get(self, request, dataset_id, set_id, annotation_id):
        return self.respond(self.get_annotation(request, dataset_id, set_id, annotation_id)[1])

    @extend_schema(
        request=AnnotationPatchSerializer,
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER)],
    )
    def patch(self, request, dataset_id, set_id, annotation_id):
        """Edit; send the version you edited (If-Match or `version`) and a stale one is a 409."""
        dataset, annotation = self.get_annotation(request, dataset_id, set_id, annotation_id)
        service.ensure_draft(annotation.annotation_set)
        body = request.data if isinstance(request.data, dict) else {}
        data = validated(
            AnnotationPatchSerializer,
            body,
            annotation=annotation,
            dataset_context=DatasetContext(dataset),
        )
        version = expected_version(request, data["version"])
        updated = service.update_annotation(annotation, data["changes"], version)
        updated = Annotation.objects.select_related("artifact_type").get(pk=updated.pk)
        return self.respond(updated)

    def delete(self, request, dataset_id, set_id, annotation_id):
        _, annotation = self.get_annotation(request, dataset_id, set_id, annotation_id)
        service.delete_annotation(annotation, expected_version(request, None))
        return Response(status=status.HTTP_204_NO_CONTENT)
