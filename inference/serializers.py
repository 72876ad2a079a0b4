"""Shapes of the contract's Inference section."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from inference.models import InferenceFile, InferenceJob

MAX_FILE_BYTES = 524_288_000  # Relay's limit on file_size_bytes


class InferenceConfigSerializer(serializers.Serializer):
    """Relay's defaults and ranges; post-processing is threshold → merge → minimum duration."""

    threshold = serializers.FloatField(min_value=0.0, max_value=1.0, default=0.5)
    merge_window_ms = serializers.IntegerField(min_value=0, max_value=5000, default=200)
    min_duration_ms = serializers.IntegerField(min_value=0, max_value=1000, default=50)


class InferenceJobCreateSerializer(serializers.Serializer):
    model_id = serializers.UUIDField()
    config = InferenceConfigSerializer(required=False)


class InferenceFileSerializer(serializers.ModelSerializer):
    inference_job_id = serializers.UUIDField(source="job_id", read_only=True)

    class Meta:
        model = InferenceFile
        fields = [
            "id", "inference_job_id", "original_filename", "s3_key", "content_type", "size_bytes",
            "duration_ms", "status", "error_message", "detections", "detection_count", "created_at",
            "processed_at",
        ]  # fmt: skip

    def to_representation(self, instance: InferenceFile) -> dict:
        # A job's detail embeds hundreds of files: building each dict directly costs a quarter of
        # DRF's field-by-field walk (bench/load.py). Fields a subclass adds still go through DRF.
        data = file_fields(instance)
        for field in self.added_fields:
            data[field.field_name] = field.to_representation(field.get_attribute(instance))
        return data

    @cached_property
    def added_fields(self) -> list[serializers.Field]:
        return [f for f in self._readable_fields if f.field_name not in InferenceFileSerializer.Meta.fields]


def timestamp(value: datetime | None) -> str | None:
    """As DRF's DateTimeField writes it (REST_FRAMEWORK["DATETIME_FORMAT"], in UTC)."""
    return None if value is None else value.astimezone(UTC).strftime(api_settings.DATETIME_FORMAT)


def file_fields(f: InferenceFile) -> dict:
    """InferenceFileSerializer's fields, in its order."""
    return {
        "id": str(f.id), "inference_job_id": str(f.job_id), "original_filename": f.original_filename,
        "s3_key": f.s3_key, "content_type": f.content_type, "size_bytes": f.size_bytes,
        "duration_ms": f.duration_ms, "status": f.status, "error_message": f.error_message,
        "detections": f.detections, "detection_count": f.detection_count,
        "created_at": timestamp(f.created_at), "processed_at": timestamp(f.processed_at),
    }  # fmt: skip


# A job embeds at most this many of its files, each with its detections (a 500-file job's detail
# was already large); `files_truncated` says when there are more, to page through GET …/files.
MAX_EMBEDDED_FILES = 1000


class InferenceJobSerializer(serializers.ModelSerializer):
    """A job with its first files (context `files_limit`, default MAX_EMBEDDED_FILES)."""

    total_files = serializers.IntegerField(read_only=True)
    processed_files = serializers.IntegerField(read_only=True)
    failed_files = serializers.IntegerField(read_only=True)
    total_detections = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()
    files_truncated = serializers.SerializerMethodField(
        help_text="true when the job has more files than embedded: page through GET …/files"
    )

    class Meta:
        model = InferenceJob
        fields = [
            "id", "model_id", "model_name", "artifact_types", "config", "status", "total_files",
            "processed_files", "failed_files", "total_detections", "error_message", "device",
            "created_at", "started_at", "completed_at", "files", "files_truncated",
        ]  # fmt: skip

    def get_total_detections(self, job) -> int:
        return job.total_detections or 0

    def embedded(self, job) -> tuple[list, bool]:
        cache = self.__dict__.setdefault("_embedded", {})
        if job.pk not in cache:
            limit = self.context.get("files_limit", MAX_EMBEDDED_FILES)
            # One row past the limit tells whether there are more (the list prefetches them).
            rows = getattr(job, "first_files", None)
            if rows is None:
                rows = list(job.files.all()[: limit + 1])
            cache[job.pk] = (rows[:limit], len(rows) > limit)
        return cache[job.pk]

    @extend_schema_field(InferenceFileSerializer(many=True))
    def get_files(self, job) -> list:
        return InferenceFileSerializer(self.embedded(job)[0], many=True).data

    def get_files_truncated(self, job) -> bool:
        return self.embedded(job)[1]


class FileUploadUrlSerializer(serializers.Serializer):
    filename = serializers.CharField(min_length=1, max_length=500, trim_whitespace=False)
    file_size_bytes = serializers.IntegerField(min_value=1, max_value=MAX_FILE_BYTES)
    content_type = serializers.CharField(max_length=100, required=False, default="audio/wav")


class FileConfirmSerializer(serializers.Serializer):
    file_id = serializers.UUIDField()


# --- response shapes that add to a model's (documented in the schema; the views build the dicts) ---


class FileUploadUrlResponseSerializer(serializers.Serializer):
    file_id = serializers.UUIDField()
    upload_url = serializers.CharField()
    upload_fields = serializers.DictField(child=serializers.CharField(), help_text="opaque: send every entry")
    s3_key = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="seconds")


class InferenceUploadResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    items = InferenceFileSerializer(many=True)


class InferenceFileDetailSerializer(InferenceFileSerializer):
    """GET .../files/{file_id}: detections at the settings asked for, and those settings."""

    config = InferenceConfigSerializer(read_only=True)

    class Meta(InferenceFileSerializer.Meta):
        fields = [*InferenceFileSerializer.Meta.fields, "config"]


class ExportItemSerializer(serializers.Serializer):
    """One file in a JSON export (the seed's `export_results` shape)."""

    filename = serializers.CharField()
    duration_ms = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=InferenceFile._meta.get_field("status").choices)
    detection_count = serializers.IntegerField()
    detections = serializers.ListField(child=serializers.DictField())
