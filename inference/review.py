"""Review into training data: a processed file and its detections become an audio file and
annotations in a draft set of the model's dataset, for a person to accept or fix and retrain."""

from __future__ import annotations

from django.db import transaction

from datasets import annotations as set_service
from datasets import services as dataset_services
from datasets.models import AnnotationSet, Dataset, LabelKind, SetStatus, label_list
from inference.models import FileStatus, InferenceFile
from relayweb import storage
from relayweb.errors import Conflict
from training.models import DetectorModel


def target_dataset(f: InferenceFile) -> Dataset:
    model = DetectorModel.objects.filter(pk=f.job.model_id).first()
    if model is not None and model.is_builtin:
        raise Conflict("This job used a built-in model, which has no dataset to review into")
    dataset = Dataset.objects.filter(pk=model.dataset_id, team=f.job.team).first() if model else None
    if dataset is None:
        raise Conflict("The model's dataset no longer exists, so there is nowhere to review this file")
    return dataset


def draft_for(dataset: Dataset, set_id=None, user=None) -> AnnotationSet:
    """The named draft, or a new draft copied from the latest set (so reviewers keep what exists)."""
    if set_id:
        found = dataset.annotation_sets.filter(pk=set_id).first()
        if found is None:
            raise Conflict("That annotation set is not in the model's dataset")
        set_service.ensure_draft(found)
        return found
    latest = dataset.annotation_sets.order_by("-version").first()
    if latest is not None and latest.status == SetStatus.DRAFT:
        return latest
    return set_service.create_set(dataset, latest, user)


FINDING_DESCRIPTIONS = {
    "hallucination": "Words said that the script does not have (the script check)",
    "omission": "Script words that were not said (the script check)",
    "mispronunciation": "A script word said as another (the script check)",
}


def add_finding_types(dataset: Dataset, detections: list[dict]) -> None:
    """Script-check findings sent to review bring their types into the dataset (the reviewer asked
    for them to be kept); the model's detections only ever use the dataset's own types."""
    existing = label_list(dataset, LabelKind.EVENT)
    names = set(dataset.artifact_types.values_list("name", flat=True))  # clip classes' names are taken too
    wanted = sorted({d["artifact_type"] for d in detections if d.get("source") == "transcript"} - names)
    if wanted:
        added = [{"name": n, "description": FINDING_DESCRIPTIONS.get(n, "")} for n in wanted]
        dataset_services.set_artifact_types(dataset, existing + added)


def send_to_review(f: InferenceFile, detections: list[dict], set_id=None, user=None) -> dict:
    if f.status != FileStatus.COMPLETED:
        raise Conflict(f"Only processed files can be reviewed; this one is {f.status}")
    dataset = target_dataset(f)
    with transaction.atomic():
        add_finding_types(dataset, detections)
        types = {t.name: t for t in dataset.artifact_types.all()}
        annotation_set = draft_for(dataset, set_id, user)
        audio = dataset_services.create_audio(
            dataset, f.original_filename, f.content_type, f.size_bytes, user, f.expected_text
        )
        # A copy (server-side in a bucket): the job keeps its file.
        storage.copy(f.s3_key, storage.original_relpath(audio))
        dataset_services.record_upload(audio, f.size_bytes)
        # The duration is known (same decoder as ingest), so annotations validate before ingest ends.
        audio.duration_ms, audio.queued_at = f.duration_ms, audio.uploaded_at
        audio.save(update_fields=["duration_ms", "queued_at"])
        provenance = {
            "source": "inference",
            "inference_job_id": str(f.job_id),
            "model_id": str(f.job.model_id),
        }
        items = [
            {"audio_file": audio, "artifact_type": types[d["artifact_type"]], "start_ms": d["start_ms"],
             "end_ms": d["end_ms"], "confidence": d["confidence"],
             "extra_data": {**provenance, **({"details": d["details"]} if d.get("details") else {})}}
            for d in detections if d["artifact_type"] in types
        ]  # fmt: skip
        created = set_service.create_annotations(annotation_set, items, user) if items else []
        dataset_services.queue_ingest(audio)
    return {
        "dataset_id": str(dataset.id),
        "annotation_set_id": str(annotation_set.id),
        "annotation_set_version": annotation_set.version,
        "audio_file_id": str(audio.id),
        "created": len(created),
        "skipped": len(detections) - len(items),
    }
