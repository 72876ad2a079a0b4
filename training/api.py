"""REST API v1: training jobs and models (contract section Training jobs and models)."""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from datasets.api import get_dataset, validated
from relayweb.auth import caller_of
from relayweb.models import Role
from relayweb.pagination import query_choice
from relayweb.ranges import stored_file_response
from relayweb.schema import paginated
from training import builtin, services
from training.models import DetectorModel, TrainingJob, TrainingStatus
from training.serializers import (
    DetectorModelPatchSerializer,
    DetectorModelSerializer,
    TrainingConfigSerializer,
    TrainingJobCreateSerializer,
    TrainingJobSerializer,
    config_context,
)


def team_jobs(request):
    return TrainingJob.objects.filter(team=caller_of(request).team).select_related("detector")


def get_job(request, job_id) -> TrainingJob:
    job = team_jobs(request).filter(pk=job_id).first()
    if job is None:
        raise Http404("Training job not found")
    return job


def get_model(request, model_id) -> DetectorModel:
    model = builtin.visible_models(caller_of(request).team).filter(pk=model_id).first()
    if model is None:
        raise Http404("Model not found")
    return model


def job_data(job: TrainingJob) -> dict:
    return TrainingJobSerializer(job).data


class TrainingJobListView(GenericAPIView):
    serializer_class = TrainingJobSerializer
    required_roles = {"post": Role.ADMIN}

    @paginated(TrainingJobSerializer, parameters=[OpenApiParameter("status", enum=TrainingStatus.values)])
    def get(self, request):
        jobs = team_jobs(request)
        if wanted := query_choice(request, "status", TrainingStatus.values):
            jobs = jobs.filter(status=wanted)
        page = self.paginate_queryset(jobs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=TrainingJobCreateSerializer, responses={201: TrainingJobSerializer})
    def post(self, request):
        body = validated(TrainingJobCreateSerializer, request.data)
        dataset = get_dataset(request, body["dataset_id"])
        annotation_set = dataset.annotation_sets.filter(pk=body["annotation_set_id"]).first()
        if annotation_set is None:
            raise Http404("Annotation set not found")
        caller = caller_of(request)
        context = config_context(dataset, caller.team)
        serializer = TrainingConfigSerializer(data=body["config"], context=context)
        if not serializer.is_valid():
            raise ValidationError({"config": serializer.errors})
        job = services.create_job(
            caller.team, dataset, annotation_set, dict(serializer.validated_data), caller.user
        )
        return Response(job_data(job), status=status.HTTP_201_CREATED)


class TrainingJobDetailView(GenericAPIView):
    serializer_class = TrainingJobSerializer

    def get(self, request, job_id):
        return Response(job_data(get_job(request, job_id)))


class TrainingJobCancelView(GenericAPIView):
    serializer_class = TrainingJobSerializer
    required_roles = {"post": Role.ADMIN}

    @extend_schema(request=None)
    def post(self, request, job_id):
        return Response(job_data(services.cancel(get_job(request, job_id))))


class ModelListView(GenericAPIView):
    serializer_class = DetectorModelSerializer

    @paginated(DetectorModelSerializer)
    def get(self, request):
        models = builtin.visible_models(caller_of(request).team)
        page = self.paginate_queryset(models)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ModelDetailView(GenericAPIView):
    serializer_class = DetectorModelSerializer
    required_roles = {"patch": Role.ADMIN, "delete": Role.ADMIN}

    def get(self, request, model_id):
        return Response(self.get_serializer(get_model(request, model_id)).data)

    @extend_schema(request=DetectorModelPatchSerializer)
    def patch(self, request, model_id):
        model = get_model(request, model_id)
        services.rename_model(model, validated(DetectorModelPatchSerializer, request.data)["name"])
        return Response(self.get_serializer(model).data)

    def delete(self, request, model_id):
        services.delete_model(get_model(request, model_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModelDownloadView(GenericAPIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, model_id):
        """The model file: loads with torch.load(path, weights_only=True); see docs/models.md."""
        model = get_model(request, model_id)
        filename = f"relay-model-{model.id}.pt"
        if not model.is_builtin:
            return stored_file_response(
                request, model.file_path, "application/octet-stream", filename, disposition="attachment"
            )
        path = builtin.model_file(model)
        if not path.exists():
            raise Http404("Model file is missing from storage")
        return FileResponse(
            open(path, "rb"), as_attachment=True, filename=filename, content_type="application/octet-stream"
        )
