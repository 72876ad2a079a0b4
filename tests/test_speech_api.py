"""Speech analyses through the API: jobs that hear, scripts sent with files, the script check, the
seed-001 results view, and the real inference worker transcribing Piper speech."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets.models import Annotation, ArtifactType, AudioFile
from inference.models import InferenceFile, InferenceJob
from relayml.realdata import engines
from tests.conftest import wait_for
from tests.training_data import trained_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def detector(team, settings, media_root):
    return trained_model(team, settings)


JOBS = "/api/v1/inference-jobs"
SCRIPT = "Your order has been shipped and will arrive on Thursday."
# The script with a word the audio does not have: the check must find exactly that omission.
ALTERED = "Your order has always been shipped and will arrive on Thursday."


def piper_wav(text: str = SCRIPT) -> bytes:
    audio = engines.render(engines.Voice("piper", "en_US-joe-medium"), [text])[0]
    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate([np.zeros(8000, np.float32), audio]), 16_000, format="WAV")
    return buffer.getvalue()


def transcript_job(api, **config) -> dict:
    body = {"config": {"analyses": ["transcript"], "speech_model": "whisper-tiny.en", **config}}
    response = api.post(JOBS, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_job_that_only_hears_needs_no_model_but_finding_artifacts_does(api):
    job = transcript_job(api)
    assert job["model_id"] is None and job["artifact_types"] == []
    assert job["config"]["analyses"] == ["transcript"]
    missing = api.post(JOBS, {"config": {"analyses": ["artifacts", "transcript"]}}, format="json")
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "model_id"]
    for bad in ({"analyses": []}, {"analyses": ["telepathy"]}, {"speech_model": "whisper-huge"}):
        response = api.post(JOBS, {"config": {**bad}, "model_id": None}, format="json")
        assert response.status_code == 422, bad
    assert InferenceJob.objects.count() == 1


def test_scripts_come_with_files_in_order_or_by_manifest_and_bad_ones_save_nothing(api):
    job = transcript_job(api)
    url = f"{JOBS}/{job['id']}/files"

    def upload(**extra):
        files = [SimpleUploadedFile("a.wav", b"RIFF"), SimpleUploadedFile("b.wav", b"RIFF")]
        return api.post(url, {"file": files, **extra}, format="multipart")

    in_order = upload(expected_text=["first script", "second script"])
    assert in_order.status_code == 201
    assert [f["expected_text"] for f in in_order.json()["items"]] == ["first script", "second script"]
    manifest = SimpleUploadedFile("scripts.csv", b"filename,expected_text\nb.wav,only b\n")
    by_name = upload(manifest=manifest)
    assert [f["expected_text"] for f in by_name.json()["items"]] == ["", "only b"]
    as_json = upload(manifest=json.dumps({"a.wav": "only a"}))
    assert [f["expected_text"] for f in as_json.json()["items"]] == ["only a", ""]
    before = InferenceFile.objects.count()
    for bad, part in [
        ({"expected_text": ["just one"]}, "expected_text"),
        ({"manifest": json.dumps({"c.wav": "nobody"})}, "manifest"),
        ({"manifest": "{not json"}, "manifest"),
        ({"manifest": "filename,colour\na.wav,red\n"}, "manifest"),
        ({"manifest": json.dumps({"a.wav": 5})}, "manifest"),
        ({"manifest": "x", "expected_text": ["a", "b"]}, "manifest"),
    ]:
        response = upload(**bad)
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["body", part], response.json()
    assert InferenceFile.objects.count() == before
    ticket = api.post(
        f"{url}/upload-url",
        {"filename": "c.wav", "file_size_bytes": 10, "expected_text": "see c"},
        format="json",
    )
    assert ticket.status_code == 200
    assert InferenceFile.objects.get(pk=ticket.json()["file_id"]).expected_text == "see c"


def completed_file(job_id, script: str = "") -> InferenceFile:
    """A file as the worker leaves it after hearing "please bring your card" (no audio needed:
    the script check runs on the stored transcript)."""
    words = [
        {"word": w, "start_ms": 300 * i, "end_ms": 300 * i + 250, "probability": 0.95}
        for i, w in enumerate(["Please", "bring", "your", "card"])
    ]
    return InferenceFile.objects.create(
        job_id=job_id,
        original_filename="heard.wav",
        status="completed",
        duration_ms=1500,
        expected_text=script,
        transcript={"text": "Please bring your card", "language": "en", "language_probs": {"en": 1.0},
                    "model": "whisper-tiny.en"},
        words=words,
        utterances=[{"start_ms": 0, "end_ms": 1200, "text": "Please bring your card", "language": "en",
                     "language_probs": {"en": 0.97, "de": 0.02}, "speaker": "SPEAKER_00", "verdict": None}],
    )  # fmt: skip


def test_patching_a_processed_files_script_checks_it_again_at_once(api):
    job = transcript_job(api)
    f = completed_file(job["id"])
    url = f"{JOBS}/{job['id']}/files/{f.id}"
    assert api.get(url).json()["detection_count"] == 0
    checked = api.patch(url, {"expected_text": "Please bring your insurance card."}, format="json")
    assert checked.status_code == 200, checked.json()
    body = checked.json()
    assert [(d["artifact_type"], d["details"]) for d in body["detections"]] == [
        ("omission", {"expected": "insurance", "heard": ""})
    ]
    assert body["transcript"]["wer"] == pytest.approx(0.2) and len(body["transcript"]["words"]) == 4
    assert api.get(f"{JOBS}/{job['id']}").json()["total_detections"] == 1
    again = api.patch(url, {"expected_text": "please bring your card"}, format="json").json()
    assert again["detections"] == [] and again["transcript"]["wer"] == 0.0
    assert api.patch(url, {"expected_text": {"not": "text"}}, format="json").status_code == 422
    failed = InferenceFile.objects.create(job_id=job["id"], original_filename="x.wav", status="failed")
    assert (
        api.patch(f"{JOBS}/{job['id']}/files/{failed.id}", {"expected_text": "x"}, format="json").status_code
        == 409
    )


def test_a_second_hearing_that_heard_the_script_clears_the_first_ones_finding_for_that_script_only(api):
    job = transcript_job(api)
    f = completed_file(job["id"])
    script = "Please bring your insurance card."
    primed = ["Please", "bring", "your", "insurance", "card"]
    f.primed_words = [
        {"word": w, "start_ms": 240 * i, "end_ms": 240 * i + 200, "probability": 0.9}
        for i, w in enumerate(primed)
    ]
    f.primed_script = script
    f.save()
    url = f"{JOBS}/{job['id']}/files/{f.id}"
    confirmed = api.patch(url, {"expected_text": script}, format="json").json()
    assert confirmed["detections"] == [] and confirmed["transcript"]["wer"] == 0.0
    # Another script was never heard against: the first hearing's findings stand unconfirmed.
    other = api.patch(url, {"expected_text": "Please bring your insurance card today."}, format="json").json()
    assert [d["details"]["expected"] for d in other["detections"]] == ["insurance", "today"]


def test_the_results_view_has_seed_001s_shape(api):
    job = transcript_job(api)
    f = completed_file(job["id"])
    body = api.get(f"{JOBS}/{job['id']}/files/{f.id}/results").json()
    assert (body["pid"], body["code"], body["message"]) == (str(f.id), 2, "Processing Complete")
    assert [r["task"] for r in body["results"]] == ["asr", "diarization", "language"]
    asr, speaker, language = body["results"]
    assert (asr["id"], asr["startTime"], asr["endTime"]) == ("0", "0.000", "1.200")
    assert asr["finalLabel"] == "Please bring your card" and asr["prediction"][0]["posterior"] is None
    assert speaker["finalLabel"] == "SPEAKER_00" and asr["level"] == "utterance" and asr["embedding"] is None
    assert [p["label"] for p in language["prediction"]] == ["en", "de"]
    assert language["prediction"][0]["posterior"] == "0.97" and language["finalLabel"] == "en"
    assert all(p["dominantInSegments"] == [] for r in body["results"] for p in r["prediction"])


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_hears_piper_speech_checks_the_script_and_keeps_the_models_detections(
    api, detector, gpu_worker
):
    response = api.post(
        JOBS,
        {
            "model_id": str(detector.id),
            "config": {"analyses": ["artifacts", "transcript"], "speech_model": "whisper-tiny.en"},
        },
        format="json",
    )
    job = response.json()
    script = ALTERED
    uploaded = api.post(
        f"{JOBS}/{job['id']}/files",
        {"file": [SimpleUploadedFile("take.wav", piper_wav())], "expected_text": [script]},
        format="multipart",
    )
    assert uploaded.status_code == 201
    done = wait_for(lambda: (j := api.get(f"{JOBS}/{job['id']}").json())["status"] != "processing" and j, 180)
    assert done["status"] == "completed", done
    embedded = done["files"][0]
    assert embedded["transcript"]["language"] == "en" and "words" not in embedded["transcript"]
    f = api.get(f"{JOBS}/{job['id']}/files/{embedded['id']}").json()
    assert "shipped" in f["transcript"]["text"].lower()
    assert 0 < f["transcript"]["wer"] < 0.3
    words = f["transcript"]["words"]
    assert words and all(250 <= w["start_ms"] < w["end_ms"] <= f["duration_ms"] for w in words)
    findings = [d for d in f["detections"] if d["source"] == "transcript"]
    assert [(d["artifact_type"], d["details"]["expected"]) for d in findings] == [("omission", "always")]
    assert 500 < findings[0]["start_ms"] < 2000  # between "has" and "been", near the start
    stored = InferenceFile.objects.get(pk=f["id"])  # the second hearing, primed with this script, agreed
    assert stored.primed_script == script and any(w["word"] for w in stored.primed_words)
    assert all(d["source"] in ("model", "transcript") for d in f["detections"])
    # Re-thresholding the model's scores keeps the findings, which no threshold changes.
    strict = api.get(f"{JOBS}/{job['id']}/files/{f['id']}", {"threshold": 0.99}).json()
    assert [d for d in strict["detections"] if d["source"] == "transcript"] == findings
    results = api.get(f"{JOBS}/{job['id']}/files/{f['id']}/results").json()
    assert results["code"] == 2 and results["results"][0]["task"] == "asr"
    exported = api.get(f"{JOBS}/{job['id']}/export", {"format": "csv"}).content.decode()
    assert "omission" in exported and ",transcript,always," in exported
    # Sent to review, the finding becomes an annotation of its own type, added to the dataset.
    reviewed = api.post(f"{JOBS}/{job['id']}/files/{f['id']}/review", {}, format="json")
    assert reviewed.status_code == 201 and reviewed.json()["skipped"] == 0
    assert ArtifactType.objects.filter(dataset_id=detector.dataset_id, name="omission").exists()
    kept = Annotation.objects.get(
        annotation_set_id=reviewed.json()["annotation_set_id"], artifact_type__name="omission"
    )
    assert kept.extra_data["details"] == {"expected": "always", "heard": ""}
    assert AudioFile.objects.get(pk=reviewed.json()["audio_file_id"]).expected_text == ALTERED

    # A job that only hears: no model, and the page still has a waveform (peaks from the same pass).
    only = transcript_job(api)
    api.post(
        f"{JOBS}/{only['id']}/files", {"file": [SimpleUploadedFile("b.wav", piper_wav())]}, format="multipart"
    )
    heard = wait_for(
        lambda: (j := api.get(f"{JOBS}/{only['id']}").json())["status"] != "processing" and j, 120
    )
    assert heard["status"] == "completed" and heard["files"][0]["detections"] == []
    peaks = api.get(f"{JOBS}/{only['id']}/files/{heard['files'][0]['id']}/peaks")
    assert peaks.status_code == 200
