"""Inference jobs and their files. The job's state lives here, never only in django-q2's tables."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from relayweb.models import Team


class JobStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class FileStatus(models.TextChoices):
    PENDING = "pending"  # created by upload-url, bytes not here yet
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


DONE = {FileStatus.COMPLETED, FileStatus.FAILED}
# config.analyses: the model's detector, and speech recognition (with the script check).
ARTIFACTS, TRANSCRIPT, VERDICT = "artifacts", "transcript", "verdict"
ANALYSES = (ARTIFACTS, TRANSCRIPT, VERDICT)
POSTPROCESS_KEYS = ("threshold", "merge_window_ms", "min_duration_ms")


class InferenceJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="inference_jobs")
    # An id, not a foreign key: deleting the model later must not delete the results it produced.
    # Null for a job that only hears speech (config.analyses without "artifacts").
    model_id = models.UUIDField(db_index=True, null=True, blank=True)
    model_name = models.CharField(max_length=200, blank=True, default="")
    artifact_types = models.JSONField(default=list)
    config = models.JSONField(default=dict)
    # The model's per-type post-processing floors (relayml.events.postprocess), copied like its
    # types: results recomputed later do not depend on the model still existing.
    floors = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    error_message = models.TextField(blank=True, default="")
    device = models.CharField(max_length=64, blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    submitted_by_key = models.CharField(max_length=20, blank=True, default="")  # the key's display prefix
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "status"])]

    def __str__(self) -> str:
        return f"inference {self.id} ({self.status})"


class InferenceFile(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(InferenceJob, on_delete=models.CASCADE, related_name="files")
    original_filename = models.CharField(max_length=500)
    content_type = models.CharField(max_length=100, blank=True, default="")
    declared_size = models.BigIntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    s3_key = models.CharField(max_length=300, blank=True, default="")  # the storage key of the bytes
    uploaded_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=FileStatus.choices, default=FileStatus.PENDING)
    error_message = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    frames = models.PositiveIntegerField(null=True, blank=True)
    frame_ms = models.FloatField(default=10.0)
    # Detections at the job's config; other settings are recomputed from the stored frame scores.
    detections = models.JSONField(default=list, blank=True)
    detection_count = models.PositiveIntegerField(default=0)
    # The script the TTS was given (the script check compares the transcript with it).
    expected_text = models.TextField(blank=True, default="")
    # Speech analyses (relayml.speech): the transcript without its words (text, language,
    # language_probs, model, wer, cer), the words with times apart (a job embeds its files without
    # them), the utterances, and the script check's findings, which join the model's detections.
    transcript = models.JSONField(null=True, blank=True)
    words = models.JSONField(default=list, blank=True)
    utterances = models.JSONField(default=list, blank=True)
    findings = models.JSONField(default=list, blank=True)
    # The script check's second hearing (relayml.script_check.second_hearings): the words heard again,
    # primed with the script, and the script they were primed with. A finding stands only if that
    # hearing confirms it; once the script is changed they no longer apply (null: none was made).
    primed_words = models.JSONField(null=True, blank=True)
    primed_script = models.TextField(blank=True, default="")
    # The synthetic-or-human verdict (config.analyses "verdict"; relayml.verdict): the default
    # heuristic's {classification, confidence, score, heuristic} and every heuristic's in `verdicts`.
    verdict = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)  # its latest claim by a worker
    worker = models.CharField(max_length=100, blank=True, default="")  # that task process: host:pid
    processed_at = models.DateTimeField(null=True, blank=True)
    # The job lifecycle (relayweb.jobs): claims so far, and the running worker's last sign of life.
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The client's name for it in seed 003's results (inference/job_results.py); "" uses the file name.
    input_name = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["job", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "input_name"],
                condition=~models.Q(input_name=""),
                name="one_input_name_per_job",
            )
        ]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.status})"


class WorkState(models.TextChoices):
    """A unit of work's state under the job lifecycle (relayweb/jobs.py): classifications, explanations."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    ERRORED = "errored"


class Explanation(models.Model):
    """Why the detector scored a span of a file as it did (inference/explanations.py): one per file,
    type and span, computed once on the inference queue under the job lifecycle."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    file = models.ForeignKey(InferenceFile, on_delete=models.CASCADE, related_name="explanations")
    artifact_type = models.CharField(max_length=50)
    start_ms = models.PositiveIntegerField()
    end_ms = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=WorkState.choices, default=WorkState.QUEUED)
    error_message = models.TextField(blank=True, default="")
    result = models.JSONField(null=True, blank=True)  # relayml.explain.Explanation.to_dict()
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["file", "artifact_type", "start_ms", "end_ms"], name="one_explanation_per_span"
            )
        ]

    def __str__(self) -> str:
        return f"explanation of {self.artifact_type} {self.start_ms}-{self.end_ms} ms ({self.status})"


class Classification(models.Model):
    """One audio file's synthetic-or-human verdict (seed 004). `state` is the job lifecycle's
    (relayweb/jobs.py); the API's `status` is seed 004's: new (queued or running), done, errored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)  # the `identifier`
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="classifications")
    name = models.CharField(max_length=500)
    ref_id = models.CharField(max_length=200, blank=True, default="")
    sha256 = models.CharField(max_length=64, blank=True, default="")
    size_bytes = models.BigIntegerField(default=0)
    original_path = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.IntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=WorkState.choices, default=WorkState.QUEUED)
    errors = models.TextField(blank=True, default="")
    model_name = models.CharField(max_length=100, blank=True, default="")
    # The team's human / artificial classifier that judges it; None: the built-in verdict model.
    verdict_model_id = models.UUIDField(null=True, blank=True)
    api_version = models.CharField(max_length=20, blank=True, default="")
    # {"clips": [{index, start, end, score}], "verdicts": {heuristic: {...}}, "elapsed_ms": n}
    result = models.JSONField(default=dict, blank=True)
    force_classification = models.CharField(max_length=16, blank=True, default="")
    # Every override, oldest first: {classification, reason, by, at}.
    overrides = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "created_at"]), models.Index(fields=["state"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"
