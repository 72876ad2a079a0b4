"""Annotation sets (versions, publish, immutability) and annotations (single, bulk, edits)."""

from __future__ import annotations

import pytest

from datasets import annotations as set_service
from datasets import tasks
from datasets.annotation_api import MAX_EMBEDDED_ANNOTATIONS
from datasets.models import Annotation, AnnotationSet
from relayweb.models import Role
from tests import factories
from tests.conftest import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def base(ready_audio):
    return f"/api/v1/datasets/{ready_audio.dataset_id}/annotation-sets"


@pytest.fixture
def draft(api, base):
    return api.post(base).json()


def annotation(audio, type_="glitch", start=100, end=200, **extra):
    return {
        "audio_file_id": str(audio.id),
        "artifact_type": type_,
        "start_ms": start,
        "end_ms": end,
        **extra,
    }


def test_sets_get_consecutive_versions_and_start_as_drafts(api, base):
    first, second = api.post(base), api.post(base)
    assert first.status_code == second.status_code == 201
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert first.json()["status"] == "draft" and first.json()["published_at"] is None
    listed = api.get(base).json()
    assert listed["total"] == 2 and [s["version"] for s in listed["items"]] == [2, 1]


def test_a_set_counts_its_annotations_by_type(api, base, draft, ready_audio):
    items = [
        annotation(ready_audio, "glitch", 0, 10),
        annotation(ready_audio, "glitch", 50, 60),
        annotation(ready_audio, "dropout", 100, 300),
    ]
    api.post(f"{base}/{draft['id']}/annotations/bulk", {"annotations": items}, format="json")
    body = api.get(f"{base}/{draft['id']}").json()
    assert body["total_annotations"] == 3
    assert body["annotations_by_type"] == {"dropout": 1, "glitch": 2}
    assert body["total_positive_duration_ms"] == 10 + 10 + 200
    assert len(body["annotations"]) == 3 and body["annotations"][0]["artifact_type"] == "glitch"


def test_create_one_annotation_returns_it(api, base, draft, ready_audio):
    response = api.post(
        f"{base}/{draft['id']}/annotations",
        annotation(ready_audio, extra_data={"note": "pop"}),
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["artifact_type"] == "glitch" and body["start_ms"] == 100 and body["end_ms"] == 200
    assert body["confidence"] == 1.0 and body["extra_data"] == {"note": "pop"} and body["version"] == 1


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"artifact_type": "hum"}, ["body", "artifact_type"]),
        ({"start_ms": 300, "end_ms": 200}, ["body", "end_ms"]),
        ({"start_ms": 200, "end_ms": 200}, ["body", "end_ms"]),
        ({"start_ms": -1}, ["body", "start_ms"]),
        ({"end_ms": 10**9}, ["body", "end_ms"]),
        ({"confidence": 1.5}, ["body", "confidence"]),
        ({"audio_file_id": "00000000-0000-0000-0000-000000000000"}, ["body", "audio_file_id"]),
        ({"start_ms": "soon"}, ["body", "start_ms"]),
    ],
)
def test_invalid_annotations_are_422_and_not_saved(api, base, draft, ready_audio, changes, loc):
    response = api.post(
        f"{base}/{draft['id']}/annotations", {**annotation(ready_audio), **changes}, format="json"
    )
    assert response.status_code == 422, response.content
    assert loc in [d["loc"] for d in response.json()["detail"]]
    assert not Annotation.objects.exists()


