"""Explanations of detections and verdicts (`.../explain`): occlusion maps computed on the
inference queue.

The web process never runs a model: asking for an explanation records it (one row per file, type
and span, so asking again reuses it) and queues it; the worker claims it through the job lifecycle
(relayweb/jobs.py), runs relayml.explain and saves the result through `record_result`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from inference.models import (
    ARTIFACTS,
    VERDICT,
    Explanation,
    FileStatus,
    InferenceFile,
    InferenceJob,
    WorkState,
)
from relayweb import jobs
from relayweb.errors import Conflict, Unprocessable

MAX_SPAN_MS = 30_000  # relayml.explain.MAX_SPAN_MS
# The row's artifact_type for a verdict's explanation: not a possible type name ([a-z0-9_]).
VERDICT_TARGET = "@verdict"


def check_request(
    f: InferenceFile, job: InferenceJob, artifact_type: str, start_ms: int, end_ms: int
) -> None:
    """Each refusal names the parameter, before anything is queued."""
    if f.status != FileStatus.COMPLETED:
        raise Conflict(f"Only processed files can be explained; this one is {f.status}")
    if artifact_type == VERDICT_TARGET:
        if VERDICT not in (job.config.get("analyses") or []) or not (f.verdict or {}).get("classification"):
            raise Conflict("This file has no verdict to explain")
    elif ARTIFACTS not in (job.config.get("analyses") or [ARTIFACTS]) or not job.model_id:
        raise Conflict("This job ran no detector: there is nothing to explain")
    elif artifact_type not in job.artifact_types:
        raise Unprocessable(
            ["query", "artifact_type"], f"must be one of the model's types: {', '.join(job.artifact_types)}"
        )
    if end_ms <= start_ms:
        raise Unprocessable(["query", "end_ms"], "must be after start_ms")
    if end_ms - start_ms > MAX_SPAN_MS:
        raise Unprocessable(
            ["query", "end_ms"], f"a span of at most {MAX_SPAN_MS // 1000} s can be explained"
        )
    if f.duration_ms is not None and start_ms >= f.duration_ms:
        raise Unprocessable(["query", "start_ms"], f"must be within the file's {f.duration_ms} ms")


def explanation_for(
    f: InferenceFile, job: InferenceJob, artifact_type: str, start_ms: int, end_ms: int
) -> Explanation:
    """The explanation of this span: the one asked for before, or a new one, queued."""
    check_request(f, job, artifact_type, start_ms, end_ms)
    key = {"file": f, "artifact_type": artifact_type, "start_ms": start_ms, "end_ms": end_ms}
    found = Explanation.objects.filter(**key).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            made = Explanation.objects.create(**key)
            transaction.on_commit(lambda: enqueue([made.pk]))
    except IntegrityError:  # asked twice at once: the other request made it
        return Explanation.objects.get(**key)
    return made


def enqueue(ids: list) -> None:
    from django_q.tasks import async_task

    for pk in ids:
        async_task(
            "inference.tasks.explain", str(pk), cluster=settings.RELAY_INFERENCE_QUEUE,
            hook="inference.tasks.explain_finished", task_name=f"explain {pk}",
        )  # fmt: skip


def record_result(pk, attempt: int, result: dict) -> bool:
    return bool(
        jobs.current(EXPLANATION, pk, attempt).update(
            status=WorkState.DONE, result=result, finished_at=timezone.now()
        )
    )


def record_failure(pk, message: str) -> None:
    Explanation.objects.filter(pk=pk).exclude(status=WorkState.DONE).update(
        status=WorkState.ERRORED, error_message=message[:2000], finished_at=timezone.now()
    )


EXPLANATION = jobs.register(
    jobs.Kind(
        name="explanation",
        model="inference.Explanation",
        status_field="status",
        queued=WorkState.QUEUED,
        running=(WorkState.RUNNING,),
        requeue=enqueue,
        fail=record_failure,
        noun="explanation",
        queue=settings.RELAY_INFERENCE_QUEUE,
        waiting_since="created_at",
    )
)
