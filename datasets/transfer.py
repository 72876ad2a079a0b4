"""Export and import of annotation sets: JSON (the contract's annotation shape), CSV, Audacity labels.

Exports are per audio file (one document) or per set (a zip with one document per file). Imports go
into a draft set and are all-or-nothing: every row is parsed and validated before anything is
written, and a bad row is a 422 naming the file entry and line it came from.

Audacity label files carry no file reference, so one is imported for the audio file the caller names,
or else the one whose name it carries (`take1.wav.txt` or `take1.txt` → `take1.wav`); zip entries are
matched the same way.
"""

from __future__ import annotations

import csv
import io
import json
import math
import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from rest_framework import serializers

from datasets import annotations as service
from datasets.models import Annotation, AnnotationSet, AudioFile
from datasets.serializers import AnnotationInputSerializer, AnnotationSerializer, DatasetContext
from relayweb import parsers as safe_json
from relayweb.spreadsheets import csv_document

FORMATS = {"json": "json", "csv": "csv", "audacity": "txt"}
CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "audacity": "text/plain",
    "zip": "application/zip",
}
CSV_FIELDS = ["audio_file_id", "filename", "artifact_type", "start_ms", "end_ms", "confidence"]
CSV_INPUT_FIELDS = [*CSV_FIELDS, "clip_class"]
JSON_FIELDS = [*CSV_INPUT_FIELDS, "extra_data"]
MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_ZIP_ENTRIES = 10_000
MAX_UNZIPPED_BYTES = MAX_IMPORT_BYTES * 5
MAX_REPORTED_ERRORS = 50


@dataclass
class Row:
    """One annotation read from an import, before validation; `where` names it for error messages."""

    where: str
    data: dict


# --- export -------------------------------------------------------------------------------------


def render(fmt: str, annotation_set: AnnotationSet, audio: AudioFile, rows: list[Annotation]) -> bytes:
    """One audio file's annotations as a document in `fmt`."""
    if fmt == "json":
        doc = {
            "dataset_id": str(annotation_set.dataset_id),
            "annotation_set_id": str(annotation_set.id),
            "annotation_set_version": annotation_set.version,
            "audio_file_id": str(audio.id),
            "filename": audio.original_filename,
            "duration_ms": audio.duration_ms,
            "annotations": AnnotationSerializer(rows, many=True).data,
        }
        return json.dumps(doc, indent=2, default=str).encode()
    if fmt == "csv":
        cells = (
            [str(a.audio_file_id), audio.original_filename, a.artifact_type.name, a.start_ms, a.end_ms,
             a.confidence]
            for a in rows
        )  # fmt: skip
        return csv_document(CSV_FIELDS, cells).encode()
    # Audacity: start and end in seconds, tab separated, label = type (Audacity keeps 6 decimals).
    return "".join(
        f"{a.start_ms / 1000:.6f}\t{a.end_ms / 1000:.6f}\t{a.artifact_type.name}\n" for a in rows
    ).encode()


def entry_name(audio: AudioFile, fmt: str, taken: set[str]) -> str:
    """`take1.wav` → `take1.wav.txt`; a second file of the same name gets its id appended."""
    name = f"{audio.original_filename}.{FORMATS[fmt]}"
    if name in taken:
        name = f"{audio.original_filename}.{str(audio.id)[:8]}.{FORMATS[fmt]}"
    taken.add(name)
    return name


def export_zip(fmt: str, annotation_set: AnnotationSet, files: Iterable[AudioFile]) -> bytes:
    """Every file of the dataset that has annotations in the set, one entry each."""
    by_file: dict = {}
    for a in annotation_set.annotations.select_related("artifact_type").order_by("start_ms", "end_ms"):
        by_file.setdefault(a.audio_file_id, []).append(a)
    buffer = io.BytesIO()
    taken: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for audio in files:
            if audio.id in by_file:
                archive.writestr(
                    entry_name(audio, fmt, taken), render(fmt, annotation_set, audio, by_file[audio.id])
                )
    return buffer.getvalue()


# --- import -------------------------------------------------------------------------------------


def invalid(where: str, msg: str) -> serializers.ValidationError:
    return serializers.ValidationError({"file": {where: [msg]}})


