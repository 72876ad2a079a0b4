"""Request and response shapes of the contract's Datasets, Audio, Annotation-set sections."""

from __future__ import annotations

import uuid

from rest_framework import serializers

from datasets.models import Annotation, AnnotationSet, AudioFile, Dataset, ProcessingStatus
from relayweb.scripts import ExpectedTextSerializer
from relayweb.serializers import DirectModelSerializer

NAME_PATTERN = r"^[a-z0-9_]{1,100}$"
COLOR_PATTERN = r"^#[0-9A-Fa-f]{6}$"


class ArtifactTypeSerializer(serializers.Serializer):
    name = serializers.RegexField(
        NAME_PATTERN,
        max_length=100,
        error_messages={"invalid": "use lowercase letters, digits and _ (1–100 characters)"},
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    color = serializers.RegexField(
        COLOR_PATTERN, required=False, error_messages={"invalid": "color must be #RRGGBB"}
    )

    def validate(self, data):
        # A PATCH (partial) would otherwise let a type through without its name: a type is always
        # named, whatever the request around it may leave out.
        if "name" not in data:
            raise serializers.ValidationError({"name": ["field required"]}, code="required")
        return data


def check_unique_names(types: list[dict]) -> list[dict]:
    seen: set[str] = set()
    errors: list[dict] = []
    for item in types:
        errors.append({"name": ["duplicate artifact type name"]} if item["name"] in seen else {})
        seen.add(item["name"])
    if any(errors):
        raise serializers.ValidationError(errors, code="unique")
    return types


class DatasetWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    artifact_types = ArtifactTypeSerializer(many=True, allow_empty=False)

    def validate_artifact_types(self, value):
        return check_unique_names(value)


class DatasetSerializer(DirectModelSerializer):
    artifact_types = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "artifact_types", "created_at", "updated_at"]

    def get_artifact_types(self, dataset) -> list[dict]:
        return [
            {"name": t.name, "description": t.description, "color": t.color}
            for t in dataset.artifact_types.all()
        ]


class DatasetListSerializer(DatasetSerializer):
    audio_count = serializers.IntegerField(read_only=True)
    annotation_set_count = serializers.IntegerField(read_only=True)
    total_duration_ms = serializers.IntegerField(read_only=True)

    class Meta(DatasetSerializer.Meta):
        fields = [
            *DatasetSerializer.Meta.fields,
            "audio_count",
            "annotation_set_count",
            "total_duration_ms",
        ]


class AudioFileSerializer(DirectModelSerializer):
    dataset_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = AudioFile
        fields = [
            "id", "dataset_id", "original_filename", "content_type", "size_bytes", "sha256",
            "duration_ms", "sample_rate", "channels", "processing_status", "error_message",
            "created_at", "updated_at", "expected_text",
        ]  # fmt: skip


class UploadUrlRequestSerializer(ExpectedTextSerializer):
    filename = serializers.CharField(min_length=1, max_length=500, trim_whitespace=False)
    content_type = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    file_size = serializers.IntegerField(min_value=1)


class ConfirmRequestSerializer(serializers.Serializer):
    audio_id = serializers.UUIDField()


class AnnotationSetCreateSerializer(serializers.Serializer):
    copy_from = serializers.UUIDField(required=False, allow_null=True)


class AnnotationSetSerializer(DirectModelSerializer):
    dataset_id = serializers.UUIDField(read_only=True)
    copied_from = serializers.UUIDField(source="copied_from_id", read_only=True, allow_null=True)
    total_annotations = serializers.IntegerField(read_only=True)
    total_positive_duration_ms = serializers.IntegerField(read_only=True)
    annotations_by_type = serializers.DictField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = AnnotationSet
        fields = [
            "id", "dataset_id", "version", "status", "total_annotations",
            "total_positive_duration_ms", "annotations_by_type", "copied_from",
            "created_at", "published_at",
        ]  # fmt: skip


class AnnotationSerializer(DirectModelSerializer):
    annotation_set_id = serializers.UUIDField(read_only=True)
    audio_file_id = serializers.UUIDField(read_only=True)
    artifact_type = serializers.CharField(source="artifact_type.name", read_only=True)

    class Meta:
        model = Annotation
        fields = [
            "id", "annotation_set_id", "audio_file_id", "artifact_type", "start_ms", "end_ms",
            "confidence", "extra_data", "version", "created_at", "updated_at",
        ]  # fmt: skip


def valid_uuid_strings(values) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(str(uuid.UUID(str(value))))
        except (ValueError, TypeError, AttributeError):
            continue
    return out


