"""Training jobs and the detector models they produce.

Lineage is stored as plain ids (not foreign keys) because a model outlives the dataset and
annotation set it was trained on: deleting a dataset must leave its models working.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from relayml.verdict_heuristics import LABELS
from relayweb.models import Team


class TrainingStatus(models.TextChoices):
    PENDING = "pending"
    QUEUED = "queued"
    TRAINING = "training"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = {TrainingStatus.COMPLETED, TrainingStatus.FAILED, TrainingStatus.CANCELLED}


class TrainingJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="training_jobs")
    dataset_id = models.UUIDField(db_index=True)
    annotation_set_id = models.UUIDField()
    annotation_set_version = models.PositiveIntegerField()
    config = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=TrainingStatus.choices, default=TrainingStatus.PENDING)
    progress = models.FloatField(default=0.0)
    current_epoch = models.PositiveIntegerField(default=0)
    history = models.JSONField(default=list, blank=True)
    error_message = models.TextField(blank=True, default="")
    device = models.CharField(max_length=64, blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The job lifecycle (relayweb.jobs): claims so far, and the running worker's last sign of life.
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "status"])]

    def __str__(self) -> str:
        return f"training {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def model_id(self):
        model = getattr(self, "detector", None)
        return model.id if model else None


class ModelTask(models.TextChoices):
    DETECTION = "detection"  # timestamped artifact events (relayml.train)
    CLASSIFICATION = "classification"  # one class per clip (relayml.classify_train)


class DetectorModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No team: a built-in model (training/builtin.py), listed for every team and changed by none.
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="detector_models"
    )
    name = models.CharField(max_length=200)
    training_job = models.OneToOneField(
        TrainingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="detector"
    )
    # Lineage; empty for built-in models, which were trained from generated data, not a dataset.
    dataset_id = models.UUIDField(db_index=True, null=True, blank=True)
    annotation_set_id = models.UUIDField(null=True, blank=True)
    annotation_set_version = models.PositiveIntegerField(null=True, blank=True)
    # A detector's artifact types; a classifier's classes, in the order of its outputs.
    artifact_types = models.JSONField(default=list)
    task = models.CharField(max_length=16, choices=ModelTask.choices, default=ModelTask.DETECTION)
    config = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    # A relayweb.storage key (a path under MEDIA_ROOT, or an object in the bucket).
    file_path = models.CharField(max_length=500)
    size_bytes = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_builtin(self) -> bool:
        return self.team_id is None

    @property
    def is_classifier(self) -> bool:
        return self.task == ModelTask.CLASSIFICATION

    @property
    def gives_verdicts(self) -> bool:
        """A classifier of human / artificial (in the verdict model's order) can give verdicts."""
        return self.is_classifier and tuple(self.artifact_types) == LABELS
