"""REST API v1: inference jobs and their files (contract section Inference jobs), plus exports."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from datasets.api import SignedUploadView, direct_upload, peaks_response, validated
from datasets.uploads import too_large, uploaded_files
from inference import explanations, exports, review, services, speech_results
from inference.models import ARTIFACTS, FileStatus, InferenceFile, InferenceJob, JobStatus, WorkState
from inference.serializers import (
    MAX_EMBEDDED_FILES,
    ExportItemSerializer,
    FileConfirmSerializer,
    FileUploadUrlResponseSerializer,
    FileUploadUrlSerializer,
    InferenceFileDetailSerializer,
    InferenceFileFullSerializer,
    InferenceFileSerializer,
    InferenceJobCreateSerializer,
    InferenceJobSerializer,
    InferenceUploadResultSerializer,
    InputNameSerializer,
    PostprocessSerializer,
    first_files,
)
from relayml.scores import PEAKS_NAME
from relayweb import storage
from relayweb.auth import caller_of
from relayweb.errors import Conflict, Unprocessable
from relayweb.models import Role
from relayweb.negotiation import FormatIsOurs
from relayweb.pagination import query_choice, query_int, query_uuid
from relayweb.ranges import stored_file_response
from relayweb.schema import AUDIO_DOWNLOAD, ErrorSerializer, binary, paginated
from relayweb.scripts import MULTIPART_WITH_SCRIPTS, ScriptSerializer, scripts_for
from training.builtin import visible_models
from training.services import checked_verdict_model, ensure_detector

UPLOAD_SALT = "relay.inference.upload"

LISTED_FILES = 100  # files embedded per job in the job list (a page holds up to 500 jobs)
UPLOAD_PREFIX = "/api/v1/inference-uploads/"
POSTPROCESS_PARAMS = [
    OpenApiParameter("threshold", float, description="0–1; default: the job's"),
    OpenApiParameter("merge_window_ms", int, description="0–5000; default: the job's"),
    OpenApiParameter("min_duration_ms", int, description="0–1000; default: the job's"),
]


def team_jobs(request):
    return services.with_counts(InferenceJob.objects.filter(team=caller_of(request).team))


def get_job(request, job_id) -> InferenceJob:
    job = team_jobs(request).filter(pk=job_id).first()
    if job is None:
        raise Http404("Inference job not found")
    return job


def get_file(job: InferenceJob, file_id) -> InferenceFile:
    found = job.files.filter(pk=file_id).first()
    if found is None:
        raise Http404("Inference file not found")
    return found


def job_data(job: InferenceJob, files_limit: int = MAX_EMBEDDED_FILES) -> dict:
    return InferenceJobSerializer(job, context={"files_limit": files_limit}).data


def files_limit_param(default: int) -> OpenApiParameter:
    return OpenApiParameter(
        "files_limit",
        int,
        description=f"files to embed per job, 0–{MAX_EMBEDDED_FILES} (default {default}); "
        "page through GET /inference-jobs/{id}/files for the rest",
    )


def files_limit(request, default: int) -> int:
    return query_int(request, "files_limit", default, 0, MAX_EMBEDDED_FILES)


def postprocess_settings(request, job: InferenceJob) -> dict:
    """The job's threshold / merge window / minimum duration, overridden by query parameters."""
    own = services.postprocess_config(job)
    raw = {k: request.query_params[k] for k in own if k in request.query_params}
    serializer = PostprocessSerializer(data={**own, **raw})
    if not serializer.is_valid():
        error = ValidationError(serializer.errors)
        error.loc_root = "query"
        raise error
    return dict(serializer.validated_data)


