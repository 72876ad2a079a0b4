"""Every change to training jobs and models: prerequisites, queueing, progress, results."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from datasets.models import AnnotationSet, Dataset
from relayweb import jobs, storage, webhooks
from relayweb.errors import Conflict, Unprocessable
from relayweb.models import WebhookEvent
from training.builtin import visible_models
from training.models import FINISHED, DetectorModel, ModelTask, TrainingJob, TrainingStatus

log = logging.getLogger(__name__)


def model_relpath(model_id) -> str:
    return f"models/{model_id}/model.pt"


def check_prerequisites(dataset: Dataset, annotation_set: AnnotationSet, config: dict) -> None:
    """Each unmet prerequisite is a 409 with a reason a person can act on."""
    if not annotation_set.is_published:
        raise Conflict(
            f"Annotation set v{annotation_set.version} is a draft: publish it before training on it"
        )
    # The set's files were fixed (and ready) when it was published; audio added since does not count.
    total_ms = annotation_set.audio_files.aggregate(ms=Sum("duration_ms"))["ms"] or 0
    needed_ms = settings.RELAY_MIN_TRAINING_AUDIO_S * 1000
    if total_ms < needed_ms:
        raise Conflict(
            f"Training needs at least {needed_ms / 60000:.1f} minutes of audio; annotation set "
            f"v{annotation_set.version} covers {total_ms / 60000:.1f}"
        )
    if config.get("task") == ModelTask.CLASSIFICATION:
        check_labelled_files(annotation_set, config["clip_classes"])
        return
    counts = set(annotation_set.annotations.values_list("artifact_type__name", flat=True).distinct())
    missing = [t for t in config["artifact_types"] if t not in counts]
    if missing:
        raise Conflict(
            f"Annotation set v{annotation_set.version} has no annotations of: {', '.join(missing)}"
        )


def check_labelled_files(annotation_set: AnnotationSet, classes: list[str]) -> None:
    """A classifier needs two labelled files of each class: one to learn from, one to validate on."""
    rows = annotation_set.annotations.filter(
        artifact_type__name__in=classes, audio_file__in=annotation_set.audio_files.all()
    )
    files = dict(rows.values_list("artifact_type__name").annotate(n=Count("audio_file", distinct=True)))
    short = [f"{c} ({files.get(c, 0)})" for c in classes if files.get(c, 0) < 2]
    if short:
        raise Conflict(
            f"Annotation set v{annotation_set.version} needs at least two labelled files of each clip "
            f"class (one to learn from, one to validate on); it has: {', '.join(short)}"
        )


def create_job(
    team, dataset: Dataset, annotation_set: AnnotationSet, config: dict, user=None, queue: bool = True
) -> TrainingJob:
    check_prerequisites(dataset, annotation_set, config)
    with transaction.atomic():
        job = TrainingJob.objects.create(
            team=team,
            dataset_id=dataset.id,
            annotation_set_id=annotation_set.id,
            annotation_set_version=annotation_set.version,
            config=config,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        if queue:
            transaction.on_commit(lambda: enqueue(job.id))
        else:  # the caller runs the task itself (relay_demo, tests)
            job.status = TrainingStatus.QUEUED
            job.save(update_fields=["status"])
    return job


def enqueue(job_id) -> None:
    from django_q.tasks import async_task

    # Queued first: the task claims only a queued job (and may run before async_task returns).
    TrainingJob.objects.filter(pk=job_id, status=TrainingStatus.PENDING).update(status=TrainingStatus.QUEUED)
    async_task(
        "training.tasks.train_job",
        str(job_id),
        cluster=settings.RELAY_TRAINING_QUEUE,
        hook="training.tasks.train_finished",
        task_name=f"train {job_id}",
    )


def requeue_jobs(job_ids: list) -> None:
    for job_id in job_ids:
        enqueue(job_id)


TRAINING = jobs.register(
    jobs.Kind(
        name="training",
        model="training.TrainingJob",
        status_field="status",
        queued=TrainingStatus.QUEUED,
        running=(TrainingStatus.TRAINING,),
        requeue=requeue_jobs,
        fail=lambda job_id, message: finish(job_id, TrainingStatus.FAILED, message),
        noun="training job",
        claimable={"cancel_requested": False},
        queue=settings.RELAY_TRAINING_QUEUE,
        waiting_since="created_at",
    )
)


def start(job_id, device: str) -> TrainingJob | None:
    """Claim a queued job (a requeued one starts again from its first epoch); None if it was
    cancelled, is gone or another worker has it."""
    attempt = jobs.claim(
        TRAINING, job_id, started_at=timezone.now(), device=device, progress=0.0, current_epoch=0, history=[]
    )
    return TrainingJob.objects.get(pk=job_id) if attempt else None


def record_epoch(job_id, report: dict, progress: float) -> None:
    job = TrainingJob.objects.get(pk=job_id)
    job.history = [*job.history, report]
    job.current_epoch, job.progress, job.heartbeat_at = report["epoch"], round(progress, 4), timezone.now()
    job.save(update_fields=["history", "current_epoch", "progress", "heartbeat_at"])


def cancel_requested(job_id) -> bool:
    return TrainingJob.objects.filter(pk=job_id, cancel_requested=True).exists()


def finish(job_id, status: str, message: str = "") -> None:
    with transaction.atomic():
        ended = (
            TrainingJob.objects.filter(pk=job_id)
            .exclude(status__in=FINISHED)
            .update(status=status, error_message=message[:4000], completed_at=timezone.now())
        )
        if ended and status == TrainingStatus.FAILED:
            announce(TrainingJob.objects.get(pk=job_id), WebhookEvent.TRAINING_FAILED)


@transaction.atomic
def complete(job: TrainingJob, result) -> DetectorModel | None:
    model = DetectorModel(
        team_id=job.team_id,
        training_job=job,
        dataset_id=job.dataset_id,
        annotation_set_id=job.annotation_set_id,
        annotation_set_version=job.annotation_set_version,
        artifact_types=labels_of(job.config),
        task=job.config.get("task", ModelTask.DETECTION),
        config=job.config,
        metrics=result.metrics,
    )
    model.name = default_model_name(job)
    key = model_relpath(model.id)
    model.file_path, model.size_bytes = key, storage.put_file(Path(result.model_path), key)
    # Only the claim that still holds the job completes it: a worker presumed dead keeps out.
    if not jobs.current(TRAINING, job.pk, job.attempts).update(
        status=TrainingStatus.COMPLETED, progress=1.0, completed_at=timezone.now(), device=result.device
    ):
        storage.delete(key)
        return None
    model.save()
    job.refresh_from_db()
    announce(job, WebhookEvent.TRAINING_COMPLETED, model)
    return model


def labels_of(config: dict) -> list[str]:
    """A detector's artifact types or a classifier's classes, from its training config."""
    return (
        config["clip_classes"] if config.get("task") == ModelTask.CLASSIFICATION else config["artifact_types"]
    )


def announce(job: TrainingJob, event: str, model: DetectorModel | None = None) -> None:
    """The team's webhooks hear that training ended (relayweb/webhooks.py)."""
    data = {
        "training_job_id": str(job.pk), "dataset_id": str(job.dataset_id), "status": job.status,
        "model_id": str(model.pk) if model else None, "error_message": job.error_message,
    }  # fmt: skip
    webhooks.emit(job.team_id, event, f"{event}:{job.pk}", data)


