"""Speech from the browser: a job that only hears, the transcript under the waveform, the script
check from the file page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from inference.models import InferenceJob
from relayweb.models import Role
from tests import factories
from tests.conftest import sign_in
from tests.test_speech_api import ALTERED, piper_wav

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.browser
@pytest.mark.worker
def test_hear_a_file_read_its_transcript_seek_by_word_and_check_a_script(
    page, live_server, gpu_worker, team, tmp_path
):
    factories.make_user(team, "ada", Role.OWNER)
    take = tmp_path / "take.wav"
    take.write_bytes(piper_wav())
    sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/inference/")
    page.uncheck("#new-job input[value=artifacts]")
    page.check("#new-job input[value=transcript]")
    page.select_option("#new-job select[name=model_id]", "")
    page.select_option("#new-job select[name=speech_model]", "whisper-tiny.en")
    page.click("#new-job button")
    expect(page.locator("h1")).to_contain_text("transcript only")
    job = InferenceJob.objects.get(team=team)
    assert job.model_id is None and job.config["analyses"] == ["transcript"]
    expect(page.locator("body")).to_have_attribute("data-uploads", "ready")
    page.set_input_files("#upload-input", [str(take)])
    expect(page.locator("body")).to_have_attribute("data-job", "settled", timeout=120_000)
    expect(page.locator("[data-stat='Languages']")).to_contain_text("en 1")

    page.click("#files a")
    expect(page.locator("body")).to_have_attribute("data-results", "ready")
    expect(page.locator("#transcript")).to_contain_text("shipped")
    card = page.locator("#transcript .word", has_text="shipped").first
    start_ms = int(card.get_attribute("data-start"))
    card.click()
    expect(page.locator("#time")).to_have_text(f"0:{start_ms // 1000:02d}.{start_ms % 1000:03d}")
    expect(card).to_have_class("word current")

    page.fill("#script", ALTERED)
    page.click("#check-script")
    expect(page.locator("#transcript .word.missing")).to_have_text("always")
    expect(page.locator("#transcript-meta")).to_contain_text("WER")
    expect(page.locator("#detection-list")).to_contain_text("omission")
    assert job.files.get().expected_text == ALTERED
