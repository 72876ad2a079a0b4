"""Inference results as files: JSON (the seed's export shape), CSV, Audacity labels (zip per job)."""

from __future__ import annotations

import io
import json
import zipfile

from relayweb.spreadsheets import csv_document

FORMATS = ["json", "csv", "audacity"]


def json_item(f, detections: list[dict]) -> dict:
    """The seed's `export_results` shape for one file."""
    return {
        "filename": f.original_filename,
        "duration_ms": f.duration_ms,
        "status": f.status,
        "detection_count": len(detections),
        "detections": detections,
    }


def words_of(d: dict) -> str:
    """A script-check finding's words: `expected → heard`, or the one side it has."""
    details = d.get("details") or {}
    expected, heard = details.get("expected", ""), details.get("heard", "")
    return f"{expected} → {heard}" if expected and heard else expected or heard


def audacity_labels(detections: list[dict]) -> str:
    """The seed's `to_audacity_labels`: seconds with 3 decimals, label "type (confidence%)"; a
    script-check finding adds its words ("omission: today (77%)")."""
    return "\n".join(
        f"{d['start_ms'] / 1000:.3f}\t{d['end_ms'] / 1000:.3f}\t{d['artifact_type']}"
        f"{': ' + words_of(d) if d.get('details') else ''} ({d['confidence']:.0%})"
        for d in detections
    )


CSV_COLUMNS = [
    "filename",
    "file_id",
    "artifact_type",
    "start_ms",
    "end_ms",
    "confidence",
    "source",
    "expected",
    "heard",
]


def csv_text(rows) -> str:
    cells = (
        [f.original_filename, str(f.id), d["artifact_type"], d["start_ms"], d["end_ms"], d["confidence"],
         d.get("source", "model"), (d.get("details") or {}).get("expected", ""),
         (d.get("details") or {}).get("heard", "")]
        for f, detections in rows
        for d in detections
    )  # fmt: skip
    return csv_document(CSV_COLUMNS, cells)


def render(fmt: str, job, rows, single: bool) -> tuple[bytes, str, str]:
    """(content, content type, file name) for `rows` of (InferenceFile, detections)."""
    stem = rows[0][0].original_filename if single and rows else f"inference-{str(job.id)[:8]}"
    if fmt == "json":
        return (
            json.dumps([json_item(f, d) for f, d in rows], indent=2).encode(),
            "application/json",
            f"{stem}.json",
        )
    if fmt == "csv":
        return csv_text(rows).encode(), "text/csv", f"{stem}.csv"
    if single:
        return audacity_labels(rows[0][1]).encode(), "text/plain", f"{stem}.txt"
    buffer = io.BytesIO()
    taken: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for f, detections in rows:
            name = f"{f.original_filename}.txt"
            if name in taken:
                name = f"{f.original_filename}.{str(f.id)[:8]}.txt"
            taken.add(name)
            archive.writestr(name, audacity_labels(detections))
    return buffer.getvalue(), "application/zip", f"{stem}-audacity.zip"
