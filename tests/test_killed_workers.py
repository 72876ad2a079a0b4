"""Workers killed with SIGKILL mid-task: a restarted worker finishes the work, each unit once.

The clusters are real `manage.py qcluster` processes; the kill takes the whole process group, as
when a machine is lost. The heartbeat is 1 s and the stale limit 4 s here (5 s and 30 s by default).
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets import services
from datasets.models import AudioFile
from inference import services as inference_services
from inference.models import InferenceFile, InferenceJob
from relayml.scores import SCORES_NAME
from relayweb import storage
from tests import factories
from tests.conftest import kill, start_cluster, stop, wait_for
from tests.training_data import trained_model

pytestmark = [pytest.mark.worker]

QUICK = {"RELAY_HEARTBEAT_S": "1", "RELAY_JOB_STALE_S": "4"}


def long_wav(minutes: int) -> bytes:
    """Enough audio that a worker is still busy with it when the test kills it."""
    noise = np.random.default_rng(0).normal(0, 0.05, minutes * 60 * 16000).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, noise, 16000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture
def quick_lifecycle(transactional_db, settings):
    settings.RELAY_HEARTBEAT_S, settings.RELAY_JOB_STALE_S = 1, 4
    return settings


def test_a_killed_ingest_worker_is_replaced_and_the_file_ends_ready_by_the_scheduled_reaper(
    quick_lifecycle, media_root
):
    dataset = factories.make_dataset(factories.make_team())
    audio = services.upload_and_queue(dataset, SimpleUploadedFile("long.wav", long_wav(30)))
    first = start_cluster(quick_lifecycle, media_root, **QUICK)
    try:
        busy = AudioFile.objects.filter(pk=audio.id, processing_status__in=["normalizing", "embedding"])
        wait_for(busy.exists, timeout=60, interval=0.1)
    finally:
        kill(first)
    audio.refresh_from_db()
    assert audio.processing_status in ("normalizing", "embedding") and audio.attempts == 1

    # A restarted cluster: its scheduler runs the reaper, which puts the file back in the queue.
    second = start_cluster(quick_lifecycle, media_root, **QUICK)
    try:
        ready = wait_for(
            lambda: (a := AudioFile.objects.get(pk=audio.id)).processing_status in ("ready", "failed") and a,
            timeout=150,
        )
    finally:
        stop(second)
    assert ready.processing_status == "ready", ready.error_message
    assert ready.attempts == 2  # the killed claim and the one that finished: nothing ran a third time
    assert ready.duration_ms == 30 * 60 * 1000


def test_a_killed_inference_worker_hands_its_file_on_and_the_job_completes(quick_lifecycle, media_root):
    from relayweb import jobs

    team = factories.make_team()
    model = trained_model(team, quick_lifecycle, epochs=1)
    job = inference_services.create_job(
        team, model, {"threshold": 0.5, "merge_window_ms": 200, "min_duration_ms": 50}
    )
    f = inference_services.upload_and_queue(job, SimpleUploadedFile("long.wav", long_wav(40)))
    first = start_cluster(quick_lifecycle, media_root, cluster="inference", **QUICK)
    try:
        wait_for(InferenceFile.objects.filter(pk=f.id, status="processing").exists, timeout=90, interval=0.1)
        time.sleep(1.0)  # well into the file
    finally:
        kill(first)
    f.refresh_from_db()
    assert f.status == "processing" and f.attempts == 1
    time.sleep(5)  # silent for longer than the stale limit
    # The reaper runs on the ingest cluster's schedule (see the test above); here, directly.
    assert jobs.reap()["inference_requeued"] == 1
    second = start_cluster(quick_lifecycle, media_root, cluster="inference", **QUICK)
    try:
        done = wait_for(
            lambda: (j := InferenceJob.objects.get(pk=job.id)).status in ("completed", "failed") and j,
            timeout=150,
        )
    finally:
        stop(second)
    f.refresh_from_db()
    assert done.status == "completed", f.error_message
    assert f.status == "completed" and f.attempts == 2 and f.duration_ms == 40 * 60 * 1000
    scores = storage.join(inference_services.file_prefix(f), SCORES_NAME)
    assert storage.size(scores) == f.frames * len(job.artifact_types)
