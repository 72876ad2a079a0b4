"""No input is a 5xx: each case schema fuzzing found answers a 4xx in the contract's shape, and
nothing is half-saved."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets import annotations as set_service
from datasets.models import Annotation, Dataset
from inference.models import InferenceJob
from relayweb.models import Role
from tests import factories

pytestmark = pytest.mark.django_db

NOT_A_UUID = "0" * 36


def assert_detail(response, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def assert_validation(response, loc_prefix: list) -> list[dict]:
    assert response.status_code == 422, response.content[:500]
    items = response.json()["detail"]
    assert all(set(item) == {"loc", "msg", "type"} for item in items)
    assert any(item["loc"][: len(loc_prefix)] == loc_prefix for item in items), items
    return items


@pytest.fixture
def draft(ready_audio):
    return set_service.create_set(ready_audio.dataset)


def import_url(annotation_set) -> str:
    return f"/api/v1/datasets/{annotation_set.dataset_id}/annotation-sets/{annotation_set.id}/import"


def import_file(api, annotation_set, name: str, content: bytes):
    upload = SimpleUploadedFile(name, content)
    return api.post(import_url(annotation_set), {"file": upload}, format="multipart")


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/datasets/{NOT_A_UUID}",
        f"/api/v1/datasets/{NOT_A_UUID}/audio",
        f"/api/v1/datasets/{'z' * 36}/annotation-sets",
        f"/api/v1/training-jobs/{NOT_A_UUID}",
        f"/api/v1/models/{'-' * 36}",
        f"/api/v1/inference-jobs/{NOT_A_UUID}/files",
        f"/api/v1/uploads/{NOT_A_UUID}/",
    ],
)
def test_a_non_uuid_id_in_a_path_is_a_404(api, path):
    assert_detail(api.get(path), 404)


def test_deeply_nested_json_is_a_400_and_creates_nothing(api):
    body = '{"name": "x", "artifact_types": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert_detail(api.post("/api/v1/datasets", body, content_type="application/json"), 400)
    nested = {"name": "x", "artifact_types": [{"name": "a"}], "description": "d"}
    for _ in range(200):  # deep, yet well inside Python's recursion limit
        nested = {"nested": nested}
    assert_detail(api.post("/api/v1/datasets", nested, format="json"), 400)
    assert not Dataset.objects.exists()


def test_a_number_out_of_range_in_json_is_a_400(api, draft, ready_audio):
    fields = f'"audio_file_id": "{ready_audio.id}", "artifact_type": "glitch", "start_ms": 1, "end_ms": 2'
    body = "{" + fields + ', "confidence": 1e400}'
    url = f"/api/v1/datasets/{draft.dataset_id}/annotation-sets/{draft.id}/annotations"
    assert_detail(api.post(url, body, content_type="application/json"), 400)
    assert not Annotation.objects.exists()


def test_patching_an_artifact_type_without_a_name_is_a_422_and_changes_nothing(api, dataset):
    before = list(dataset.artifact_types.values_list("name", flat=True))
    response = api.patch(
        f"/api/v1/datasets/{dataset.id}", {"artifact_types": [{"color": "#123456"}]}, format="json"
    )
    items = assert_validation(response, ["body", "artifact_types", 0, "name"])
    assert items[0]["type"] == "value_error.missing"
    assert list(dataset.artifact_types.values_list("name", flat=True)) == before


def test_adding_an_artifact_type_without_a_name_on_the_page_is_refused_in_words(client, team, dataset):
    client.force_login(factories.make_user(team, "ada", Role.ADMIN))
    before = list(dataset.artifact_types.values_list("name", flat=True))
    response = client.post(f"/datasets/{dataset.id}/types/", {"name": " ", "color": "#123456"}, follow=True)
    assert response.status_code == 200
    assert "Type not saved" in response.content.decode() and "field required" in response.content.decode()
    assert list(dataset.artifact_types.values_list("name", flat=True)) == before


@pytest.mark.parametrize("time", ["inf", "1e400", "nan", "-inf"])
def test_audacity_times_that_are_not_finite_are_a_422(api, draft, time):
    response = import_file(api, draft, "speech.wav.txt", f"{time}\t2.0\tglitch\n".encode())
    items = assert_validation(response, ["body", "file", "speech.wav.txt line 1"])
    assert "seconds" in items[0]["msg"]
    assert not Annotation.objects.exists()


def test_a_csv_field_over_the_csv_modules_limit_is_a_422(api, draft, ready_audio):
    header, good = "filename,artifact_type,start_ms,end_ms", "speech.wav,glitch,1,2"
    content = f"{header}\n{good}\nspeech.wav,{'x' * 140_000},1,2\n"
    response = import_file(api, draft, "labels.csv", content.encode())
    items = assert_validation(response, ["body", "file", "labels.csv line 3"])
    assert "CSV" in items[0]["msg"]
    assert not Annotation.objects.exists()


def test_a_deeply_nested_json_import_is_a_422(api, draft):
    response = import_file(api, draft, "speech.wav.json", b"[" * 100_000 + b"]" * 100_000)
    assert "nests deeper" in assert_validation(response, ["body", "file", "speech.wav.json"])[0]["msg"]
    response = import_file(api, draft, "speech.wav.json", b'[{"start_ms": 1e400}]')
    assert_validation(response, ["body", "file", "speech.wav.json"])
    assert not Annotation.objects.exists()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_a_zip_entry_with_a_bad_crc_is_a_422(api, draft):
    good = json.dumps([{"artifact_type": "glitch", "start_ms": 100, "end_ms": 200}]).encode()
    archive = bytearray(zip_of({"speech.wav.json": good}))
    info = zipfile.ZipFile(io.BytesIO(bytes(archive))).infolist()[0]
    crc_at = info.header_offset + 14  # the CRC-32 in the local header; the central directory's too
    archive[crc_at] ^= 0xFF
    central = archive.rfind(b"PK\x01\x02")
    archive[central + 16] ^= 0xFF
    response = import_file(api, draft, "v1.zip", bytes(archive))
    assert "cannot be read" in assert_validation(response, ["body", "file", "speech.wav.json"])[0]["msg"]
    assert not Annotation.objects.exists()


def test_an_encrypted_zip_entry_is_a_422(api, draft):
    archive = bytearray(zip_of({"speech.wav.json": b"[]"}))
    archive[6] |= 0x01  # the "encrypted" flag bit, in the local header and the central directory
    archive[archive.rfind(b"PK\x01\x02") + 8] |= 0x01
    response = import_file(api, draft, "v1.zip", bytes(archive))
    assert "encrypted" in assert_validation(response, ["body", "file", "speech.wav.json"])[0]["msg"]


def test_a_zip_that_expands_past_the_limit_is_a_422_before_it_is_read(api, draft):
    bomb = zip_of({"speech.wav.csv": b"\0" * (101 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    response = import_file(api, draft, "v1.zip", bomb)
    assert "expands to more than" in assert_validation(response, ["body", "file", "v1.zip"])[0]["msg"]


@pytest.mark.parametrize("page", ["99999999999999999999", "2", "9" * 5000])
def test_a_page_past_the_end_is_empty_however_far(api, dataset, page):
    response = api.get("/api/v1/datasets", {"page": page})
    if len(page) > 4300:  # more digits than Python reads as an integer: not a valid integer
        assert_validation(response, ["query", "page"])
        return
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": 1, "page": int(page), "page_size": 50}


def test_an_export_file_id_that_is_not_a_uuid_is_a_422_naming_the_parameter(api, team):
    job = InferenceJob.objects.create(team=team, model_id=uuid.uuid4())
    response = api.get(f"/api/v1/inference-jobs/{job.id}/export", {"file_id": "zzz"})
    assert_validation(response, ["query", "file_id"])


def test_a_json_body_over_the_memory_limit_is_a_json_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = {"name": "x" * 20_000, "artifact_types": [{"name": "a"}]}
    assert_detail(api.post("/api/v1/datasets", body, format="json"), 413)
    assert not Dataset.objects.exists()


def test_a_multipart_field_over_the_memory_limit_is_a_json_413(api, dataset, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = api.post(f"/api/v1/datasets/{dataset.id}/audio", {"note": "x" * 20_000}, format="multipart")
    assert_detail(response, 413)
    assert not dataset.audio_files.exists()


def test_too_many_form_fields_is_a_json_400(api, dataset, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    form = "&".join(f"f{i}=1" for i in range(50))
    response = api.post("/api/v1/datasets", form, content_type="application/x-www-form-urlencoded")
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in assert_detail(response, 400)["detail"]
    fields = {f"f{i}": "1" for i in range(50)}
    response = api.post(f"/api/v1/datasets/{dataset.id}/audio", fields, format="multipart")
    assert_detail(response, 400)
    assert Dataset.objects.count() == 1 and not dataset.audio_files.exists()


def test_copying_from_a_set_id_that_is_not_a_uuid_on_the_page_is_a_404(client, team, dataset):
    client.force_login(factories.make_user(team, "ada", Role.ADMIN))
    response = client.post(f"/datasets/{dataset.id}/sets/new/", {"copy_from": "zzz"})
    assert response.status_code == 404
    assert not dataset.annotation_sets.exists()


def test_a_request_django_refuses_before_any_view_is_json_on_the_api(api, client):
    response = api.get("/api/v1/datasets", HTTP_HOST="evil.example")
    assert "Bad request" in assert_detail(response, 400)["detail"]
    page = client.get("/datasets/", HTTP_HOST="evil.example")
    assert page.status_code == 400 and not page["Content-Type"].startswith("application/json")
