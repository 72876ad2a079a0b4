"""REST API v1: datasets and audio files (contract sections Datasets and Audio files)."""

from __future__ import annotations

import base64

import numpy as np
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from datasets import services
from datasets.models import AudioFile, Dataset, ProcessingStatus
from datasets.serializers import (
    AudioFileSerializer,
    AudioUploadResultSerializer,
    ConfirmRequestSerializer,
    ConfirmResponseSerializer,
    DatasetDetailSerializer,
    DatasetListSerializer,
    DatasetSerializer,
    DatasetWriteSerializer,
    UploadUrlRequestSerializer,
    UploadUrlResponseSerializer,
)
from datasets.uploads import too_large, uploaded_files
from relayml import spectrogram
from relayml.features import DEFAULT_FEATURES, PEAK_SAMPLES, SAMPLE_RATE, downsample_peaks
from relayml.ingest import CANONICAL_NAME, FEATURES_NAME, PEAKS_NAME
from relayweb import storage
from relayweb.auth import Public, caller_of
from relayweb.errors import Conflict, Unprocessable
from relayweb.models import Role
from relayweb.pagination import query_choice, query_int
from relayweb.ranges import stored_file_response
from relayweb.schema import AUDIO_DOWNLOAD, ErrorSerializer, paginated
from relayweb.scripts import MULTIPART_WITH_SCRIPTS, ScriptSerializer, scripts_for

UPLOAD_SALT = "relay.audio.upload"


def team_datasets(request):
    return Dataset.objects.filter(team=caller_of(request).team).prefetch_related("artifact_types")


def get_dataset(request, dataset_id) -> Dataset:
    dataset = team_datasets(request).filter(pk=dataset_id).first()
    if dataset is None:
        raise Http404("Dataset not found")
    return dataset


def get_audio(dataset: Dataset, audio_id) -> AudioFile:
    audio = dataset.audio_files.filter(pk=audio_id).first()
    if audio is None:
        raise Http404("Audio file not found")
    return audio


def validated(serializer_class, data, **context):
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class DatasetListView(GenericAPIView):
    serializer_class = DatasetListSerializer
    required_roles = {"post": Role.ADMIN}

    def get_queryset(self):
        return services.with_stats(team_datasets(self.request)).order_by("-created_at")

    @paginated(DatasetListSerializer)
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=DatasetWriteSerializer, responses={201: DatasetSerializer})
    def post(self, request):
        data = validated(DatasetWriteSerializer, request.data)
        dataset = services.create_dataset(caller_of(request).team, **data)
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)


class DatasetDetailView(GenericAPIView):
    serializer_class = DatasetSerializer
    required_roles = {"patch": Role.ADMIN, "delete": Role.ADMIN}

    @extend_schema(responses=DatasetDetailSerializer)
    def get(self, request, dataset_id):
        dataset = get_dataset(request, dataset_id)
        return Response({**DatasetSerializer(dataset).data, **services.dataset_stats(dataset)})

    @extend_schema(request=DatasetWriteSerializer(partial=True))
    def patch(self, request, dataset_id):
        dataset = get_dataset(request, dataset_id)
        serializer = DatasetWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.update_dataset(dataset, serializer.validated_data)
        dataset = get_dataset(request, dataset_id)
        return Response(DatasetSerializer(dataset).data)

    def delete(self, request, dataset_id):
        services.delete_dataset(get_dataset(request, dataset_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AudioListView(GenericAPIView):
    serializer_class = AudioFileSerializer

    @paginated(
        AudioFileSerializer,
        parameters=[
            OpenApiParameter("status", enum=ProcessingStatus.values),
            OpenApiParameter("search", str),
        ],
    )
    def get(self, request, dataset_id):
        dataset = get_dataset(request, dataset_id)
        audio = dataset.audio_files.all()
        if wanted := query_choice(request, "status", ProcessingStatus.values):
            audio = audio.filter(processing_status=wanted)
        audio = services.search_audio(audio, request.query_params.get("search", "").strip())
        page = self.paginate_queryset(audio)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=MULTIPART_WITH_SCRIPTS, responses={201: AudioUploadResultSerializer})
    def post(self, request, dataset_id):
        """Upload one or more files (`file`, repeatable) and queue them, in one call."""
        dataset = get_dataset(request, dataset_id)
        files = uploaded_files(request)
        texts = scripts_for(request, [storage.sanitize_filename(f.name) for f in files])
        user = caller_of(request).user
        created = [services.upload_and_queue(dataset, f, user, t) for f, t in zip(files, texts, strict=True)]
        data = AudioFileSerializer(created, many=True).data
        return Response({"created": len(created), "items": data}, status=status.HTTP_201_CREATED)


def signer(salt: str = UPLOAD_SALT) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=salt)


