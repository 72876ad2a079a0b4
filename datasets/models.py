"""Datasets, their artifact types, audio files and versioned annotation sets."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from relayweb.models import Team


class Dataset(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def event_types(self):
        return self.artifact_types.filter(kind=LabelKind.EVENT)

    def clip_classes(self):
        return self.artifact_types.filter(kind=LabelKind.CLASS)


class LabelKind(models.TextChoices):
    """What an annotation of the type marks: an artifact event (what detectors learn) or the class
    of a whole file or a segment (what clip classifiers learn; e.g. human / artificial)."""

    EVENT = "event"
    CLASS = "class"


def label_list(dataset: Dataset, kind: str) -> list[dict]:
    """The dataset's types (or clip classes) as the API writes them."""
    return [
        {"name": t.name, "description": t.description, "color": t.color}
        for t in dataset.artifact_types.all()
        if t.kind == kind  # filtered here, not in SQL: the list view prefetched them all
    ]


# Each kind's list in the API (the dataset's field) and its name in messages.
LABEL_FIELD = {LabelKind.EVENT: "artifact_types", LabelKind.CLASS: "clip_classes"}
LABEL_NOUN = {LabelKind.EVENT: "Artifact type", LabelKind.CLASS: "Clip class"}


class ArtifactType(models.Model):
    """An artifact type or a clip class of a dataset: one name space, so an annotation's type name
    always says which (a class and a type cannot share a name)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="artifact_types")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=LabelKind.choices, default=LabelKind.EVENT)
    description = models.TextField(blank=True, default="")
    color = models.CharField(max_length=7)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="artifact_type_unique_name")]

    def __str__(self) -> str:
        return self.name


class ProcessingStatus(models.TextChoices):
    PENDING = "pending"
    NORMALIZING = "normalizing"
    EMBEDDING = "embedding"
    READY = "ready"
    FAILED = "failed"


class AudioFile(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="audio_files")
    original_filename = models.CharField(max_length=500)
    # What the client declared, replaced by the detected type once the file has been decoded.
    content_type = models.CharField(max_length=100, blank=True, default="")
    declared_size = models.BigIntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    duration_ms = models.BigIntegerField(null=True, blank=True)
    sample_rate = models.PositiveIntegerField(null=True, blank=True)
    channels = models.PositiveSmallIntegerField(null=True, blank=True)
    detected_format = models.CharField(max_length=20, blank=True, default="")
    # The script the TTS was given, shown to reviewers in the annotation workspace.
    expected_text = models.TextField(blank=True, default="")
    processing_status = models.CharField(
        max_length=16, choices=ProcessingStatus.choices, default=ProcessingStatus.PENDING
    )
    error_message = models.TextField(blank=True, default="")
    # A relayweb.storage key; empty until the bytes have arrived.
    original_path = models.CharField(max_length=500, blank=True, default="")
    uploaded_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # The job lifecycle (relayweb.jobs): claims so far, and the running worker's last sign of life.
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["dataset", "processing_status"])]

    def __str__(self) -> str:
        return self.original_filename

    @property
    def is_ready(self) -> bool:
        return self.processing_status == ProcessingStatus.READY


class SetStatus(models.TextChoices):
    DRAFT = "draft"
    PUBLISHED = "published"


class AnnotationSet(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="annotation_sets")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=SetStatus.choices, default=SetStatus.DRAFT)
    copied_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # The audio a published set covers, fixed when it is published: a file without annotations in it
    # is an example of clean audio, and audio added to the dataset later is not (it was never reviewed).
    audio_files = models.ManyToManyField(AudioFile, blank=True, related_name="published_sets")

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["dataset", "version"], name="set_unique_version")]

    def __str__(self) -> str:
        return f"{self.dataset} v{self.version} ({self.status})"

    @property
    def is_published(self) -> bool:
        return self.status == SetStatus.PUBLISHED


class Annotation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    annotation_set = models.ForeignKey(AnnotationSet, on_delete=models.CASCADE, related_name="annotations")
    audio_file = models.ForeignKey(AudioFile, on_delete=models.CASCADE, related_name="annotations")
    # PROTECT: an artifact type cannot disappear from under its annotations.
    artifact_type = models.ForeignKey(ArtifactType, on_delete=models.PROTECT, related_name="annotations")
    start_ms = models.PositiveBigIntegerField()
    end_ms = models.PositiveBigIntegerField()
    confidence = models.FloatField(default=1.0)
    extra_data = models.JSONField(default=dict, blank=True)
    # Bumped on every change; a stale version in an edit is a conflict, not an overwrite.
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["audio_file_id", "start_ms", "id"]
        indexes = [models.Index(fields=["annotation_set", "audio_file"])]
        constraints = [
            models.CheckConstraint(condition=Q(end_ms__gt=models.F("start_ms")), name="end_after_start"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="confidence_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.artifact_type.name} {self.start_ms}–{self.end_ms} ms"
