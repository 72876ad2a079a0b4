"""Built-in models: listed for every team, changed by none, usable for inference and as a base.

A small real model is built here the way `python -m relayml.basemodel` builds the shipped one (a
detector file and its card), into a folder the settings point at; the shipped model itself is
checked in test_shipped_base_model.
"""

from __future__ import annotations

import hashlib
import io

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile

from inference import tasks as inference_tasks
from inference.models import InferenceJob
from relayml import basemodel, synth
from relayml.model import Detector
from relayml.train import TrainConfig, fine_tunable, train
from tests import factories
from tests.training_data import TYPES, trainable_dataset, wav_of
from training import builtin
from training import tasks as training_tasks
from training.models import DetectorModel, TrainingJob

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def base_files(tmp_path_factory):
    """A detector file and its card, as relayml.basemodel writes them."""
    folder = tmp_path_factory.mktemp("builtin")
    clips = synth.train_files(tmp_path_factory.mktemp("clips"))
    result = train(clips, TrainConfig(artifact_types=TYPES, epochs=1, batch_size=8), folder / "work")
    basemodel.write_card(result, folder, {"config": {"epochs": 1}, "held_out": {}})
    return folder


@pytest.fixture
def base(settings, base_files) -> DetectorModel:
    settings.RELAY_BUILTIN_MODELS_DIR = base_files
    [model] = builtin.install()
    return model


def test_a_builtin_model_is_listed_for_every_team_and_changed_by_none(base, client_for, other_team):
    for api in (client_for(), client_for(for_team=other_team)):
        listed = {m["id"]: m for m in api.get("/api/v1/models").json()["items"]}
        assert listed[str(base.id)]["is_builtin"] is True
        assert listed[str(base.id)]["artifact_types"] == TYPES
    api = client_for()
    url = f"/api/v1/models/{base.id}"
    assert api.patch(url, {"name": "mine now"}, format="json").status_code == 403
    refused = api.delete(url)
    assert refused.status_code == 403 and refused.json() == {
        "detail": "Built-in models cannot be renamed or deleted"
    }
    download = api.get(f"{url}/download")
    assert download.status_code == 200
    payload = torch.load(io.BytesIO(b"".join(download.streaming_content)), weights_only=True)
    assert payload["artifact_types"] == TYPES
    assert DetectorModel.objects.get(pk=base.id).name == "Relay base detector v3"


def test_a_builtin_model_whose_weights_do_not_match_its_card_is_not_listed(settings, base_files, tmp_path):
    tampered = tmp_path / f"{basemodel.NAME}.pt"
    tampered.write_bytes((base_files / f"{basemodel.NAME}.pt").read_bytes() + b"\0")
    (tmp_path / f"{basemodel.NAME}.json").write_text((base_files / f"{basemodel.NAME}.json").read_text())
    settings.RELAY_BUILTIN_MODELS_DIR = tmp_path
    DetectorModel.objects.filter(team__isnull=True).delete()
    assert builtin.install() == []
    assert not DetectorModel.objects.filter(team__isnull=True).exists()


def test_a_builtin_model_that_no_longer_ships_is_removed_and_its_teams_models_stay(base, team):
    retired = DetectorModel.objects.create(
        team=None, name="Relay base detector v0", file_path="builtin:base-detector-v0.pt"
    )
    own = DetectorModel.objects.create(team=team, name="ours", artifact_types=TYPES, file_path="models/x.pt")
    assert [m.id for m in builtin.install()] == [base.id]
    assert not DetectorModel.objects.filter(pk=retired.pk).exists()
    assert DetectorModel.objects.filter(pk__in=[base.pk, own.pk]).count() == 2


def test_a_jobs_results_use_the_per_type_floors_its_model_learned(base, api):
    base.metrics = {**base.metrics, "postprocess_floors": {"long_pause": {"merge_window_ms": 800}}}
    base.save()
    job = api.post("/api/v1/inference-jobs", {"model_id": str(base.id)}, format="json").json()
    assert InferenceJob.objects.get(pk=job["id"]).floors == {"long_pause": {"merge_window_ms": 800}}


def test_a_team_runs_inference_with_a_builtin_model_at_once(base, api, django_capture_on_commit_callbacks):
    job = api.post("/api/v1/inference-jobs", {"model_id": str(base.id)}, format="json")
    assert job.status_code == 201, job.json()
    job_id = job.json()["id"]
    speech = SimpleUploadedFile("take.wav", wav_of(synth.make_clip(7, sentences=2)))
    with django_capture_on_commit_callbacks():
        added = api.post(f"/api/v1/inference-jobs/{job_id}/files", {"file": [speech]}, format="multipart")
    assert added.status_code == 201, added.json()
    assert inference_tasks.run_job(job_id) == "1 file(s) processed"
    body = api.get(f"/api/v1/inference-jobs/{job_id}").json()
    assert body["status"] == "completed" and body["files"][0]["status"] == "completed"