def upload_url_for(request, obj, prefix: str = "/api/v1/uploads/", salt: str = UPLOAD_SALT) -> str:
    # sign() gives "<id>:<timestamp>:<mac>"; the URL carries the id in its path, the rest here.
    signature = signer(salt).sign(str(obj.id)).split(":", 1)[1]
    path = f"{prefix}{obj.id}?signature={signature}"
    base = settings.RELAY_PUBLIC_URL
    return base + path if base else request.build_absolute_uri(path)


def direct_upload(
    request, obj, key: str, declared: int, prefix: str = "/api/v1/uploads/", salt: str = UPLOAD_SALT
):
    """Where a client POSTs the file's bytes, and the form fields to send with them: a presigned
    POST straight to the bucket with S3 storage, else a signed URL on this server."""
    if storage.is_s3():
        return storage.presigned_post(key, min(declared, settings.RELAY_MAX_UPLOAD_BYTES))
    return upload_url_for(request, obj, prefix, salt), {"key": key}


class UploadUrlView(GenericAPIView):
    serializer_class = UploadUrlRequestSerializer

    @extend_schema(request=UploadUrlRequestSerializer, responses=UploadUrlResponseSerializer)
    def post(self, request, dataset_id):
        dataset = get_dataset(request, dataset_id)
        data = validated(UploadUrlRequestSerializer, request.data)
        if data["file_size"] > settings.RELAY_MAX_UPLOAD_BYTES:
            raise too_large(settings.RELAY_MAX_UPLOAD_BYTES)
        audio = services.create_audio(
            dataset,
            data["filename"],
            data["content_type"],
            data["file_size"],
            caller_of(request).user,
            data["expected_text"],
        )
        key = storage.original_relpath(audio)
        url, fields = direct_upload(request, audio, key, data["file_size"])
        return Response(
            {
                "upload_url": url,
                "fields": fields,
                "key": key,
                "expires_in": settings.RELAY_UPLOAD_URL_EXPIRES,
                "audio_id": str(audio.id),
            }
        )


