"""CSV exports are safe to open in a spreadsheet: text from users never starts a formula."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from datasets import annotations as set_service
from inference.models import FileStatus, InferenceFile, InferenceJob
from relayweb.spreadsheets import safe_cell

pytestmark = pytest.mark.django_db

HOSTILE = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tA1", "\r=1"]


def rows_of(response) -> list[list[str]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_text_cells_that_would_start_a_formula_are_quoted_and_numbers_are_not():
    assert [safe_cell(text) for text in HOSTILE] == ["'" + text for text in HOSTILE]
    assert [safe_cell(v) for v in (-5, -0.5, "take1.wav", "")] == [-5, -0.5, "take1.wav", ""]


def test_an_annotation_csv_export_neutralises_a_hostile_file_name(api, ready_audio):
    ready_audio.original_filename = '=HYPERLINK("http://evil","x").wav'
    ready_audio.save(update_fields=["original_filename"])
    annotation_set = set_service.create_set(ready_audio.dataset)
    glitch = ready_audio.dataset.artifact_types.get(name="glitch")
    set_service.create_annotations(
        annotation_set, [{"audio_file": ready_audio, "artifact_type": glitch, "start_ms": 10, "end_ms": 20}]
    )
    url = f"/api/v1/datasets/{ready_audio.dataset_id}/annotation-sets/{annotation_set.id}/export"
    header, row = rows_of(api.get(url, {"format": "csv", "audio_file_id": str(ready_audio.id)}))
    assert row[header.index("filename")] == '\'=HYPERLINK("http://evil","x").wav'
    assert (row[header.index("start_ms")], row[header.index("end_ms")]) == ("10", "20")


def test_an_inference_csv_export_neutralises_hostile_file_names(api, team):
    config = {"threshold": 0.5, "merge_window_ms": 200, "min_duration_ms": 50}
    job = InferenceJob.objects.create(team=team, model_id=uuid.uuid4(), config=config)
    detection = {"artifact_type": "glitch", "start_ms": 100, "end_ms": 200, "confidence": 0.9}
    for name in ("@SUM(1+1)*cmd|' /C calc'!A0.wav", "-1+2.wav", "plain.wav"):
        InferenceFile.objects.create(
            job=job, original_filename=name, status=FileStatus.COMPLETED, detections=[detection]
        )
    header, *rows = rows_of(api.get(f"/api/v1/inference-jobs/{job.id}/export", {"format": "csv"}))
    names = [row[header.index("filename")] for row in rows]
    assert names == ["'@SUM(1+1)*cmd|' /C calc'!A0.wav", "'-1+2.wav", "plain.wav"]
    assert {row[header.index("confidence")] for row in rows} == {"0.9"}
