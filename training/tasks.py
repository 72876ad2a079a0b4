"""The training task (GPU cluster): job id in, one call into relayml.train, results saved by services."""

from __future__ import annotations

import logging
import time

from datasets import storage
from datasets.models import AnnotationSet, AudioFile, ProcessingStatus
from relayml.events import Event
from relayml.ingest import FEATURES_NAME
from relayml.train import TrainConfig, TrainFile, TrainingCancelled, pick_device, train
from training import services
from training.models import TrainingJob, TrainingStatus

log = logging.getLogger(__name__)
HEARTBEAT_EVERY_S = 5.0


def training_files(job: TrainingJob) -> list[TrainFile]:
    annotation_set = AnnotationSet.objects.filter(pk=job.annotation_set_id).first()
    if annotation_set is None:
        raise ValueError("the annotation set was deleted before training started")
    types = set(job.config["artifact_types"])
    events: dict[str, list[Event]] = {}
    rows = annotation_set.annotations.select_related("artifact_type").filter(artifact_type__name__in=types)
    for a in rows:
        events.setdefault(str(a.audio_file_id), []).append(Event(a.artifact_type.name, a.start_ms, a.end_ms))
    audio = AudioFile.objects.filter(dataset_id=job.dataset_id, processing_status=ProcessingStatus.READY)
    return [
        TrainFile(
            str(f.id), str(storage.audio_dir(f) / FEATURES_NAME), events.get(str(f.id), []), f.duration_ms
        )
        for f in audio.order_by("id")
    ]


def train_job(job_id: str) -> str:
    device = pick_device()
    job = services.start(job_id, device)
    if job is None:
        return "not started: cancelled or missing"
    last_beat = [0.0]

    def should_stop() -> bool:
        if time.monotonic() - last_beat[0] < HEARTBEAT_EVERY_S:
            return False
        last_beat[0] = time.monotonic()
        return services.beat_and_check_cancel(job_id)

    config = TrainConfig(**{k: v for k, v in job.config.items() if k in TrainConfig.__dataclass_fields__})
    try:
        result = train(
            training_files(job),
            config,
            services.job_dir(job_id),
            on_epoch=lambda report, progress: services.record_epoch(job_id, report.to_dict(), progress),
            should_stop=should_stop,
            device=device,
        )
    except TrainingCancelled:
        services.finish(job_id, TrainingStatus.CANCELLED)
        return "cancelled"
    except Exception as exc:
        services.finish(job_id, TrainingStatus.FAILED, f"Training failed: {exc}")
        raise
    services.complete(job, result)
    return "completed"


def train_finished(task) -> None:
    """django-q2 hook: a task killed for its timeout (or crashed) leaves its job failed, with why."""
    if task.success or not task.args:
        return
    services.finish(task.args[0], TrainingStatus.FAILED, f"Training stopped: {task.result}")
