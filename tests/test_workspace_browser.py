"""The annotation workspace in a real browser: draw, retype, nudge, delete, undo, conflicts, read-only."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from datasets import annotations as set_service
from datasets.models import Annotation
from relayweb.models import Role
from tests import factories
from tests.conftest import api_client, sign_in, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def annotator(team):
    return factories.make_user(team, "ada", Role.OWNER)


def open_workspace(page, live_server, annotation_set, audio):
    sign_in(page, live_server, "ada")
    url = f"{live_server.url}/datasets/{audio.dataset_id}/sets/{annotation_set.id}/annotate/{audio.id}/"
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-workspace", "ready", timeout=15_000)


def drag(page, from_fraction: float, to_fraction: float) -> tuple[float, float]:
    """Drag across #waveform between two fractions of its width; returns the box's x and width."""
    box = page.locator("#waveform").bounding_box()
    y = box["y"] + box["height"] / 2
    x0, x1 = box["x"] + box["width"] * from_fraction, box["x"] + box["width"] * to_fraction
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, y, steps=5)
    page.mouse.move(x1, y, steps=5)
    page.mouse.up()
    return box["x"], box["width"]


def saved(page):
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saved")


def only_annotation(annotation_set) -> Annotation:
    wait_for(lambda: annotation_set.annotations.count() == 1, timeout=10)
    return annotation_set.annotations.select_related("artifact_type").get()


def test_draw_retype_nudge_delete_and_undo_are_saved_through_the_api(
    page, live_server, annotator, ready_audio
):
    draft = set_service.create_set(ready_audio.dataset)
    open_workspace(page, live_server, draft, ready_audio)
    _, width = drag(page, 0.25, 0.5)
    saved(page)
    expect(page.locator("#region-list tr")).to_have_count(1)

    drawn = only_annotation(draft)
    ms_per_pixel = ready_audio.duration_ms / width
    assert drawn.artifact_type.name == "glitch"  # the first type is picked when the page opens
    assert abs(drawn.start_ms - 0.25 * ready_audio.duration_ms) <= ms_per_pixel
    assert abs(drawn.end_ms - 0.5 * ready_audio.duration_ms) <= ms_per_pixel

    page.keyboard.press("2")  # the selected annotation takes the second type
    saved(page)
    expect(page.locator("#region-list")).to_contain_text("long_pause")
    page.keyboard.press("]")  # start 10 ms later
    page.keyboard.press(">")  # end 100 ms later
    saved(page)
    wait_for(lambda: Annotation.objects.get(pk=drawn.pk).version == 4, timeout=10)
    edited = Annotation.objects.select_related("artifact_type").get(pk=drawn.pk)
    assert edited.artifact_type.name == "long_pause"
    assert (edited.start_ms, edited.end_ms) == (drawn.start_ms + 10, drawn.end_ms + 100)

    page.keyboard.press("Delete")
    saved(page)
    expect(page.locator("#region-list tr")).to_have_count(0)
    wait_for(lambda: draft.annotations.count() == 0, timeout=10)

    page.keyboard.press("Control+z")
    saved(page)
    restored = only_annotation(draft)
    assert restored.artifact_type.name == "long_pause"
    assert (restored.start_ms, restored.end_ms) == (edited.start_ms, edited.end_ms)
    expect(page.locator("#region-list tr")).to_have_count(1)


def test_a_conflicting_edit_is_shown_and_nobodys_work_is_lost(
    page, live_server, annotator, ready_audio, team
):
    draft = set_service.create_set(ready_audio.dataset)
    (mine,) = set_service.create_annotations(
        draft,
        [{"audio_file": ready_audio, "artifact_type": ready_audio.dataset.artifact_types.get(name="glitch"),
          "start_ms": 1000, "end_ms": 1500}],
    )  # fmt: skip
    open_workspace(page, live_server, draft, ready_audio)
    # Someone else moves its end while the page is open.
    other = api_client(factories.make_key(team))
    url = f"/api/v1/datasets/{ready_audio.dataset_id}/annotation-sets/{draft.id}/annotations/{mine.id}"
    assert other.patch(url, {"end_ms": 1800, "version": 1}, format="json").status_code == 200

    page.locator("#region-list tr").first.click()
    page.keyboard.press("[")  # our edit: start 10 ms earlier, made on version 1
    expect(page.locator("#conflict")).to_be_visible()
    expect(page.locator("#conflict-theirs")).to_contain_text("0:01.800")
    expect(page.locator("#save-state")).to_have_attribute("data-state", "conflict")
    page.click("#keep-mine")
    saved(page)
    final = Annotation.objects.get(pk=mine.pk)
    assert (final.start_ms, final.version) == (990, 3)  # applied on top of theirs, not instead of it


