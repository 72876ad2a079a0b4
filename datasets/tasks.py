"""django-q2 tasks for audio ingest: ids in, one call into relayml, results saved by services."""

from __future__ import annotations

import logging

from datasets import services, storage
from datasets.models import AudioFile, ProcessingStatus
from relayml.decode import AudioDecodeError
from relayml.ingest import process

log = logging.getLogger(__name__)


def ingest_audio(audio_id: str) -> str:
    audio = AudioFile.objects.filter(pk=audio_id).first()
    if audio is None:
        return "deleted before processing"
    if not audio.original_path:
        services.record_failure(audio_id, "no file was uploaded for this audio file")
        return "failed"
    if not services.set_status(audio_id, ProcessingStatus.NORMALIZING, error_message=""):
        return "deleted before processing"
    try:
        result = process(
            storage.absolute(audio.original_path),
            storage.audio_dir(audio),
            on_normalized=lambda r: services.record_normalized(audio_id, r),
        )
    except AudioDecodeError as exc:
        services.record_failure(audio_id, str(exc))
        return "failed"
    except Exception as exc:
        # Our own bug or the machine (disk full, …): say so, and let django-q2 record the trace.
        services.record_failure(audio_id, f"internal error while processing the file: {exc}")
        raise
    if result is None or not services.record_ready(audio_id):
        return "deleted while processing"
    return "ready"


def ingest_finished(task) -> None:
    """django-q2 hook: a task that died (timeout, crash) must not leave a file processing forever."""
    if task.success:
        return
    audio_id = task.args[0] if task.args else None
    if audio_id:
        services.record_failure(audio_id, f"processing stopped unexpectedly: {task.result}")
