"""Everything that changes datasets and audio files goes through here (API, pages, admin, tasks)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from datasets import uploads
from datasets.models import (
    LABEL_FIELD,
    LABEL_NOUN,
    Annotation,
    AnnotationSet,
    ArtifactType,
    AudioFile,
    Dataset,
    LabelKind,
    ProcessingStatus,
    SetStatus,
)
from relayweb import jobs, storage, webhooks
from relayweb.errors import Conflict, Unprocessable
from relayweb.models import WebhookEvent

log = logging.getLogger(__name__)

# Distinct, readable on a white waveform; cycled when a dataset has more types.
PALETTE = (
    "#E6194B", "#3CB44B", "#4363D8", "#F58231", "#911EB4", "#42D4F4",
    "#F032E6", "#9A6324", "#469990", "#808000", "#000075", "#BFEF45",
)  # fmt: skip


def with_stats(datasets):
    # Subqueries, not joins: joining audio and sets together would multiply the sums.
    audio = (
        AudioFile.objects.filter(dataset=OuterRef("pk"))
        .order_by()
        .values("dataset")
        .annotate(n=Count("id"), ms=Sum("duration_ms"))
    )
    sets = (
        AnnotationSet.objects.filter(dataset=OuterRef("pk"))
        .order_by()
        .values("dataset")
        .annotate(n=Count("id"))
    )
    return datasets.annotate(
        audio_count=Coalesce(Subquery(audio.values("n")), 0),
        total_duration_ms=Coalesce(Subquery(audio.values("ms")), 0),
        annotation_set_count=Coalesce(Subquery(sets.values("n")), 0),
    )


STAT_FIELDS = ("audio_count", "annotation_set_count", "total_duration_ms")


def dataset_stats(dataset: Dataset) -> dict:
    """The list's statistics for one dataset, from the same query the list uses."""
    return with_stats(Dataset.objects.filter(pk=dataset.pk)).values(*STAT_FIELDS).get()


def default_color(taken: set[str], index: int) -> str:
    free = [c for c in PALETTE if c not in taken]
    return free[0] if free else PALETTE[index % len(PALETTE)]


@transaction.atomic
def create_dataset(
    team, name: str, description: str, artifact_types: list[dict], clip_classes: list[dict] | None = None
) -> Dataset:
    dataset = Dataset.objects.create(team=team, name=name, description=description)
    set_artifact_types(dataset, artifact_types)
    set_artifact_types(dataset, clip_classes or [], LabelKind.CLASS)
    return dataset


@transaction.atomic
def update_dataset(dataset: Dataset, changes: dict) -> Dataset:
    for field in ("name", "description"):
        if field in changes:
            setattr(dataset, field, changes[field])
    for kind, field in LABEL_FIELD.items():
        if field in changes:
            set_artifact_types(dataset, changes[field], kind)
    if any(field in changes for field in LABEL_FIELD.values()) and not dataset.artifact_types.exists():
        raise Unprocessable(
            ["body", "artifact_types"], "a dataset needs at least one artifact type or clip class"
        )
    dataset.save()
    return dataset


def set_artifact_types(dataset: Dataset, wanted: list[dict], kind: str = LabelKind.EVENT) -> None:
    """Make the dataset's types (or clip classes) exactly `wanted` (by name); removing a used one is
    a 409, and a name the other kind holds a 422."""
    names = {w["name"] for w in wanted}
    existing = {t.name: t for t in dataset.artifact_types.filter(kind=kind)}
    other = set(dataset.artifact_types.exclude(kind=kind).values_list("name", flat=True))
    if clash := sorted(other & names):
        raise Unprocessable(
            ["body", LABEL_FIELD[kind]], f"{', '.join(clash)}: already a name in this dataset"
        )
    removed = [t for name, t in existing.items() if name not in names]
    used = [t.name for t in removed if t.annotations.exists()]
    if used:
        raise Conflict(
            f"{LABEL_NOUN[kind]}(s) {', '.join(sorted(used))} cannot be removed: annotations use them. "
            "Delete those annotations (in a draft set) first."
        )
    for t in removed:
        t.delete()
    taken = {w["color"].upper() for w in wanted if w.get("color")}
    taken |= set(dataset.artifact_types.exclude(kind=kind).values_list("color", flat=True))
    for position, item in enumerate(wanted):
        current = existing.get(item["name"]) or ArtifactType(dataset=dataset, name=item["name"], kind=kind)
        current.description = item.get("description", current.description or "")
        color = item.get("color") or current.color or default_color(taken, position)
        current.color = color.upper()
        taken.add(current.color)
        current.position = position
        current.save()


