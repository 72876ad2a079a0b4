"""Inference from the browser: create a job, drop files, watch results, tune the threshold, review."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from datasets.models import AnnotationSet
from inference.models import InferenceFile, InferenceJob
from inference.serializers import MAX_EMBEDDED_FILES
from relayml import synth
from relayweb.models import Role
from tests import factories
from tests.conftest import sign_in
from tests.training_data import trained_model, wav_of

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.browser
@pytest.mark.worker
def test_run_a_job_from_the_model_page_tune_the_threshold_and_review_a_file(
    page, live_server, gpu_worker, team, settings, tmp_path
):
    factories.make_user(team, "ada", Role.OWNER)
    model = trained_model(team, settings)
    good, broken = tmp_path / "take.wav", tmp_path / "broken.wav"
    good.write_bytes(wav_of(synth.make_clip(51, sentences=3)))
    broken.write_bytes(b"not audio" * 50)
    sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/models/{model.id}/")
    page.click("#run-inference")
    page.fill("#new-job input[name=threshold]", "0.1")
    page.click("#new-job button")
    expect(page.locator("h1")).to_contain_text("Inference job")
    expect(page.locator("body")).to_have_attribute("data-uploads", "ready")
    page.set_input_files("#upload-input", [str(good), str(broken)])
    expect(page.locator("body")).to_have_attribute("data-job", "settled", timeout=120_000)
    expect(page.locator("#job-status")).to_have_text("completed")
    expect(page.locator("#files")).to_contain_text("not an audio file")
    expect(page.locator("[data-stat='Files']")).to_contain_text("2")
    job = InferenceJob.objects.get(team=team)
    assert job.config["threshold"] == 0.1 and job.files.filter(status="completed").count() == 1

    page.click("#files a")
    expect(page.locator("body")).to_have_attribute("data-results", "ready")
    loose = int(page.get_attribute("body", "data-detections"))
    page.fill("#threshold", "0.9")
    page.dispatch_event("#threshold", "input")
    expect(page.locator("#threshold-value")).to_have_text("0.9")
    page.wait_for_function(f"document.body.dataset.detections !== '{loose}' || {loose} === 0")
    strict = int(page.get_attribute("body", "data-detections"))
    assert strict <= loose and loose > 0
    page.fill("#threshold", "0.1")
    page.dispatch_event("#threshold", "input")
    page.wait_for_function(f"document.body.dataset.detections === '{loose}'")
    page.click("#review")
    expect(page.locator("#review-result")).to_contain_text(f"with {loose} annotation(s)")
    draft = AnnotationSet.objects.get(dataset_id=model.dataset_id, status="draft")
    assert draft.annotations.filter(audio_file__original_filename="take.wav").count() == loose


@pytest.mark.browser
def test_a_job_page_counts_every_file_even_past_what_the_detail_embeds(page, live_server, team):
    factories.make_user(team, "ada", Role.OWNER)
    job = InferenceJob.objects.create(team=team, model_id=uuid.uuid4(), status="completed")
    count = MAX_EMBEDDED_FILES + 2
    InferenceFile.objects.bulk_create(
        InferenceFile(job=job, original_filename=f"take{i:04d}.wav", status="failed") for i in range(count)
    )
    sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/inference/{job.id}/")
    expect(page.locator("body")).to_have_attribute("data-job", "settled", timeout=30_000)
    expect(page.locator("[data-stat='Files']")).to_contain_text(str(count))
    expect(page.locator("#files tbody tr")).to_have_count(count)