def test_a_published_set_opens_read_only(page, live_server, annotator, ready_audio):
    published = set_service.create_set(ready_audio.dataset)
    set_service.create_annotations(
        published,
        [{"audio_file": ready_audio, "artifact_type": ready_audio.dataset.artifact_types.get(name="glitch"),
          "start_ms": 1000, "end_ms": 1500}],
    )  # fmt: skip
    set_service.publish(published)
    open_workspace(page, live_server, published, ready_audio)
    expect(page.locator("#read-only")).to_contain_text("published and read-only")
    expect(page.locator("#save-state")).to_have_count(0)
    drag(page, 0.5, 0.7)
    page.locator("#region-list tr").first.click()
    page.keyboard.press("Delete")
    page.keyboard.press("2")
    expect(page.locator("#region-list tr")).to_have_count(1)
    expect(page.locator("#region-list")).to_contain_text("glitch")
    annotation = published.annotations.get()
    assert (annotation.start_ms, annotation.end_ms, annotation.version) == (1000, 1500, 1)


def test_shortcuts_help_spectrogram_and_next_file(page, live_server, annotator, ready_audio):
    second = factories.ingested(ready_audio.dataset, "zz-second.wav", seed=2)
    draft = set_service.create_set(ready_audio.dataset)
    open_workspace(page, live_server, draft, ready_audio)
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    expect(page.locator("#help")).to_contain_text("undo / redo")
    page.keyboard.press("Escape")
    page.keyboard.press("s")
    expect(page.locator("#spectrogram")).to_be_visible()
    wait_for(lambda: page.evaluate("document.getElementById('spectrogram').width") > 1, timeout=10)
    page.keyboard.press("n")
    expect(page).to_have_url(
        f"{live_server.url}/datasets/{ready_audio.dataset_id}/sets/{draft.id}/annotate/{second.id}/"
    )
    expect(page.locator("h1")).to_contain_text("zz-second.wav")


def test_dataset_page_manages_types_and_sets(page, live_server, annotator, ready_audio, tmp_path):
    dataset = ready_audio.dataset
    draft = set_service.create_set(dataset)
    set_service.create_annotations(
        draft,
        [{"audio_file": ready_audio, "artifact_type": dataset.artifact_types.get(name="glitch"),
          "start_ms": 100, "end_ms": 200}],
    )  # fmt: skip
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations
    sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/datasets/{dataset.id}/")

    page.fill("#add-type input[name=name]", "click")
    page.click("#add-type button")
    expect(page.locator("#types")).to_contain_text("click")
    page.get_by_title("Remove glitch").click()
    expect(page.locator(".flash.error")).to_contain_text("glitch cannot be removed: annotations use them")
    page.get_by_title("Remove click").click()
    expect(page.get_by_title("Remove click")).to_have_count(0)

    labels = tmp_path / "speech.txt"
    labels.write_text("1.000000\t1.500000\tdropout\n")
    row = page.locator("tr[data-set-version='1']")
    row.locator("summary").click()
    row.locator("input[type=file]").set_input_files(str(labels))
    row.locator("details button").click()
    expect(page.locator(".flash")).to_contain_text("Imported 1 annotation(s) into v1")

    page.locator("tr[data-set-version='1'] form[data-confirm] button", has_text="Publish").click()
    expect(page.locator("tr[data-set-version='1']")).to_contain_text("published")
    page.locator("tr[data-set-version='1']").get_by_text("New version from this one").click()
    expect(page.locator("tr[data-set-version='2']")).to_contain_text("draft")
    expect(page.locator("tr[data-set-version='2']")).to_contain_text("dropout: 1")
    with page.expect_download() as download:
        page.locator("tr[data-set-version='2']").get_by_role("link", name="CSV").click()
    assert download.value.suggested_filename == "TTS-Quality-v2-csv.zip"
    assert sorted(dataset.artifact_types.values_list("name", flat=True)) == sorted(
        ["glitch", "long_pause", "clipping", "dropout"]
    )
