"""Export and import of annotation sets (JSON, CSV, Audacity, zip), and the workspace's media endpoints."""

from __future__ import annotations

import base64
import csv
import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets import annotations as set_service
from relayweb.models import Role
from tests import factories

pytestmark = pytest.mark.django_db


def set_url(annotation_set, tail: str = "") -> str:
    return f"/api/v1/datasets/{annotation_set.dataset_id}/annotation-sets/{annotation_set.id}{tail}"


def annotate(annotation_set, audio, *spans):
    types = {t.name: t for t in audio.dataset.artifact_types.all()}
    items = [
        {"audio_file": audio, "artifact_type": types[name], "start_ms": start, "end_ms": end}
        for name, start, end in spans
    ]
    return set_service.create_annotations(annotation_set, items)


def upload_file(name: str, content: bytes | str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode() if isinstance(content, str) else content)


@pytest.fixture
def labelled(ready_audio):
    source = set_service.create_set(ready_audio.dataset)
    annotate(source, ready_audio, ("glitch", 1000, 1040), ("long_pause", 2000, 2750))
    return source


def test_one_files_annotations_export_as_json_in_the_contracts_shape(api, labelled, ready_audio):
    response = api.get(set_url(labelled, "/export"), {"format": "json", "audio_file_id": str(ready_audio.id)})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="speech.wav.json"'
    doc = json.loads(response.content)
    assert doc["filename"] == "speech.wav" and doc["annotation_set_version"] == labelled.version
    assert [(a["artifact_type"], a["start_ms"], a["end_ms"]) for a in doc["annotations"]] == [
        ("glitch", 1000, 1040),
        ("long_pause", 2000, 2750),
    ]
    assert set(doc["annotations"][0]) >= {"id", "audio_file_id", "confidence", "extra_data", "version"}


def test_csv_and_audacity_exports_carry_the_same_annotations(api, labelled, ready_audio):
    query = {"audio_file_id": str(ready_audio.id)}
    rows = list(
        csv.DictReader(
            io.StringIO(api.get(set_url(labelled, "/export"), {**query, "format": "csv"}).content.decode())
        )
    )
    assert [(r["artifact_type"], r["start_ms"], r["end_ms"], r["filename"]) for r in rows] == [
        ("glitch", "1000", "1040", "speech.wav"),
        ("long_pause", "2000", "2750", "speech.wav"),
    ]
    labels = api.get(set_url(labelled, "/export"), {**query, "format": "audacity"}).content.decode()
    assert labels == "1.000000\t1.040000\tglitch\n2.000000\t2.750000\tlong_pause\n"


def test_a_whole_set_exports_as_a_zip_with_one_entry_per_annotated_file(api, labelled, ready_audio):
    factories.ingested(ready_audio.dataset, "unlabelled.wav", seed=3)
    response = api.get(set_url(labelled, "/export"), {"format": "audacity"})
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["speech.wav.txt"]
    assert archive.read("speech.wav.txt").decode().count("\n") == 2


def test_exports_refuse_unknown_formats_and_other_teams_sets(api, client_for, other_team, labelled):
    assert api.get(set_url(labelled, "/export"), {"format": "praat"}).status_code == 422
    assert client_for(Role.VIEWER).get(set_url(labelled, "/export")).status_code == 200
    assert client_for(Role.ADMIN, for_team=other_team).get(set_url(labelled, "/export")).status_code == 404


