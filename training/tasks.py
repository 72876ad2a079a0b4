"""The training task (GPU cluster): job id in, one call into relayml (a detector or a clip classifier),
results saved by services."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

from datasets.models import AnnotationSet, ProcessingStatus
from relayml.events import Event
from relayml.ingest import CANONICAL_NAME, FEATURES_META_NAME, FEATURES_NAME, features_outdated
from relayml.train import TrainConfig, TrainFile, TrainingCancelled, pick_device, train
from relayweb import jobs, storage
from training import services
from training.builtin import model_file
from training.models import DetectorModel, ModelTask, TrainingJob, TrainingStatus

log = logging.getLogger(__name__)
CANCEL_CHECK_EVERY_S = 2.0


def published_set(job: TrainingJob) -> AnnotationSet:
    annotation_set = AnnotationSet.objects.filter(pk=job.annotation_set_id).first()
    if annotation_set is None:
        raise ValueError("the annotation set was deleted before training started")
    return annotation_set


@contextlib.contextmanager
def training_files(job: TrainingJob) -> Iterator[list[TrainFile]]:
    """The published set's files with their events, their features on this machine for the block."""
    annotation_set = published_set(job)
    types = set(job.config["artifact_types"])
    events: dict[str, list[Event]] = {}
    rows = annotation_set.annotations.select_related("artifact_type").filter(artifact_type__name__in=types)
    for a in rows:
        events.setdefault(str(a.audio_file_id), []).append(Event(a.artifact_type.name, a.start_ms, a.end_ms))
    # The files the set covered when it was published, never audio added to the dataset since.
    audio = list(annotation_set.audio_files.filter(processing_status=ProcessingStatus.READY).order_by("id"))
    prefixes = [storage.audio_prefix(f) for f in audio]
    with storage.local_folders(prefixes, (FEATURES_NAME, FEATURES_META_NAME)) as folders:
        for prefix, folder in zip(prefixes, folders, strict=True):
            if storage.is_s3() and features_outdated(folder):
                # Computed before a feature change: relayml recomputes them from the canonical audio.
                storage.download(storage.join(prefix, CANONICAL_NAME), folder / CANONICAL_NAME)
        yield [
            TrainFile(str(f.id), str(folder / FEATURES_NAME), events.get(str(f.id), []), f.duration_ms)
            for f, folder in zip(audio, folders, strict=True)
        ]


@contextlib.contextmanager
def classification_files(job: TrainingJob) -> Iterator[list]:
    """The published set's files labelled with a clip class: each one's canonical audio on this
    machine for the block, and its labelled segments."""
    from relayml.classify_train import ClipFile, Segment

    annotation_set = published_set(job)
    audio = annotation_set.audio_files.filter(processing_status=ProcessingStatus.READY)
    rows = annotation_set.annotations.select_related("artifact_type").filter(
        artifact_type__name__in=job.config["clip_classes"], audio_file__in=audio
    )
    segments: dict = {}
    for a in rows.order_by("audio_file_id", "start_ms"):
        segments.setdefault(a.audio_file_id, []).append(Segment(a.start_ms, a.end_ms, a.artifact_type.name))
    labelled = list(audio.filter(pk__in=segments).order_by("id"))
    keys = [storage.join(storage.audio_prefix(f), CANONICAL_NAME) for f in labelled]
    with storage.local_copies(keys) as paths:
        yield [
            ClipFile(str(f.id), str(path), segments[f.id]) for f, path in zip(labelled, paths, strict=True)
        ]


def run_training(job: TrainingJob, work: Path, device: str, on_epoch, should_stop):
    """One call into relayml: a detector (relayml.train) or a clip classifier (relayml.classify_train)."""
    config = job.config
    if config.get("task") == ModelTask.CLASSIFICATION:
        from relayml.classify_train import ClassifierConfig, train_classifier

        fields = ClassifierConfig.__dataclass_fields__
        settings_ = {k: v for k, v in config.items() if k in fields and k != "classes"}
        with classification_files(job) as clip_files:
            return train_classifier(
                clip_files, ClassifierConfig(classes=tuple(config["clip_classes"]), **settings_), work,
                on_epoch, should_stop, device, base_model_path(job),
            )  # fmt: skip
    train_config = TrainConfig(**{k: v for k, v in config.items() if k in TrainConfig.__dataclass_fields__})
    with training_files(job) as files:
        return train(files, train_config, work, on_epoch, should_stop, device, base_model_path(job))


def base_model_path(job: TrainingJob) -> Path | None:
    base_id = job.config.get("base_model_id")
    if not base_id:
        return None
    base = DetectorModel.objects.filter(pk=base_id).first()
    if base is None:
        raise ValueError("the model to start from was deleted before training started")
    return model_file(base)


def train_job(job_id: str) -> str:
    device = pick_device()
    job = services.start(job_id, device)
    if job is None:
        return "not started: cancelled or missing"
    last_check = [0.0]

    def should_stop() -> bool:
        if time.monotonic() - last_check[0] < CANCEL_CHECK_EVERY_S:
            return False
        last_check[0] = time.monotonic()
        return services.cancel_requested(job_id)

    def on_epoch(report, progress: float) -> None:
        services.record_epoch(job_id, report.to_dict(), progress)

    try:
        with jobs.heartbeat(services.TRAINING, [job_id]), storage.scratch_dir() as work:
            result = run_training(job, work, device, on_epoch, should_stop)
            model = services.complete(job, result)
    except TrainingCancelled:
        services.finish(job_id, TrainingStatus.CANCELLED)
        return "cancelled"
    except Exception as exc:
        log.exception("training job %s failed", job_id)
        services.finish(job_id, TrainingStatus.FAILED, f"Training failed: {jobs.reason(exc)}")
        return "failed"
    if model is None:
        return "taken over by another worker"
    return "completed"


def train_finished(task) -> None:
    """django-q2 hook: a task killed for its timeout (or crashed) leaves its job failed, with why."""
    if task.success or not task.args:
        return
    services.finish(task.args[0], TrainingStatus.FAILED, f"Training stopped: {jobs.task_reason(task)}")