class InferenceJobListView(GenericAPIView):
    serializer_class = InferenceJobSerializer
    required_roles = {"post": Role.ANNOTATOR}

    @paginated(
        InferenceJobSerializer,
        parameters=[OpenApiParameter("status", enum=JobStatus.values), files_limit_param(LISTED_FILES)],
    )
    def get(self, request):
        limit = files_limit(request, LISTED_FILES)
        jobs = team_jobs(request)
        if wanted := query_choice(request, "status", JobStatus.values):
            jobs = jobs.filter(status=wanted)
        page = self.paginate_queryset(jobs)
        # Each job's first files in one query for the page, not one per job.
        files = first_files([job.pk for job in page], limit)
        data = InferenceJobSerializer(page, many=True, context={"files_limit": limit, "files": files}).data
        return self.get_paginated_response(data)

    @extend_schema(request=InferenceJobCreateSerializer, responses={201: InferenceJobSerializer})
    def post(self, request):
        body = validated(InferenceJobCreateSerializer, request.data)
        caller = caller_of(request)
        config, model = dict(body["config"]), None
        if ARTIFACTS in config["analyses"]:
            model = visible_models(caller.team).filter(pk=body["model_id"]).first()
            if model is None:
                raise Http404("Model not found")
            ensure_detector(model, ["body", "model_id"])
        checked_verdict_model(
            caller.team, config.get("verdict_model_id"), ["body", "config", "verdict_model_id"]
        )
        job = services.create_job(caller.team, model, config, caller.user, caller.api_key)
        return Response(job_data(get_job(request, job.id)), status=status.HTTP_201_CREATED)


class InferenceJobDetailView(GenericAPIView):
    serializer_class = InferenceJobSerializer

    @extend_schema(parameters=[files_limit_param(MAX_EMBEDDED_FILES)])
    def get(self, request, job_id):
        return Response(job_data(get_job(request, job_id), files_limit(request, MAX_EMBEDDED_FILES)))


class InferenceJobCancelView(GenericAPIView):
    serializer_class = InferenceJobSerializer

    @extend_schema(request=None)
    def post(self, request, job_id):
        services.cancel(get_job(request, job_id))
        return Response(job_data(get_job(request, job_id)))


class FileUploadUrlView(GenericAPIView):
    serializer_class = FileUploadUrlSerializer

    @extend_schema(request=FileUploadUrlSerializer, responses=FileUploadUrlResponseSerializer)
    def post(self, request, job_id):
        job = get_job(request, job_id)
        data = validated(FileUploadUrlSerializer, request.data)
        if data["file_size_bytes"] > settings.RELAY_MAX_UPLOAD_BYTES:
            raise too_large(settings.RELAY_MAX_UPLOAD_BYTES)
        f = services.create_file(
            job,
            data["filename"],
            data["content_type"],
            data["file_size_bytes"],
            data["expected_text"],
            data.get("input_name", ""),
        )
        url, fields = direct_upload(request, f, f.s3_key, data["file_size_bytes"], UPLOAD_PREFIX, UPLOAD_SALT)
        return Response(
            {
                "file_id": str(f.id),
                "upload_url": url,
                "upload_fields": fields,
                "s3_key": f.s3_key,
                "expires_in": settings.RELAY_UPLOAD_URL_EXPIRES,
            }
        )


class InferenceSignedUploadView(SignedUploadView):
    model = InferenceFile
    salt = UPLOAD_SALT
    not_found = "Inference file not found"

    def store(self, target, uploaded) -> None:
        services.store_upload(target, uploaded)


class FileConfirmView(GenericAPIView):
    serializer_class = InferenceFileSerializer

    @extend_schema(request=FileConfirmSerializer, responses={200: InferenceFileSerializer})
    def post(self, request, job_id):
        job = get_job(request, job_id)
        data = validated(FileConfirmSerializer, request.data)
        with transaction.atomic():
            f = services.confirm(get_file(job, data["file_id"]))
        return Response(InferenceFileSerializer(f).data)


class FileListView(GenericAPIView):
    serializer_class = InferenceFileSerializer

    @paginated(InferenceFileSerializer, parameters=[OpenApiParameter("status", enum=FileStatus.values)])
    def get(self, request, job_id):
        """Ours: the job's files, a page at a time (a job's detail embeds only its first ones)."""
        files = get_job(request, job_id).files.all()
        if wanted := query_choice(request, "status", FileStatus.values):
            files = files.filter(status=wanted)
        page = self.paginate_queryset(files)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=MULTIPART_WITH_SCRIPTS, responses={201: InferenceUploadResultSerializer})
    def post(self, request, job_id):
        """Ours: upload one or more files (`file`, repeatable) and queue them in one call; each may
        come with its script (`expected_text`, one per file in order, or a `manifest`)."""
        job = get_job(request, job_id)
        uploads = uploaded_files(request)
        texts = scripts_for(request, [storage.sanitize_filename(u.name) for u in uploads])
        names = input_names_for(request, len(uploads))
        with transaction.atomic():
            created = [
                services.upload_and_queue(job, u, t, n) for u, t, n in zip(uploads, texts, names, strict=True)
            ]
        data = InferenceFileSerializer(created, many=True).data
        return Response({"created": len(created), "items": data}, status=status.HTTP_201_CREATED)