def format_of(name: str, declared: str | None) -> str:
    if declared:
        if declared not in (*FORMATS, "zip"):
            raise serializers.ValidationError({"format": ["format must be one of json, csv, audacity, zip"]})
        return declared
    suffix = PurePosixPath(name.lower()).suffix
    guessed = {".json": "json", ".csv": "csv", ".txt": "audacity", ".zip": "zip"}.get(suffix)
    if guessed is None:
        raise serializers.ValidationError(
            {
                "format": [
                    f"cannot tell the format of '{name}': name it .json, .csv, .txt or .zip, or pass format"
                ]
            }
        )
    return guessed


def text_of(content: bytes, where: str) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise invalid(where, "the file is not UTF-8 text") from exc


def parse_json(content: bytes, where: str) -> list[Row]:
    try:
        doc = safe_json.loads(text_of(content, where))
    except json.JSONDecodeError as exc:
        raise invalid(where, f"not valid JSON: {exc.msg} (line {exc.lineno})") from exc
    except ValueError as exc:  # nested too deeply, or a number out of range
        raise invalid(where, f"not valid JSON: {exc}") from exc
    items = doc.get("annotations") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise invalid(where, "expected a list of annotations or an object with an 'annotations' list")
    default_file = doc.get("audio_file_id") if isinstance(doc, dict) else None
    default_name = doc.get("filename") if isinstance(doc, dict) else None
    rows = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise invalid(f"{where} item {index}", "each annotation must be an object")
        data = {key: item[key] for key in JSON_FIELDS if key in item}
        data.setdefault("audio_file_id", default_file)
        data.setdefault("filename", default_name)
        rows.append(Row(f"{where} item {index}", data))
    return rows


def parse_csv(content: bytes, where: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text_of(content, where)))
    try:
        fieldnames = reader.fieldnames or []
    except csv.Error as exc:
        raise invalid(f"{where} line 1", f"not valid CSV: {exc}") from exc
    # Clip class labels need no times (a row labels its whole file): `filename,clip_class` will do.
    missing = (
        set() if "clip_class" in fieldnames else {"artifact_type", "start_ms", "end_ms"} - set(fieldnames)
    )
    if missing:
        raise invalid(
            where,
            "CSV header must name artifact_type, start_ms and end_ms, or clip_class "
            f"(missing {', '.join(sorted(missing))})",
        )
    rows = []
    try:
        for record in reader:
            data = {k: v for k, v in record.items() if k in CSV_INPUT_FIELDS and v not in (None, "")}
            rows.append(Row(f"{where} line {reader.line_num}", data))
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KB limit
        raise invalid(f"{where} line {reader.line_num + 1}", f"not valid CSV: {exc}") from exc
    return rows


def seconds_to_ms(text: str) -> int:
    """'1.25' → 1250; `inf`, `nan` and `1e400` (which float() reads as inf) are a ValueError."""
    seconds = float(text)
    if not math.isfinite(seconds):
        raise ValueError(f"{text!r} is not a finite number of seconds")
    return round(seconds * 1000)


def parse_audacity(content: bytes, where: str) -> list[Row]:
    rows = []
    for number, line in enumerate(text_of(content, where).splitlines(), start=1):
        if not line.strip() or line.startswith("\\"):  # "\" lines carry spectral selections
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            raise invalid(f"{where} line {number}", "expected 'start<TAB>end<TAB>label'")
        try:
            start, end = seconds_to_ms(parts[0]), seconds_to_ms(parts[1])
        except ValueError as exc:
            raise invalid(f"{where} line {number}", "start and end must be seconds, e.g. 1.250000") from exc
        rows.append(
            Row(
                f"{where} line {number}",
                {"artifact_type": parts[2].strip(), "start_ms": start, "end_ms": end},
            )
        )
    return rows


PARSERS = {"json": parse_json, "csv": parse_csv, "audacity": parse_audacity}


