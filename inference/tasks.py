"""The inference task (GPU cluster): job id in, one call into relayml.infer, results saved by services."""

from __future__ import annotations

import logging
import os
import time

from datasets import storage
from datasets.tasks import decode_limits
from inference import services
from inference.models import FileStatus, InferenceFile, InferenceJob
from relayml.infer import InferenceCancelled, infer_files
from relayml.model import Detector
from relayml.train import pick_device
from relayweb import jobs
from training.builtin import model_file
from training.models import DetectorModel

log = logging.getLogger(__name__)
CANCEL_CHECK_EVERY_S = 2.0


def run_job(job_id: str) -> str:
    """Process every queued file of the job, including files confirmed while it runs."""
    job = InferenceJob.objects.filter(pk=job_id).first()
    if job is None or job.cancel_requested:
        return "nothing to do"
    files = services.claim_queued(job_id)
    if not files:
        services.settle(job_id)
        return "nothing queued"
    held = [f.id for f in files]  # what the heartbeat speaks for; the batch in hand
    with jobs.heartbeat(services.INFERENCE, lambda: held):
        model = DetectorModel.objects.filter(pk=job.model_id).first()
        if model is None:
            for f in files:
                services.record_failure(f.id, "The model was deleted before this file was processed")
            services.settle(job_id)
            return "model deleted"
        import torch

        torch.set_num_threads(max(1, os.cpu_count() or 1))
        device = pick_device()
        detector = Detector.load(model_file(model), device)
        InferenceJob.objects.filter(pk=job_id).update(device=device)
        processed = 0
        try:
            while files:
                held[:] = [f.id for f in files]
                processed += process(job, detector, files, device)
                files = services.claim_queued(job_id)
        except InferenceCancelled:
            return "cancelled"
    services.settle(job_id)
    return f"{processed} file(s) processed"


def process(job: InferenceJob, detector: Detector, files: list[InferenceFile], device: str) -> int:
    by_id = {str(f.id): f for f in files}
    last_check = [time.monotonic()]

    def should_stop() -> bool:
        if time.monotonic() - last_check[0] < CANCEL_CHECK_EVERY_S:
            return False
        last_check[0] = time.monotonic()
        return services.is_cancelled(job.id)

    items = [(str(f.id), str(storage.absolute(f.s3_key)), services.file_dir(f)) for f in files]
    frame_ms = detector.geometry["frame_ms"]
    limits = decode_limits()
    for result in infer_files(detector, items, device=device, should_stop=should_stop, limits=limits):
        if result.error:
            services.record_failure(result.key, result.error)
        else:
            services.record_result(by_id[result.key], job, result.duration_ms, result.frames, frame_ms)
    return len(files)


def run_finished(task) -> None:
    """django-q2 hook: a task that crashed or timed out fails the files it was holding, with why."""
    if task.success or not task.args:
        return
    job_id, why = task.args[0], jobs.task_reason(task)
    for f in InferenceFile.objects.filter(job_id=job_id, status=FileStatus.PROCESSING):
        services.record_failure(f.id, f"Inference stopped: {why}")
    services.settle(job_id, error=f"Inference stopped: {why}")
