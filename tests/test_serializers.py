"""The shared serializer machinery (relayweb/serializers.py) writes what DRF would have written."""

from __future__ import annotations

import json

import orjson
import pytest
from django.utils import timezone
from rest_framework import serializers

from datasets.models import AnnotationSet, AudioFile
from datasets.serializers import AnnotationSetSerializer, AudioFileSerializer, DatasetSerializer
from relayweb.serializers import FastJSONRenderer
from tests.factories import make_dataset

pytestmark = pytest.mark.django_db


def as_drf_would(serializer, instance) -> dict:
    """DRF's own field-by-field walk, which DirectModelSerializer replaces."""
    return serializers.Serializer.to_representation(serializer, instance)


def test_plain_fields_read_directly_equal_drfs_own_representation(team):
    dataset = make_dataset(team)
    now = timezone.now()
    audio = AudioFile.objects.create(
        dataset=dataset,
        original_filename="take – é.wav",
        size_bytes=10,
        sha256="ab" * 32,
        duration_ms=None,
        processing_status="ready",
        uploaded_at=now,
        processed_at=now,
    )
    annotation_set = AnnotationSet.objects.create(dataset=dataset, version=1)
    # What the set views annotate; the dict goes through DRF's DictField (not read directly).
    annotation_set.total_annotations, annotation_set.total_positive_duration_ms = 3, None
    annotation_set.annotations_by_type = {"glitch": 3}
    cases = [
        (AudioFileSerializer(), audio),
        (DatasetSerializer(), dataset),
        (AnnotationSetSerializer(), annotation_set),
    ]
    for serializer, instance in cases:
        ours = serializer.to_representation(instance)
        assert ours == as_drf_would(serializer, instance)
        assert list(ours) == serializer.Meta.fields  # the contract's order


def test_the_renderer_embeds_fragments_and_falls_back_for_huge_integers():
    renderer = FastJSONRenderer()
    body = renderer.render({"files": [{"detections": orjson.Fragment(b'[{"a": 1}]')}], "n": 2.5})
    assert json.loads(body) == {"files": [{"detections": [{"a": 1}]}], "n": 2.5}
    assert json.loads(renderer.render({"page": 10**20})) == {"page": 10**20}
    indented = renderer.render({"a": [1]}, "application/json; indent=4", {})
    assert indented.decode() == '{\n  "a": [\n    1\n  ]\n}'
    assert renderer.render(None) == b""