def default_model_name(job: TrainingJob) -> str:
    dataset = Dataset.objects.filter(pk=job.dataset_id).first()
    base = dataset.name if dataset else "model"
    return f"{base} v{job.annotation_set_version} ({timezone.now():%Y-%m-%d %H:%M})"


def cancel(job: TrainingJob) -> TrainingJob:
    with transaction.atomic():
        locked = TrainingJob.objects.select_for_update().get(pk=job.pk)
        if locked.is_finished:
            raise Conflict(f"Training job is already {locked.status}")
        if locked.status == TrainingStatus.TRAINING:
            locked.cancel_requested = True  # the worker stops at its next batch
            locked.save(update_fields=["cancel_requested"])
        else:
            locked.cancel_requested, locked.status = True, TrainingStatus.CANCELLED
            locked.completed_at = timezone.now()
            locked.save(update_fields=["cancel_requested", "status", "completed_at"])
    return locked


def ensure_detector(model: DetectorModel, loc: list) -> None:
    """Finding artifacts needs a detector; a clip classifier is a 422 saying what it is for."""
    if model.is_classifier:
        raise Unprocessable(
            loc, f"{model.name} is a clip classifier: it gives verdicts (analyses: verdict, with "
            "verdict_model_id when it classifies human / artificial), not detections",
        )  # fmt: skip


def checked_verdict_model(team, model_id, loc: list) -> DetectorModel | None:
    """The model a team asked to give its verdicts (None: the built-in verdict model): one it can see
    that classifies human / artificial, else a 422 at `loc`."""
    if not model_id:
        return None
    model = visible_models(team).filter(pk=model_id).first()
    if model is None:
        raise Unprocessable(loc, "no such model (yours or built in)")
    if not model.gives_verdicts:
        raise Unprocessable(
            loc, f"{model.name} does not classify human / artificial, so it gives no verdicts"
        )
    return model


def ensure_editable(model: DetectorModel) -> None:
    if model.is_builtin:
        raise PermissionDenied("Built-in models cannot be renamed or deleted")


def rename_model(model: DetectorModel, name: str) -> None:
    ensure_editable(model)
    model.name = name
    model.save(update_fields=["name"])


def delete_model(model: DetectorModel) -> None:
    ensure_editable(model)
    folder = model.file_path.rsplit("/", 1)[0]
    model.delete()
    transaction.on_commit(lambda: storage.delete_tree(folder))
