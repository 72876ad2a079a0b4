"""Shapes of the contract's Inference section."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property

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


class InferenceJobSerializer(serializers.ModelSerializer):
    total_files = serializers.IntegerField(read_only=True)
    processed_files = serializers.IntegerField(read_only=True)
    failed_files = serializers.IntegerField(read_only=True)
    total_detections = serializers.SerializerMethodField()
    files = InferenceFileSerializer(many=True, read_only=True)

    class Meta:
        model = InferenceJob
        fields = [
            "id", "model_id", "model_name", "artifact_types", "config", "status", "total_files",
            "processed_files", "failed_files", "total_detections", "error_message", "device",
            "created_at", "started_at", "completed_at", "files",
        ]  # fmt: skip

    def get_total_detections(self, job) -> int:
        return job.total_detections or 0


class FileUploadUrlSerializer(serializers.Serializer):
    filename = serializers.CharField(min_length=1, max_length=500, trim_whitespace=False)
    file_size_bytes = serializers.IntegerField(min_value=1, max_value=MAX_FILE_BYTES)
    content_type = serializers.CharField(max_length=100, required=False, default="audio/wav")


class FileConfirmSerializer(serializers.Serializer):
    file_id = serializers.UUIDField()
