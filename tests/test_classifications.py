"""Clip classifications (seed 004): upload, the verdict from the built-in model on a real worker,
batch retrieval limits, overrides kept as history, bad audio, the webhook, and the pages."""

from __future__ import annotations

import io
import uuid

import numpy as np
import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from inference import classifications
from inference.models import Classification
from relayml.realdata import engines, voices
from relayweb import webhooks
from relayweb.models import Role, WebhookDelivery
from tests import factories
from tests.conftest import sign_in, start_cluster, stop, wait_for

API = "/api/v1/classifications"
HUMAN_PROMPT = voices.SOUNDS / "en_US_f_Allison" / "agent-alreadyon.wav"


def wav(audio: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def synthetic_wav() -> bytes:
    """Piper (an engine the model trained on) saying something no prompt says, at 16 kHz."""
    [audio] = engines.render(engines.Voice("piper", "en_US-joe-medium"), [
        "Thanks for calling the pharmacy. Your prescription will be ready after four this afternoon."
    ])  # fmt: skip
    return wav(audio, engines.SAMPLE_RATE)


@pytest.fixture
def inference_worker(transactional_db, settings, media_root):
    process = start_cluster(settings, media_root, cluster=settings.RELAY_INFERENCE_QUEUE)
    yield process
    stop(process)


def upload(api, name: str, data: bytes, **fields):
    return api.post(API, {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


@pytest.mark.worker
def test_a_human_prompt_and_a_tts_render_get_their_verdicts_in_seed_004s_shape(
    inference_worker, api, team, settings
):
    settings.RELAY_WEBHOOK_ALLOW_PRIVATE = True  # a receiver on this machine (nothing listens: rows only)
    hook, _ = webhooks.subscribe(team, "http://127.0.0.1:9/relay", ["classification.done"])
    human = upload(api, "agent.wav", HUMAN_PROMPT.read_bytes(), ref_id="call-17")
    tts = upload(api, "pharmacy.wav", synthetic_wav())
    assert human.status_code == tts.status_code == 201, human.json()
    assert (
        human.json()["status"] == "new"
        and human.json()["verdict"] is None
        and human.json()["ref_id"] == "call-17"
    )
    ids = [human.json()["identifier"], tts.json()["identifier"]]

    def finished():
        body = api.get(API, {"identifiers[]": ids}).json()
        return body if all(c["status"] == "done" for c in body) else None

    human_doc, tts_doc = wait_for(finished, timeout=120)
    assert human_doc["verdict"]["classification"] == "human"
    assert tts_doc["verdict"]["classification"] == "artificial"
    assert human_doc["hash"] == Classification.objects.get(pk=ids[0]).sha256 and len(human_doc["hash"]) == 64
    assert {v["heuristic"] for v in human_doc["verdicts"]} == {"mean", "max", "majority", "duration_weighted"}
    assert human_doc["verdict"]["heuristic"] == team.verdict_heuristic == "duration_weighted"
    [result] = tts_doc["results"]
    assert [c["label"] for c in result["classification"]] == ["human", "artificial"]
    assert result["model"] == "relay-verdict-v1" and result["elapsed_time"] >= 0
    clips = tts_doc["details"]["clips"]
    assert (
        clips[0]["start"] == 0
        and clips[-1]["end"] > 3
        and clips[0]["verdict"]["models"] == ["relay-verdict-v1"]
    )
    assert human_doc["result_url"].endswith(f"/classifications/{ids[0]}/")
    # Each classification announced once to the team's webhook.
    assert sorted(
        WebhookDelivery.objects.filter(webhook=hook).values_list("payload__data__identifier", flat=True)
    ) == (sorted(ids))


@pytest.mark.worker
def test_a_file_that_is_not_audio_errors_with_a_reason_through_the_client(
    inference_worker, live_server, team, tmp_path
):
    from relay_client import Relay

    (tmp_path / "notes.wav").write_bytes(b"these are meeting notes, not audio" * 10)
    relay = Relay(live_server.url, factories.make_key(team))
    created = relay.classifications.create(tmp_path / "notes.wav", ref_id="minutes")
    assert created["status"] == "new" and created["ref_id"] == "minutes"
    doc = relay.classifications.wait(created["identifier"], timeout=60)
    assert doc["status"] == "errored" and doc["errors"] and doc["verdict"] is None
    assert relay.classifications.many([created["identifier"]])[0]["hash"] == created["hash"]


@pytest.mark.django_db
@pytest.mark.parametrize("count", [0, 101])
def test_batch_retrieval_takes_one_to_a_hundred_identifiers(api, count):
    response = api.get(API, {"identifiers[]": [str(uuid.uuid4()) for _ in range(count)]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "identifiers[]"]


@pytest.mark.django_db
def test_batch_retrieval_refuses_a_malformed_identifier_and_leaves_out_unknown_ones(api, team, other_team):
    mine = classifications.create(team, SimpleUploadedFile("a.wav", factories.wav_bytes()))
    theirs = classifications.create(other_team, SimpleUploadedFile("b.wav", factories.wav_bytes()))
    assert api.get(API, {"identifiers[]": ["not-a-uuid"]}).status_code == 422
    found = api.get(API, {"identifiers[]": [str(theirs.pk), str(uuid.uuid4()), str(mine.pk)]}).json()
    assert [c["identifier"] for c in found] == [str(mine.pk)]
    assert api.get(f"{API}/{theirs.pk}").status_code == 404


@pytest.mark.django_db
def test_an_override_needs_a_reason_keeps_history_and_leaves_the_models_verdict(api, team):
    c = classifications.create(team, SimpleUploadedFile("a.wav", factories.wav_bytes()))
    path = f"{API}/{c.pk}"
    assert api.patch(path, {"force_classification": "human"}, format="json").status_code == 422
    assert api.patch(path, {"force_classification": "robot", "reason": "x"}, format="json").status_code == 422
    first = api.patch(
        path, {"force_classification": "human", "reason": "vendor confirmed"}, format="json"
    ).json()
    assert first["force_classification"] == "human" and first["verdict"] is None
    lifted = api.patch(path, {"force_classification": None, "reason": "wrong file"}, format="json").json()
    assert lifted["force_classification"] is None
    assert [(o["classification"], o["reason"]) for o in lifted["overrides"]] == [
        ("human", "vendor confirmed"), (None, "wrong file")
    ]  # fmt: skip
    assert all(o["by"].startswith("key") and o["at"] for o in lifted["overrides"])


@pytest.mark.django_db
def test_one_file_per_classification_and_a_viewer_cannot_upload(api, client_for):
    two = api.post(API, {"file": [SimpleUploadedFile("a.wav", b"1"), SimpleUploadedFile("b.wav", b"2")]},
                   format="multipart")  # fmt: skip
    assert two.status_code == 422 and not Classification.objects.exists()
    assert api.post(API, {}, format="multipart").status_code == 422
    viewer = client_for(Role.VIEWER)
    assert upload(viewer, "a.wav", factories.wav_bytes()).status_code == 403


@pytest.mark.browser
@pytest.mark.worker
def test_a_batch_is_classified_live_in_the_browser_and_a_verdict_overridden(
    page, live_server, inference_worker, team, tmp_path
):
    factories.make_user(team, "ada", Role.ADMIN)
    (tmp_path / "agent.wav").write_bytes(HUMAN_PROMPT.read_bytes())
    (tmp_path / "pharmacy.wav").write_bytes(synthetic_wav())
    sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/classifications/")
    page.set_input_files("#classify-files", [str(tmp_path / "agent.wav"), str(tmp_path / "pharmacy.wav")])
    page.click("#classify-button")
    batch = page.locator("#batch tbody tr")
    expect(batch.filter(has_text="pharmacy.wav").locator(".status")).to_have_text("done", timeout=120_000)
    expect(batch.filter(has_text="agent.wav").locator(".status")).to_have_text("done", timeout=60_000)
    expect(batch.filter(has_text="pharmacy.wav").locator(".verdict")).to_contain_text("artificial")
    batch.filter(has_text="pharmacy.wav").locator("a").click()
    expect(page.locator("#classification")).to_have_text("artificial")
    assert (
        page.locator("#clip-timeline .clip").count() >= 1
        and page.locator("#heuristics tbody tr").count() == 4
    )
    page.select_option("select[name=force_classification]", "human")
    page.fill("input[name=reason]", "licensed voice actor recording")
    page.click("#override-button")
    expect(page.locator("#override")).to_contain_text("Overridden: human")
    expect(page.locator("#history")).to_contain_text("licensed voice actor recording")
    expect(page.locator("#classification")).to_have_text("artificial")  # the model's verdict stays


@pytest.mark.worker
def test_an_inference_job_gives_each_file_and_utterance_a_verdict_and_the_cli_gates_on_it(
    inference_worker, api, team, live_server, tmp_path
):
    from tests.test_cli import relay

    config = {"analyses": ["transcript", "verdict"], "speech_model": "whisper-tiny.en"}
    job = api.post("/api/v1/inference-jobs", {"model_id": None, "config": config}, format="json")
    assert job.status_code == 201, job.json()
    audio = SimpleUploadedFile("pharmacy.wav", synthetic_wav())
    files = api.post(f"/api/v1/inference-jobs/{job.json()['id']}/files", {"file": audio}, format="multipart")
    file_id = files.json()["items"][0]["id"]
    path = f"/api/v1/inference-jobs/{job.json()['id']}/files/{file_id}"
    done = wait_for(lambda: (f := api.get(path).json())["status"] == "completed" and f, timeout=180)
    assert (
        done["verdict"]["classification"] == "artificial"
        and done["verdict"]["heuristic"] == "duration_weighted"
    )
    assert len(done["verdict"]["verdicts"]) == 4
    deepfake = [r for r in api.get(f"{path}/results").json()["results"] if r["task"] == "deepfake"]
    assert deepfake and deepfake[0]["finalLabel"] == "spoofed"
    assert {p["label"] for p in deepfake[0]["prediction"]} == {"spoofed", "bonafide"}

    (tmp_path / "pharmacy.wav").write_bytes(synthetic_wav())
    key = factories.make_key(team)
    gate = ["check", str(tmp_path), "--verdict", "human", "--speech-model", "whisper-tiny.en"]
    failed = relay(live_server, key, *gate)
    assert failed.returncode == 1 and "verdict artificial, expected human" in failed.stdout
    assert relay(live_server, key, *gate[:-3], "artificial").returncode == 0
