"""Clip classifications (seed 004's `/classifications`): one audio file's synthetic-or-human verdict.

The lifecycle is relayweb/jobs.py's (claim, heartbeat, reaper, requeue once) on the inference
queue; the verdict comes from Relay's built-in verdict model (relayml/builtin/verdict-v1, checked
by sha256 before it is used), or from the team's own human / artificial classifier when the upload
names one (`model_id`: a training job with task "classification", often fine-tuned from the
built-in). A person may override a verdict, with a reason: who, when and why are kept as history,
and the model's verdict stays beside the override.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inference.models import Classification, WorkState
from relayweb import jobs, storage, webhooks
from relayweb.errors import Unprocessable
from relayweb.models import WebhookEvent

API_VERSION = "1.1.0"
MODEL_NAME = "relay-verdict-v1"
LABELS = ("human", "artificial")


def prefix(c: Classification) -> str:
    return f"classifications/{c.team_id}/{c.pk}"


def create(team, uploaded, name: str = "", ref_id: str = "", user=None, model=None) -> Classification:
    """Store the upload and queue it; the row and the bytes exist together or not at all. `model`:
    the team's human / artificial classifier to judge it (None: the built-in verdict model)."""
    c = Classification(team=team, name=storage.sanitize_filename(name or uploaded.name), ref_id=ref_id[:200])
    c.verdict_model_id = model.pk if model is not None else None
    c.model_name = model.name[:100] if model is not None else MODEL_NAME
    c.created_by = user if getattr(user, "pk", None) else None
    c.sha256 = sha256_of_upload(uploaded)
    c.original_path = storage.join(prefix(c), "original")
    c.size_bytes = storage.save_upload(uploaded, c.original_path)
    try:
        with transaction.atomic():
            c.save()
            transaction.on_commit(lambda: enqueue(c.pk))
    except Exception:
        storage.delete_tree(prefix(c))
        raise
    return c


def sha256_of_upload(uploaded) -> str:
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    return digest.hexdigest()


def enqueue(pk) -> None:
    from django_q.tasks import async_task

    async_task(
        "inference.tasks.classify", str(pk), cluster=settings.RELAY_INFERENCE_QUEUE,
        hook="inference.tasks.classify_finished", task_name=f"classify {pk}",
    )  # fmt: skip


def requeue(ids: list) -> None:
    for pk in ids:
        enqueue(pk)


def record_result(pk, attempt: int, result: dict) -> bool:
    """Save a verdict; only the claim that still holds the row may (a worker presumed dead keeps out)."""
    with transaction.atomic():
        saved = jobs.current(CLASSIFICATION, pk, attempt).update(
            state=WorkState.DONE, result=result, duration_ms=result.get("duration_ms"),
            api_version=API_VERSION, errors="", completed_at=timezone.now(),
        )  # fmt: skip
        if saved:
            announce(pk)
    return bool(saved)


def record_failure(pk, message: str) -> None:
    with transaction.atomic():
        if (
            Classification.objects.filter(pk=pk)
            .exclude(state=WorkState.DONE)
            .update(state=WorkState.ERRORED, errors=message[:2000], completed_at=timezone.now())
        ):
            announce(pk)


def announce(pk) -> None:
    c = Classification.objects.get(pk=pk)
    verdict = (c.result.get("verdicts") or {}).get(c.team.verdict_heuristic, {})
    data = {
        "identifier": str(c.pk), "name": c.name, "ref_id": c.ref_id, "status": api_status(c),
        "classification": verdict.get("classification"), "confidence": verdict.get("confidence"),
        "errors": c.errors or None,
    }  # fmt: skip
    webhooks.emit(c.team_id, WebhookEvent.CLASSIFICATION_DONE, f"classification.done:{c.pk}", data)


def override(c: Classification, classification: str | None, reason: str, who: str) -> Classification:
    """A person's verdict beside the model's (None lifts it), kept with who, when and why."""
    if classification not in (*LABELS, None):
        raise Unprocessable(["body", "force_classification"], "human, artificial or null")
    if not reason.strip():
        raise Unprocessable(["body", "reason"], "say why the verdict is overridden (or lifted)")
    with transaction.atomic():
        locked = Classification.objects.select_for_update().get(pk=c.pk)
        locked.force_classification = classification or ""
        entry = {"classification": classification, "reason": reason.strip()[:1000], "by": who,
                 "at": timezone.now().isoformat()}  # fmt: skip
        locked.overrides = [*locked.overrides, entry]
        locked.save(update_fields=["force_classification", "overrides"])
    return locked


def api_status(c: Classification) -> str:
    return {WorkState.DONE: "done", WorkState.ERRORED: "errored"}.get(c.state, "new")


CLASSIFICATION = jobs.register(
    jobs.Kind(
        name="classification",
        model="inference.Classification",
        status_field="state",
        queued=WorkState.QUEUED,
        running=(WorkState.RUNNING,),
        requeue=requeue,
        fail=record_failure,
        queue=settings.RELAY_INFERENCE_QUEUE,
        noun="classification",
        waiting_since="created_at",
    )
)
