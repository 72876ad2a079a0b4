"""Ingest through the real django-q2 worker: every format, and bad files failing alone."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets.models import AudioFile
from tests import factories
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker]

DONE = {"ready", "failed"}


def upload_all(api, dataset, files: dict[str, bytes]) -> dict[str, str]:
    payload = {"file": [SimpleUploadedFile(name, data) for name, data in files.items()]}
    response = api.post(f"/api/v1/datasets/{dataset.id}/audio", payload, format="multipart")
    assert response.status_code == 201, response.content
    return {item["original_filename"]: item["id"] for item in response.json()["items"]}


def statuses(ids: dict[str, str]) -> dict[str, AudioFile]:
    rows = {str(a.id): a for a in AudioFile.objects.filter(pk__in=ids.values())}
    return {name: rows[i] for name, i in ids.items()}


def test_the_worker_ingests_every_format_and_fails_bad_files_alone(worker, api, dataset):
    flac = factories.encode("flac")
    files = {
        "speech.wav": factories.wav_bytes(),
        # Extensions lie on purpose: the type is decided by decoding.
        "speech.mp3": factories.encode("mp3"),
        "speech-really-flac.wav": flac,
        "speech.ogg": factories.encode("ogg"),
        "speech.m4a": factories.encode("m4a"),
        "empty.wav": b"",
        "notes.mp3": b"meeting notes, definitely not audio\n" * 40,
        "cut.flac": flac[: len(flac) // 2],
    }
    ids = upload_all(api, dataset, files)
    rows = wait_for(
        lambda: (s := statuses(ids)) and all(a.processing_status in DONE for a in s.values()) and s,
        timeout=120,
    )
    expected_ms = factories.speech_clip().duration_ms
    for name in ["speech.wav", "speech.mp3", "speech-really-flac.wav", "speech.ogg", "speech.m4a"]:
        audio = rows[name]
        assert audio.processing_status == "ready", (name, audio.error_message)
        assert abs(audio.duration_ms - expected_ms) < 80
        assert len(audio.sha256) == 64 and audio.processed_at is not None
    assert rows["speech-really-flac.wav"].content_type == "audio/flac"
    assert rows["speech.m4a"].content_type == "audio/mp4" and rows["speech.m4a"].channels == 2
    assert rows["empty.wav"].processing_status == "failed"
    assert rows["empty.wav"].error_message == "file is empty (0 bytes)"
    assert rows["notes.mp3"].error_message.startswith("not an audio file")
    assert "truncated or corrupt FLAC" in rows["cut.flac"].error_message
    peaks = api.get(f"/api/v1/datasets/{dataset.id}/audio/{ids['speech.ogg']}/peaks")
    assert peaks.status_code == 200 and peaks.json()["length"] > 0


def test_the_quickstart_upload_url_flow_ends_ready_through_the_worker(worker, api, dataset):
    from tests.test_audio_api import ask_upload_url, post_to_upload_url

    data = factories.wav_bytes(3)
    ticket = ask_upload_url(api, dataset, data).json()
    assert post_to_upload_url(ticket, data).status_code == 204
    api.post(
        f"/api/v1/datasets/{dataset.id}/audio/confirm",
        {"audio_id": ticket["audio_id"]},
        format="json",
    )
    url = f"/api/v1/datasets/{dataset.id}/audio/{ticket['audio_id']}"
    body = wait_for(lambda: (b := api.get(url).json())["processing_status"] in DONE and b, timeout=60)
    assert body["processing_status"] == "ready"
    assert body["duration_ms"] == factories.speech_clip(3).duration_ms
