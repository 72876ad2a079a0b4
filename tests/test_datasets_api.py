"""Datasets: create, list with stats, get, patch, delete, and their validation errors."""

from __future__ import annotations

import pytest

from datasets.models import Annotation, AnnotationSet, ArtifactType, AudioFile, Dataset
from tests import factories

pytestmark = pytest.mark.django_db

SEED_002 = {
    "name": "TTS Quality Detection",
    "description": "Detect quality issues in TTS output",
    "artifact_types": [
        {"name": "glitch", "description": "Audio pop, click, or distortion", "color": "#FF4444"},
        {"name": "long_pause", "description": "Unnatural silence > 500ms", "color": "#4444FF"},
        {
            "name": "hallucination",
            "description": "Extra words or sounds not in input",
            "color": "#44FF44",
        },
    ],
}


def test_creating_the_seed_dataset_returns_it_with_its_types(api):
    response = api.post("/api/v1/datasets", SEED_002, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "TTS Quality Detection"
    assert body["artifact_types"] == SEED_002["artifact_types"]
    assert set(body) == {
        "id",
        "name",
        "description",
        "artifact_types",
        "clip_classes",
        "created_at",
        "updated_at",
    }
    assert body["clip_classes"] == []  # ours: none unless asked for
    assert body["created_at"].endswith("Z")


def test_types_without_a_colour_get_distinct_defaults(api):
    body = {
        "name": "x",
        "artifact_types": [{"name": "a"}, {"name": "b"}, {"name": "c", "color": "#E6194B"}],
    }
    colors = [t["color"] for t in api.post("/api/v1/datasets", body, format="json").json()["artifact_types"]]
    assert len(set(colors)) == 3 and all(c.startswith("#") and len(c) == 7 for c in colors)


@pytest.mark.parametrize(
    ("body", "loc", "type_"),
    [
        ({"artifact_types": [{"name": "a"}]}, ["body", "name"], "value_error.missing"),
        ({"name": "x"}, ["body", "artifact_types"], "value_error.missing"),
        (
            {"name": "x", "artifact_types": []},
            ["body", "artifact_types"],
            "value_error.list.min_items",
        ),
        (
            {"name": "x", "artifact_types": [{"name": "Bad Name"}]},
            ["body", "artifact_types", 0, "name"],
            "value_error",
        ),
        (
            {"name": "x", "artifact_types": [{"name": "a", "color": "red"}]},
            ["body", "artifact_types", 0, "color"],
            "value_error",
        ),
        (
            {"name": "x", "artifact_types": [{"name": "a"}, {"name": "a"}]},
            ["body", "artifact_types", 1, "name"],
            "value_error.duplicate",
        ),
        (
            {"name": "x" * 201, "artifact_types": [{"name": "a"}]},
            ["body", "name"],
            "value_error.any_str.max_length",
        ),
        ({"name": "x", "artifact_types": "glitch"}, ["body", "artifact_types"], "type_error.list"),
    ],
)
def test_invalid_datasets_are_422_naming_the_field(api, body, loc, type_):
    response = api.post("/api/v1/datasets", body, format="json")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {"loc": loc, "type": type_} in [{"loc": d["loc"], "type": d["type"]} for d in detail], detail
    assert all(isinstance(d["msg"], str) and d["msg"] for d in detail)
    assert Dataset.objects.count() == 0


def test_malformed_json_is_400_with_a_detail(api):
    response = api.post("/api/v1/datasets", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_list_carries_counts_and_total_duration(api, team, ready_audio):
    factories.make_dataset(team, "empty one")
    AnnotationSet.objects.create(dataset=ready_audio.dataset, version=1)
    body = api.get("/api/v1/datasets").json()
    assert body["total"] == 2 and body["page"] == 1 and body["page_size"] == 50
    by_name = {d["name"]: d for d in body["items"]}
    assert by_name["TTS Quality"]["audio_count"] == 1
    assert by_name["TTS Quality"]["annotation_set_count"] == 1
    assert by_name["TTS Quality"]["total_duration_ms"] == ready_audio.duration_ms
    assert by_name["empty one"]["audio_count"] == 0 and by_name["empty one"]["total_duration_ms"] == 0
    detail = api.get(f"/api/v1/datasets/{ready_audio.dataset_id}").json()
    stats = ("audio_count", "annotation_set_count", "total_duration_ms")
    assert {k: detail[k] for k in stats} == {k: by_name["TTS Quality"][k] for k in stats}


def test_pagination_pages_and_refuses_out_of_range_sizes(api, team):
    for i in range(5):
        factories.make_dataset(team, f"d{i}")
    page = api.get("/api/v1/datasets?page=2&page_size=2").json()
    assert page["total"] == 5 and len(page["items"]) == 2 and page["page"] == 2
    assert api.get("/api/v1/datasets?page=9&page_size=2").json()["items"] == []
    for query, loc in [("page_size=501", "page_size"), ("page=0", "page"), ("page=abc", "page")]:
        response = api.get(f"/api/v1/datasets?{query}")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", loc]


def test_patch_renames_and_adds_a_type_as_the_seed_shows(api, dataset):
    current = api.get(f"/api/v1/datasets/{dataset.id}").json()["artifact_types"]
    current.append({"name": "echo", "description": "Reverb or echo artifact", "color": "#FF8844"})
    response = api.patch(
        f"/api/v1/datasets/{dataset.id}",
        {"name": "Renamed", "artifact_types": current},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Renamed"
    assert [t["name"] for t in body["artifact_types"]] == [
        "glitch",
        "long_pause",
        "clipping",
        "dropout",
        "echo",
    ]


def test_removing_a_used_type_is_409_and_changes_nothing(api, dataset, ready_audio):
    draft = AnnotationSet.objects.create(dataset=dataset, version=1)
    Annotation.objects.create(
        annotation_set=draft, audio_file=ready_audio,
        artifact_type=dataset.artifact_types.get(name="glitch"), start_ms=10, end_ms=20,
    )  # fmt: skip
    response = api.patch(
        f"/api/v1/datasets/{dataset.id}",
        {"name": "new name", "artifact_types": [{"name": "clipping"}]},
        format="json",
    )
    assert response.status_code == 409
    assert "glitch" in response.json()["detail"]
    dataset.refresh_from_db()
    assert dataset.name == "TTS Quality"
    assert ArtifactType.objects.filter(dataset=dataset).count() == 4


def test_removing_an_unused_type_works(api, dataset):
    response = api.patch(
        f"/api/v1/datasets/{dataset.id}", {"artifact_types": [{"name": "glitch"}]}, format="json"
    )
    assert response.status_code == 200
    assert [t["name"] for t in response.json()["artifact_types"]] == ["glitch"]


def test_delete_removes_audio_sets_annotations_and_files(
    api, dataset, ready_audio, media_root, django_capture_on_commit_callbacks
):
    draft = AnnotationSet.objects.create(dataset=dataset, version=1)
    Annotation.objects.create(
        annotation_set=draft, audio_file=ready_audio,
        artifact_type=dataset.artifact_types.first(), start_ms=10, end_ms=20,
    )  # fmt: skip
    folder = media_root / "datasets" / str(dataset.id)
    assert folder.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/datasets/{dataset.id}").status_code == 204
    assert not Dataset.objects.exists() and not AudioFile.objects.exists() and not Annotation.objects.exists()
    assert not folder.exists()
    assert api.get(f"/api/v1/datasets/{dataset.id}").json() == {"detail": "Dataset not found"}


def test_a_malformed_id_is_a_json_404(api):
    response = api.get("/api/v1/datasets/not-a-uuid")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found"}


def test_the_openapi_schema_and_docs_are_served(api):
    schema = api.get("/api/v1/schema?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/datasets/{dataset_id}/audio/upload-url" in paths
    assert "/api/v1/datasets/{dataset_id}/annotation-sets/{set_id}/annotations/bulk" in paths
    docs = api.get("/api/v1/docs")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