def parse_zip(content: bytes, where: str) -> list[tuple[str, list[Row]]]:
    """(entry name, rows) for every document in the archive."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, struct.error) as exc:
        raise invalid(where, "not a valid zip archive") from exc
    entries = [info for info in archive.infolist() if not info.is_dir()]
    if len(entries) > MAX_ZIP_ENTRIES:
        raise invalid(where, f"the archive has more than {MAX_ZIP_ENTRIES} entries")
    if sum(info.file_size for info in entries) > MAX_UNZIPPED_BYTES:
        raise invalid(where, f"the archive expands to more than {MAX_UNZIPPED_BYTES // 2**20} MB")
    out = []
    budget = MAX_UNZIPPED_BYTES
    for info in entries:
        fmt = format_of(info.filename, None)
        if fmt == "zip":
            raise invalid(info.filename, "zip archives inside the archive are not supported")
        content = read_entry(archive, info, budget)
        budget -= len(content)
        out.append((info.filename, PARSERS[fmt](content, info.filename)))
    return out


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """One entry's bytes, never more than `budget` in all (sizes in the headers can lie)."""
    try:
        with archive.open(info) as entry:
            content = entry.read(budget + 1)
    except RuntimeError as exc:  # zipfile's word for an encrypted entry
        raise invalid(info.filename, "encrypted entries are not supported") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        raise invalid(info.filename, f"the entry cannot be read: {exc}") from exc
    if len(content) > budget:
        raise invalid(info.filename, f"the archive expands to more than {MAX_UNZIPPED_BYTES // 2**20} MB")
    return content


def stem_of(entry: str) -> str:
    """`dir/take1.wav.txt` → `take1.wav`; `take1.txt` → `take1`."""
    return PurePosixPath(entry).name.rsplit(".", 1)[0]


def match_audio(entry: str, files: list[AudioFile]) -> AudioFile | None:
    stem = stem_of(entry)
    for audio in files:
        if stem in (audio.original_filename, audio.original_filename.rsplit(".", 1)[0], str(audio.id)):
            return audio
    return None


def resolve_file(row: Row, files: list[AudioFile], fallback: AudioFile | None) -> str | None:
    """The audio file id a row belongs to: its own id, else its file name, else the fallback."""
    if row.data.get("audio_file_id"):
        return str(row.data["audio_file_id"])
    name = row.data.get("filename")
    if name:
        found = next((a for a in files if a.original_filename == name), None)
        return str(found.id) if found else None
    return str(fallback.id) if fallback else None


def read_rows(
    content: bytes, name: str, fmt: str, files: list[AudioFile], audio: AudioFile | None
) -> list[Row]:
    """Every row of an upload with its `audio_file_id` resolved (or a 422 saying why it could not be)."""
    if len(content) > MAX_IMPORT_BYTES:
        raise invalid(name, f"import files are limited to {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    if not content.strip():
        raise invalid(name, "the file is empty")
    documents = parse_zip(content, name) if fmt == "zip" else [(name, PARSERS[fmt](content, name))]
    rows = []
    for entry, entry_rows in documents:
        fallback = audio or match_audio(entry, files)
        for row in entry_rows:
            audio_id = resolve_file(row, files, fallback)
            if audio_id is None:
                raise invalid(
                    row.where,
                    "which audio file is this for? Give an audio_file_id or filename, pass audio_file_id "
                    "with the upload, or (in a zip) name the entry after the audio file",
                )
            row.data["audio_file_id"] = audio_id
            row.data.pop("filename", None)
            rows.append(row)
    if not rows:
        raise invalid(name, "no annotations found in the file")
    return rows


def validate_rows(dataset, rows: list[Row]) -> list[dict]:
    """Validate every row as the annotations API would; report them all (up to a limit) at once."""
    ctx = DatasetContext(dataset, [row.data["audio_file_id"] for row in rows])
    items, errors = [], {}
    for row in rows:
        checked = AnnotationInputSerializer(data=row.data, context={"dataset_context": ctx})
        if checked.is_valid():
            items.append(checked.validated_data)
        elif len(errors) < MAX_REPORTED_ERRORS:
            errors[row.where] = checked.errors
    if errors:
        raise serializers.ValidationError({"file": errors})
    return items


def import_file(
    annotation_set: AnnotationSet, upload, declared_format=None, *, audio=None, replace=False, user=None
):
    """Parse, resolve and validate every row of `upload`, then write them all or none."""
    service.ensure_draft(annotation_set)
    dataset = annotation_set.dataset
    fmt = format_of(upload.name, declared_format)
    content = upload.read(MAX_IMPORT_BYTES + 1)
    rows = read_rows(content, upload.name, fmt, list(dataset.audio_files.all()), audio)
    return service.import_annotations(annotation_set, validate_rows(dataset, rows), user, replace)