def delete_dataset(dataset: Dataset) -> None:
    prefix = storage.dataset_prefix(dataset.id)
    with transaction.atomic():
        Annotation.objects.filter(annotation_set__dataset=dataset).delete()
        dataset.delete()
    transaction.on_commit(lambda: storage.delete_tree(prefix))


def create_audio(
    dataset: Dataset, filename: str, content_type: str, size: int | None, user=None, expected_text: str = ""
):
    return AudioFile.objects.create(
        dataset=dataset,
        original_filename=storage.sanitize_filename(filename),
        content_type=content_type or "",
        declared_size=size,
        expected_text=expected_text,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


def set_expected_text(audio: AudioFile, text: str) -> AudioFile:
    """The script is not training data: it may change at any time, published sets or not."""
    AudioFile.objects.filter(pk=audio.pk).update(expected_text=text)
    audio.refresh_from_db()
    return audio


def store_upload(audio: AudioFile, uploaded) -> None:
    """Store a streamed upload as the audio file's original (a rename on the same disk locally)."""
    record_upload(audio, storage.save_upload(uploaded, storage.original_relpath(audio)))


def record_upload(audio: AudioFile, size: int) -> None:
    """The original's bytes are stored (by us, or by the client straight into the bucket)."""
    audio.original_path = storage.original_relpath(audio)
    audio.size_bytes = size
    audio.uploaded_at = timezone.now()
    audio.save(update_fields=["original_path", "size_bytes", "uploaded_at", "updated_at"])


def accept_direct_upload(audio: AudioFile) -> None:
    """Confirming a presigned POST: the object must be in the bucket, of the size declared (S3
    servers that ignore the policy's size range exist, so it is checked here); raises Conflict or
    Unprocessable otherwise, and removes an object of the wrong size."""
    key = storage.original_relpath(audio)
    record_upload(audio, uploads.checked_direct_upload(key, audio.declared_size))


def queue_ingest(audio: AudioFile) -> None:
    from django_q.tasks import async_task

    audio_id = str(audio.id)
    transaction.on_commit(
        lambda: async_task(
            "datasets.tasks.ingest_audio",
            audio_id,
            hook="datasets.tasks.ingest_finished",
            task_name=f"ingest {audio_id}",
            # Named, not the caller's own: a training or inference worker may queue ingest too.
            cluster=settings.RELAY_INGEST_QUEUE,
        )
    )


def upload_and_queue(dataset: Dataset, uploaded, user=None, expected_text: str = "") -> AudioFile:
    with transaction.atomic():
        audio = create_audio(
            dataset, uploaded.name, uploaded.content_type, uploaded.size, user, expected_text
        )
        store_upload(audio, uploaded)
        audio.queued_at = audio.uploaded_at
        audio.save(update_fields=["queued_at"])
        queue_ingest(audio)
    return audio


def published_sets_using(audio: AudioFile) -> list[int]:
    """Versions of the published sets that cover this file (annotated in them, or part of them)."""
    annotated = audio.annotations.filter(annotation_set__status=SetStatus.PUBLISHED).values_list(
        "annotation_set__version", flat=True
    )
    covered = audio.published_sets.values_list("version", flat=True)
    return sorted(set(annotated) | set(covered))


def delete_audio(audio: AudioFile) -> None:
    versions = published_sets_using(audio)
    if versions:
        listed = ", ".join(f"v{v}" for v in versions)
        raise Conflict(f"Audio file is part of published annotation set(s) {listed}, which never change")
    prefix = storage.audio_prefix(audio)
    audio.delete()
    transaction.on_commit(lambda: storage.delete_tree(prefix))


# --- ingest bookkeeping, called by the django-q2 task (the lifecycle is relayweb.jobs) ---


def requeue_ingest(audio_ids: list) -> None:
    for audio_id in audio_ids:
        queue_ingest(AudioFile(pk=audio_id))


INGEST = jobs.register(
    jobs.Kind(
        name="ingest",
        model="datasets.AudioFile",
        status_field="processing_status",
        queued=ProcessingStatus.PENDING,
        running=(ProcessingStatus.NORMALIZING, ProcessingStatus.EMBEDDING),
        requeue=requeue_ingest,
        fail=lambda audio_id, message: record_failure(audio_id, message),
        noun="file",
        # A pending row without bytes is an upload URL nobody used yet: nothing to process.
        claimable={"original_path__gt": ""},
        queue=settings.RELAY_INGEST_QUEUE,
        waiting_since="queued_at",
    )
)


def claim_ingest(audio_id) -> int | None:
    return jobs.claim(INGEST, audio_id, error_message="", updated_at=timezone.now())


def set_status(audio_id, attempt: int, status: str, **fields) -> bool:
    """Move a file this claim holds to `status`; False when it was deleted or taken over meanwhile."""
    updated = jobs.current(INGEST, audio_id, attempt).update(
        processing_status=status, updated_at=timezone.now(), **fields
    )
    return updated == 1


def record_normalized(audio_id, attempt: int, result) -> bool:
    return set_status(
        audio_id,
        attempt,
        ProcessingStatus.EMBEDDING,
        content_type=result.content_type,
        detected_format=result.format,
        sample_rate=result.sample_rate,
        channels=result.channels,
        duration_ms=result.duration_ms,
        size_bytes=result.size_bytes,
        sha256=result.sha256,
    )


@transaction.atomic
def record_ready(audio_id, attempt: int) -> bool:
    done = set_status(
        audio_id, attempt, ProcessingStatus.READY, processed_at=timezone.now(), error_message=""
    )
    if done:
        announce(audio_id, WebhookEvent.AUDIO_READY)
    return done


def announce(audio_id, event: str) -> None:
    """The team's webhooks hear that a file is ready or failed (relayweb/webhooks.py)."""
    audio = AudioFile.objects.select_related("dataset").filter(pk=audio_id).first()
    if audio is None:
        return
    data = {
        "dataset_id": str(audio.dataset_id), "audio_id": str(audio.pk),
        "original_filename": audio.original_filename, "processing_status": audio.processing_status,
        "error_message": audio.error_message, "duration_ms": audio.duration_ms,
    }  # fmt: skip
    webhooks.emit(audio.dataset.team_id, event, f"{event}:{audio.pk}", data)


@transaction.atomic
def record_failure(audio_id, message: str) -> None:
    log.info("ingest of %s failed: %s", audio_id, message)
    updated = (
        AudioFile.objects.filter(pk=audio_id)
        .exclude(processing_status=ProcessingStatus.READY)
        .update(
            processing_status=ProcessingStatus.FAILED,
            error_message=message[:2000],
            processed_at=timezone.now(),
            updated_at=timezone.now(),
        )
    )
    audio = AudioFile.objects.filter(pk=audio_id).first() if updated else None
    if audio is not None:
        announce(audio_id, WebhookEvent.AUDIO_FAILED)
        # Half-written derived files are of no use; the original stays for a look or a retry.
        storage.remove_derived(audio)


def expire_unused_uploads() -> int:
    """Upload URLs never used before they expired leave rows with no bytes: remove them."""
    unused = AudioFile.objects.filter(
        processing_status=ProcessingStatus.PENDING,
        original_path="",
        created_at__lt=jobs.unused_upload_cutoff(),
    )
    deleted, _ = unused.delete()
    return deleted


jobs.register_sweeper("expired_audio_uploads", expire_unused_uploads)
jobs.register_sweeper("stale_temp_files", uploads.remove_stale_temp_files)


def status_counts(dataset: Dataset) -> dict[str, int]:
    rows = dataset.audio_files.values("processing_status").annotate(n=Count("id"))
    return {row["processing_status"]: row["n"] for row in rows}


def search_audio(queryset, text: str):
    return queryset.filter(Q(original_filename__icontains=text)) if text else queryset
