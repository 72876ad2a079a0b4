"""S3-compatible storage (relayweb/storage.py) against a real server the suite starts (moto's):
presigned POSTs straight to the bucket, confirmation that checks what arrived, workers that read
and write the bucket, Range requests, deletion, health and the browser's upload."""

from __future__ import annotations

import os
import subprocess

import boto3
import pytest
import requests
from django.conf import settings

from datasets import tasks
from datasets.models import AudioFile
from inference import services as inference_services
from inference import tasks as inference_tasks
from relayml.ingest import CANONICAL_NAME, FEATURES_META_NAME, FEATURES_NAME, PEAKS_NAME
from relayml.scores import SCORES_NAME
from relayweb import storage
from tests import factories
from tests.conftest import sign_in
from training import builtin

pytestmark = pytest.mark.django_db


def bucket_keys() -> list[str]:
    client = boto3.client("s3", endpoint_url=settings.RELAY_S3_ENDPOINT_URL, region_name="us-east-1")
    listed = client.list_objects_v2(Bucket=settings.RELAY_STORAGE_URL.removeprefix("s3://"))
    return sorted(o["Key"] for o in listed.get("Contents", []))


def upload_straight_to_the_bucket(api, dataset, data: bytes, declared: int | None = None) -> dict:
    body = {"filename": "take 1.wav", "content_type": "audio/wav", "file_size": declared or len(data)}
    ticket = api.post(f"/api/v1/datasets/{dataset.id}/audio/upload-url", body, format="json").json()
    sent = requests.post(ticket["upload_url"], data=ticket["fields"], files={"file": ("take 1.wav", data)})
    assert sent.status_code == 204, sent.text
    return ticket


def confirm(api, dataset, ticket):
    return api.post(
        f"/api/v1/datasets/{dataset.id}/audio/confirm", {"audio_id": ticket["audio_id"]}, format="json"
    )


def test_upload_url_is_a_presigned_post_to_the_bucket_and_confirm_queues_what_arrived(
    s3, api, dataset, media_root, django_capture_on_commit_callbacks
):
    data = factories.wav_bytes()
    ticket = upload_straight_to_the_bucket(api, dataset, data)
    assert ticket["upload_url"].startswith(settings.RELAY_S3_ENDPOINT_URL)
    assert {"key", "policy", "x-amz-signature", "x-amz-credential"} <= set(ticket["fields"])
    assert ticket["fields"]["key"] == ticket["key"]
    with django_capture_on_commit_callbacks() as queued:
        response = confirm(api, dataset, ticket)
    assert response.status_code == 200 and response.json()["message"].startswith("Upload confirmed")
    assert len(queued) == 1
    audio = AudioFile.objects.get(pk=ticket["audio_id"])
    assert audio.size_bytes == len(data) and audio.original_path == ticket["key"]

    # The ingest task reads the original from the bucket and writes what it derives back to it.
    assert tasks.ingest_audio(str(audio.id)) == "ready"
    prefix = storage.audio_prefix(audio)
    assert bucket_keys() == sorted(
        f"{prefix}/{n}" for n in ("original", CANONICAL_NAME, PEAKS_NAME, FEATURES_NAME, FEATURES_META_NAME)
    )
    assert not any(p.is_file() for p in media_root.rglob("*"))  # nothing on the web server's disk
    assert mine(storage.scratch_root()) == []  # the worker's scratch copies are gone

    url = f"/api/v1/datasets/{dataset.id}/audio/{audio.id}"
    ranged = api.get(f"{url}/content", HTTP_RANGE="bytes=100-1099")
    assert ranged.status_code == 206 and ranged["Content-Range"] == f"bytes 100-1099/{len(data)}"
    assert b"".join(ranged.streaming_content) == data[100:1100]
    assert api.get(f"{url}/content", HTTP_RANGE=f"bytes={len(data)}-").status_code == 416
    assert api.get(f"{url}/peaks").json()["length"] > 0
    assert api.get(f"{url}/spectrogram?columns=50").status_code == 200


def mine(root) -> list:
    return [p for p in root.iterdir() if p.name.startswith(f"{os.getpid()}-")]


def test_a_killed_workers_scratch_folder_goes_when_the_next_task_on_the_machine_starts(s3):
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = storage.scratch_root() / f"{dead.pid}-abc123"
    left.mkdir()
    (left / "0-original").write_bytes(b"x" * 100)
    with storage.scratch_dir() as folder:
        assert folder.is_dir() and not left.exists()
    assert not folder.exists()


