"""The Django admin lists every model, with its filters and search working."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model

from datasets.models import Annotation, AnnotationSet
from relayweb.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw-relay-123"))
    return client


def test_every_relay_model_is_registered_with_list_columns():
    for app in ("relayweb", "datasets", "training"):
        from django.apps import apps

        for model in apps.get_app_config(app).get_models():
            assert model in admin.site._registry, model
            assert len(admin.site._registry[model].list_display) > 1, model


def test_changelists_render_with_data_search_and_filters(staff_client, ready_audio, team):
    ApiKey.issue(team, "viewer", name="ci")
    draft = AnnotationSet.objects.create(dataset=ready_audio.dataset, version=1)
    Annotation.objects.create(
        annotation_set=draft, audio_file=ready_audio,
        artifact_type=ready_audio.dataset.artifact_types.first(), start_ms=1, end_ms=9,
    )  # fmt: skip
    pages = [
        "relayweb/team/", "relayweb/membership/", "relayweb/apikey/?q=ci",
        "datasets/dataset/?q=TTS", "datasets/artifacttype/",
        "datasets/audiofile/?processing_status__exact=ready",
        "datasets/annotationset/?status__exact=draft", "datasets/annotation/?q=glitch",
    ]  # fmt: skip
    for page in pages:
        response = staff_client.get(f"/admin/{page}")
        assert response.status_code == 200, page
        assert b"0 results" not in response.content, page
    assert b"speech.wav" in staff_client.get(f"/admin/datasets/audiofile/{ready_audio.id}/change/").content
