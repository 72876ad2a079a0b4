"""Training jobs and models through the API: refusals, the real GPU-cluster worker, lineage."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
import torch

from datasets.models import AnnotationSet
from relayml.model import Detector
from relayweb import jobs
from relayweb.models import Role
from tests import factories
from tests.conftest import kill, start_cluster, upload, wait_for
from tests.training_data import TYPES, trainable_dataset
from training import builtin
from training.models import DetectorModel, TrainingJob

TINY = {"artifact_types": TYPES, "epochs": 2, "batch_size": 8}


@pytest.fixture
def small_minimum(settings):
    settings.RELAY_MIN_TRAINING_AUDIO_S = 10
    return settings


def start(api, dataset, annotation_set, config=None):
    body = {
        "dataset_id": str(dataset.id),
        "annotation_set_id": str(annotation_set.id),
        "config": config or TINY,
    }
    return api.post("/api/v1/training-jobs", body, format="json")


@pytest.mark.django_db
class TestRefusals:
    def test_a_draft_set_is_409(self, api, team, small_minimum):
        dataset, draft = trainable_dataset(team, clips=3, publish=False)
        response = start(api, dataset, draft)
        assert response.status_code == 409 and "publish it" in response.json()["detail"]
        assert not TrainingJob.objects.exists()

    def test_audio_added_after_publishing_neither_blocks_nor_joins_training(self, api, team, small_minimum):
        from training.tasks import training_files

        dataset, published = trainable_dataset(team, clips=3)
        late = upload(dataset, "late.wav", factories.wav_bytes())  # still pending
        response = start(api, dataset, published)
        assert response.status_code == 201, response.json()
        job = TrainingJob.objects.get(pk=response.json()["id"])
        with training_files(job) as files:
            assert all(Path(f.features_path).is_file() for f in files)
        assert len(files) == 3 and str(late.id) not in {f.key for f in files}

    def test_too_little_audio_is_409(self, api, team, settings):
        settings.RELAY_MIN_TRAINING_AUDIO_S = 300
        dataset, published = trainable_dataset(team, clips=2)
        response = start(api, dataset, published)
        assert response.status_code == 409 and "at least 5.0 minutes" in response.json()["detail"]

    def test_a_type_without_annotations_is_409(self, api, team, small_minimum):
        dataset, published = trainable_dataset(team, clips=3)
        published.annotations.filter(artifact_type__name="dropout").delete()  # as if never labelled
        response = start(api, dataset, published)
        assert response.status_code == 409 and "dropout" in response.json()["detail"]

    @pytest.mark.parametrize(
        ("config", "loc"),
        [
            ({"epochs": 2}, ["body", "config", "artifact_types"]),
            ({**TINY, "artifact_types": ["hum"]}, ["body", "config", "artifact_types"]),
            ({**TINY, "epochs": 0}, ["body", "config", "epochs"]),
            ({**TINY, "epochs": 101}, ["body", "config", "epochs"]),
            ({**TINY, "validation_split": 0.6}, ["body", "config", "validation_split"]),
            ({**TINY, "learning_rate": 0.5}, ["body", "config", "learning_rate"]),
            ({**TINY, "batch_size": 4}, ["body", "config", "batch_size"]),
            ({**TINY, "stride_ms": 600}, ["body", "config", "stride_ms"]),
        ],
    )
    def test_bad_configs_are_422(self, api, team, small_minimum, config, loc):
        dataset, published = trainable_dataset(team, clips=1)
        response = start(api, dataset, published, config)
        assert response.status_code == 422
        assert loc in [d["loc"] for d in response.json()["detail"]]

    def test_other_teams_dataset_is_404_and_viewers_are_403(
        self, api, team, other_team, client_for, small_minimum
    ):
        dataset, published = trainable_dataset(team, clips=1)
        outsider = client_for(Role.OWNER, for_team=other_team)
        assert start(outsider, dataset, published).status_code == 404
        assert start(client_for(Role.VIEWER), dataset, published).status_code == 403

    def test_a_queued_job_cancels_at_once_and_only_once(self, api, team, small_minimum):
        dataset, published = trainable_dataset(team, clips=3)
        job = start(api, dataset, published).json()
        assert (
            job["status"] == "pending"
            and job["config"]["epochs"] == 2
            and job["config"]["chunk_size_ms"] == 500
        )
        cancelled = api.post(f"/api/v1/training-jobs/{job['id']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert api.post(f"/api/v1/training-jobs/{job['id']}/cancel").status_code == 409

    def test_jobs_list_and_filter_by_status(self, api, team, small_minimum):
        dataset, published = trainable_dataset(team, clips=3)
        job = start(api, dataset, published).json()
        assert api.get("/api/v1/training-jobs").json()["total"] == 1
        assert api.get("/api/v1/training-jobs?status=completed").json()["total"] == 0
        assert api.get("/api/v1/training-jobs?status=pending").json()["items"][0]["id"] == job["id"]
        assert api.get("/api/v1/training-jobs?status=bogus").status_code == 422

    def test_the_hook_fails_a_job_killed_by_its_timeout(self, api, team, small_minimum):
        from django_q.models import Task

        from training.tasks import train_finished

        dataset, published = trainable_dataset(team, clips=3)
        job = start(api, dataset, published).json()
        train_finished(Task(args=(job["id"],), success=False, result="Task exceeded timeout"))
        body = api.get(f"/api/v1/training-jobs/{job['id']}").json()
        assert (
            body["status"] == "failed" and body["error_message"] == "Training stopped: Task exceeded timeout"
        )


@pytest.mark.worker
def test_training_end_to_end_through_the_gpu_cluster(gpu_worker, api, team, small_minimum):
    dataset, published = trainable_dataset(team, clips=6)
    response = start(api, dataset, published)
    assert response.status_code == 201
    job_id = response.json()["id"]
    url = f"/api/v1/training-jobs/{job_id}"
    job = wait_for(lambda: (j := api.get(url).json())["status"] in {"completed", "failed"} and j, timeout=180)
    assert job["status"] == "completed", job["error_message"]
    assert job["progress"] == 1.0 and job["current_epoch"] == 2 and job["device"] == "cpu"
    assert [h["epoch"] for h in job["history"]] == [1, 2]
    assert all(h["train_loss"] > 0 and h["val_f1"] is not None for h in job["history"])
    assert job["started_at"] and job["completed_at"] and job["annotation_set_version"] == 1

    model = api.get(f"/api/v1/models/{job['model_id']}").json()
    assert model["training_job_id"] == job_id and model["dataset_id"] == str(dataset.id)
    assert model["annotation_set_id"] == str(published.id) and model["annotation_set_version"] == 1
    assert model["artifact_types"] == TYPES
    per_type = model["metrics"]["per_type"]
    assert set(per_type) == set(TYPES)
    for metrics in per_type.values():
        assert {"precision", "recall", "f1", "frame_ap", "suggested_threshold"} <= set(metrics)
    assert 0 <= model["metrics"]["overall"]["f1"] <= 1

    download = api.get(f"/api/v1/models/{model['id']}/download")
    raw = b"".join(download.streaming_content)
    payload = torch.load(io.BytesIO(raw), weights_only=True)
    assert payload["artifact_types"] == TYPES and payload["feature_params"]["n_mels"] == 64
    assert "mean" in payload["normalisation"] and payload["code_version"]

    renamed = api.patch(f"/api/v1/models/{model['id']}", {"name": "TTS glitches v1"}, format="json")
    assert renamed.json()["name"] == "TTS glitches v1"
    listed = api.get("/api/v1/models").json()["items"]
    assert [m["id"] for m in listed if not m["is_builtin"]] == [model["id"]]

    # Deleting the dataset leaves the model (and its file) working.
    assert api.delete(f"/api/v1/datasets/{dataset.id}").status_code == 204
    stored = DetectorModel.objects.get(pk=model["id"])

    Detector.load(builtin.model_file(stored))
    assert api.get(f"/api/v1/models/{model['id']}").json()["dataset_id"] == str(dataset.id)
    assert api.delete(f"/api/v1/models/{model['id']}").status_code == 204
    assert api.get(f"/api/v1/models/{model['id']}").status_code == 404


@pytest.mark.worker
def test_cancelling_a_running_job_stops_the_worker(gpu_worker, api, team, small_minimum):
    dataset, published = trainable_dataset(team, clips=4)
    job_id = start(api, dataset, published, {**TINY, "epochs": 100}).json()["id"]
    url = f"/api/v1/training-jobs/{job_id}"
    wait_for(lambda: api.get(url).json()["current_epoch"] >= 1, timeout=120)
    assert api.post(f"{url}/cancel").json()["status"] == "training"  # asked; the worker stops next
    job = wait_for(lambda: (j := api.get(url).json())["status"] != "training" and j, timeout=60)
    assert job["status"] == "cancelled" and job["model_id"] is None
    assert job["current_epoch"] < 100
    assert not AnnotationSet.objects.filter(pk=published.id, status="draft").exists()
    assert jobs.reap()["training_requeued"] == 0


@pytest.mark.worker
def test_a_job_whose_worker_is_killed_is_trained_again_once_then_failed_with_a_reason(
    transactional_db, api, team, small_minimum, media_root
):
    small_minimum.RELAY_JOB_STALE_S = 4
    quick = {"RELAY_HEARTBEAT_S": "1", "RELAY_JOB_STALE_S": "4"}
    dataset, published = trainable_dataset(team, clips=4)
    job_id = start(api, dataset, published, {**TINY, "epochs": 100}).json()["id"]
    url = f"/api/v1/training-jobs/{job_id}"
    for attempt in (1, 2):
        worker = start_cluster(small_minimum, media_root, cluster="training", **quick)
        try:
            running = TrainingJob.objects.filter(pk=job_id, attempts=attempt, current_epoch__gte=1)
            wait_for(running.exists, timeout=120)
        finally:
            kill(worker)  # the machine is gone: no hook, no goodbye
        assert api.get(url).json()["status"] == "training"
        time.sleep(5)  # silent for longer than RELAY_JOB_STALE_S
        reaped = jobs.reap()
        if attempt == 1:  # put back in the queue once: a restarted worker trains it from the start
            assert reaped["training_requeued"] == 1
            assert api.get(url).json()["status"] == "queued"
    assert reaped["training_failed"] == 1
    job = api.get(url).json()
    assert job["status"] == "failed" and job["completed_at"] and job["model_id"] is None
    assert "stopped responding 2 times" in job["error_message"]


def test_the_model_page_warns_when_validation_is_too_small_to_trust(client, team, settings, media_root):
    from tests.training_data import trained_model

    model = trained_model(team, settings, epochs=1)
    client.force_login(factories.make_user(team, "sam", Role.VIEWER))
    page = client.get(f"/models/{model.id}/").content.decode()
    assert page.count('data-testid="metrics-warning"') == len(model.artifact_types)
    assert "at least 20 are needed before these figures mean much" in page


def test_a_queued_jobs_page_says_where_it_waits_and_why(client, team):
    import uuid
    from datetime import timedelta

    from django.utils import timezone
    from django_q.models import OrmQ
    from django_q.tasks import async_task

    job = TrainingJob.objects.create(
        team=team, dataset_id=uuid.uuid4(), annotation_set_id=uuid.uuid4(), annotation_set_version=1,
        config={"artifact_types": ["glitch"], "epochs": 1}, status="queued",
    )  # fmt: skip
    client.force_login(factories.make_user(team, "ada"))

    def waiting() -> str:
        page = client.get(f"/training/{job.id}/").content.decode()
        return page.split('id="job-waiting">', 1)[1].split("</p>", 1)[0] if "job-waiting" in page else ""

    async_task("math.floor", 1.5, cluster="training")
    assert waiting() == "Queued in the training queue; a worker will pick it up."
    OrmQ.objects.update(lock=timezone.now() - timedelta(minutes=5))  # nobody took it since
    assert "no worker has taken it" in waiting() and "Q_CLUSTER_NAME=training" in waiting()
    OrmQ.objects.update(lock=timezone.now() + timedelta(minutes=5))  # a worker holds it: busy
    assert waiting().startswith("Waiting in the training queue: its worker is busy")
    TrainingJob.objects.filter(pk=job.pk).update(status="training")
    assert waiting() == ""