def test_fine_tuning_copies_every_layer_and_the_rows_of_the_types_the_base_knows(base_files):
    base = Detector.load(base_files / f"{basemodel.NAME}.pt")
    model = fine_tunable(base, ["clipping", "hum", "glitch"])
    for name, tensor in base.model.state_dict().items():
        if not name.startswith("head."):
            assert torch.equal(model.state_dict()[name], tensor), name
    assert torch.equal(model.head.weight[0], base.model.head.weight[TYPES.index("clipping")])
    assert torch.equal(model.head.weight[2], base.model.head.weight[TYPES.index("glitch")])
    assert model.head.weight.shape[0] == 3  # "hum" is new: its row starts from scratch


def test_a_training_job_can_start_from_a_builtin_model(base, api, team, settings):
    settings.RELAY_MIN_TRAINING_AUDIO_S = 5
    dataset, published = trainable_dataset(team, clips=3)
    config = {
        "artifact_types": ["glitch", "dropout"],
        "epochs": 1,
        "batch_size": 8,
        "base_model_id": str(base.id),
    }
    body = {"dataset_id": str(dataset.id), "annotation_set_id": str(published.id), "config": config}
    created = api.post("/api/v1/training-jobs", body, format="json")
    assert created.status_code == 201, created.json()
    job = TrainingJob.objects.get(pk=created.json()["id"])
    job.status = "queued"
    job.save(update_fields=["status"])
    assert training_tasks.train_job(str(job.id)) == "completed"
    model = DetectorModel.objects.get(training_job=job)
    assert model.config["base_model_id"] == str(base.id)
    tuned = Detector.load(builtin.model_file(model))
    # It kept the base's normalisation (its layers expect it): it started from the base, not from scratch.
    assert torch.equal(tuned.mean, Detector.load(builtin.model_file(base)).mean)


@pytest.mark.parametrize("which", ["unknown", "other team's"])
def test_a_base_model_the_team_cannot_see_is_422(base, api, team, other_team, settings, which):
    settings.RELAY_MIN_TRAINING_AUDIO_S = 5
    dataset, published = trainable_dataset(team, clips=3)
    if which == "unknown":
        model_id = "00000000-0000-4000-8000-000000000000"
    else:
        model_id = str(DetectorModel.objects.create(team=other_team, name="theirs", file_path="x").id)
    config = {"artifact_types": ["glitch"], "base_model_id": model_id}
    body = {"dataset_id": str(dataset.id), "annotation_set_id": str(published.id), "config": config}
    refused = api.post("/api/v1/training-jobs", body, format="json")
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "config", "base_model_id"]
    assert not TrainingJob.objects.exists()


def test_the_dataset_page_offers_the_builtin_model_as_a_starting_point(base, client, team, settings):
    settings.RELAY_MIN_TRAINING_AUDIO_S = 5
    dataset, _ = trainable_dataset(team, clips=1)
    client.force_login(factories.make_user(team, "ada"))
    page = client.get(f"/datasets/{dataset.id}/").content.decode()
    assert f'<option value="{base.id}" selected>Relay base detector v3</option>' in page


def test_relays_own_base_detector_ships_intact_and_migrate_installs_it():
    shipped = builtin.BUILTINS[0]
    card = shipped.card()
    assert hashlib.sha256(shipped.path.read_bytes()).hexdigest() == card["sha256"]
    model = DetectorModel.objects.get(pk=shipped.id)  # registered by migrate, like on a fresh install
    assert model.is_builtin and model.artifact_types == TYPES
    assert model.metrics == {**card["metrics"], "held_out": card["held_out"]}
    # Its card says how it was built and how it did on engines it never heard.
    assert card["command"].startswith("python -m relayml.basemodel")
    assert set(card["held_out"]["per_type"]) == set(TYPES) and card["held_out"]["engines"] == ["piper"]
    assert Detector.load(shipped.path).artifact_types == TYPES


def test_the_builtin_models_page_shows_its_figures_on_an_engine_it_never_heard(client, team):
    client.force_login(factories.make_user(team, "ada"))
    page = client.get(f"/models/{builtin.BUILTINS[0].id}/").content.decode()
    held_out = builtin.BUILTINS[0].card()["held_out"]
    assert 'id="held-out"' in page and "piper" in page
    floors = builtin.BUILTINS[0].card()["metrics"]["postprocess_floors"]
    assert floors == {"long_pause": {"merge_window_ms": 0, "min_duration_ms": 300}}
    assert "<strong>long_pause</strong> at least 300 ms long." in page
    assert f"<strong>{held_out['overall']['f1']}</strong>" in page