class SignedUploadView(GenericAPIView):
    """The local stand-in for an S3 presigned POST: the signed URL is the credential, 204 on success.

    The signature is checked before a byte of the body is read, and the body may not exceed the
    file_size declared when the URL was issued. Subclasses upload other kinds of files (inference).
    """

    authentication_classes: list = []
    permission_classes = [Public]
    throttle_classes: list = []
    model = AudioFile
    salt = UPLOAD_SALT
    not_found = "Audio file not found"

    def store(self, target, uploaded) -> None:
        services.store_upload(target, uploaded)

    @extend_schema(exclude=True)
    def post(self, request, **kwargs):
        (object_id,) = kwargs.values()
        target = self.signed_object(object_id, request.query_params.get("signature", ""))
        if target.uploaded_at is not None:
            raise Conflict("This upload URL has already been used")
        request._request.relay_upload_limit = min(target.declared_size, settings.RELAY_MAX_UPLOAD_BYTES)
        uploaded = request.FILES.get("file")
        if uploaded is None:
            raise Unprocessable(["body", "file"], "field required", "value_error.missing")
        if uploaded.size != target.declared_size:
            raise Unprocessable(
                ["body", "file"],
                f"file is {uploaded.size} bytes but upload-url declared file_size={target.declared_size}",
            )
        with transaction.atomic():
            locked = self.model.objects.select_for_update().get(pk=target.pk)
            if locked.uploaded_at is not None:
                raise Conflict("This upload URL has already been used")
            self.store(locked, uploaded)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def signed_object(self, object_id, signature: str):
        try:
            signed_id = signer(self.salt).unsign(
                f"{object_id}:{signature}", max_age=settings.RELAY_UPLOAD_URL_EXPIRES
            )
        except signing.SignatureExpired:
            raise PermissionDenied("Upload URL has expired; ask for a new one") from None
        except signing.BadSignature:
            raise PermissionDenied("Upload URL signature is missing or invalid") from None
        found = self.model.objects.filter(pk=signed_id).first()
        if found is None:
            raise Http404(self.not_found)
        return found


class ConfirmView(GenericAPIView):
    serializer_class = ConfirmRequestSerializer

    @extend_schema(request=ConfirmRequestSerializer, responses=ConfirmResponseSerializer)
    def post(self, request, dataset_id):
        dataset = get_dataset(request, dataset_id)
        data = validated(ConfirmRequestSerializer, request.data)
        with transaction.atomic():
            audio = dataset.audio_files.select_for_update().filter(pk=data["audio_id"]).first()
            if audio is None:
                raise Http404("Audio file not found")
            if audio.uploaded_at is None:
                services.accept_direct_upload(audio)
            if audio.queued_at is not None:
                message = "Already confirmed; processing was queued earlier"
            else:
                audio.queued_at = audio.uploaded_at
                audio.save(update_fields=["queued_at"])
                services.queue_ingest(audio)
                message = "Upload confirmed; processing has been queued"
        return Response({"audio_id": str(audio.id), "status": audio.processing_status, "message": message})


