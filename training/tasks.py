"""The training task (GPU cluster): job id in, one call into relayml.train, results saved by services."""

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
from training.models import DetectorModel, TrainingJob, TrainingStatus

log = logging.getLogger(__name__)
CANCEL_CHECK_EVERY_S = 2.0


@contextlib.contextmanager
def training_files(job: TrainingJob) -> Iterator[list[TrainFile]]:
    """The published set's files with their events, their features on this machine for the block."""
    annotation_set = AnnotationSet.objects.filter(pk=job.annotation_set_id).first()
    if annotation_set is None:
        raise ValueError("the annotation set was deleted before training started")
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

    config = TrainConfig(**{k: v for k, v in job.config.items() if k in TrainConfig.__dataclass_fields__})
    try:
        with (
            jobs.heartbeat(services.TRAINING, [job_id]),
            training_files(job) as files,
            storage.scratch_dir() as work,
        ):
            result = train(
                files,
                config,
                work,
                on_epoch=lambda report, progress: services.record_epoch(job_id, report.to_dict(), progress),
                should_stop=should_stop,
                device=device,
                base_model=base_model_path(job),
            )
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
