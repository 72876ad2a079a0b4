"""Audio files: the signed upload flow, the one-call upload, Range content, peaks, deletion."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets import tasks
from datasets.models import Annotation, AnnotationSet, AudioFile, SetStatus
from relayweb.models import Role
from tests import factories
from tests.conftest import api_client, upload

pytestmark = pytest.mark.django_db


def ask_upload_url(api, dataset, data: bytes, filename="take 1.wav"):
    body = {"filename": filename, "content_type": "audio/wav", "file_size": len(data)}
    return api.post(f"/api/v1/datasets/{dataset.id}/audio/upload-url", body, format="json")


def post_to_upload_url(ticket: dict, data: bytes, filename="take 1.wav"):
    url = urlparse(ticket["upload_url"])
    if url.netloc != "testserver":  # S3 storage: a presigned POST straight to the bucket
        return requests.post(ticket["upload_url"], data=ticket["fields"], files={"file": (filename, data)})
    payload = {**ticket["fields"], "file": SimpleUploadedFile(filename, data)}
    return api_client(None).post(f"{url.path}?{url.query}", payload, format="multipart")


def test_upload_url_then_upload_then_confirm_queues_processing(
    api, dataset, django_capture_on_commit_callbacks
):
    data = factories.wav_bytes()
    response = ask_upload_url(api, dataset, data)
    assert response.status_code == 200
    ticket = response.json()
    assert set(ticket) == {"upload_url", "fields", "key", "expires_in", "audio_id"}
    assert ticket["upload_url"].startswith("http://testserver/api/v1/uploads/")
    assert AudioFile.objects.get(pk=ticket["audio_id"]).processing_status == "pending"
    assert post_to_upload_url(ticket, data).status_code == 204
    with django_capture_on_commit_callbacks() as queued:
        confirm = api.post(
            f"/api/v1/datasets/{dataset.id}/audio/confirm",
            {"audio_id": ticket["audio_id"]},
            format="json",
        )
    assert confirm.status_code == 200
    assert confirm.json() == {
        "audio_id": ticket["audio_id"],
        "status": "pending",
        "message": "Upload confirmed; processing has been queued",
    }
    assert len(queued) == 1
    again = api.post(
        f"/api/v1/datasets/{dataset.id}/audio/confirm",
        {"audio_id": ticket["audio_id"]},
        format="json",
    )
    assert again.status_code == 200 and "Already confirmed" in again.json()["message"]
    audio = AudioFile.objects.get(pk=ticket["audio_id"])
    assert audio.size_bytes == len(data) and audio.original_filename == "take 1.wav"


def test_confirm_before_upload_is_409(api, dataset):
    ticket = ask_upload_url(api, dataset, b"x" * 10).json()
    response = api.post(
        f"/api/v1/datasets/{dataset.id}/audio/confirm",
        {"audio_id": ticket["audio_id"]},
        format="json",
    )
    assert response.status_code == 409
    assert "upload_url" in response.json()["detail"]


def test_confirm_of_an_unknown_or_other_teams_audio_is_404(api, client_for, other_team, dataset):
    other = factories.make_dataset(other_team)
    ticket = ask_upload_url(client_for(Role.ADMIN, for_team=other_team), other, b"x" * 10).json()
    response = api.post(
        f"/api/v1/datasets/{dataset.id}/audio/confirm",
        {"audio_id": ticket["audio_id"]},
        format="json",
    )
    assert response.status_code == 404
    response = api.post(f"/api/v1/datasets/{dataset.id}/audio/confirm", {"audio_id": "nope"}, format="json")
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [
        "body",
        "audio_id",
    ]


def test_a_tampered_or_missing_signature_is_403_and_stores_nothing(api, dataset):
    data = factories.wav_bytes()
    ticket = ask_upload_url(api, dataset, data).json()
    tampered = {**ticket, "upload_url": ticket["upload_url"][:-3] + "abc"}
    assert post_to_upload_url(tampered, data).status_code == 403
    unsigned = {**ticket, "upload_url": ticket["upload_url"].split("?")[0] + "?"}
    assert post_to_upload_url(unsigned, data).status_code == 403
    assert AudioFile.objects.get(pk=ticket["audio_id"]).uploaded_at is None


def test_an_expired_upload_url_is_403(api, dataset, settings):
    data = b"x" * 10
    ticket = ask_upload_url(api, dataset, data).json()
    settings.RELAY_UPLOAD_URL_EXPIRES = -1
    response = post_to_upload_url(ticket, data)
    assert response.status_code == 403 and "expired" in response.json()["detail"]


def test_an_upload_url_works_once(api, dataset):
    data = factories.wav_bytes()
    ticket = ask_upload_url(api, dataset, data).json()
    assert post_to_upload_url(ticket, data).status_code == 204
    assert post_to_upload_url(ticket, data).status_code == 409


def test_a_body_larger_than_declared_is_413_and_smaller_is_422(api, dataset):
    ticket = ask_upload_url(api, dataset, b"x" * 100).json()
    assert post_to_upload_url(ticket, b"x" * 5000).status_code == 413
    ticket = ask_upload_url(api, dataset, b"x" * 100).json()
    response = post_to_upload_url(ticket, b"x" * 50)
    assert response.status_code == 422 and "declared" in response.json()["detail"][0]["msg"]
    assert AudioFile.objects.filter(uploaded_at__isnull=False).count() == 0


def test_asking_to_upload_more_than_the_limit_is_413(api, dataset, settings):
    body = {
        "filename": "huge.wav",
        "content_type": "audio/wav",
        "file_size": settings.RELAY_MAX_UPLOAD_BYTES + 1,
    }
    response = api.post(f"/api/v1/datasets/{dataset.id}/audio/upload-url", body, format="json")
    assert response.status_code == 413
    assert "500 MB" in response.json()["detail"]
    assert not AudioFile.objects.exists()


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"content_type": "audio/wav", "file_size": 10}, ["body", "filename"]),
        ({"filename": "", "file_size": 10}, ["body", "filename"]),
        ({"filename": "x" * 501, "file_size": 10}, ["body", "filename"]),
        ({"filename": "a.wav", "file_size": 0}, ["body", "file_size"]),
        ({"filename": "a.wav", "file_size": "big"}, ["body", "file_size"]),
    ],
)
def test_bad_upload_url_requests_are_422(api, dataset, body, loc):
    response = api.post(f"/api/v1/datasets/{dataset.id}/audio/upload-url", body, format="json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


def test_one_call_multipart_upload_takes_several_files(api, dataset, django_capture_on_commit_callbacks):
    files = [
        SimpleUploadedFile("a.wav", factories.wav_bytes(1)),
        SimpleUploadedFile("b.flac", factories.encode("flac")),
    ]
    with django_capture_on_commit_callbacks() as queued:
        response = api.post(f"/api/v1/datasets/{dataset.id}/audio", {"file": files}, format="multipart")
    assert response.status_code == 201
    body = response.json()
    assert body["created"] == 2 and {a["original_filename"] for a in body["items"]} == {
        "a.wav",
        "b.flac",
    }
    assert len(queued) == 2


def test_multipart_upload_without_a_file_is_422(api, dataset):
    response = api.post(f"/api/v1/datasets/{dataset.id}/audio", {}, format="multipart")
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "file"]


def test_an_oversize_multipart_upload_is_413_and_leaves_nothing(api, dataset, settings):
    settings.RELAY_MAX_UPLOAD_BYTES = 1000
    response = api.post(
        f"/api/v1/datasets/{dataset.id}/audio",
        {"file": SimpleUploadedFile("a.wav", b"x" * 5000)},
        format="multipart",
    )
    assert response.status_code == 413
    assert not AudioFile.objects.exists()


def test_viewers_cannot_upload(client_for, dataset):
    response = client_for(Role.VIEWER).post(
        f"/api/v1/datasets/{dataset.id}/audio",
        {"file": SimpleUploadedFile("a.wav", b"x")},
        format="multipart",
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\music\\take.wav", "take.wav"),
        ('a"b\x07c.wav', "a'bc.wav"),
        ("...", "audio"),
    ],
)
def test_file_names_are_sanitised_and_never_reach_the_disk(api, dataset, given, stored, media_root):
    response = ask_upload_url(api, dataset, b"x" * 10, filename=given)
    audio = AudioFile.objects.get(pk=response.json()["audio_id"])
    assert audio.original_filename == stored
    assert response.json()["key"] == f"datasets/{dataset.id}/audio/{audio.id}/original"


def test_content_supports_range_requests(api, ready_audio):
    url = f"/api/v1/datasets/{ready_audio.dataset_id}/audio/{ready_audio.id}/content"
    original = b"".join(api.get(url).streaming_content)
    assert original[:4] == b"RIFF" and len(original) == ready_audio.size_bytes
    partial = api.get(url, HTTP_RANGE="bytes=100-199")
    assert partial.status_code == 206
    assert partial["Content-Range"] == f"bytes 100-199/{len(original)}"
    assert b"".join(partial.streaming_content) == original[100:200]
    suffix = api.get(url, HTTP_RANGE="bytes=-10")
    assert b"".join(suffix.streaming_content) == original[-10:]
    assert api.get(url, HTTP_RANGE=f"bytes={len(original)}-").status_code == 416
    assert api.get(url)["Accept-Ranges"] == "bytes"


def test_peaks_are_served_in_audiowaveform_format_and_zoom_out(api, ready_audio):
    url = f"/api/v1/datasets/{ready_audio.dataset_id}/audio/{ready_audio.id}/peaks"
    peaks = api.get(url).json()
    assert peaks["sample_rate"] == 16000 and peaks["samples_per_pixel"] == 160 and peaks["bits"] == 8
    assert len(peaks["data"]) == 2 * peaks["length"]
    assert peaks["length"] == -(-ready_audio.duration_ms * 16 // 160)
    zoomed = api.get(url + "?samples_per_pixel=1600").json()
    assert zoomed["length"] == -(-peaks["length"] // 10)
    assert max(zoomed["data"]) == max(peaks["data"]) and min(zoomed["data"]) == min(peaks["data"])
    assert api.get(url + "?samples_per_pixel=10").status_code == 422


def test_peaks_of_a_file_not_yet_processed_are_409(api, dataset):
    audio = upload(dataset, "a.wav", factories.wav_bytes())
    response = api.get(f"/api/v1/datasets/{dataset.id}/audio/{audio.id}/peaks")
    assert response.status_code == 409 and "pending" in response.json()["detail"]


def test_list_filters_by_status_and_rejects_unknown_statuses(api, dataset, ready_audio):
    upload(dataset, "a.wav", factories.wav_bytes())
    base = f"/api/v1/datasets/{dataset.id}/audio"
    assert api.get(base).json()["total"] == 2
    ready = api.get(base + "?status=ready").json()
    assert [a["id"] for a in ready["items"]] == [str(ready_audio.id)]
    assert api.get(base + "?status=pending").json()["total"] == 1
    assert api.get(base + "?status=bogus").status_code == 422


def test_a_ready_file_reports_what_was_measured(api, ready_audio):
    body = api.get(f"/api/v1/datasets/{ready_audio.dataset_id}/audio/{ready_audio.id}").json()
    assert body["processing_status"] == "ready" and body["error_message"] == ""
    assert body["content_type"] == "audio/wav" and body["sample_rate"] == 16000 and body["channels"] == 1
    assert body["duration_ms"] == factories.speech_clip().duration_ms
    assert len(body["sha256"]) == 64


def test_deleting_audio_removes_its_files(api, ready_audio, media_root, django_capture_on_commit_callbacks):
    folder = media_root / "datasets" / str(ready_audio.dataset_id) / "audio" / str(ready_audio.id)
    assert (folder / "features.npy").exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            api.delete(f"/api/v1/datasets/{ready_audio.dataset_id}/audio/{ready_audio.id}").status_code == 204
        )
    assert not folder.exists() and not AudioFile.objects.exists()


def test_audio_in_a_published_set_cannot_be_deleted(api, ready_audio):
    published = AnnotationSet.objects.create(
        dataset=ready_audio.dataset, version=1, status=SetStatus.PUBLISHED
    )
    Annotation.objects.create(
        annotation_set=published, audio_file=ready_audio,
        artifact_type=ready_audio.dataset.artifact_types.first(), start_ms=1, end_ms=5,
    )  # fmt: skip
    response = api.delete(f"/api/v1/datasets/{ready_audio.dataset_id}/audio/{ready_audio.id}")
    assert response.status_code == 409 and "v1" in response.json()["detail"]
    assert AudioFile.objects.filter(pk=ready_audio.pk).exists()


def test_ingest_of_a_corrupt_upload_fails_with_a_reason(dataset):
    audio = upload(dataset, "notes.wav", b"these are my notes, not audio" * 10)
    assert tasks.ingest_audio(str(audio.id)) == "failed"
    audio.refresh_from_db()
    assert audio.processing_status == "failed"
    assert audio.error_message.startswith("not an audio file")


def test_ingest_skips_a_file_deleted_before_it_ran(dataset):
    audio = upload(dataset, "a.wav", factories.wav_bytes())
    audio_id = str(audio.id)
    audio.delete()
    assert tasks.ingest_audio(audio_id) == "deleted before processing"


def test_a_task_that_dies_marks_its_file_failed_through_the_hook(dataset):
    from django_q.models import Task

    audio = upload(dataset, "a.wav", factories.wav_bytes())
    dead = Task(args=(str(audio.id),), success=False, result="Task exceeded timeout")
    tasks.ingest_finished(dead)
    audio.refresh_from_db()
    assert audio.processing_status == "failed"
    assert audio.error_message == "processing stopped unexpectedly: Task exceeded timeout"


def test_the_hook_never_fails_a_file_that_is_ready(ready_audio):
    from django_q.models import Task

    tasks.ingest_finished(Task(args=(str(ready_audio.id),), success=False, result="late"))
    ready_audio.refresh_from_db()
    assert ready_audio.processing_status == "ready"


@pytest.mark.parametrize(
    ("declared", "served"),
    [
        ("text/html", "application/octet-stream"),
        ("audio/mpeg", "audio/mpeg"),
        ("x", "application/octet-stream"),
    ],
)
def test_content_is_served_as_audio_or_octet_stream_never_as_the_declared_html(
    api, dataset, declared, served
):
    audio = upload(dataset, "page.wav", b"<script>alert(1)</script>")
    audio.content_type = declared
    audio.save(update_fields=["content_type"])
    response = api.get(f"/api/v1/datasets/{dataset.id}/audio/{audio.id}/content")
    assert response.status_code == 200 and response["Content-Type"] == served


def test_a_datasets_audio_keeps_its_script_from_upload_manifest_or_patch_and_the_workspace_shows_it(
    api, client, team, dataset, ready_audio
):
    from datasets import annotations

    url = f"/api/v1/datasets/{dataset.id}/audio"
    ticket = ask_upload_url(api, dataset, b"RIFF").json()
    assert AudioFile.objects.get(pk=ticket["audio_id"]).expected_text == ""
    body = {"filename": "s.wav", "file_size": 4, "expected_text": "Hello there."}
    scripted = api.post(f"{url}/upload-url", body, format="json").json()
    assert AudioFile.objects.get(pk=scripted["audio_id"]).expected_text == "Hello there."
    manifest = SimpleUploadedFile("m.json", b'[{"filename": "b.wav", "expected_text": "Bee."}]')
    files = [
        SimpleUploadedFile("a.wav", factories.wav_bytes()),
        SimpleUploadedFile("b.wav", factories.wav_bytes()),
    ]
    created = api.post(url, {"file": files, "manifest": manifest}, format="multipart").json()["items"]
    assert [a["expected_text"] for a in created] == ["", "Bee."]
    bad = api.post(
        url, {"file": [SimpleUploadedFile("c.wav", b"x")], "expected_text": ["a", "b"]}, format="multipart"
    )
    assert bad.status_code == 422 and not AudioFile.objects.filter(original_filename="c.wav").exists()

    patched = api.patch(f"{url}/{ready_audio.id}", {"expected_text": "Say <this> exactly."}, format="json")
    assert patched.status_code == 200 and patched.json()["expected_text"] == "Say <this> exactly."
    assert (
        api_client(factories.make_key(team, Role.VIEWER))
        .patch(f"{url}/{ready_audio.id}", {"expected_text": "no"}, format="json")
        .status_code
        == 403
    )
    draft = annotations.create_set(dataset)
    client.force_login(factories.make_user(team, "ada"))
    page = client.get(f"/datasets/{dataset.id}/sets/{draft.id}/annotate/{ready_audio.id}/").content.decode()
    assert "Say &lt;this&gt; exactly." in page
