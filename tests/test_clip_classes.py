"""Clip classes (issue 12, item 1): a dataset declares them, files or segments are labelled with them
(API, import, workspace), a training job with task "classification" trains a clip classifier on
real human and TTS speech (fine-tuned from the built-in verdict model), its model page shows
accuracy, per-class precision/recall, EER and the ROC curve, and it gives verdicts."""

from __future__ import annotations

import io

import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from datasets import annotations as set_service
from datasets import services, tasks
from datasets.models import Annotation, Dataset
from relayml.realdata import engines, voices
from relayweb.models import Role
from tests import factories
from tests.conftest import sign_in, start_cluster, stop, wait_for
from training import builtin
from training import tasks as training_tasks
from training.models import DetectorModel, TrainingJob

pytestmark = pytest.mark.django_db

VERDICT_ID = str(builtin.BUILTINS[1].id)
CLASSES = [{"name": "human"}, {"name": "artificial"}]
FILES_PER_CLASS = 4


def create_dataset(api, **extra):
    body = {"name": "Voices", "artifact_types": [{"name": "glitch"}], "clip_classes": CLASSES, **extra}
    return api.post("/api/v1/datasets", body, format="json")


def wav(audio, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def recordings():
    """Human telephone prompts (one speaker) and flite saying the same texts: (name, WAV bytes, class)."""
    humans = [h for h in voices.human_items() if h.group == "speaker:june"][:FILES_PER_CLASS]
    rendered = engines.render(engines.Voice("flite", "slt"), [h.text for h in humans])
    human = [
        (f"june{i}.wav", wav(voices.load_source(h), voices.source_rate(h)), "human")
        for i, h in enumerate(humans)
    ]
    tts = [(f"flite{i}.wav", wav(a, engines.SAMPLE_RATE), "artificial") for i, a in enumerate(rendered)]
    return human + tts


def labelled_dataset(api, recordings, publish: bool = True):
    """The recordings uploaded and ingested, each labelled whole with its class through the API."""
    dataset_id = create_dataset(api).json()["id"]
    dataset = Dataset.objects.get(pk=dataset_id)
    draft = api.post(f"/api/v1/datasets/{dataset_id}/annotation-sets").json()["id"]
    labels = []
    for name, data, label in recordings:
        audio = services.upload_and_queue(dataset, SimpleUploadedFile(name, data, "audio/wav"))
        assert tasks.ingest_audio(str(audio.id)) == "ready"
        labels.append({"audio_file_id": str(audio.id), "clip_class": label})
    base = f"/api/v1/datasets/{dataset_id}/annotation-sets/{draft}"
    assert api.post(f"{base}/annotations/bulk", {"annotations": labels}, format="json").status_code == 201
    if publish:
        assert api.post(f"{base}/publish").status_code == 200
    return dataset, draft


def train_body(dataset, set_id, **config):
    return {"dataset_id": str(dataset.id), "annotation_set_id": set_id,
            "config": {"task": "classification", "epochs": 2, **config}}  # fmt: skip


def test_a_dataset_declares_clip_classes_beside_its_artifact_types(api):
    created = create_dataset(api)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert [t["name"] for t in body["artifact_types"]] == ["glitch"]
    assert [c["name"] for c in body["clip_classes"]] == ["human", "artificial"]
    assert len({c["color"] for c in body["clip_classes"]} | {body["artifact_types"][0]["color"]}) == 3
    url = f"/api/v1/datasets/{body['id']}"
    added = api.patch(url, {"clip_classes": [*CLASSES, {"name": "piper"}]}, format="json")
    assert [c["name"] for c in added.json()["clip_classes"]] == ["human", "artificial", "piper"]
    assert [t["name"] for t in added.json()["artifact_types"]] == ["glitch"]  # untouched


@pytest.mark.parametrize(
    "body, loc",
    [
        ({"artifact_types": [{"name": "human"}], "clip_classes": CLASSES}, ["body", "clip_classes"]),
        (
            {"artifact_types": [], "clip_classes": [{"name": "a"}, {"name": "a"}]},
            ["body", "clip_classes", 1, "name"],
        ),
        ({"artifact_types": [], "clip_classes": [{"name": "Not OK"}]}, ["body", "clip_classes", 0, "name"]),
        ({"artifact_types": []}, ["body", "artifact_types"]),
    ],
)
def test_clip_classes_that_clash_repeat_or_are_misnamed_are_422(api, body, loc):
    refused = api.post("/api/v1/datasets", {"name": "x", **body}, format="json")
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == loc


def test_a_class_may_not_take_a_types_name_and_a_used_class_stays(api, ready_audio):
    dataset = ready_audio.dataset  # types glitch, long_pause, …
    url = f"/api/v1/datasets/{dataset.id}"
    clash = api.patch(url, {"clip_classes": [{"name": "glitch"}]}, format="json")
    assert clash.status_code == 422 and clash.json()["detail"][0]["loc"] == ["body", "clip_classes"]
    assert api.patch(url, {"clip_classes": CLASSES}, format="json").status_code == 200
    draft = api.post(f"{url}/annotation-sets").json()["id"]
    label = {"audio_file_id": str(ready_audio.id), "clip_class": "human"}
    assert api.post(f"{url}/annotation-sets/{draft}/annotations", label, format="json").status_code == 201
    refused = api.patch(url, {"clip_classes": [{"name": "artificial"}]}, format="json")
    assert refused.status_code == 409 and "human" in refused.json()["detail"]
    assert [c["name"] for c in api.get(url).json()["clip_classes"]] == ["human", "artificial"]


def test_a_clip_class_labels_a_whole_file_or_a_segment(api, ready_audio):
    dataset = ready_audio.dataset
    url = f"/api/v1/datasets/{dataset.id}"
    api.patch(url, {"clip_classes": CLASSES}, format="json")
    draft = api.post(f"{url}/annotation-sets").json()["id"]
    annotations = f"{url}/annotation-sets/{draft}/annotations"
    whole = api.post(
        annotations, {"audio_file_id": str(ready_audio.id), "clip_class": "artificial"}, format="json"
    )
    assert whole.status_code == 201, whole.json()
    assert whole.json()["kind"] == "class" and whole.json()["artifact_type"] == "artificial"
    assert (whole.json()["start_ms"], whole.json()["end_ms"]) == (0, ready_audio.duration_ms)
    segment = {"audio_file_id": str(ready_audio.id), "clip_class": "human", "start_ms": 100, "end_ms": 900}
    assert api.post(annotations, segment, format="json").json()["end_ms"] == 900
    event = api.post(annotations, {"audio_file_id": str(ready_audio.id), "artifact_type": "glitch",
                                   "start_ms": 10, "end_ms": 20}, format="json")  # fmt: skip
    assert event.json()["kind"] == "event"
    stats = api.get(f"{url}/annotation-sets/{draft}").json()["annotations_by_type"]
    assert stats == {"artificial": 1, "human": 1, "glitch": 1}


@pytest.mark.parametrize(
    "label, loc",
    [
        ({"clip_class": "robot"}, ["body", "clip_class"]),
        ({"clip_class": "glitch"}, ["body", "clip_class"]),  # a type, not a class
        ({"artifact_type": "glitch"}, ["body", "start_ms"]),  # an artifact needs its times
        ({}, ["body", "artifact_type"]),
        ({"clip_class": "human", "start_ms": 5000, "end_ms": 100}, ["body", "end_ms"]),
    ],
)
def test_bad_labels_are_422_and_nothing_is_saved(api, ready_audio, label, loc):
    url = f"/api/v1/datasets/{ready_audio.dataset_id}"
    api.patch(url, {"clip_classes": CLASSES}, format="json")
    draft = api.post(f"{url}/annotation-sets").json()["id"]
    refused = api.post(
        f"{url}/annotation-sets/{draft}/annotations",
        {"audio_file_id": str(ready_audio.id), **label},
        format="json",
    )
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == loc
    assert not Annotation.objects.exists()


def test_labels_import_from_a_csv_of_file_names_and_classes(api, ready_audio):
    url = f"/api/v1/datasets/{ready_audio.dataset_id}"
    api.patch(url, {"clip_classes": CLASSES}, format="json")
    draft = api.post(f"{url}/annotation-sets").json()["id"]
    csv = SimpleUploadedFile("labels.csv", b"filename,clip_class\nspeech.wav,human\n", "text/csv")
    imported = api.post(f"{url}/annotation-sets/{draft}/import", {"file": csv}, format="multipart")
    assert imported.status_code in (200, 201), imported.json()
    label = Annotation.objects.select_related("artifact_type").get()
    assert label.artifact_type.name == "human" and (label.start_ms, label.end_ms) == (
        0,
        ready_audio.duration_ms,
    )


def test_classification_jobs_are_refused_with_reasons_a_person_can_act_on(api, recordings, settings):
    settings.RELAY_MIN_TRAINING_AUDIO_S = 1
    dataset, set_id = labelled_dataset(
        api, recordings[:1] + recordings[FILES_PER_CLASS : FILES_PER_CLASS + 2]
    )

    def post(**config):
        return api.post("/api/v1/training-jobs", train_body(dataset, set_id, **config), format="json")

    one = post(clip_classes=["human"])
    assert one.status_code == 422 and one.json()["detail"][0]["loc"] == ["body", "config", "clip_classes"]
    assert post(clip_classes=["human", "robot"]).status_code == 422
    detector = str(builtin.BUILTINS[0].id)
    wrong_base = post(base_model_id=detector)
    assert wrong_base.status_code == 422 and "detection model" in wrong_base.json()["detail"][0]["msg"]
    too_few = post()  # one human file: nothing left to validate on
    assert too_few.status_code == 409 and "human (1)" in too_few.json()["detail"]
    body = {
        "dataset_id": str(dataset.id),
        "annotation_set_id": set_id,
        "config": {"artifact_types": ["human"]},
    }
    as_detector = api.post("/api/v1/training-jobs", body, format="json")
    assert as_detector.status_code == 422  # a class is not an artifact type
    assert not TrainingJob.objects.exists()


def test_a_clip_classifier_fine_tuned_from_the_verdict_model_is_measured_and_gives_verdicts(
    api, recordings, settings, client, team
):
    settings.RELAY_MIN_TRAINING_AUDIO_S = 5
    dataset, set_id = labelled_dataset(api, recordings)
    created = api.post(
        "/api/v1/training-jobs", train_body(dataset, set_id, base_model_id=VERDICT_ID), format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["config"]["clip_classes"] == ["human", "artificial"]
    job = TrainingJob.objects.get(pk=created.json()["id"])
    job.status = "queued"
    job.save(update_fields=["status"])
    assert training_tasks.train_job(str(job.id)) == "completed"  # the task itself, in this process
    job_doc = api.get(f"/api/v1/training-jobs/{job.id}").json()
    assert [h["epoch"] for h in job_doc["history"]] == [1, 2] and "val_eer" in job_doc["history"][0]
    model = api.get(f"/api/v1/models/{job_doc['model_id']}").json()
    assert model["task"] == "classification" and model["artifact_types"] == ["human", "artificial"]
    assert model["gives_verdicts"] and model["metrics"]["fine_tuned"]
    assert model["metrics"]["validation_segments"] == 2 and 0 <= model["metrics"]["eer"] <= 1
    assert model["metrics"]["warnings"]  # two segments: too few to trust, and the page says so

    client.force_login(factories.make_user(team, "ada"))
    page = client.get(f"/models/{model['id']}/").content.decode()
    assert 'id="accuracy"' in page and 'id="eer"' in page and 'id="roc-chart"' in page
    assert 'id="roc-points"' in page and "Precision" in page
    assert "Run inference with this model" not in page and 'id="use-verdicts"' in page

    # A clip classifier finds no artifacts; it judges files (verdicts) instead.
    as_detector = api.post("/api/v1/inference-jobs", {"model_id": model["id"]}, format="json")
    assert as_detector.status_code == 422 and "clip classifier" in as_detector.json()["detail"][0]["msg"]
    detector = str(builtin.BUILTINS[0].id)
    config = {"analyses": ["verdict"], "verdict_model_id": detector}
    refused = api.post("/api/v1/inference-jobs", {"config": config}, format="json")
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == [
        "body",
        "config",
        "verdict_model_id",
    ]
    ok = api.post(
        "/api/v1/inference-jobs", {"config": {**config, "verdict_model_id": model["id"]}}, format="json"
    )
    assert ok.status_code == 201 and ok.json()["config"]["verdict_model_id"] == model["id"]


def test_the_builtin_verdict_model_is_listed_as_a_classifier_with_its_held_out_figures(api, client, team):
    listed = {m["id"]: m for m in api.get("/api/v1/models").json()["items"]}
    verdict = listed[VERDICT_ID]
    assert verdict["is_builtin"] and verdict["task"] == "classification" and verdict["gives_verdicts"]
    assert verdict["metrics"]["held_out"]["engine_out"]["mean_eer"] <= 0.1
    client.force_login(factories.make_user(team, "ada"))
    page = client.get(f"/models/{VERDICT_ID}/").content.decode()
    assert 'id="engine-out-eer"' in page and "engine:piper" in page
    refused = api.post("/api/v1/classifications", {"file": SimpleUploadedFile("a.wav", b"RIFF"),
                       "model_id": str(builtin.BUILTINS[0].id)}, format="multipart")  # fmt: skip
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "model_id"]


@pytest.mark.worker
def test_a_team_trains_a_verdict_model_on_the_workers_and_classifies_with_it(
    transactional_db, api, recordings, settings, media_root
):
    settings.RELAY_MIN_TRAINING_AUDIO_S = 5
    dataset, set_id = labelled_dataset(api, recordings)
    queues = (settings.RELAY_TRAINING_QUEUE, settings.RELAY_INFERENCE_QUEUE)
    workers = [start_cluster(settings, media_root, cluster=q) for q in queues]
    try:
        created = api.post(
            "/api/v1/training-jobs", train_body(dataset, set_id, base_model_id=VERDICT_ID), format="json"
        )
        url = f"/api/v1/training-jobs/{created.json()['id']}"
        job = wait_for(
            lambda: (j := api.get(url).json())["status"] in ("completed", "failed") and j, timeout=240
        )
        assert job["status"] == "completed", job["error_message"]
        model = DetectorModel.objects.get(pk=job["model_id"])
        name, data, _ = recordings[0]  # a human prompt
        upload = {"file": SimpleUploadedFile(name, data), "model_id": str(model.id)}
        posted = api.post("/api/v1/classifications", upload, format="multipart")
        assert posted.status_code == 201, posted.json()
        doc_url = f"/api/v1/classifications/{posted.json()['identifier']}"
        doc = wait_for(lambda: (d := api.get(doc_url).json())["status"] != "new" and d, timeout=120)
        assert doc["status"] == "done", doc["errors"]
        assert doc["results"][0]["model"] == model.name and doc["verdict"]["models"] == [model.name]
        assert doc["verdict"]["classification"] == "human"
    finally:
        for process in workers:
            stop(process)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_workspace_labels_a_whole_file_with_a_clip_class_in_one_click(
    page, live_server, ready_audio, team
):
    factories.make_user(team, "ada", Role.OWNER)
    dataset = ready_audio.dataset
    services.update_dataset(dataset, {"clip_classes": CLASSES})
    draft = set_service.create_set(dataset)
    sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/datasets/{dataset.id}/sets/{draft.id}/annotate/{ready_audio.id}/")
    expect(page.locator("body")).to_have_attribute("data-workspace", "ready", timeout=15_000)
    expect(page.locator("#label-file")).to_be_hidden()  # an artifact type is picked first
    page.click("[data-pick-type=artificial]")
    expect(page.locator("#label-file")).to_contain_text("artificial")
    page.click("#label-file")
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saved")
    wait_for(lambda: draft.annotations.count() == 1, timeout=10)
    label = draft.annotations.select_related("artifact_type").get()
    assert label.artifact_type.name == "artificial" and (label.start_ms, label.end_ms) == (
        0,
        ready_audio.duration_ms,
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_clip_classifier_is_trained_from_the_dataset_page_and_its_model_page_draws_the_roc(
    page, live_server, api, recordings, settings, team
):
    settings.RELAY_MIN_TRAINING_AUDIO_S = 5
    dataset, _ = labelled_dataset(api, recordings)
    factories.make_user(team, "ada", Role.OWNER)
    sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/datasets/{dataset.id}/")
    expect(page.locator("#clip-classes")).to_contain_text("artificial")
    form = page.locator("form.classify-form")
    expect(form.locator("select[name=base_model_id]")).to_have_value(VERDICT_ID)  # fine-tune by default
    form.locator("input[name=epochs]").fill("2")
    form.locator("button[type=submit]").click()
    expect(page.locator("#job")).to_contain_text("a clip classifier of human, artificial")
    job = TrainingJob.objects.get()
    assert job.config["task"] == "classification" and job.config["base_model_id"] == VERDICT_ID
    TrainingJob.objects.filter(pk=job.pk).update(status="queued")  # as the queue's hand-off leaves it
    assert training_tasks.train_job(str(job.id)) == "completed"
    page.reload()
    page.click("#model-link")
    expect(page.locator("#eer")).not_to_have_text("—")
    points = len(DetectorModel.objects.get(training_job=job).metrics["roc"])
    expect(page.locator("#roc-chart")).to_have_attribute("data-drawn", str(points), timeout=10_000)
    expect(page.locator("#per-class")).to_contain_text("artificial")
