"""Inference through the API and the real GPU-cluster worker, with a model trained in the test."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile

from inference.models import InferenceFile, InferenceJob
from inference.serializers import MAX_EMBEDDED_FILES
from relayml import synth
from relayweb.models import ApiKey, Role
from tests.conftest import wait_for
from tests.training_data import trained_model, wav_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(team, settings, media_root):
    return trained_model(team, settings)


def speech(seed: int, sentences: int = 2) -> bytes:
    return wav_of(synth.make_clip(seed, sentences=sentences))


def create_job(api, model, **config):
    response = api.post(
        "/api/v1/inference-jobs", {"model_id": str(model.id), "config": config}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def inside(detection: dict, others: list[dict]) -> bool:
    return any(
        o["artifact_type"] == detection["artifact_type"]
        and o["start_ms"] <= detection["start_ms"]
        and detection["end_ms"] <= o["end_ms"]
        for o in others
    )


def test_jobs_validate_their_config_and_model(api, client_for, other_team, model):
    job = create_job(api, model)
    assert job["config"] == {
        "threshold": 0.5,
        "merge_window_ms": 200,
        "min_duration_ms": 50,
        "analyses": ["artifacts"],
        "speech_model": "whisper-base",
    }
    assert job["status"] == "pending" and job["files"] == [] and job["total_files"] == 0
    bad = api.post(
        "/api/v1/inference-jobs",
        {"model_id": str(model.id), "config": {"threshold": 1.5, "merge_window_ms": -1}},
        format="json",
    )
    assert bad.status_code == 422
    assert {tuple(e["loc"]) for e in bad.json()["detail"]} == {
        ("body", "config", "threshold"),
        ("body", "config", "merge_window_ms"),
    }
    other = client_for(Role.ADMIN, for_team=other_team)
    assert other.post("/api/v1/inference-jobs", {"model_id": str(model.id)}, format="json").status_code == 404
    assert other.get(f"/api/v1/inference-jobs/{job['id']}").status_code == 404
    assert (
        client_for(Role.VIEWER)
        .post("/api/v1/inference-jobs", {"model_id": str(model.id)}, format="json")
        .status_code
        == 403
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_files_are_processed_by_the_worker_and_a_corrupt_one_fails_alone(api, model, gpu_worker):
    job = create_job(api, model, threshold=0.3)
    files = [
        SimpleUploadedFile("one.wav", speech(11)),
        SimpleUploadedFile("junk.wav", b"RIFF\x00\x00\x00\x00WAVE this is not audio"),
        SimpleUploadedFile("two.wav", speech(12)),
    ]
    response = api.post(f"/api/v1/inference-jobs/{job['id']}/files", {"file": files}, format="multipart")
    assert response.status_code == 201 and response.json()["created"] == 3
    url = f"/api/v1/inference-jobs/{job['id']}"
    done = wait_for(
        lambda: (j := api.get(url).json())["status"] in ("completed", "failed") and j, timeout=120
    )
    assert done["status"] == "completed"
    assert (done["total_files"], done["processed_files"], done["failed_files"]) == (3, 3, 1)
    by_name = {f["original_filename"]: f for f in done["files"]}
    assert by_name["junk.wav"]["status"] == "failed" and by_name["junk.wav"]["error_message"]
    good = by_name["one.wav"]
    assert good["status"] == "completed" and good["duration_ms"] > 5000 and good["processed_at"]
    assert done["total_detections"] == sum(f["detection_count"] for f in done["files"])
    for d in good["detections"]:
        assert set(d) == {"artifact_type", "start_ms", "end_ms", "confidence", "source"}
        assert d["source"] == "model"
        assert d["confidence"] >= 0.3 and 0 <= d["start_ms"] < d["end_ms"] <= good["duration_ms"]

    # Live re-thresholding from the stored scores. A lower threshold can merge pieces into fewer,
    # longer detections, so what must hold is containment: every detection at a stricter threshold
    # lies inside one of the same type at a looser one (same merge window and minimum duration).
    file_url = f"{url}/files/{good['id']}"
    loose = api.get(file_url, {"threshold": 0.05}).json()
    strict = api.get(file_url, {"threshold": 0.95, "merge_window_ms": 200}).json()
    assert loose["config"] == {"threshold": 0.05, "merge_window_ms": 200, "min_duration_ms": 50}
    assert loose["detection_count"] > 0
    for tighter, looser in [(good, loose), (strict, good), (strict, loose)]:
        assert all(inside(d, looser["detections"]) for d in tighter["detections"])
    assert all(d["confidence"] >= 0.95 for d in strict["detections"])
    apart = api.get(file_url, {"threshold": 0.05, "merge_window_ms": 0, "min_duration_ms": 0}).json()
    assert apart["config"] == {"threshold": 0.05, "merge_window_ms": 0, "min_duration_ms": 0}
    assert apart["detection_count"] >= loose["detection_count"]  # no merging, no minimum: never fewer
    assert api.get(file_url, {"threshold": 2}).status_code == 422

    labels = api.get(f"{url}/export", {"format": "audacity", "file_id": good["id"]})
    assert labels.content.decode().count("\n") == max(0, good["detection_count"] - 1)
    exported = json.loads(api.get(f"{url}/export", {"format": "json"}).content)
    assert [item["filename"] for item in exported] == ["one.wav", "junk.wav", "two.wav"]
    archive = zipfile.ZipFile(io.BytesIO(api.get(f"{url}/export", {"format": "audacity"}).content))
    assert sorted(archive.namelist()) == ["junk.wav.txt", "one.wav.txt", "two.wav.txt"]

    results = api.get(f"{url}/results").json()
    assert (results["total"], results["completed"], results["failed"], results["finished"]) == (3, 2, 1, True)
    assert sorted(results["results"]) == ["one.wav", "two.wav"] and list(results["failures"]) == ["junk.wav"]
    one = results["results"]["one.wav"]
    assert one["status"] == "SUCCESSFUL" and one["detections"] == good["detections"]
    assert (
        one["engine"]["device"] == "cpu"
        and one["engine"]["host"]
        and one["engine"]["model"]["id"] == job["model_id"]
    )
    assert one["elapsedTime"] >= 0 and one["startTime"] <= one["endTime"] <= one["updateTime"]
    assert results["failures"]["junk.wav"]["status"] == "FAILED" and results["failures"]["junk.wav"]["error"]
    assert ApiKey.objects.filter(
        team__inference_jobs__id=job["id"], prefix=results["submittedByKey"]
    ).exists()
    assert api.get(f"{url}/results/one.wav").json()["one.wav"]["fileId"] == good["id"]
    assert api.get(f"{url}/results/nothing.wav").status_code == 404


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_upload_url_then_confirm_then_partial_results(api, model, gpu_worker, live_server):
    job = create_job(api, model)
    url = f"/api/v1/inference-jobs/{job['id']}"
    body = speech(21)
    ticket = api.post(
        f"{url}/files/upload-url", {"filename": "take.wav", "file_size_bytes": len(body)}, format="json"
    ).json()
    assert set(ticket) == {"file_id", "upload_url", "upload_fields", "s3_key", "expires_in"}
    # A second file asks for a URL but never uploads: it must not hold the first one back.
    api.post(f"{url}/files/upload-url", {"filename": "later.wav", "file_size_bytes": 10}, format="json")
    upload_url = ticket["upload_url"].replace("http://testserver", live_server.url)
    sent = requests.post(
        upload_url, data=ticket["upload_fields"], files={"file": ("take.wav", body)}, timeout=30
    )
    assert sent.status_code == 204
    confirmed = api.post(f"{url}/files/confirm", {"file_id": ticket["file_id"]}, format="json")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "queued"
    wait_for(lambda: api.get(f"{url}/files/{ticket['file_id']}").json()["status"] == "completed", timeout=120)
    job = api.get(url).json()
    assert {f["original_filename"]: f["status"] for f in job["files"]} == {
        "take.wav": "completed",
        "later.wav": "pending",
    }
    assert job["status"] == "completed"
    # Seed 003's view: by input name, the file still uploading listed as fetching, not finished.
    results = api.get(f"{url}/results").json()
    assert results["results"]["later.wav"]["status"] == "FETCHING_DATA"
    assert results["results"]["take.wav"]["status"] == "SUCCESSFUL" and results["completed"] == 1
    assert results["finished"] is True and results["total"] == 2


def test_confirming_before_uploading_and_oversized_files_are_refused(api, model, settings):
    job = create_job(api, model)
    url = f"/api/v1/inference-jobs/{job['id']}"
    ticket = api.post(
        f"{url}/files/upload-url", {"filename": "x.wav", "file_size_bytes": 100}, format="json"
    ).json()
    assert api.post(f"{url}/files/confirm", {"file_id": ticket["file_id"]}, format="json").status_code == 409
    huge = api.post(
        f"{url}/files/upload-url", {"filename": "x.wav", "file_size_bytes": 524_288_001}, format="json"
    )
    assert huge.status_code == 422
    assert api.post(f"{url}/files", {}, format="multipart").status_code == 422


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_cancel_keeps_finished_results_and_fails_the_rest(api, model, gpu_worker):
    job = create_job(api, model)
    url = f"/api/v1/inference-jobs/{job['id']}"
    first = SimpleUploadedFile("first.wav", speech(31))
    api.post(f"{url}/files", {"file": [first]}, format="multipart")
    wait_for(lambda: api.get(url).json()["status"] == "completed", timeout=120)
    InferenceJob.objects.filter(pk=job["id"]).update(status="processing")  # as if more were coming
    ticket = api.post(
        f"{url}/files/upload-url", {"filename": "late.wav", "file_size_bytes": 10}, format="json"
    )
    cancelled = api.post(f"{url}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    files = {f["original_filename"]: f for f in cancelled.json()["files"]}
    assert files["first.wav"]["status"] == "completed"
    assert files["late.wav"]["status"] == "failed" and "cancelled" in files["late.wav"]["error_message"]
    assert ticket.status_code == 200
    assert api.post(f"{url}/cancel").status_code == 409
    again = api.post(
        f"{url}/files", {"file": [SimpleUploadedFile("more.wav", speech(32))]}, format="multipart"
    )
    assert again.status_code == 409


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_reviewed_file_lands_in_a_draft_of_the_models_dataset_with_its_detections(api, model, gpu_worker):
    from datasets.models import AnnotationSet, AudioFile

    job = create_job(api, model, threshold=0.05, min_duration_ms=0)
    api.post(
        f"/api/v1/inference-jobs/{job['id']}/files",
        {"file": [SimpleUploadedFile("new.wav", speech(41))]},
        format="multipart",
    )
    url = f"/api/v1/inference-jobs/{job['id']}"
    done = wait_for(lambda: (j := api.get(url).json())["status"] == "completed" and j, timeout=120)
    f = done["files"][0]
    assert f["detection_count"] > 0  # a threshold this low always finds something to review
    response = api.post(f"{url}/files/{f['id']}/review", {}, format="json")
    assert response.status_code == 201, response.json()
    result = response.json()
    assert result["created"] == f["detection_count"] and result["skipped"] == 0
    draft = AnnotationSet.objects.get(pk=result["annotation_set_id"])
    assert draft.status == "draft" and str(draft.dataset_id) == str(model.dataset_id)
    assert draft.version == 2  # a new draft copied from the published v1 the model was trained on
    reviewed = AudioFile.objects.get(pk=result["audio_file_id"])
    assert reviewed.original_filename == "new.wav" and reviewed.duration_ms == f["duration_ms"]
    spans = sorted(
        draft.annotations.filter(audio_file=reviewed).values_list("start_ms", "end_ms", "confidence")
    )
    expected = sorted((d["start_ms"], d["end_ms"], d["confidence"]) for d in f["detections"])
    assert [s[:2] for s in spans] == [e[:2] for e in expected]
    assert [s[2] for s in spans] == pytest.approx([e[2] for e in expected])
    assert draft.annotations.filter(audio_file=reviewed).first().extra_data["source"] == "inference"
    assert result["annotate_url"].endswith(f"/annotate/{reviewed.id}/")
    published = AnnotationSet.objects.get(dataset_id=model.dataset_id, version=1)
    assert (
        api.post(
            f"{url}/files/{f['id']}/review", {"annotation_set_id": str(published.id)}, format="json"
        ).status_code
        == 409
    )


def test_a_file_that_was_not_processed_has_no_detections_at_any_settings_and_cannot_be_reviewed(api, model):
    from inference import services

    job = create_job(api, model)
    url = f"/api/v1/inference-jobs/{job['id']}"
    ticket = api.post(f"{url}/files/upload-url", {"filename": "x.wav", "file_size_bytes": 100}, format="json")
    file_id = ticket.json()["file_id"]
    services.record_failure(file_id, "not an audio file")
    detail = api.get(f"{url}/files/{file_id}", {"threshold": 0.9})
    assert detail.status_code == 200 and detail.json()["detections"] == []
    assert api.get(f"{url}/export", {"format": "csv", "threshold": 0.9}).status_code == 200
    refused = api.post(f"{url}/files/{file_id}/review", {"threshold": 0.9}, format="json")
    assert refused.status_code == 409 and "failed" in refused.json()["detail"]


def test_a_jobs_detail_embeds_at_most_its_first_files_and_the_rest_page_through_files(api, team):
    job = InferenceJob.objects.create(team=team, model_id=uuid.uuid4())
    count = MAX_EMBEDDED_FILES + 3
    InferenceFile.objects.bulk_create(
        InferenceFile(job=job, original_filename=f"take{i:04d}.wav") for i in range(count)
    )
    url = f"/api/v1/inference-jobs/{job.id}"
    detail = api.get(url).json()
    assert detail["total_files"] == count
    assert len(detail["files"]) == MAX_EMBEDDED_FILES and detail["files_truncated"] is True
    few = api.get(url, {"files_limit": 2}).json()
    assert [f["original_filename"] for f in few["files"]] == ["take0000.wav", "take0001.wav"]
    assert api.get(url, {"files_limit": MAX_EMBEDDED_FILES + 1}).json()["detail"][0]["loc"] == [
        "query",
        "files_limit",
    ]
    last = api.get(f"{url}/files", {"page": 3, "page_size": 500}).json()
    assert last["total"] == count and [f["original_filename"] for f in last["items"]] == [
        f"take{i:04d}.wav" for i in range(1000, count)
    ]
    listed = api.get("/api/v1/inference-jobs").json()["items"]
    assert len(listed[0]["files"]) == 100 and listed[0]["files_truncated"] is True
    small = api.get("/api/v1/inference-jobs", {"files_limit": 0}).json()["items"][0]
    assert small["files"] == [] and small["files_truncated"] is True and small["total_files"] == count


def test_files_embedded_in_jobs_read_exactly_as_the_files_endpoint_writes_them(api, team):
    """Jobs embed their files from raw rows (inference.serializers.first_files), not through the
    serializer the files endpoint uses: the two must agree field for field."""
    from django.utils import timezone

    detections = [{"artifact_type": "glitch", "start_ms": 10, "end_ms": 130, "confidence": 0.875}]
    jobs = [InferenceJob.objects.create(team=team, model_id=uuid.uuid4()) for _ in range(2)]
    for job in jobs:
        InferenceFile.objects.create(job=job, original_filename="plain.wav")
        InferenceFile.objects.create(
            job=job,
            original_filename="done – é.wav",
            status="completed",
            size_bytes=1234,
            duration_ms=5000,
            s3_key=f"inference/{job.id}/done.wav",
            detections=detections,
            detection_count=1,
            processed_at=timezone.now(),
        )
    for job in jobs:
        paged = api.get(f"/api/v1/inference-jobs/{job.id}/files").json()["items"]
        assert api.get(f"/api/v1/inference-jobs/{job.id}").json()["files"] == paged
        listed = api.get("/api/v1/inference-jobs", {"files_limit": 1}).json()["items"]
        assert [j["files"] for j in listed if j["id"] == str(job.id)] == [paged[:1]]
        assert paged[1]["detections"] == detections and paged[1]["processed_at"].endswith("Z")


def test_inference_never_waits_behind_a_training_run(api, model, gpu_worker, tmp_path):
    """The training queue's one worker is busy for minutes; a job on the inference queue still
    completes, on the same (GPU) machine, meanwhile."""
    from django_q.tasks import async_task

    marker = tmp_path / "training-busy"
    async_task("tests.test_process_lifecycle.mark_and_sleep", str(marker), 300, cluster="training")
    wait_for(marker.exists, timeout=60)
    job = create_job(api, model)
    added = api.post(
        f"/api/v1/inference-jobs/{job['id']}/files",
        {"file": [SimpleUploadedFile("a.wav", speech(3))]},
        format="multipart",
    )
    assert added.status_code == 201
    url = f"/api/v1/inference-jobs/{job['id']}"
    done = wait_for(lambda: (j := api.get(url).json())["status"] == "completed" and j, timeout=120)
    assert done["files"][0]["status"] == "completed"
    # The training task is still running (its process is alive), whatever the broker.
    assert Path(f"/proc/{marker.read_text()}").exists()


def test_input_names_are_the_file_names_made_unique_in_upload_order():
    from inference.job_results import input_names

    files = [InferenceFile(original_filename=n) for n in ("take.wav", "b.wav", "take.wav", "take.wav")]
    assert input_names(files) == ["take.wav", "b.wav", "take.wav (2)", "take.wav (3)"]
