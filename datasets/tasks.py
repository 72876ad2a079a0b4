"""django-q2 tasks for audio ingest: ids in, one call into relayml, results saved by services.

The file's lifecycle (claim, heartbeat, requeue after a dead worker) is relayweb.jobs'.
"""

from __future__ import annotations

import logging

from django.conf import settings

from datasets import services
from datasets.models import AudioFile
from relayml.decode import AudioDecodeError, Limits
from relayml.ingest import CANONICAL_NAME, PEAKS_NAME, process
from relayweb import jobs, storage

log = logging.getLogger(__name__)


def decode_limits() -> Limits:
    """The settings' limits on uploaded audio, for ingest and inference alike."""
    return Limits(max_duration_s=settings.RELAY_MAX_AUDIO_DURATION_S)


def ingest_audio(audio_id: str) -> str:
    audio = AudioFile.objects.filter(pk=audio_id).first()
    if audio is None:
        return "deleted before processing"
    if not audio.original_path:
        services.record_failure(audio_id, "no file was uploaded for this audio file")
        return "failed"
    attempt = services.claim_ingest(audio_id)
    if attempt is None:
        # Another task has it or had it (a duplicate message, a requeue): it is processed once.
        return f"nothing to do: the file is {audio.processing_status}"
    try:
        with (
            jobs.heartbeat(services.INGEST, [audio_id]),
            storage.local_copy(audio.original_path) as original,
            storage.output_dir(storage.audio_prefix(audio)) as out,
        ):

            def normalized(r) -> bool:
                out.publish(CANONICAL_NAME, PEAKS_NAME)  # playable and drawable from here on
                return services.record_normalized(audio_id, attempt, r)

            result = process(original, out.path, on_normalized=normalized, limits=decode_limits())
            if result is not None:
                out.publish()  # the features
    except AudioDecodeError as exc:
        services.record_failure(audio_id, str(exc))
        return "failed"
    except Exception as exc:
        # Our own bug or the machine (disk full, …): a short reason for the person, the trace in the log.
        log.exception("ingest of %s failed", audio_id)
        services.record_failure(audio_id, f"internal error while processing the file: {jobs.reason(exc)}")
        return "failed"
    if result is None or not services.record_ready(audio_id, attempt):
        return "deleted or taken over while processing"
    return "ready"


def ingest_finished(task) -> None:
    """django-q2 hook: a task that timed out or crashed must not leave a file processing forever."""
    if task.success:
        return
    audio_id = task.args[0] if task.args else None
    if audio_id:
        services.record_failure(audio_id, f"processing stopped unexpectedly: {jobs.task_reason(task)}")