def input_names_for(request, count: int) -> list[str]:
    """The multipart upload's `input_name` fields, one per file in order ("" each when none)."""
    given = request.data.getlist("input_name") if hasattr(request.data, "getlist") else []
    if not given:
        return [""] * count
    if len(given) != count:
        raise Unprocessable(
            ["body", "input_name"], f"{len(given)} input_name field(s) for {count} file(s): send one per file"
        )
    names = [validated(InputNameSerializer, {"input_name": name})["input_name"] for name in given]
    if len(set(names)) != len(names):
        raise Unprocessable(["body", "input_name"], "each file needs an input name of its own")
    return names


class FileDetailView(GenericAPIView):
    serializer_class = InferenceFileDetailSerializer
    required_roles = {"patch": Role.ANNOTATOR}

    @extend_schema(parameters=POSTPROCESS_PARAMS, responses=InferenceFileDetailSerializer)
    def get(self, request, job_id, file_id):
        """The file; with threshold / merge_window_ms / min_duration_ms its detections are recomputed
        from the stored frame scores (the model does not run again)."""
        job = get_job(request, job_id)
        return Response(file_detail(get_file(job, file_id), job, postprocess_settings(request, job)))

    @extend_schema(request=ScriptSerializer, responses=InferenceFileDetailSerializer)
    def patch(self, request, job_id, file_id):
        """Ours: set the file's script (expected_text). Before processing the worker checks it; after,
        the script check runs again on the stored transcript at once."""
        job = get_job(request, job_id)
        body = validated(ScriptSerializer, request.data)
        f = services.set_expected_text(get_file(job, file_id), body["expected_text"])
        return Response(file_detail(f, job, services.postprocess_config(job)))


def file_detail(f: InferenceFile, job: InferenceJob, wanted: dict) -> dict:
    data = InferenceFileFullSerializer(f).data
    data["detections"] = services.detections_at(f, job, wanted)
    data["detection_count"] = len(data["detections"])
    data["config"] = wanted
    return data


class FileResultsView(GenericAPIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, job_id, file_id):
        """Ours: the file's speech results in seed 001's shape, one entry per utterance and task
        (asr, language, diarization; deepfake once verdicts exist)."""
        job = get_job(request, job_id)
        return Response(speech_results.results_view(get_file(job, file_id), job))


class FileContentView(GenericAPIView):
    @extend_schema(responses=AUDIO_DOWNLOAD)
    def get(self, request, job_id, file_id):
        f = get_file(get_job(request, job_id), file_id)
        if f.uploaded_at is None:
            raise Http404("The file's audio has not been uploaded")
        return stored_file_response(
            request, f.s3_key, f.content_type or "application/octet-stream", f.original_filename
        )


