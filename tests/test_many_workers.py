"""Two inference workers on one queue, as two machines would run them (separate processes sharing
only the database, the broker and the storage): they share a job's files, each file is processed
once, and when one is killed mid-file the other finishes its file too.

Under `make test-scaled` they share PostgreSQL, Redis and a bucket; otherwise the embedded stack.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile

from inference import services
from inference.models import InferenceFile, InferenceJob
from relayweb import jobs, workers
from relayweb.models import Worker
from relayweb.processes import descendants
from tests import factories
from tests.conftest import kill, start_cluster, stop, wait_for
from training import builtin

pytestmark = [pytest.mark.worker]

# One file per claim, so two workers share even a small job; a 1 s heartbeat, stale after 4 s.
QUICK = {"RELAY_HEARTBEAT_S": "1", "RELAY_JOB_STALE_S": "4", "RELAY_INFERENCE_CLAIM": "1"}


def noise_wav(minutes: float, seed: int) -> bytes:
    samples = np.random.default_rng(seed).normal(0, 0.05, int(minutes * 60 * 16000)).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, samples, 16000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture
def quick(transactional_db, settings):
    settings.RELAY_HEARTBEAT_S, settings.RELAY_JOB_STALE_S, settings.RELAY_INFERENCE_CLAIM = 1, 4, 1
    return settings


def holder_of(f: InferenceFile, clusters: list) -> object:
    """The cluster whose task process claimed `f` (its `worker` is host:pid of that process)."""
    pid = int(f.worker.rsplit(":", 1)[1])
    return next(c for c in clusters if pid in descendants(c.pid))


def test_two_workers_share_a_job_each_file_once_and_a_killed_ones_file_is_handed_on(quick, media_root):
    team = factories.make_team()
    model, _verdict = builtin.install()  # the base detector, then the verdict model
    job = services.create_job(team, model, {"threshold": 0.5, "merge_window_ms": 200, "min_duration_ms": 50})
    # The first file is long enough that its worker is still on it when the test kills it.
    long = services.upload_and_queue(job, SimpleUploadedFile("long.wav", noise_wav(40, 0)))
    short = [
        services.upload_and_queue(job, SimpleUploadedFile(f"s{i}.wav", noise_wav(1, i))) for i in range(6)
    ]
    clusters = [start_cluster(quick, media_root, cluster="inference", **QUICK) for _ in range(2)]
    try:
        # Both clusters beat in the workers' table while they run.
        wait_for(lambda: Worker.objects.filter(queue="inference").count() == 2, timeout=60)
        on_it = InferenceFile.objects.filter(pk=long.id, status="processing")
        held = wait_for(lambda: on_it.first(), timeout=90, interval=0.05)
        doomed = holder_of(held, clusters)
        # The other worker processes the short files meanwhile: in parallel with the long one.
        done = InferenceFile.objects.filter(pk__in=[f.id for f in short], status="completed")
        wait_for(lambda: done.count() >= 1, timeout=90, interval=0.1)
        assert InferenceFile.objects.get(pk=long.id).status == "processing"
        kill(doomed)

        # The dead worker's heartbeat stops; the reaper (here called directly) hands its file on.
        assert wait_for(lambda: jobs.reap()["inference_requeued"], timeout=30, interval=1) == 1
        finished = wait_for(
            lambda: (j := InferenceJob.objects.get(pk=job.id)).status in ("completed", "failed") and j,
            timeout=180,
        )
        silent = [w for w in workers.listing() if not w["alive"]]
    finally:
        for cluster in clusters:
            stop(cluster)
    assert finished.status == "completed", finished.error_message
    files = {f.id: f for f in InferenceFile.objects.filter(job=job)}
    assert all(f.status == "completed" for f in files.values()), [f.error_message for f in files.values()]
    # Exactly once: each short file had one claim; the long one two (the killed claim, then its
    # successor), and its result came from the survivor.
    assert sorted(f.attempts for f in files.values()) == [1] * 6 + [2]
    assert files[long.id].attempts == 2 and files[long.id].worker != held.worker
    assert {f.worker for f in files.values() if f.id != long.id} - {held.worker}, "the other worker did none"
    # The killed cluster's row is left silent (its heartbeat stopped), and health says so.
    assert [w["queue"] for w in silent] == ["inference"]