def test_an_annotation_on_another_teams_audio_is_refused(api, base, draft, other_team):
    foreign = upload(factories.make_dataset(other_team), "x.wav", factories.wav_bytes())
    response = api.post(f"{base}/{draft['id']}/annotations", annotation(foreign), format="json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "audio file not found in this dataset"


def test_bulk_is_all_or_nothing_and_names_the_bad_index(api, base, draft, ready_audio):
    items = [
        annotation(ready_audio, start=0, end=10),
        annotation(ready_audio, "nope"),
        annotation(ready_audio, start=5, end=9),
    ]
    response = api.post(f"{base}/{draft['id']}/annotations/bulk", {"annotations": items}, format="json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "annotations", 1, "artifact_type"]
    assert not Annotation.objects.exists()
    del items[1]
    response = api.post(f"{base}/{draft['id']}/annotations/bulk", {"annotations": items}, format="json")
    assert response.status_code == 201 and response.json()["created"] == 2
    assert len(response.json()["annotations"]) == 2


def test_published_sets_never_change(api, base, draft, ready_audio):
    created = api.post(f"{base}/{draft['id']}/annotations", annotation(ready_audio), format="json").json()
    published = api.post(f"{base}/{draft['id']}/publish")
    assert published.status_code == 200
    assert published.json()["status"] == "published" and published.json()["published_at"].endswith("Z")
    set_url = f"{base}/{draft['id']}"
    attempts = [
        api.post(f"{set_url}/annotations", annotation(ready_audio, start=1, end=2), format="json"),
        api.post(f"{set_url}/annotations/bulk", {"annotations": [annotation(ready_audio)]}, format="json"),
        api.patch(f"{set_url}/annotations/{created['id']}", {"end_ms": 300}, format="json"),
        api.delete(f"{set_url}/annotations/{created['id']}"),
        api.delete(set_url),
        api.post(f"{set_url}/publish"),
    ]
    assert [r.status_code for r in attempts] == [409] * 6
    assert "published" in attempts[0].json()["detail"]
    stored = Annotation.objects.get()
    assert (stored.start_ms, stored.end_ms) == (100, 200)


def test_a_published_sets_files_are_fixed_when_it_is_published(api, base, draft, ready_audio, dataset):
    clean = upload(dataset, "clean.wav", factories.wav_bytes(2))
    assert tasks.ingest_audio(str(clean.id)) == "ready"  # in the set as an example without artifacts
    still_processing = upload(dataset, "busy.wav", factories.wav_bytes(3))
    api.post(f"{base}/{draft['id']}/annotations", annotation(ready_audio), format="json")
    api.post(f"{base}/{draft['id']}/publish")
    published = AnnotationSet.objects.get(pk=draft["id"])
    expected = {ready_audio.id, clean.id}
    assert set(published.audio_files.values_list("id", flat=True)) == expected

    later = upload(dataset, "later.wav", factories.wav_bytes(4))
    assert tasks.ingest_audio(str(later.id)) == "ready"
    assert tasks.ingest_audio(str(still_processing.id)) == "ready"
    assert set(published.audio_files.values_list("id", flat=True)) == expected
    # A file the set covers cannot be deleted, annotated or not: the set would change.
    refused = api.delete(f"/api/v1/datasets/{dataset.id}/audio/{clean.id}")
    assert refused.status_code == 409 and "published annotation set(s) v1" in refused.json()["detail"]
    assert api.delete(f"/api/v1/datasets/{dataset.id}/audio/{later.id}").status_code == 204


def test_a_new_version_can_copy_a_published_set(api, base, draft, ready_audio):
    api.post(f"{base}/{draft['id']}/annotations", annotation(ready_audio), format="json")
    api.post(f"{base}/{draft['id']}/publish")
    copy = api.post(base, {"copy_from": draft["id"]}, format="json")
    assert copy.status_code == 201
    body = copy.json()
    assert body["version"] == 2 and body["status"] == "draft" and body["copied_from"] == draft["id"]
    assert body["total_annotations"] == 1
    assert (
        api.post(base, {"copy_from": "00000000-0000-0000-0000-000000000000"}, format="json").status_code
        == 422
    )


def test_a_draft_can_be_deleted(api, base, draft):
    assert api.delete(f"{base}/{draft['id']}").status_code == 204
    assert not AnnotationSet.objects.exists()


def test_only_admins_publish_or_delete_sets(client_for, base, draft):
    annotator = client_for(Role.ANNOTATOR)
    assert annotator.post(f"{base}/{draft['id']}/publish").status_code == 403
    assert annotator.delete(f"{base}/{draft['id']}").status_code == 403


def test_patch_edits_and_bumps_the_version(api, base, draft, ready_audio):
    created = api.post(f"{base}/{draft['id']}/annotations", annotation(ready_audio), format="json").json()
    url = f"{base}/{draft['id']}/annotations/{created['id']}"
    response = api.patch(url, {"artifact_type": "clipping", "end_ms": 400, "version": 1}, format="json")
    assert response.status_code == 200
    assert response.json()["artifact_type"] == "clipping" and response.json()["end_ms"] == 400
    assert response.json()["version"] == 2 and response["ETag"] == '"2"'


def test_concurrent_edits_do_not_overwrite_each_other(api, base, draft, ready_audio):
    created = api.post(f"{base}/{draft['id']}/annotations", annotation(ready_audio), format="json").json()
    url = f"{base}/{draft['id']}/annotations/{created['id']}"
    etag = api.get(url)["ETag"]
    first = api.patch(url, {"end_ms": 250}, format="json", HTTP_IF_MATCH=etag)
    second = api.patch(url, {"start_ms": 50}, format="json", HTTP_IF_MATCH=etag)
    assert first.status_code == 200
    assert second.status_code == 409 and "changed by someone else" in second.json()["detail"]
    stored = api.get(url).json()
    assert (stored["start_ms"], stored["end_ms"], stored["version"]) == (100, 250, 2)
    assert api.delete(url, HTTP_IF_MATCH=etag).status_code == 409
    assert api.delete(url, HTTP_IF_MATCH='"2"').status_code == 204


def test_patch_checks_times_against_the_stored_annotation(api, base, draft, ready_audio):
    created = api.post(f"{base}/{draft['id']}/annotations", annotation(ready_audio), format="json").json()
    url = f"{base}/{draft['id']}/annotations/{created['id']}"
    assert api.patch(url, {"start_ms": 250}, format="json").status_code == 422
    assert api.patch(url, {"end_ms": ready_audio.duration_ms + 1}, format="json").status_code == 422


def test_annotations_list_filters_by_audio_file(api, base, draft, ready_audio, dataset):
    second = upload(dataset, "b.wav", factories.wav_bytes(2))
    tasks.ingest_audio(str(second.id))
    api.post(
        f"{base}/{draft['id']}/annotations/bulk",
        {
            "annotations": [
                annotation(ready_audio),
                annotation(second),
                annotation(second, start=300, end=400),
            ]
        },
        format="json",
    )
    url = f"{base}/{draft['id']}/annotations"
    assert api.get(url).json()["total"] == 3
    only = api.get(f"{url}?audio_file_id={second.id}").json()
    assert only["total"] == 2 and {a["audio_file_id"] for a in only["items"]} == {str(second.id)}
    assert api.get(f"{url}?audio_file_id=bad").status_code == 422


def test_annotating_a_file_still_processing_is_422(api, base, draft, dataset):
    pending = upload(dataset, "p.wav", factories.wav_bytes())
    response = api.post(f"{base}/{draft['id']}/annotations", annotation(pending), format="json")
    assert response.status_code == 422 and "pending" in response.json()["detail"][0]["msg"]


def test_viewers_read_but_do_not_annotate(client_for, base, draft, ready_audio):
    viewer = client_for(Role.VIEWER)
    assert viewer.get(f"{base}/{draft['id']}").status_code == 200
    assert (
        viewer.post(f"{base}/{draft['id']}/annotations", annotation(ready_audio), format="json").status_code
        == 403
    )


def test_a_sets_detail_embeds_at_most_the_limit_and_says_when_there_are_more(api, base, draft, ready_audio):
    glitch = ready_audio.dataset.artifact_types.get(name="glitch")
    items = [
        {"audio_file": ready_audio, "artifact_type": glitch, "start_ms": i, "end_ms": i + 1}
        for i in range(MAX_EMBEDDED_ANNOTATIONS + 5)
    ]
    set_service.create_annotations(AnnotationSet.objects.get(pk=draft["id"]), items)
    detail = api.get(f"{base}/{draft['id']}").json()
    assert detail["total_annotations"] == MAX_EMBEDDED_ANNOTATIONS + 5
    assert len(detail["annotations"]) == MAX_EMBEDDED_ANNOTATIONS and detail["annotations_truncated"] is True
    assert [a["start_ms"] for a in detail["annotations"][:3]] == [0, 1, 2]
    few = api.get(f"{base}/{draft['id']}", {"annotations_limit": 2}).json()
    assert [a["start_ms"] for a in few["annotations"]] == [0, 1] and few["annotations_truncated"] is True
    none = api.get(f"{base}/{draft['id']}", {"annotations_limit": 0}).json()
    assert none["annotations"] == [] and none["total_annotations"] == MAX_EMBEDDED_ANNOTATIONS + 5
    too_many = api.get(f"{base}/{draft['id']}", {"annotations_limit": MAX_EMBEDDED_ANNOTATIONS + 1})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["query", "annotations_limit"]
    # The rest is paged through the annotations list.
    last = api.get(f"{base}/{draft['id']}/annotations", {"page": 3, "page_size": 500}).json()
    assert last["total"] == MAX_EMBEDDED_ANNOTATIONS + 5 and len(last["items"]) == 5


def test_a_small_sets_detail_embeds_all_its_annotations(api, base, draft, ready_audio):
    api.post(f"{base}/{draft['id']}/annotations", annotation(ready_audio), format="json")
    detail = api.get(f"{base}/{draft['id']}").json()
    assert len(detail["annotations"]) == 1 and detail["annotations_truncated"] is False