class FileExplainView(GenericAPIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("target", enum=["detection", "verdict"], description="default detection"),
            OpenApiParameter("artifact_type", str, description="required for a detection"),
            OpenApiParameter("start_ms", int, required=True),
            OpenApiParameter("end_ms", int, required=True),
        ],
        responses={200: OpenApiTypes.OBJECT, 202: OpenApiTypes.OBJECT, 409: ErrorSerializer},
    )
    def get(self, request, job_id, file_id):
        """Ours (seed 003's explanations): which time-frequency cells of the model's input drove the
        score of a span (a detection's type, or with `target=verdict` the verdict model's class), as a
        column-major RLE mask. Computed once on the inference queue: 202 with the status (and
        Retry-After) until it is done."""
        job = get_job(request, job_id)
        f = get_file(job, file_id)
        target = query_choice(request, "target", ["detection", "verdict"]) or "detection"
        artifact_type = request.query_params.get("artifact_type", "")
        if target == "verdict":
            artifact_type = explanations.VERDICT_TARGET
        elif not artifact_type:
            raise Unprocessable(["query", "artifact_type"], "field required", "value_error.missing")
        for name in ("start_ms", "end_ms"):
            if request.query_params.get(name) in (None, ""):
                raise Unprocessable(["query", name], "field required", "value_error.missing")
        start_ms = query_int(request, "start_ms", 0, 0, 24 * 3600 * 1000)
        end_ms = query_int(request, "end_ms", 0, 0, 24 * 3600 * 1000)
        found = explanations.explanation_for(f, job, artifact_type, start_ms, end_ms)
        if found.status == WorkState.DONE:
            return Response(found.result)
        if found.status == WorkState.ERRORED:
            raise Conflict(f"The explanation could not be computed: {found.error_message}")
        waiting = Response(
            {"status": found.status, "detail": "Being computed on the inference queue"}, status=202
        )
        waiting["Retry-After"] = "1"
        return waiting


class FilePeaksView(GenericAPIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, 409: ErrorSerializer})
    def get(self, request, job_id, file_id):
        """Waveform peaks (audiowaveform JSON), computed while the file was processed."""
        f = get_file(get_job(request, job_id), file_id)
        peaks = None
        if f.status == FileStatus.COMPLETED:
            peaks = storage.load_array(storage.join(services.file_prefix(f), PEAKS_NAME))
        if peaks is None:
            raise Conflict(f"Peaks are not available: the file is {f.status}")
        return peaks_response(request, peaks, f.duration_ms)


class InferenceExportView(GenericAPIView):
    content_negotiation_class = FormatIsOurs
    pagination_class = None  # a document of every file, not a page: its JSON is a plain array

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=list(exports.FORMATS), default="json"),
            OpenApiParameter("file_id", OpenApiTypes.UUID, description="one file; omit for the whole job"),
            *POSTPROCESS_PARAMS,
        ],
        responses=binary(
            ("application/json", "text/csv", "text/plain", "application/zip"),
            json=ExportItemSerializer(many=True),
        ),
    )
    def get(self, request, job_id):
        """Detections as JSON (the seed's export shape), CSV or Audacity labels; per file or per job
        (Audacity per job is a zip of one label file per audio file)."""
        job = get_job(request, job_id)
        fmt = query_choice(request, "format", list(exports.FORMATS)) or "json"
        wanted = postprocess_settings(request, job)
        files = list(job.files.all())
        if file_id := query_uuid(request, "file_id"):
            files = [get_file(job, file_id)]
        rows = [(f, services.detections_at(f, job, wanted)) for f in files]
        content, content_type, name = exports.render(fmt, job, rows, single=len(files) == 1)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class ReviewRequestSerializer(PostprocessSerializer):
    annotation_set_id = serializers.UUIDField(required=False, allow_null=True)
    threshold = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    merge_window_ms = serializers.IntegerField(min_value=0, max_value=5000, required=False)
    min_duration_ms = serializers.IntegerField(min_value=0, max_value=1000, required=False)


class FileReviewView(GenericAPIView):
    serializer_class = ReviewRequestSerializer

    @extend_schema(request=ReviewRequestSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, job_id, file_id):
        """Ours: copy the file into the model's dataset with its detections (at the job's settings or
        the ones given) as annotations in a draft set, ready to be accepted or fixed in the workspace."""
        job = get_job(request, job_id)
        f = get_file(job, file_id)
        body = validated(ReviewRequestSerializer, request.data)
        own = services.postprocess_config(job)
        wanted = {**own, **{k: v for k, v in body.items() if k in own}}
        detections = services.detections_at(f, job, wanted)
        result = review.send_to_review(f, detections, body.get("annotation_set_id"), caller_of(request).user)
        result["annotate_url"] = reverse(
            "datasets:annotate",
            args=[result["dataset_id"], result["annotation_set_id"], result["audio_file_id"]],
        )
        return Response(result, status=status.HTTP_201_CREATED)
