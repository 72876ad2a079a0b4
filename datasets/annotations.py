"""Annotation sets and annotations: versioned, draft → published, published never changes."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from datasets.models import Annotation, AnnotationSet, Dataset, ProcessingStatus, SetStatus
from relayweb.errors import Conflict


def ensure_draft(annotation_set: AnnotationSet) -> None:
    if annotation_set.is_published:
        raise Conflict(
            f"Annotation set v{annotation_set.version} is published and cannot change; "
            "create a new version from it"
        )


def create_set(dataset: Dataset, copy_from: AnnotationSet | None = None, user=None) -> AnnotationSet:
    """A new draft with the next version; retried if another request took that version first."""
    for _ in range(5):
        try:
            with transaction.atomic():
                latest = dataset.annotation_sets.aggregate(v=Max("version"))["v"] or 0
                new = AnnotationSet.objects.create(
                    dataset=dataset,
                    version=latest + 1,
                    copied_from=copy_from,
                    created_by=user if getattr(user, "is_authenticated", False) else None,
                )
                if copy_from is not None:
                    copy_annotations(copy_from, new)
                return new
        except IntegrityError:
            continue
    raise Conflict("Another annotation set was being created at the same time; try again")


def copy_annotations(source: AnnotationSet, target: AnnotationSet) -> None:
    Annotation.objects.bulk_create(
        Annotation(
            annotation_set=target,
            audio_file_id=a.audio_file_id,
            artifact_type_id=a.artifact_type_id,
            start_ms=a.start_ms,
            end_ms=a.end_ms,
            confidence=a.confidence,
            extra_data=a.extra_data,
            created_by_id=a.created_by_id,
        )
        for a in source.annotations.all().iterator()
    )


def publish(annotation_set: AnnotationSet) -> AnnotationSet:
    with transaction.atomic():
        locked = AnnotationSet.objects.select_for_update().get(pk=annotation_set.pk)
        ensure_draft(locked)
        locked.status = SetStatus.PUBLISHED
        locked.published_at = timezone.now()
        locked.save(update_fields=["status", "published_at"])
        locked.audio_files.set(covered_audio(locked))
    return locked


def covered_audio(annotation_set: AnnotationSet):
    """What a set covers when it is published: the dataset's audio that is ready (was reviewable)."""
    return annotation_set.dataset.audio_files.filter(processing_status=ProcessingStatus.READY)


def delete_set(annotation_set: AnnotationSet) -> None:
    with transaction.atomic():
        locked = AnnotationSet.objects.select_for_update().get(pk=annotation_set.pk)
        ensure_draft(locked)
        locked.delete()


def set_stats(annotation_set: AnnotationSet) -> dict:
    rows = (
        annotation_set.annotations.values("artifact_type__name")
        .annotate(n=Count("id"))
        .order_by("artifact_type__name")
    )
    totals = annotation_set.annotations.aggregate(n=Count("id"), s=Sum("start_ms"), e=Sum("end_ms"))
    return {
        "total_annotations": totals["n"] or 0,
        # Sum of the annotations' lengths (overlapping annotations each count).
        "total_positive_duration_ms": (totals["e"] or 0) - (totals["s"] or 0),
        "annotations_by_type": {row["artifact_type__name"]: row["n"] for row in rows},
    }


def lock_draft(annotation_set: AnnotationSet) -> AnnotationSet:
    """Lock the set row so a publish cannot slip in between our check and our write."""
    locked = AnnotationSet.objects.select_for_update().get(pk=annotation_set.pk)
    ensure_draft(locked)
    return locked


def create_annotations(annotation_set: AnnotationSet, items: list[dict], user=None) -> list[Annotation]:
    with transaction.atomic():
        lock_draft(annotation_set)
        created_by = user if getattr(user, "is_authenticated", False) else None
        return Annotation.objects.bulk_create(
            Annotation(annotation_set=annotation_set, created_by=created_by, **item) for item in items
        )


def update_annotation(annotation: Annotation, changes: dict, expected_version: int | None) -> Annotation:
    """Apply `changes` only if nobody changed the annotation since `expected_version`."""
    with transaction.atomic():
        lock_draft(annotation.annotation_set)
        rows = Annotation.objects.filter(pk=annotation.pk)
        if expected_version is not None:
            rows = rows.filter(version=expected_version)
        current = rows.select_for_update().first()
        if current is None:
            fresh = Annotation.objects.get(pk=annotation.pk)
            raise Conflict(
                f"Annotation was changed by someone else (now version {fresh.version}, "
                f"you edited version {expected_version}); reload it and apply your edit again"
            )
        for field, value in changes.items():
            setattr(current, field, value)
        current.version += 1
        current.save()
        return current


def delete_annotation(annotation: Annotation, expected_version: int | None) -> None:
    with transaction.atomic():
        lock_draft(annotation.annotation_set)
        rows = Annotation.objects.filter(pk=annotation.pk)
        if expected_version is not None and not rows.filter(version=expected_version).exists():
            raise Conflict("Annotation was changed by someone else; reload it before deleting")
        rows.delete()


def import_annotations(
    annotation_set: AnnotationSet, items: list[dict], user=None, replace: bool = False
) -> list[Annotation]:
    """Add `items` to a draft in one transaction; with `replace`, first drop the set's annotations
    of the files the import covers (so an edited export round-trips without duplicates)."""
    with transaction.atomic():
        lock_draft(annotation_set)
        if replace:
            files = {item["audio_file"].pk for item in items}
            annotation_set.annotations.filter(audio_file_id__in=files).delete()
        return create_annotations(annotation_set, items, user)