class DatasetContext:
    """What annotation validation needs of a dataset, fetched once per request."""

    def __init__(self, dataset: Dataset, audio_ids=()):
        self.dataset = dataset
        self.types = {t.name: t for t in dataset.artifact_types.all()}
        ids = set(valid_uuid_strings(audio_ids))  # a malformed id is the serializer's to report
        self._audio = {str(a.id): a for a in dataset.audio_files.filter(pk__in=ids)} if ids else {}

    def audio(self, audio_id) -> AudioFile | None:
        return self._audio.get(str(audio_id))


class AnnotationInputSerializer(serializers.Serializer):
    """One annotation to create, checked against its dataset (types, files, durations)."""

    audio_file_id = serializers.UUIDField()
    artifact_type = serializers.CharField(max_length=100)
    start_ms = serializers.IntegerField(min_value=0)
    end_ms = serializers.IntegerField(min_value=1)
    confidence = serializers.FloatField(min_value=0.0, max_value=1.0, default=1.0)
    extra_data = serializers.DictField(required=False, default=dict)

    def validate(self, data):
        ctx = self.context["dataset_context"]
        audio = ctx.audio(data["audio_file_id"])
        type_ = ctx.types.get(data["artifact_type"])
        errors = {}
        if type_ is None:
            errors["artifact_type"] = [
                f"'{data['artifact_type']}' is not one of this dataset's artifact types "
                f"({', '.join(sorted(ctx.types)) or 'none'})"
            ]
        if audio is None:
            errors["audio_file_id"] = ["audio file not found in this dataset"]
        elif audio.duration_ms is None:
            errors["audio_file_id"] = [
                f"audio file is {audio.processing_status}; annotate it once it is ready"
            ]
        errors.update(check_times(data["start_ms"], data["end_ms"], audio))
        if errors:
            raise serializers.ValidationError(errors)
        return {
            "audio_file": audio,
            "artifact_type": type_,
            "start_ms": data["start_ms"],
            "end_ms": data["end_ms"],
            "confidence": data["confidence"],
            "extra_data": data["extra_data"],
        }


def check_times(start_ms: int, end_ms: int, audio) -> dict:
    if start_ms >= end_ms:
        return {"end_ms": ["end_ms must be greater than start_ms"]}
    if audio is not None and audio.duration_ms is not None and end_ms > audio.duration_ms:
        return {"end_ms": [f"end_ms must be <= the audio's duration ({audio.duration_ms} ms)"]}
    return {}


class BulkAnnotationSerializer(serializers.Serializer):
    annotations = AnnotationInputSerializer(many=True, allow_empty=False, max_length=10_000)


class AnnotationPatchSerializer(serializers.Serializer):
    artifact_type = serializers.CharField(max_length=100, required=False)
    start_ms = serializers.IntegerField(min_value=0, required=False)
    end_ms = serializers.IntegerField(min_value=1, required=False)
    confidence = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    extra_data = serializers.DictField(required=False)
    version = serializers.IntegerField(min_value=1, required=False)

    def validate(self, data):
        annotation: Annotation = self.context["annotation"]
        changes = {k: v for k, v in data.items() if k != "version"}
        if "artifact_type" in changes:
            types = self.context["dataset_context"].types
            if changes["artifact_type"] not in types:
                raise serializers.ValidationError(
                    {"artifact_type": [f"'{changes['artifact_type']}' is not one of this dataset's types"]}
                )
            changes["artifact_type"] = types[changes["artifact_type"]]
        start = changes.get("start_ms", annotation.start_ms)
        end = changes.get("end_ms", annotation.end_ms)
        errors = check_times(start, end, annotation.audio_file)
        if errors:
            raise serializers.ValidationError(errors)
        return {"changes": changes, "version": data.get("version")}


# --- response shapes that add to a model's (documented in the schema; the views build the dicts) ---


class DatasetDetailSerializer(DatasetListSerializer):
    """GET /datasets/{id}: the dataset with the list's statistics."""


class UploadUrlResponseSerializer(serializers.Serializer):
    upload_url = serializers.CharField()
    fields = serializers.DictField(child=serializers.CharField(), help_text="opaque: send every entry")
    key = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="seconds")
    audio_id = serializers.UUIDField()


class ConfirmResponseSerializer(serializers.Serializer):
    audio_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ProcessingStatus.choices)
    message = serializers.CharField()


class AudioUploadResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    items = AudioFileSerializer(many=True)


class CreatedAnnotationsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    annotations = AnnotationSerializer(many=True)


class AnnotationSetDetailSerializer(AnnotationSetSerializer):
    """GET .../annotation-sets/{set_id}: the set and its first annotations (bounded)."""

    annotations = AnnotationSerializer(many=True, read_only=True)
    annotations_truncated = serializers.BooleanField(
        read_only=True,
        help_text="true when the set has more annotations than embedded: page through GET …/annotations",
    )

    class Meta(AnnotationSetSerializer.Meta):
        fields = [*AnnotationSetSerializer.Meta.fields, "annotations", "annotations_truncated"]
