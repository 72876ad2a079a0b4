"""Dashboard pages for datasets (server-rendered; the annotation workspace builds on these)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException

from datasets import annotations as set_service
from datasets import services
from datasets.models import Dataset, ProcessingStatus
from datasets.serializers import DatasetWriteSerializer
from relayweb.models import Role, role_at_least
from relayweb.views import team_object, team_required


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
