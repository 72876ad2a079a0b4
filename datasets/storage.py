"""Where an audio file's bytes and derived artefacts live under MEDIA_ROOT.

datasets/<dataset_id>/audio/<audio_id>/original      the uploaded bytes, untouched
datasets/<dataset_id>/audio/<audio_id>/canonical.wav 16 kHz mono PCM
datasets/<dataset_id>/audio/<audio_id>/peaks.npy     waveform min/max pairs (int8)
datasets/<dataset_id>/audio/<audio_id>/features.npy  log-mel features (float16)

The client's file name never reaches the file system: it is only stored, sanitised, in the row.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

from django.conf import settings
from django.core.files.move import file_move_safe

MAX_FILENAME = 500


def dataset_dir(dataset_id) -> Path:
    return Path(settings.MEDIA_ROOT) / "datasets" / str(dataset_id)


def audio_dir(audio) -> Path:
    return dataset_dir(audio.dataset_id) / "audio" / str(audio.id)


def original_relpath(audio) -> str:
    return f"datasets/{audio.dataset_id}/audio/{audio.id}/original"


def absolute(relpath: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relpath


def sanitize_filename(name: str) -> str:
    """A display name safe in headers and listings: no directories, controls or quotes."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.replace('"', "'").strip().lstrip(".").strip()
    return name[:MAX_FILENAME] or "audio"


def remove_derived(audio) -> None:
    """Everything in the audio file's folder but the original upload (after a failed ingest)."""
    folder = audio_dir(audio)
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.name != "original":
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def save_upload(uploaded, target: Path) -> int:
    """Move a streamed upload to `target` (a rename on the same disk); returns its size in bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(uploaded, "temporary_file_path"):
        file_move_safe(uploaded.temporary_file_path(), str(target), allow_overwrite=True)
    else:  # an in-memory file (scripts, the demo): copy it in chunks
        with open(target, "wb") as out:
            for chunk in uploaded.chunks():
                out.write(chunk)
    return target.stat().st_size
