"""Explanations of detections (`.../explain`): occlusion maps that point at what the model heard.

The case with a known answer: clean speech with one click injected at CLICK_MS. The built-in
detector finds it as a glitch, and the explanation must point at the click's frames and nowhere else.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from inference import services
from inference import tasks as inference_tasks
from inference.models import Explanation
from relayml.explain import decode_rle, explain_detection, rle_column_major
from relayml.model import Detector
from tests import factories
from tests.conftest import sign_in, start_cluster, stop
from training import builtin

CLICK_MS = 1500
NEAR_MS = 100  # the mask may spread this far from the click (patches are 50 ms wide)


def speech_with_a_click() -> bytes:
    audio, rate = sf.read(io.BytesIO(factories.wav_bytes(seed=4)), dtype="float32")
    at = CLICK_MS * rate // 1000
    audio[at : at + 32] = np.random.default_rng(0).uniform(-0.9, 0.9, 32)  # a 2 ms broadband burst
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def active_ms(runs: list[int], height: int, width: int, start_ms: float, frame_ms: float) -> list[float]:
    mask = decode_rle(runs, height, width)
    return [start_ms + frame * frame_ms for frame in np.flatnonzero(mask.any(axis=0))]


def test_the_run_length_encoding_is_column_major_and_starts_with_zeros():
    mask = np.array([[1, 0, 0], [1, 1, 0]], dtype=bool)  # 2 bands × 3 frames
    assert rle_column_major(mask) == [0, 2, 1, 1, 2]  # F order: 1 1 | 0 1 | 0 0
    assert rle_column_major(~mask) == [2, 1, 1, 2]
    assert (decode_rle(rle_column_major(mask), 2, 3) == mask).all()


def test_occlusion_points_at_an_injected_click_and_not_elsewhere(tmp_path):
    detector = Detector.load(settings.RELAY_BUILTIN_MODELS_DIR / "base-detector-v3.pt")
    path = tmp_path / "click.wav"
    path.write_bytes(speech_with_a_click())
    explained = explain_detection(detector, str(path), "glitch", CLICK_MS - 20, CLICK_MS + 30)
    assert explained.score > 0.5, "the model must find the click for the test to mean anything"
    body = explained.to_dict()["explanation"]
    frames = active_ms(body["maskRLE"], 64, body["dimensions"]["width"], body["start_ms"], body["frame_ms"])
    assert frames, "some cells drove the score"
    assert all(abs(ms - CLICK_MS) <= NEAR_MS for ms in frames), frames
    # The speech more than 150 ms away mattered far less than the click's own frames.
    at = (np.arange(explained.importance.shape[1]) + explained.first_frame) * explained.frame_ms
    near, far = np.abs(at - CLICK_MS) <= 30, np.abs(at - CLICK_MS) > 150
    assert explained.importance[:, near].max() > 3 * explained.importance[:, far].max()


def explain_url(job, f, **query) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/v1/inference-jobs/{job.id}/files/{f.id}/explain?{params}"


@pytest.fixture
def clicked_file(team, django_capture_on_commit_callbacks):
    model, _verdict = builtin.install()  # the base detector, then the verdict model
    job = services.create_job(team, model, {"threshold": 0.5, "merge_window_ms": 200, "min_duration_ms": 50})
    f = services.upload_and_queue(job, SimpleUploadedFile("click.wav", speech_with_a_click()))
    assert inference_tasks.run_job(str(job.id)) == "1 file(s) processed"
    f.refresh_from_db()
    return job, f


@pytest.mark.django_db
def test_explain_is_queued_then_answers_the_mask_in_seed_003s_shape(
    api, clicked_file, django_capture_on_commit_callbacks
):
    job, f = clicked_file
    url = explain_url(job, f, artifact_type="glitch", start_ms=CLICK_MS - 20, end_ms=CLICK_MS + 30)
    with django_capture_on_commit_callbacks() as queued:
        first = api.get(url)
    assert first.status_code == 202 and first.json()["status"] == "queued" and len(queued) == 1
    assert api.get(f"/api/v1/inference-jobs/{job.id}/results").json()["explained"] is False
    assert api.get(url).status_code == 202  # asked again: the same explanation, not a second
    [explanation] = Explanation.objects.all()
    assert inference_tasks.explain(str(explanation.pk)) == "done"
    done = api.get(url)
    assert done.status_code == 200
    body = done.json()
    assert body["modelType"] == "audioEventDetection"
    assert body["result"]["classPredictions"][0]["label"] == "glitch"
    e = body["explanation"]
    assert e["dimensions"]["height"] == 64 and len(e["mel_hz"]) == 64 and e["frame_ms"] == 10.0
    assert sum(e["maskRLE"]) == e["dimensions"]["height"] * e["dimensions"]["width"]
    frames = active_ms(e["maskRLE"], 64, e["dimensions"]["width"], e["start_ms"], e["frame_ms"])
    assert frames and all(abs(ms - CLICK_MS) <= NEAR_MS for ms in frames)
    assert api.get(f"/api/v1/inference-jobs/{job.id}/results").json()["explained"] is True


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "status", "loc"),
    [
        ({"artifact_type": "hum", "start_ms": 0, "end_ms": 100}, 422, "artifact_type"),
        ({"artifact_type": "glitch", "start_ms": 500, "end_ms": 500}, 422, "end_ms"),
        ({"artifact_type": "glitch", "start_ms": 0, "end_ms": 40_000}, 422, "end_ms"),
        ({"artifact_type": "glitch", "start_ms": 999_999, "end_ms": 1_000_000}, 422, "start_ms"),
        ({"artifact_type": "glitch", "start_ms": "x", "end_ms": 100}, 422, "start_ms"),
        ({"start_ms": 0, "end_ms": 100}, 422, "artifact_type"),
    ],
)
def test_bad_explain_requests_are_422_and_queue_nothing(api, clicked_file, query, status, loc):
    job, f = clicked_file
    response = api.get(explain_url(job, f, **query))
    assert response.status_code == status and response.json()["detail"][0]["loc"] == ["query", loc]
    assert not Explanation.objects.exists()


@pytest.mark.django_db
def test_a_file_not_yet_processed_cannot_be_explained(api, team):
    model, _verdict = builtin.install()  # the base detector, then the verdict model
    job = services.create_job(team, model, {"threshold": 0.5, "merge_window_ms": 200, "min_duration_ms": 50})
    f = services.upload_and_queue(job, SimpleUploadedFile("click.wav", speech_with_a_click()))
    response = api.get(explain_url(job, f, artifact_type="glitch", start_ms=0, end_ms=100))
    assert response.status_code == 409 and "queued" in response.json()["detail"]


def explain_on_the_page(page, live_server, team, settings, media_root, job, f, button: str) -> str:
    """Click `button` on the file's page with an inference worker running; the caption once drawn."""
    factories.make_user(team, "ada")
    worker = start_cluster(settings, media_root, cluster=settings.RELAY_INFERENCE_QUEUE)
    try:
        sign_in(page, live_server, "ada")
        page.goto(f"{live_server.url}/inference/{job.id}/files/{f.id}/")
        page.wait_for_selector("body[data-results=ready]")
        page.click(button)
        page.wait_for_selector("#explanation[data-state=done]", timeout=60_000)
    finally:
        stop(worker)
    assert int(page.get_attribute("#explanation canvas", "data-mask-cells")) > 0
    return page.inner_text("#explanation .caption")


