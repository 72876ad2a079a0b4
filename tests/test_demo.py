"""`relay_demo` gives a newcomer real, ingested, annotated data."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from datasets.models import Annotation, AudioFile, Dataset
from relayweb.models import ApiKey
from tests.conftest import api_client
from training.builtin import BUILTINS
from training.models import DetectorModel

pytestmark = pytest.mark.django_db


def test_relay_demo_fills_a_team_with_ready_annotated_audio_and_trains_a_model(capsys, settings):
    settings.RELAY_MIN_TRAINING_AUDIO_S = 10
    call_command("relay_demo", "--files", "3", "--sentences", "2", "--epochs", "1")
    output = capsys.readouterr().out
    dataset = Dataset.objects.get(team__name="Demo")
    assert AudioFile.objects.filter(dataset=dataset, processing_status="ready").count() == 3
    assert {a.detected_format for a in dataset.audio_files.all()} == {"wav", "mp3", "flac"}
    published, draft = dataset.annotation_sets.order_by("version")
    assert published.status == "published" and draft.status == "draft"
    assert Annotation.objects.filter(annotation_set=published).count() == 3 * 4
    assert Annotation.objects.filter(annotation_set=draft).count() == 3 * 4
    key = output.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    assert ApiKey.find(key) is not None
    listed = api_client(key).get("/api/v1/datasets").json()
    assert listed["items"][0]["audio_count"] == 3

    model = DetectorModel.objects.get(team__name="Demo")
    assert model.dataset_id == dataset.id and model.training_job.status == "completed"
    assert "training completed" in output
    # The demo's model starts from Relay's built-in base detector, so it is good from little data.
    assert model.config["base_model_id"] == str(BUILTINS[0].id)
    assert "from Relay base detector v3" in output

    call_command("relay_demo", "--files", "1", "--sentences", "2", "--epochs", "0")  # again: afresh
    assert Dataset.objects.filter(team__name="Demo").count() == 1