def test_confirm_checks_the_objects_size_itself_and_removes_a_wrong_one(s3, api, dataset):
    # moto does not enforce the policy's content-length-range; confirm must.
    ticket = upload_straight_to_the_bucket(api, dataset, b"x" * 2000, declared=1000)
    response = confirm(api, dataset, ticket)
    assert response.status_code == 413 and "upload limit" in response.json()["detail"]
    assert bucket_keys() == [] and AudioFile.objects.get(pk=ticket["audio_id"]).uploaded_at is None

    short = upload_straight_to_the_bucket(api, dataset, b"x" * 500, declared=1000)
    response = confirm(api, dataset, short)
    assert response.status_code == 422 and "declared file_size=1000" in response.json()["detail"][0]["msg"]

    never_sent = api.post(
        f"/api/v1/datasets/{dataset.id}/audio/upload-url",
        {"filename": "a.wav", "file_size": 10},
        format="json",
    ).json()
    response = confirm(api, dataset, never_sent)
    assert response.status_code == 409 and "upload_url" in response.json()["detail"]


def test_deleting_a_dataset_removes_its_objects(s3, api, dataset, django_capture_on_commit_callbacks):
    ticket = upload_straight_to_the_bucket(api, dataset, factories.wav_bytes())
    confirm(api, dataset, ticket)
    assert tasks.ingest_audio(ticket["audio_id"]) == "ready"
    assert len(bucket_keys()) == 5
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/datasets/{dataset.id}").status_code == 204
    assert bucket_keys() == []


def test_an_inference_file_goes_through_the_bucket_and_its_scores_come_back_from_it(s3, api, team):
    model, _verdict = builtin.install()  # the base detector, then the verdict model
    job = api.post("/api/v1/inference-jobs", {"model_id": str(model.id)}, format="json").json()
    data = factories.wav_bytes(seed=3)
    body = {"filename": "take.wav", "file_size_bytes": len(data)}
    ticket = api.post(f"/api/v1/inference-jobs/{job['id']}/files/upload-url", body, format="json").json()
    assert ticket["upload_url"].startswith(settings.RELAY_S3_ENDPOINT_URL)
    sent = requests.post(
        ticket["upload_url"], data=ticket["upload_fields"], files={"file": ("take.wav", data)}
    )
    assert sent.status_code == 204
    confirmed = api.post(f"/api/v1/inference-jobs/{job['id']}/files/confirm", {"file_id": ticket["file_id"]})
    assert confirmed.status_code == 200, confirmed.json()

    assert inference_tasks.run_job(job["id"]) == "1 file(s) processed"
    f = inference_services.InferenceFile.objects.get(pk=ticket["file_id"])
    assert f.status == "completed", f.error_message
    prefix = inference_services.file_prefix(f)
    assert storage.names(prefix) == sorted(["original", PEAKS_NAME, SCORES_NAME])
    # Re-thresholding reads the stored scores from the bucket (through the local cache).
    relaxed = api.get(f"/api/v1/inference-jobs/{job['id']}/files/{f.id}?threshold=0.05")
    assert relaxed.status_code == 200 and isinstance(relaxed.json()["detections"], list)
    assert api.get(f"/api/v1/inference-jobs/{job['id']}/files/{f.id}/peaks").status_code == 200
    content = api.get(f"/api/v1/inference-jobs/{job['id']}/files/{f.id}/content", HTTP_RANGE="bytes=0-3")
    assert content.status_code == 206 and b"".join(content.streaming_content) == b"RIFF"


def test_health_names_the_bucket_and_reports_one_that_is_gone(s3, client, settings):
    body = client.get("/api/v1/health").json()
    assert body["storage"] == {"backend": f"s3 ({s3})", "status": "ok"}
    settings.RELAY_STORAGE_URL = "s3://no-such-bucket"
    response = client.get("/api/v1/health")
    assert response.status_code == 503 and response.json()["status"] == "degraded"
    assert response.json()["storage"]["status"].startswith("error: ClientError")


@pytest.mark.browser
@pytest.mark.worker
def test_the_browser_uploads_straight_to_the_bucket_and_follows_processing(
    s3, live_server, page, team, worker, tmp_path
):
    factories.make_user(team, "ada")
    dataset = factories.make_dataset(team)
    sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/datasets/{dataset.id}/")
    page.wait_for_selector("body[data-uploads=ready]")
    clip = tmp_path / "take 7.wav"
    clip.write_bytes(factories.wav_bytes(seed=7))
    sent_to = []
    page.on("request", lambda r: r.method == "POST" and sent_to.append(r.url))
    page.set_input_files("#upload-input", str(clip))
    page.wait_for_selector("#uploads li[data-status=ready]", timeout=60_000)
    assert any(url.startswith(settings.RELAY_S3_ENDPOINT_URL) for url in sent_to)
    audio = AudioFile.objects.get(dataset=dataset)
    assert audio.original_filename == "take 7.wav" and audio.processing_status == "ready"
    assert len(bucket_keys()) == 5
