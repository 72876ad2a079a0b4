"""Dashboard pages for datasets (server-rendered; the annotation workspace builds on these)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException, ValidationError

from datasets import annotations as set_service
from datasets import services, transfer
from datasets.models import (
    LABEL_FIELD,
    LABEL_NOUN,
    AnnotationSet,
    Dataset,
    LabelKind,
    ProcessingStatus,
    label_list,
)
from datasets.serializers import DatasetWriteSerializer, valid_uuid_strings
from relayweb.models import Role, role_at_least
from relayweb.views import flash_api_error, team_object, team_required
from training.builtin import visible_models
from training.models import ModelTask


@team_required()
def dataset_list(request):
    if request.method == "POST":
        return create_dataset(request)
    datasets = services.with_stats(Dataset.objects.filter(team=request.membership.team))
    return render(request, "datasets/list.html", {"datasets": datasets.prefetch_related("artifact_types")})


def parse_types(text: str) -> list[dict]:
    """'glitch, long_pause' → [{"name": "glitch"}, {"name": "long_pause"}]."""
    return [{"name": part.strip()} for part in text.replace("\n", ",").split(",") if part.strip()]


def create_dataset(request):
    if not role_at_least(request.membership.role, Role.ADMIN):
        messages.error(request, "Creating datasets needs the admin role.")
        return redirect("datasets:list")
    data = {
        "name": request.POST.get("name", ""),
        "description": request.POST.get("description", ""),
        "artifact_types": parse_types(request.POST.get("artifact_types", "")),
    }
    form = DatasetWriteSerializer(data=data)
    if not form.is_valid():
        messages.error(request, f"Dataset not created: {form.errors}")
        return redirect("datasets:list")
    dataset = services.create_dataset(request.membership.team, **form.validated_data)
    return redirect("datasets:detail", dataset_id=dataset.id)


@team_required()
def dataset_detail(request, dataset_id):
    dataset = team_object(Dataset, request, dataset_id)
    audio = dataset.audio_files.all()
    status = request.GET.get("status", "")
    if status in ProcessingStatus.values:
        audio = audio.filter(processing_status=status)
    query = request.GET.get("q", "").strip()
    audio = services.search_audio(audio, query)
    page = Paginator(audio, 50).get_page(request.GET.get("page"))
    sets = list(dataset.annotation_sets.all())
    for s in sets:
        s.stats = set_service.set_stats(s)
    labels = list(dataset.artifact_types.all())
    bases = visible_models(request.membership.team).order_by(F("team").asc(nulls_first=True), "-created_at")
    context = {
        "dataset": dataset,
        "page": page,
        "status": status,
        "query": query,
        "statuses": ProcessingStatus.values,
        "counts": services.status_counts(dataset),
        "stats": services.dataset_stats(dataset),
        "sets": sets,
        "can_train": role_at_least(request.membership.role, Role.ADMIN),
        "event_types": [t for t in labels if t.kind == LabelKind.EVENT],
        "clip_classes": [t for t in labels if t.kind == LabelKind.CLASS],
        # Starting points for training: built-in models first (listed for every team), then the team's.
        "base_models": bases.filter(task=ModelTask.DETECTION),
        "classifier_bases": bases.filter(task=ModelTask.CLASSIFICATION),
        "can_annotate": role_at_least(request.membership.role, Role.ANNOTATOR),
        "first_ready": dataset.audio_files.filter(processing_status=ProcessingStatus.READY)
        .order_by("original_filename", "created_at")
        .first(),
        "max_upload_mb": settings.RELAY_MAX_UPLOAD_BYTES // (1024 * 1024),
    }
    return render(request, "datasets/detail.html", context)


@require_POST
@team_required(Role.ANNOTATOR)
def upload_audio(request, dataset_id):
    dataset = team_object(Dataset, request, dataset_id)
    try:
        files = request.FILES.getlist("file")
        for uploaded in files:
            services.upload_and_queue(dataset, uploaded, request.user)
        messages.success(request, f"{len(files)} file(s) uploaded; processing has started.")
    except APIException as exc:
        messages.error(request, str(exc.detail))
    return redirect("datasets:detail", dataset_id=dataset.id)


@require_POST
@team_required(Role.ADMIN)
def edit_types(request, dataset_id):
    """Add a type (or clip class), or remove one (refused, with the reason, while annotations use it)."""
    dataset = team_object(Dataset, request, dataset_id)
    kind = LabelKind.CLASS if request.POST.get("kind") == LabelKind.CLASS else LabelKind.EVENT
    field, noun = LABEL_FIELD[kind], LABEL_NOUN[kind]
    wanted = label_list(dataset, kind)
    removing = request.POST.get("remove")
    if removing:
        wanted = [t for t in wanted if t["name"] != removing]
    else:
        added = {"name": request.POST.get("name", "").strip(), "color": request.POST.get("color")}
        wanted.append({k: v for k, v in added.items() if v})
    form = DatasetWriteSerializer(data={"name": dataset.name, field: wanted}, partial=True)
    try:
        form.is_valid(raise_exception=True)
        services.update_dataset(dataset, {field: form.validated_data[field]})
        messages.success(request, f"Removed {noun.lower()} {removing}." if removing else f"{noun} added.")
    except APIException as exc:
        flash_api_error(request, exc, "Type not saved: " if isinstance(exc, ValidationError) else "")
    return redirect("datasets:detail", dataset_id=dataset.id)


@require_POST
@team_required(Role.ANNOTATOR)
def new_set(request, dataset_id):
    dataset = team_object(Dataset, request, dataset_id)
    source = None
    if request.POST.get("copy_from"):
        wanted = valid_uuid_strings([request.POST["copy_from"]])  # anything else is simply not found
        source = get_object_or_404(AnnotationSet, dataset=dataset, pk=wanted[0] if wanted else None)
    created = set_service.create_set(dataset, source, request.user)
    origin = f" from v{source.version}" if source else ""
    messages.success(request, f"Draft v{created.version} created{origin}.")
    return redirect("datasets:detail", dataset_id=dataset.id)


@require_POST
@team_required(Role.ADMIN)
def publish_set(request, dataset_id, set_id):
    dataset = team_object(Dataset, request, dataset_id)
    annotation_set = get_object_or_404(AnnotationSet, dataset=dataset, pk=set_id)
    try:
        set_service.publish(annotation_set)
        messages.success(request, f"v{annotation_set.version} published; it can no longer change.")
    except APIException as exc:
        flash_api_error(request, exc)
    return redirect("datasets:detail", dataset_id=dataset.id)


@require_POST
@team_required(Role.ANNOTATOR)
def import_set(request, dataset_id, set_id):
    """The page's import form: the API's validation, all or nothing, errors shown in words."""
    dataset = team_object(Dataset, request, dataset_id)
    annotation_set = get_object_or_404(AnnotationSet, dataset=dataset, pk=set_id)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ValidationError({"file": {"upload": ["choose a file to import"]}})
        replace = request.POST.get("mode") == "replace"
        created = transfer.import_file(annotation_set, upload, replace=replace, user=request.user)
        messages.success(request, f"Imported {len(created)} annotation(s) into v{annotation_set.version}.")
    except APIException as exc:
        flash_api_error(request, exc)
    return redirect("datasets:detail", dataset_id=dataset.id)


@team_required()
def annotate(request, dataset_id, set_id, audio_id):
    dataset = team_object(Dataset, request, dataset_id)
    annotation_set = get_object_or_404(AnnotationSet, dataset=dataset, pk=set_id)
    audio = get_object_or_404(dataset.audio_files, pk=audio_id)
    siblings = list(
        dataset.audio_files.filter(processing_status=ProcessingStatus.READY)
        .order_by("original_filename", "created_at")
        .values_list("id", "original_filename")
    )
    ids = [i for i, _ in siblings]
    position = ids.index(audio.id) if audio.id in ids else -1

    def link(index):
        if 0 <= index < len(ids) and position >= 0:
            return reverse("datasets:annotate", args=[dataset.id, annotation_set.id, ids[index]])
        return None

    read_only = annotation_set.is_published or not role_at_least(request.membership.role, Role.ANNOTATOR)
    config = {
        "datasetId": str(dataset.id),
        "setId": str(annotation_set.id),
        "audioId": str(audio.id),
        "durationMs": audio.duration_ms,
        "readOnly": read_only,
        "types": [{"name": t.name, "color": t.color, "kind": t.kind} for t in dataset.artifact_types.all()],
        "prevUrl": link(position - 1),
        "nextUrl": link(position + 1),
    }
    context = {
        "dataset": dataset,
        "annotation_set": annotation_set,
        "audio": audio,
        "config": config,
        "read_only": read_only,
        "position": position + 1,
        "file_count": len(ids),
        "ready": audio.processing_status == ProcessingStatus.READY,
    }
    return render(request, "datasets/annotate.html", context)
