"""Dashboard pages for training jobs and models."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException

from datasets.models import AnnotationSet, Dataset
from relayweb import queues
from relayweb.models import Role, role_at_least
from relayweb.views import team_object, team_required
from training import builtin, services
from training.models import DetectorModel, TrainingJob, TrainingStatus
from training.serializers import TrainingConfigSerializer, config_context


@team_required()
def job_list(request):
    jobs = TrainingJob.objects.filter(team=request.membership.team).select_related("detector")[:200]
    datasets = {d.id: d for d in Dataset.objects.filter(team=request.membership.team)}
    for job in jobs:
        job.dataset = datasets.get(job.dataset_id)
    return render(request, "training/job_list.html", {"jobs": jobs})


@team_required()
def job_detail(request, job_id):
    job = team_object(TrainingJob, request, job_id)
    context = {
        "job": job,
        "dataset": Dataset.objects.filter(pk=job.dataset_id).first(),
        "model": getattr(job, "detector", None),
        "can_cancel": not job.is_finished and role_at_least(request.membership.role, Role.ADMIN),
        "waiting": queues.waiting_note(settings.RELAY_TRAINING_QUEUE)
        if job.status == TrainingStatus.QUEUED
        else "",
    }
    return render(request, "training/job_detail.html", context)


@require_POST
@team_required(Role.ADMIN)
def start_training(request, dataset_id, set_id):
    dataset = team_object(Dataset, request, dataset_id)
    annotation_set = AnnotationSet.objects.filter(dataset=dataset, pk=set_id).first()
    if annotation_set is None:
        raise Http404("Annotation set not found")
    data = {
        "task": request.POST.get("task") or "detection",
        "artifact_types": request.POST.getlist("artifact_types"),
        "clip_classes": request.POST.getlist("clip_classes"),
        "epochs": request.POST.get("epochs") or 20,
        "base_model_id": request.POST.get("base_model_id") or None,
    }
    form = TrainingConfigSerializer(data=data, context=config_context(dataset, request.membership.team))
    if not form.is_valid():
        messages.error(request, f"Training not started: {form.errors}")
        return redirect("datasets:detail", dataset_id=dataset.id)
    try:
        job = services.create_job(
            request.membership.team, dataset, annotation_set, dict(form.validated_data), request.user
        )
    except APIException as exc:
        messages.error(request, f"Training not started: {exc.detail}")
        return redirect("datasets:detail", dataset_id=dataset.id)
    return redirect("training:job", job_id=job.id)


@require_POST
@team_required(Role.ADMIN)
def cancel_job(request, job_id):
    try:
        services.cancel(team_object(TrainingJob, request, job_id))
    except APIException as exc:
        messages.error(request, str(exc.detail))
    return redirect("training:job", job_id=job_id)


@team_required()
def model_list(request):
    models = builtin.visible_models(request.membership.team)
    return render(request, "training/model_list.html", {"models": models})


@team_required()
def model_detail(request, model_id):
    model = get_object_or_404(builtin.visible_models(request.membership.team), pk=model_id)
    if request.method == "POST":
        return rename_or_delete(request, model)
    per_type = sorted(model.metrics.get("per_type", {}).items())
    context = {"model": model, "per_type": per_type, "overall": model.metrics.get("overall", {})}
    return render(request, "training/model_detail.html", context)


def rename_or_delete(request, model: DetectorModel):
    try:
        if not role_at_least(request.membership.role, Role.ADMIN):
            messages.error(request, "Renaming or deleting models needs the admin role.")
        elif request.POST.get("action") == "delete":
            services.delete_model(model)
            messages.success(request, f"Model {model.name} deleted.")
            return redirect("training:models")
        elif name := request.POST.get("name", "").strip()[:200]:
            services.rename_model(model, name)
    except APIException as exc:
        messages.error(request, str(exc.detail))
    return redirect("training:model", model_id=model.id)
