"""The dashboard in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from relayweb.models import ApiKey, Membership, Role
from tests import factories
from tests.conftest import api_client, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_switch_team_and_sign_out(page, live_server):
    acme, globex = factories.make_team("Acme"), factories.make_team("Globex")
    user = factories.make_user(acme, "ada", Role.OWNER)
    Membership.objects.create(team=globex, user=user, role=Role.VIEWER)
    factories.make_dataset(acme, "Acme voices")
    factories.make_dataset(globex, "Globex agents")

    page.goto(f"{live_server.url}/datasets/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/datasets/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".flash.error")).to_contain_text("didn't match")

    sign_in(page, live_server, "ada")
    expect(page.locator("#datasets")).to_contain_text("Acme voices")
    expect(page.locator("#datasets")).not_to_contain_text("Globex agents")

    page.select_option("#team-switch select", label="Globex (viewer)")
    expect(page.locator("#datasets")).to_contain_text("Globex agents")
    expect(page.locator("#datasets")).not_to_contain_text("Acme voices")

    page.click("#sign-out")
    expect(page).to_have_url(f"{live_server.url}/login/")
    page.goto(f"{live_server.url}/datasets/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/datasets/")


def test_api_keys_page_shows_a_new_key_once_and_revokes_it(page, live_server):
    team = factories.make_team("Acme")
    factories.make_user(team, "ada", Role.ADMIN)
    sign_in(page, live_server, "ada")
    page.click("text=Settings › API keys")
    page.fill("input[name=name]", "ci pipeline")
    page.select_option("select[name=role]", "viewer")
    page.click("#create-key")
    raw = page.locator("#new-key-value").inner_text().strip()
    assert raw.startswith("rly_")
    key = ApiKey.find(raw)
    assert key is not None and key.role == Role.VIEWER and key.name == "ci pipeline"
    assert api_client(raw).get("/api/v1/datasets").status_code == 200

    page.goto(f"{live_server.url}/settings/api-keys/")  # shown once: not on the next visit
    expect(page.locator("#new-key")).to_have_count(0)
    assert raw not in page.content()
    row = page.locator(f"tr[data-prefix='{key.prefix}']")
    expect(row).to_contain_text("ci pipeline")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.danger").click()
    expect(page.locator(".flash")).to_contain_text("revoked")
    expect(row).to_contain_text("revoked")
    assert api_client(raw).get("/api/v1/datasets").status_code == 401


def test_viewers_and_annotators_cannot_reach_the_api_keys_page(page, live_server):
    team = factories.make_team("Acme")
    factories.make_user(team, "val", Role.ANNOTATOR)
    sign_in(page, live_server, "val")
    expect(page.locator("text=Settings › API keys")).to_have_count(0)
    response = page.goto(f"{live_server.url}/settings/api-keys/")
    assert response.status == 403


@pytest.mark.worker
def test_dataset_page_uploads_files_with_progress_and_follows_their_processing(
    page, live_server, worker, tmp_path
):
    team = factories.make_team("Acme")
    factories.make_user(team, "ada", Role.OWNER)
    dataset = factories.make_dataset(team, "Voices")
    speech, junk = tmp_path / "hello.wav", tmp_path / "notes.wav"
    speech.write_bytes(factories.wav_bytes())
    junk.write_bytes(b"this is not audio at all" * 100)
    sign_in(page, live_server, "ada")
    page.click("text=Voices")
    expect(page.locator("body")).to_have_attribute("data-uploads", "ready")
    page.set_input_files("#upload-input", [str(speech), str(junk)])
    uploads = page.locator("#uploads li")
    expect(uploads).to_have_count(2)
    expect(uploads.filter(has_text="hello.wav").locator(".status")).to_have_text("ready", timeout=60_000)
    expect(uploads.filter(has_text="notes.wav").locator(".status")).to_have_text("failed", timeout=60_000)
    expect(uploads.filter(has_text="notes.wav")).to_contain_text("not an audio file")
    assert uploads.filter(has_text="hello.wav").locator("progress").get_attribute("value") == "100"
    assert sorted(dataset.audio_files.values_list("original_filename", flat=True)) == [
        "hello.wav",
        "notes.wav",
    ]


@pytest.mark.worker
def test_train_from_a_published_set_and_watch_it_live(page, live_server, gpu_worker, settings):
    from tests.training_data import trainable_dataset

    settings.RELAY_MIN_TRAINING_AUDIO_S = 10
    team = factories.make_team("Acme")
    factories.make_user(team, "ada", Role.OWNER)
    dataset, published = trainable_dataset(team, clips=4)
    sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/datasets/{dataset.id}/")
    form = page.locator("tr[data-set-version='1'] form.train-form")
    form.locator("input[name=epochs]").fill("2")
    form.locator("button").click()
    expect(page.locator("h1")).to_contain_text("Training job")
    expect(page.locator("#job-status")).to_have_text("completed", timeout=120_000)
    expect(page.locator("#job-epoch")).to_have_text("2")
    expect(page.locator("#model-link")).to_be_visible(timeout=10_000)  # the page reloads with the model
    assert page.evaluate("window.Chart.getChart('loss-chart').data.labels.length") == 2
    page.click("#model-link")
    expect(page.locator("#metrics")).to_contain_text("glitch")
    expect(page.locator("#metrics")).to_contain_text("overall")
    page.click("text=Models")
    expect(page.locator("#models")).to_contain_text("Trainable v1")