class AudioDetailView(GenericAPIView):
    serializer_class = AudioFileSerializer
    required_roles = {"delete": Role.ADMIN, "patch": Role.ANNOTATOR}

    def get(self, request, dataset_id, audio_id):
        return Response(self.get_serializer(get_audio(get_dataset(request, dataset_id), audio_id)).data)

    @extend_schema(request=ScriptSerializer, responses=AudioFileSerializer)
    def patch(self, request, dataset_id, audio_id):
        """Ours: set the file's script (expected_text), which the annotation workspace shows."""
        audio = get_audio(get_dataset(request, dataset_id), audio_id)
        body = validated(ScriptSerializer, request.data)
        return Response(self.get_serializer(services.set_expected_text(audio, body["expected_text"])).data)

    def delete(self, request, dataset_id, audio_id):
        services.delete_audio(get_audio(get_dataset(request, dataset_id), audio_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AudioContentView(GenericAPIView):
    @extend_schema(
        responses={**AUDIO_DOWNLOAD, 409: ErrorSerializer},
        parameters=[OpenApiParameter("variant", str, enum=["original", "canonical"], default="original")],
    )
    def get(self, request, dataset_id, audio_id):
        audio = get_audio(get_dataset(request, dataset_id), audio_id)
        if not audio.original_path:
            raise Http404("Audio file has no content yet: it was never uploaded")
        key, content_type = audio.original_path, audio.content_type or "application/octet-stream"
        if query_choice(request, "variant", ["original", "canonical"]) == "canonical":
            # The 16 kHz mono WAV every file is normalised to: playable where the original is not.
            key, content_type = storage.join(storage.audio_prefix(audio), CANONICAL_NAME), "audio/wav"
            if audio.processing_status not in (ProcessingStatus.EMBEDDING, ProcessingStatus.READY):
                raise Conflict(f"The canonical audio is not available: the file is {audio.processing_status}")
        return stored_file_response(request, key, content_type, audio.original_filename)


class AudioPeaksView(GenericAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("samples_per_pixel", int, description=f"multiple of {PEAK_SAMPLES}")],
        responses={200: OpenApiTypes.OBJECT, 409: ErrorSerializer},
    )
    def get(self, request, dataset_id, audio_id):
        """Waveform peaks in the audiowaveform JSON format (8-bit min/max pairs, 16 kHz)."""
        audio = get_audio(get_dataset(request, dataset_id), audio_id)
        if audio.processing_status not in (ProcessingStatus.EMBEDDING, ProcessingStatus.READY):
            raise Conflict(f"Peaks are not available: the file is {audio.processing_status}")
        peaks = storage.load_array(storage.join(storage.audio_prefix(audio), PEAKS_NAME))
        if peaks is None:
            raise Conflict("Peaks are missing from storage: upload the file again")
        return peaks_response(request, peaks, audio.duration_ms)


def peaks_response(request, peaks: np.ndarray, duration_ms: int | None) -> Response:
    """audiowaveform-format JSON of 10 ms min/max pairs, zoomed out by `?samples_per_pixel=`."""
    spp = query_int(request, "samples_per_pixel", PEAK_SAMPLES, PEAK_SAMPLES, PEAK_SAMPLES * 10_000)
    factor = max(1, spp // PEAK_SAMPLES)
    pairs = downsample_peaks(peaks, factor)
    return Response(
        {
            "version": 2,
            "channels": 1,
            "sample_rate": SAMPLE_RATE,
            "samples_per_pixel": PEAK_SAMPLES * factor,
            "bits": 8,
            "length": len(pairs),
            "duration_ms": duration_ms,
            "data": np.asarray(pairs, dtype=np.int8).reshape(-1).tolist(),
        }
    )


MAX_SPECTROGRAM_COLUMNS = 4000


class AudioSpectrogramView(GenericAPIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("start_ms", int),
            OpenApiParameter("end_ms", int),
            OpenApiParameter("columns", int, description=f"1–{MAX_SPECTROGRAM_COLUMNS}"),
        ],
        responses={200: OpenApiTypes.OBJECT, 409: ErrorSerializer},
    )
    def get(self, request, dataset_id, audio_id):
        """A window of the log-mel spectrogram as base64 uint8 (`columns` × `bands`, column-major),
        drawn from the cached features: low bands first, 0 = 80 dB below the file's loudest."""
        audio = get_audio(get_dataset(request, dataset_id), audio_id)
        if audio.processing_status != ProcessingStatus.READY:
            raise Conflict(f"The spectrogram is not available: the file is {audio.processing_status}")
        start_ms = query_int(request, "start_ms", 0, 0, audio.duration_ms)
        end_ms = query_int(request, "end_ms", audio.duration_ms, start_ms + 1, audio.duration_ms)
        columns = query_int(request, "columns", 1000, 1, MAX_SPECTROGRAM_COLUMNS)
        # The log-mel bands only: from feature version 2 waveform-detail numbers follow them.
        features = storage.load_array(storage.join(storage.audio_prefix(audio), FEATURES_NAME))
        if features is None:
            raise Conflict("Features are missing from storage: upload the file again")
        features = features[:, : DEFAULT_FEATURES.n_mels]
        frame_ms = DEFAULT_FEATURES.frame_ms
        image = spectrogram.window(
            features,
            int(start_ms / frame_ms),
            int(np.ceil(end_ms / frame_ms)),
            columns,
            spectrogram.file_ceiling(features),
        )
        return Response(
            {
                "start_ms": start_ms,
                "end_ms": end_ms,
                "columns": int(image.shape[0]),
                "bands": int(features.shape[1]),
                "data": base64.b64encode(image.tobytes()).decode(),
            }
        )