def test_an_exported_set_imports_into_a_new_draft_and_replace_mode_does_not_duplicate(
    api, labelled, ready_audio
):
    exported = api.get(set_url(labelled, "/export"), {"format": "json", "audio_file_id": str(ready_audio.id)})
    draft = set_service.create_set(ready_audio.dataset)
    payload = {"file": upload_file("speech.wav.json", exported.content)}
    response = api.post(set_url(draft, "/import"), payload, format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["created"] == 2
    payload = {"file": upload_file("speech.wav.json", exported.content), "mode": "replace"}
    assert api.post(set_url(draft, "/import"), payload, format="multipart").status_code == 201
    spans = sorted(draft.annotations.values_list("artifact_type__name", "start_ms", "end_ms"))
    assert spans == [("glitch", 1000, 1040), ("long_pause", 2000, 2750)]


def test_csv_rows_name_their_file_and_audacity_labels_take_the_named_file(api, ready_audio):
    draft = set_service.create_set(ready_audio.dataset)
    table = "filename,artifact_type,start_ms,end_ms\nspeech.wav,clipping,500,900\n"
    assert (
        api.post(
            set_url(draft, "/import"), {"file": upload_file("t.csv", table)}, format="multipart"
        ).status_code
        == 201
    )
    labels = "0.100000\t0.250000\tglitch\n\\\t440.0\t880.0\n3.5\t4.25\tdropout\n"  # with a spectral line
    payload = {"file": upload_file("labels.txt", labels), "audio_file_id": str(ready_audio.id)}
    assert api.post(set_url(draft, "/import"), payload, format="multipart").status_code == 201
    spans = sorted(draft.annotations.values_list("artifact_type__name", "start_ms", "end_ms"))
    assert spans == [("clipping", 500, 900), ("dropout", 3500, 4250), ("glitch", 100, 250)]


def test_a_zip_of_audacity_files_is_matched_to_audio_by_entry_name(api, ready_audio):
    draft = set_service.create_set(ready_audio.dataset)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("labels/speech.txt", "1.0\t1.5\tglitch\n")
    payload = {"file": upload_file("set.zip", buffer.getvalue())}
    assert api.post(set_url(draft, "/import"), payload, format="multipart").status_code == 201
    assert draft.annotations.get().audio_file_id == ready_audio.id


def test_one_bad_row_rejects_the_whole_import_naming_the_line(api, ready_audio):
    draft = set_service.create_set(ready_audio.dataset)
    too_late = ready_audio.duration_ms + 500
    table = (
        f"filename,artifact_type,start_ms,end_ms\nspeech.wav,glitch,0,100\nspeech.wav,glitch,0,{too_late}\n"
    )
    response = api.post(set_url(draft, "/import"), {"file": upload_file("t.csv", table)}, format="multipart")
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "file", "t.csv line 3", "end_ms"]
    assert "duration" in error["msg"]
    assert draft.annotations.count() == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.json", b"", "file is empty"),
        ("bad.json", b"{not json", "not valid JSON"),
        ("latin.csv", "artifact_type,start_ms,end_ms\nglitch,1,2\n".encode("utf-16"), "not UTF-8"),
        ("broken.zip", b"PK\x03\x04 this is no archive", "not a valid zip"),
        ("nofile.csv", b"artifact_type,start_ms,end_ms\nglitch,1,2\n", "which audio file"),
        ("short.csv", b"start_ms,end_ms\n1,2\n", "CSV header must name"),
        ("bad.txt", b"1.0 2.0 glitch\n", "expected 'start<TAB>end<TAB>label'"),
        (
            "types.json",
            b'[{"filename": "speech.wav", "artifact_type": "hum", "start_ms": 1, "end_ms": 9}]',
            "hum",
        ),
        ("labels.docx", b"PK", "cannot tell the format"),
    ],
)
def test_bad_import_files_are_422s_that_say_what_is_wrong(api, ready_audio, name, content, message):
    draft = set_service.create_set(ready_audio.dataset)
    response = api.post(set_url(draft, "/import"), {"file": upload_file(name, content)}, format="multipart")
    assert response.status_code == 422
    assert message in json.dumps(response.json())
    assert draft.annotations.count() == 0


def test_imports_into_a_published_set_are_409_and_viewers_may_not_import(
    api, client_for, labelled, ready_audio
):
    set_service.publish(labelled)
    labels = {"file": upload_file("l.txt", "1\t2\tglitch\n"), "audio_file_id": str(ready_audio.id)}
    assert api.post(set_url(labelled, "/import"), labels, format="multipart").status_code == 409
    draft = set_service.create_set(ready_audio.dataset)
    labels = {"file": upload_file("l.txt", "1\t2\tglitch\n"), "audio_file_id": str(ready_audio.id)}
    assert (
        client_for(Role.VIEWER).post(set_url(draft, "/import"), labels, format="multipart").status_code == 403
    )
    assert draft.annotations.count() == 0


def audio_url(audio, tail: str) -> str:
    return f"/api/v1/datasets/{audio.dataset_id}/audio/{audio.id}{tail}"


def test_the_spectrogram_of_a_window_comes_from_the_cached_features(api, ready_audio):
    response = api.get(
        audio_url(ready_audio, "/spectrogram"), {"start_ms": 1000, "end_ms": 3000, "columns": 50}
    )
    body = response.json()
    assert (body["columns"], body["bands"], body["start_ms"], body["end_ms"]) == (50, 64, 1000, 3000)
    pixels = base64.b64decode(body["data"])
    assert len(pixels) == 50 * 64
    assert max(pixels) > 150 and min(pixels) < 100  # speech has loud and quiet bands
    assert (
        api.get(audio_url(ready_audio, "/spectrogram"), {"end_ms": ready_audio.duration_ms + 1}).status_code
        == 422
    )
    assert api.get(audio_url(ready_audio, "/spectrogram"), {"columns": 0}).status_code == 422


def test_the_canonical_variant_streams_the_normalised_wav_with_ranges(api, ready_audio):
    response = api.get(audio_url(ready_audio, "/content"), {"variant": "canonical"}, HTTP_RANGE="bytes=0-11")
    assert response.status_code == 206
    assert response["Content-Type"] == "audio/wav"
    assert b"".join(response.streaming_content)[:4] == b"RIFF"
    assert api.get(audio_url(ready_audio, "/content"), {"variant": "flac"}).status_code == 422
