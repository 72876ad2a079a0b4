"""Dashboard pages for inference: jobs, a job's live results and statistics, a file's detections."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException

from datasets.models import ArtifactType, Dataset, SetStatus
from inference import services
from inference.models import ARTIFACTS, POSTPROCESS_KEYS, TRANSCRIPT, VERDICT, FileStatus, InferenceJob
from inference.serializers import InferenceConfigSerializer
from relayml.script_check import HALLUCINATION, MISPRONUNCIATION, OMISSION
from relayweb import queues
from relayweb.models import Role, role_at_least
from relayweb.views import team_required
from training.builtin import team_verdict_models, visible_models
from training.models import DetectorModel, ModelTask
from training.services import checked_verdict_model, ensure_detector

FALLBACK_COLORS = ["#E53935", "#1E88E5", "#FB8C00", "#8E24AA", "#43A047", "#00ACC1", "#6D4C41", "#3949AB"]
# The script check's findings (relayml.script_check), the same on every job.
FINDING_COLORS = {HALLUCINATION: "#D81B60", OMISSION: "#5E35B1", MISPRONUNCIATION: "#F4511E"}


def team_job(request, job_id) -> InferenceJob:
    jobs = services.with_counts(InferenceJob.objects.filter(team=request.membership.team))
    return get_object_or_404(jobs, pk=job_id)


@team_required()
def job_list(request):
    if request.method == "POST":
        return create_job(request)
    jobs = services.with_counts(InferenceJob.objects.filter(team=request.membership.team))
    context = {
        "jobs": jobs[:200],
        "models": visible_models(request.membership.team).filter(task=ModelTask.DETECTION),
        "verdict_models": team_verdict_models(request.membership.team),
        "can_run": role_at_least(request.membership.role, Role.ANNOTATOR),
        "chosen_model": request.GET.get("model", ""),
    }
    return render(request, "inference/job_list.html", context)


def create_job(request):
    if not role_at_least(request.membership.role, Role.ANNOTATOR):
        messages.error(request, "Running inference needs the annotator role or above.")
        return redirect("inference:jobs")
    data = {
        k: request.POST[k]
        for k in (*POSTPROCESS_KEYS, "speech_model", "verdict_model_id")
        if request.POST.get(k)
    }
    data["analyses"] = request.POST.getlist("analyses") or [ARTIFACTS]
    form = InferenceConfigSerializer(data=data)
    if not form.is_valid():
        messages.error(request, f"Job not created: {form.errors}")
        return redirect("inference:jobs")
    model = None
    if ARTIFACTS in form.validated_data["analyses"]:
        if not request.POST.get("model_id"):
            messages.error(
                request, "Job not created: finding artifacts needs a model; pick one or untick it."
            )
            return redirect("inference:jobs")
        model = get_object_or_404(visible_models(request.membership.team), pk=request.POST.get("model_id"))
    try:
        if model is not None:
            ensure_detector(model, ["model_id"])
        checked_verdict_model(
            request.membership.team, form.validated_data.get("verdict_model_id"), ["verdict_model_id"]
        )
    except APIException as exc:
        messages.error(request, f"Job not created: {exc.detail}")
        return redirect("inference:jobs")
    job = services.create_job(request.membership.team, model, dict(form.validated_data), request.user)
    return redirect("inference:job", job_id=job.id)


def type_colors(job: InferenceJob, heard: bool) -> dict[str, str]:
    """The model's dataset colours where it still exists, a fixed palette otherwise."""
    model = DetectorModel.objects.filter(pk=job.model_id).first()
    known = {}
    if model is not None:
        rows = ArtifactType.objects.filter(dataset_id=model.dataset_id, dataset__team=job.team)
        known = {t.name: t.color for t in rows}
    colors = {
        t: known.get(t, FALLBACK_COLORS[i % len(FALLBACK_COLORS)]) for i, t in enumerate(job.artifact_types)
    }
    if heard:  # the script check's findings can appear
        colors.update(FINDING_COLORS)
    return colors


@team_required()
def job_detail(request, job_id):
    job = team_job(request, job_id)
    heard = hears_speech(job)  # one query, shared by the colours and the page
    judged = VERDICT in services.analyses(job)
    context = {
        "job": job,
        "config": {
            "jobId": str(job.id),
            "colors": type_colors(job, heard),
            "heard": heard,
            "judged": judged,
        },
        "heard": heard,
        "judged": judged,
        "can_run": role_at_least(request.membership.role, Role.ANNOTATOR),
        "max_upload_mb": settings.RELAY_MAX_UPLOAD_BYTES // (1024 * 1024),
        "waiting": waiting_note(job),
    }
    return render(request, "inference/job_detail.html", context)


def hears_speech(job: InferenceJob) -> bool:
    return TRANSCRIPT in services.analyses(job) or job.files.exclude(expected_text="").exists()


def waiting_note(job) -> str:
    """Files queued and none running: the job waits for the inference queue's worker."""
    active = job.files.filter(status__in=[FileStatus.QUEUED, FileStatus.PROCESSING])
    statuses = set(active.values_list("status", flat=True))
    return queues.waiting_note(settings.RELAY_INFERENCE_QUEUE) if statuses == {FileStatus.QUEUED} else ""


@require_POST
@team_required(Role.ANNOTATOR)
def cancel_job(request, job_id):
    try:
        services.cancel(team_job(request, job_id))
        messages.success(request, "Job cancelled; results already produced are kept.")
    except APIException as exc:
        messages.error(request, str(exc.detail))
    return redirect("inference:job", job_id=job_id)


@team_required()
def file_detail(request, job_id, file_id):
    job = team_job(request, job_id)
    f = get_object_or_404(job.files, pk=file_id)
    siblings = list(job.files.filter(status="completed").values_list("id", flat=True))
    model = DetectorModel.objects.filter(pk=job.model_id).first()
    dataset = Dataset.objects.filter(pk=model.dataset_id, team=job.team).first() if model else None
    drafts = dataset.annotation_sets.filter(status=SetStatus.DRAFT) if dataset else []
    index = siblings.index(f.id) if f.id in siblings else -1
    config = {
        "jobId": str(job.id),
        "fileId": str(f.id),
        "durationMs": f.duration_ms,
        "colors": type_colors(job, hears_speech(job)),
        "config": job.config,
        "canReview": dataset is not None and role_at_least(request.membership.role, Role.ANNOTATOR),
        "canEdit": role_at_least(request.membership.role, Role.ANNOTATOR),
        "heard": f.transcript is not None,
    }
    context = {
        "job": job,
        "file": f,
        "config": config,
        "dataset": dataset,
        "drafts": drafts,
        "prev_id": siblings[index - 1] if index > 0 else None,
        "next_id": siblings[index + 1] if 0 <= index < len(siblings) - 1 else None,
    }
    return render(request, "inference/file_detail.html", context)
