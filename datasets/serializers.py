"""Request and response shapes of the contract's Datasets, Audio, Annotation-set sections."""

from __future__ import annotations

import uuid

from rest_framework import serializers

from datasets.models import (
    Annotation,
    AnnotationSet,
    AudioFile,
    Dataset,
    LabelKind,
    ProcessingStatus,
    label_list,
)
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


def check_unique_names(types: list[dict], noun: str = "artifact type") -> list[dict]:
    seen: set[str] = set()
    errors: list[dict] = []
    for item in types:
        errors.append({"name": [f"duplicate {noun} name"]} if item["name"] in seen else {})
        seen.add(item["name"])
    if any(errors):
        raise serializers.ValidationError(errors, code="unique")
    return types


class DatasetWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    artifact_types = ArtifactTypeSerializer(many=True, allow_empty=True)
    # Ours: the classes a clip classifier learns (training task "classification"); files or
    # segments are labelled with them in annotation sets like any annotation.
    clip_classes = ArtifactTypeSerializer(many=True, required=False, max_length=100)

    def validate_artifact_types(self, value):
        return check_unique_names(value)

    def validate_clip_classes(self, value):
        return check_unique_names(value, "clip class")

    def validate(self, data):
        events, classes = data.get("artifact_types"), data.get("clip_classes")
        if not self.partial and not events and not classes:
            raise serializers.ValidationError(
                {"artifact_types": ["a dataset needs at least one artifact type (or clip class)"]},
                code="empty",
            )
        shared = {t["name"] for t in events or []} & {c["name"] for c in classes or []}
        if shared:
            raise serializers.ValidationError(
                {"clip_classes": [f"also an artifact type: {', '.join(sorted(shared))}"]}
            )
        return data


class DatasetSerializer(DirectModelSerializer):
    artifact_types = serializers.SerializerMethodField()
    clip_classes = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "artifact_types", "clip_classes", "created_at", "updated_at"]

    def get_artifact_types(self, dataset) -> list[dict]:
        return label_list(dataset, LabelKind.EVENT)

    def get_clip_classes(self, dataset) -> list[dict]:
        return label_list(dataset, LabelKind.CLASS)


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
    kind = serializers.CharField(
        source="artifact_type.kind",
        read_only=True,
        help_text="event (an artifact) or class (a clip class label)",
    )

    class Meta:
        model = Annotation
        fields = [
            "id", "annotation_set_id", "audio_file_id", "artifact_type", "kind", "start_ms", "end_ms",
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
        self.types = {t.name: t for t in dataset.artifact_types.all()}  # clip classes too
        ids = set(valid_uuid_strings(audio_ids))  # a malformed id is the serializer's to report
        self._audio = {str(a.id): a for a in dataset.audio_files.filter(pk__in=ids)} if ids else {}

    def audio(self, audio_id) -> AudioFile | None:
        return self._audio.get(str(audio_id))

    def names(self, kind: str) -> list[str]:
        return sorted(name for name, t in self.types.items() if t.kind == kind)


class AnnotationInputSerializer(serializers.Serializer):
    """One annotation to create, checked against its dataset (types, files, durations). A clip
    class label (`clip_class`, or its name as `artifact_type`) covers the whole file unless
    `start_ms`/`end_ms` name a segment."""

    audio_file_id = serializers.UUIDField()
    artifact_type = serializers.CharField(max_length=100, required=False)
    clip_class = serializers.CharField(max_length=100, required=False)
    start_ms = serializers.IntegerField(min_value=0, required=False)
    end_ms = serializers.IntegerField(min_value=1, required=False)
    confidence = serializers.FloatField(min_value=0.0, max_value=1.0, default=1.0)
    extra_data = serializers.DictField(required=False, default=dict)

    def validate(self, data):
        ctx = self.context["dataset_context"]
        audio = ctx.audio(data["audio_file_id"])
        errors = {}
        type_ = self.label_named(data, ctx, errors)
        if audio is None:
            errors["audio_file_id"] = ["audio file not found in this dataset"]
        elif audio.duration_ms is None:
            errors["audio_file_id"] = [
                f"audio file is {audio.processing_status}; annotate it once it is ready"
            ]
        start, end = data.get("start_ms"), data.get("end_ms")
        if type_ is not None and type_.kind == LabelKind.CLASS and audio is not None and audio.duration_ms:
            start, end = start or 0, end or audio.duration_ms  # the whole file, or from/to its ends
        for field, value in (("start_ms", start), ("end_ms", end)):
            if value is None and not errors.get(field):
                errors[field] = ["field required"]
        if start is not None and end is not None:
            errors.update(check_times(start, end, audio))
        if errors:
            raise serializers.ValidationError(errors)
        return {
            "audio_file": audio,
            "artifact_type": type_,
            "start_ms": start,
            "end_ms": end,
            "confidence": data["confidence"],
            "extra_data": data["extra_data"],
        }

    @staticmethod
    def label_named(data: dict, ctx: DatasetContext, errors: dict):
        """The artifact type or clip class named, or None with the reason in `errors`."""
        if "clip_class" in data:
            name = data["clip_class"]
            type_ = ctx.types.get(name)
            if type_ is None or type_.kind != LabelKind.CLASS:
                errors["clip_class"] = [f"'{name}' is not one of this dataset's clip classes "
                                        f"({', '.join(ctx.names(LabelKind.CLASS)) or 'none'})"]  # fmt: skip
                return None
            return type_
        if "artifact_type" not in data:
            errors["artifact_type"] = ["field required"]
            return None
        type_ = ctx.types.get(data["artifact_type"])
        if type_ is None:
            errors["artifact_type"] = [
                f"'{data['artifact_type']}' is not one of this dataset's artifact types "
                f"({', '.join(ctx.names(LabelKind.EVENT)) or 'none'})"
            ]
        return type_


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