@pytest.mark.browser
@pytest.mark.worker
def test_the_file_page_draws_the_explanation_of_a_detection(
    transactional_db, live_server, page, team, settings, media_root, clicked_file
):
    job, f = clicked_file
    button = "#detection-list tr:first-child button.explain"
    assert "glitch scored" in explain_on_the_page(
        page, live_server, team, settings, media_root, job, f, button
    )


# --- the verdict's explanation ---------------------------------------------------------------------

SPEECH_S, SILENCE_S = 3.0, 2.0


def tts_then_silence() -> bytes:
    """Piper speaking for about SPEECH_S, then SILENCE_S of digital silence: the known answer is that
    nothing after the speech can have driven the verdict."""
    from relayml.realdata import engines

    [audio] = engines.render(engines.Voice("piper", "en_US-joe-medium"), [
        "Thanks for calling the pharmacy. Your prescription will be ready after four."
    ])  # fmt: skip
    audio = audio[: int(SPEECH_S * engines.SAMPLE_RATE)]
    audio = np.concatenate([audio, np.zeros(int(SILENCE_S * engines.SAMPLE_RATE), np.float32)])
    buffer = io.BytesIO()
    sf.write(buffer, audio, engines.SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_a_verdicts_explanation_points_at_the_speech_and_never_at_the_silence(tmp_path):
    from relayml.explain_verdict import explain_verdict
    from relayml.verdict_build import load_builtin

    path = tmp_path / "tts.wav"
    path.write_bytes(tts_then_silence())
    explained = explain_verdict(load_builtin(settings.RELAY_BUILTIN_MODELS_DIR), str(path), 0, 5000)
    body = explained.to_dict()
    assert body["modelType"] == "audioClassification"
    labels = [p["label"] for p in body["result"]["classPredictions"]]
    assert labels == ["artificial", "human"], (
        "the model must call Piper artificial for the test to mean anything"
    )
    e = body["explanation"]
    assert e["dimensions"]["height"] == 40 and len(e["mel_hz"]) == 40 and e["frame_ms"] == 10.0
    frames = active_ms(e["maskRLE"], 40, e["dimensions"]["width"], e["start_ms"], e["frame_ms"])
    assert frames, "some cells drove the verdict"
    assert max(frames) < SPEECH_S * 1000 + 100, max(frames)  # the patch may spill 100 ms past the speech


@pytest.mark.django_db
def test_the_verdict_of_a_file_is_explained_through_the_api(api, team, django_capture_on_commit_callbacks):
    config = {"analyses": ["verdict"], "threshold": 0.5, "merge_window_ms": 200, "min_duration_ms": 50}
    job = services.create_job(team, None, config)
    f = services.upload_and_queue(job, SimpleUploadedFile("tts.wav", tts_then_silence()))
    assert inference_tasks.run_job(str(job.id)) == "1 file(s) processed"
    f.refresh_from_db()
    assert f.verdict["classification"] == "artificial"
    # Neither detected nor heard, it still has its duration and the page's peaks (one decode).
    assert abs(f.duration_ms - 1000 * (SPEECH_S + SILENCE_S)) <= 50
    assert api.get(f"/api/v1/inference-jobs/{job.id}/files/{f.id}/peaks").status_code == 200
    no_type = api.get(explain_url(job, f, start_ms=0, end_ms=100))
    assert no_type.status_code == 422  # without target=verdict it is a detection's, which needs its type
    url = explain_url(job, f, target="verdict", start_ms=0, end_ms=5000)
    with django_capture_on_commit_callbacks():
        first = api.get(url)
        assert first.status_code == 202, first.json()
    [explanation] = Explanation.objects.all()
    assert inference_tasks.explain(str(explanation.pk)) == "done"
    body = api.get(url).json()
    assert body["modelType"] == "audioClassification"
    assert body["result"]["classPredictions"][0]["label"] == "artificial"
    bad = api.get(explain_url(job, f, target="sideways", start_ms=0, end_ms=5000))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "target"]


@pytest.mark.django_db
def test_a_file_without_a_verdict_has_none_to_explain(api, clicked_file):
    job, f = clicked_file  # a detector's job: no verdict analysis
    response = api.get(explain_url(job, f, target="verdict", start_ms=0, end_ms=1000))
    assert response.status_code == 409 and "no verdict" in response.json()["detail"]
    assert not Explanation.objects.exists()


@pytest.fixture
def judged_file(team, django_capture_on_commit_callbacks):
    config = {"analyses": ["verdict"], "threshold": 0.5, "merge_window_ms": 200, "min_duration_ms": 50}
    job = services.create_job(team, None, config)
    f = services.upload_and_queue(job, SimpleUploadedFile("tts.wav", tts_then_silence()))
    assert inference_tasks.run_job(str(job.id)) == "1 file(s) processed"
    return job, f


@pytest.mark.browser
@pytest.mark.worker
def test_the_file_page_explains_its_verdict(
    transactional_db, live_server, page, team, settings, media_root, judged_file
):
    job, f = judged_file
    caption = explain_on_the_page(page, live_server, team, settings, media_root, job, f, "#explain-verdict")
    assert "artificial scored" in caption
