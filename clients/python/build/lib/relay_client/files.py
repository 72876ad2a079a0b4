"""Local files for the `relay` command: finding audio, hashing it, reading a scripts manifest, and
writing results next to the audio."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from pathlib import Path

# What the server decodes (the contract's formats); anything else in a folder is left alone.
AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".webm", ".aac"}
TEXT_KEYS = ("expected_text", "text", "script")  # the server's manifest accepts the same columns


def audio_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, and folders' audio files (recursively), sorted, each once."""
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in AUDIO_SUFFIXES:
                    found[child] = None
        elif path.is_file():
            found[path] = None
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return list(found)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_scripts(path: Path) -> dict[str, str]:
    """A scripts manifest, as the server reads one: JSON `{"name": "text"}` or `[{"filename",
    "expected_text"}]`, or CSV with a `filename` column and `expected_text` (or `text`, `script`).
    Keys are file names (not paths): `take1.wav`."""
    raw = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json" or raw.lstrip().startswith(("{", "[")):
        data = json.loads(raw)
        if isinstance(data, dict):
            return {str(k): str(v) for k, v in data.items()}
        return {str(row["filename"]): str(text_of(row, path)) for row in data}
    rows = list(csv.DictReader(io.StringIO(raw)))
    if rows and "filename" not in rows[0]:
        raise ValueError(f"{path}: a CSV manifest needs a 'filename' column")
    return {row["filename"]: text_of(row, path) for row in rows}


def text_of(row: dict, path: Path) -> str:
    for key in TEXT_KEYS:
        if key in row and row[key] is not None:
            return str(row[key])
    raise ValueError(f"{path}: each entry needs one of {', '.join(TEXT_KEYS)}")


def write_beside(audio: Path, suffix: str, content: bytes) -> Path:
    """`take1.wav` → `take1.relay.json` (or .csv, .txt) in the same folder."""
    target = audio.with_name(f"{audio.stem}.relay{suffix}")
    target.write_bytes(content)
    return target
