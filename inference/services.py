"""Every change to inference jobs and files: creation, uploads, queueing, results, cancel, statistics.

Job status follows its files: `processing` while any confirmed file waits or runs, then `completed`
(or `failed` when every file failed). Files still uploading (`pending`) never hold the others back:
their results appear as each finishes. Cancelling fails the files not yet done and keeps the results
already produced.
"""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from datasets import uploads
from inference import job_results
from inference.models import (
    ARTIFACTS,
    DONE,
    POSTPROCESS_KEYS,
    TRANSCRIPT,
    FileStatus,
    InferenceFile,
    InferenceJob,
    JobStatus,
)
from relayml import script_check
from relayml.scores import PEAKS_NAME, SCORES_NAME, detections_from_scores, load_scores
from relayml.speech import Transcript, iter_words
from relayweb import jobs, storage, webhooks, workers
from relayweb.errors import Conflict
from relayweb.models import WebhookEvent
from training.models import DetectorModel

CANCELLED_MESSAGE = "cancelled before it was processed"


def job_prefix(job_id) -> str:
    """Where a job's files are stored (relayweb.storage keys)."""
    return f"inference/{job_id}"


def file_prefix(f: InferenceFile) -> str:
    """Where a file's original, scores and peaks are stored."""
    return storage.join(job_prefix(f.job_id), str(f.id))


def original_key(f: InferenceFile) -> str:
    return storage.join(file_prefix(f), "original")


def create_job(team, model: DetectorModel | None, config: dict, user=None, key=None) -> InferenceJob:
    """A job; `model` is None when the job only hears speech (no "artifacts" analysis); `key` the
    API key that asked (its display prefix is kept, never the secret)."""
    return InferenceJob.objects.create(
        submitted_by_key=key.prefix if key is not None else "",
        team=team,
        model_id=model.id if model else None,
        model_name=model.name if model else "",
        artifact_types=model.artifact_types if model else [],
        config=config,
        floors=((model.metrics or {}).get("postprocess_floors") or {}) if model else {},
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


def analyses(job: InferenceJob) -> list[str]:
    return list(job.config.get("analyses") or [ARTIFACTS])


def hears(job: InferenceJob, f: InferenceFile) -> bool:
    """Whether the file is transcribed: the job asked for transcripts, or the file has a script."""
    return TRANSCRIPT in analyses(job) or bool(f.expected_text)


def postprocess_config(job: InferenceJob) -> dict:
    """The job's threshold / merge window / minimum duration (the rest of its config is not
    post-processing)."""
    return {k: job.config[k] for k in POSTPROCESS_KEYS if k in job.config}


def ensure_open(job: InferenceJob) -> None:
    if job.status == JobStatus.CANCELLED or job.cancel_requested:
        raise Conflict("This inference job was cancelled; create a new job to process more files")


def create_file(
    job: InferenceJob,
    filename: str,
    content_type: str,
    size: int | None,
    expected_text: str = "",
    input_name: str = "",
) -> InferenceFile:
    """A file of the job; `input_name` (the client's name for it in the results by input name) must
    name no other input of the job, the ones named after their files included (409)."""
    ensure_open(job)
    f = InferenceFile(job=job, original_filename=storage.sanitize_filename(filename), input_name=input_name)
    f.content_type, f.declared_size, f.expected_text = content_type[:100], size, expected_text
    f.s3_key = original_key(f)
    taken = Conflict(f"input_name {input_name!r} already names an input of this job")
    if input_name and input_name in job_results.input_names(list(job.files.order_by("created_at", "id"))):
        raise taken
    try:
        with transaction.atomic():
            f.save()
    except IntegrityError:  # the same name given twice at once
        raise taken from None
    return f


def store_upload(f: InferenceFile, uploaded) -> None:
    record_upload(f, storage.save_upload(uploaded, f.s3_key))


def record_upload(f: InferenceFile, size: int) -> None:
    f.size_bytes, f.uploaded_at = size, timezone.now()
    f.save(update_fields=["size_bytes", "uploaded_at"])


def accept_direct_upload(f: InferenceFile) -> None:
    """Confirming a presigned POST: the object must be in the bucket, of the declared size."""
    record_upload(f, uploads.checked_direct_upload(f.s3_key, f.declared_size))


def confirm(f: InferenceFile) -> InferenceFile:
    """Queue an uploaded file; confirming twice is harmless."""
    ensure_open(f.job)
    if f.uploaded_at is None:
        accept_direct_upload(f)
    if f.status == FileStatus.PENDING:
        InferenceFile.objects.filter(pk=f.pk, status=FileStatus.PENDING).update(status=FileStatus.QUEUED)
        f.refresh_from_db()
        mark_processing(f.job_id)
        transaction.on_commit(lambda: enqueue(f.job_id))
    return f


def upload_and_queue(
    job: InferenceJob, uploaded, expected_text: str = "", input_name: str = ""
) -> InferenceFile:
    content_type = getattr(uploaded, "content_type", "") or ""
    f = create_file(job, uploaded.name, content_type, uploaded.size, expected_text, input_name)
    store_upload(f, uploaded)
    return confirm(f)


def enqueue(job_id) -> None:
    """One task per confirmation; a task that finds nothing queued ends at once, so extra ones are cheap
    and no file can be confirmed in the gap after a running task looked for work."""
    from django_q.tasks import async_task

    async_task(
        "inference.tasks.run_job",
        str(job_id),
        cluster=settings.RELAY_INFERENCE_QUEUE,
        hook="inference.tasks.run_finished",
        task_name=f"infer {job_id}",
    )


def mark_processing(job_id) -> None:
    InferenceJob.objects.filter(
        pk=job_id, status__in=[JobStatus.PENDING, JobStatus.COMPLETED, JobStatus.FAILED]
    ).update(status=JobStatus.PROCESSING, completed_at=None)
    InferenceJob.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=timezone.now())


def requeue_files(file_ids: list) -> None:
    for job_id in set(InferenceFile.objects.filter(pk__in=file_ids).values_list("job_id", flat=True)):
        mark_processing(job_id)
        enqueue(job_id)


def fail_and_settle(file_id, message: str) -> None:
    record_failure(file_id, message)
    job_id = InferenceFile.objects.filter(pk=file_id).values_list("job_id", flat=True).first()
    if job_id:
        settle(job_id)


INFERENCE = jobs.register(
    jobs.Kind(
        name="inference",
        model="inference.InferenceFile",
        status_field="status",
        queued=FileStatus.QUEUED,
        running=(FileStatus.PROCESSING,),
        requeue=requeue_files,
        fail=fail_and_settle,
        noun="file",
        queue=settings.RELAY_INFERENCE_QUEUE,
        waiting_since="uploaded_at",
    )
)


def claim_queued(job_id) -> list[InferenceFile]:
    """Move up to RELAY_INFERENCE_CLAIM queued files to processing and return them (each claimed
    exactly once; a file's `attempts` is its claim, which its result must still hold to be saved)."""
    limit = settings.RELAY_INFERENCE_CLAIM
    # When and where each started: seed 003's per-input engine and timing (inference/job_results.py).
    claims = jobs.claim_many(
        INFERENCE, {"job_id": job_id}, limit, started_at=timezone.now(), worker=workers.this_worker()[:100]
    )
    return list(InferenceFile.objects.filter(pk__in=claims).order_by("created_at", "id"))


def detections_for(
    f: InferenceFile, job: InferenceJob, threshold, merge_window_ms, min_duration_ms
) -> list[dict]:
    """Detections recomputed from the stored frame scores (no model run), with the model's
    per-type floors (relayml.events.postprocess) under the settings asked for, then the script
    check's findings, which no threshold changes."""
    found: list[dict] = []
    if job.artifact_types:
        types = job.artifact_types
        path = storage.cached_copy(storage.join(file_prefix(f), SCORES_NAME))
        if path is None:
            raise Conflict("The file's frame scores are missing from storage: run the job again")
        scores = load_scores(path, len(types))
        events = detections_from_scores(
            scores, types, f.frame_ms, threshold, merge_window_ms, min_duration_ms, f.duration_ms, job.floors
        )
        found = [{**e.to_dict(), "source": "model"} for e in events]
    return found + list(f.findings or [])


def detections_at(f: InferenceFile, job: InferenceJob, wanted: dict) -> list[dict]:
    """A file's detections at `wanted` settings: stored ones at the job's own, else recomputed;
    none for a file that was not processed (it has no scores)."""
    if f.status != FileStatus.COMPLETED:
        return []
    if wanted == postprocess_config(job):
        return f.detections
    return detections_for(f, job, **wanted)


def check_script(f: InferenceFile) -> None:
    """Set the file's findings and its transcript's wer / cer from its script (none without one)."""
    if f.transcript is None:
        return
    transcript = {k: v for k, v in f.transcript.items() if k not in ("wer", "cer")}
    f.findings = []
    if f.expected_text.strip():
        words = list(iter_words({"words": f.words}))
        language = transcript.get("language", "")
        primed = None
        if f.primed_words is not None and f.primed_script == f.expected_text:
            primed = list(iter_words({"words": f.primed_words}))
        result = script_check.check(f.expected_text, words, language, f.duration_ms or 0, primed)
        f.findings = result.findings
        transcript.update(wer=result.wer, cer=result.cer)
    f.transcript = transcript


def record_result(
    f: InferenceFile,
    job: InferenceJob,
    duration_ms: int,
    frames: int,
    frame_ms: float,
    transcript: Transcript | None = None,
    verdict: dict | None = None,
    primed_words: list | None = None,
) -> None:
    """`primed_words`: the script check's second hearing, primed with the file's script."""
    f.duration_ms, f.frames, f.frame_ms = duration_ms, frames, frame_ms
    if primed_words is not None:
        f.primed_words, f.primed_script = [asdict(w) for w in primed_words], f.expected_text
    if transcript is not None:
        heard = transcript.to_dict()
        f.words = heard.pop("words")
        f.transcript, f.utterances = heard, transcript.utterance_dicts()
        check_script(f)
    if verdict is not None:
        f.verdict = file_verdict(job, verdict)
        for u, v in zip(f.utterances or [], verdict.get("utterances") or [], strict=False):
            u["verdict"] = v
    c = postprocess_config(job)
    f.detections = detections_for(f, job, c["threshold"], c["merge_window_ms"], c["min_duration_ms"])
    # Only the claim that still holds the file saves it: a worker presumed dead keeps out.
    with transaction.atomic():
        saved = save_result(f, duration_ms, frames, frame_ms)
        if saved:
            announce_file(f.pk, WebhookEvent.INFERENCE_FILE_COMPLETED)
    if saved:
        # The last file's result completes the job at once, not when its task gets round to it.
        settle(f.job_id)


def file_verdict(job: InferenceJob, verdict: dict) -> dict:
    """The team's heuristic's verdict on top, every heuristic's beside it (or why there is none)."""
    if "error" in verdict:
        return {"error": verdict["error"]}
    chosen = verdict["verdicts"][job.team.verdict_heuristic]
    return {**chosen, "verdicts": list(verdict["verdicts"].values()), "clips": len(verdict["clips"])}


def save_result(f: InferenceFile, duration_ms: int, frames: int, frame_ms: float) -> int:
    return jobs.current(INFERENCE, f.pk, f.attempts).update(
        verdict=f.verdict,
        duration_ms=duration_ms,
        frames=frames,
        frame_ms=frame_ms,
        detections=f.detections,
        detection_count=len(f.detections),
        transcript=f.transcript,
        words=f.words,
        utterances=f.utterances,
        findings=f.findings,
        primed_words=f.primed_words,
        primed_script=f.primed_script,
        status=FileStatus.COMPLETED,
        processed_at=timezone.now(),
        error_message="",
    )


def set_expected_text(f: InferenceFile, text: str) -> InferenceFile:
    """Give a file its script: before it is processed, for the worker; once it is, the script check
    runs again on the stored transcript (no recogniser needed)."""
    if f.status in (FileStatus.PENDING, FileStatus.QUEUED):
        InferenceFile.objects.filter(pk=f.pk, status=f.status).update(expected_text=text)
    elif f.status == FileStatus.COMPLETED and f.transcript is not None:
        with transaction.atomic():
            f = InferenceFile.objects.select_for_update().get(pk=f.pk)
            f.expected_text = text
            check_script(f)
            model_part = [d for d in f.detections if d.get("source", "model") == "model"]
            f.detections = model_part + f.findings
            f.detection_count = len(f.detections)
            f.save(update_fields=["expected_text", "transcript", "findings", "detections", "detection_count"])
    elif f.status == FileStatus.COMPLETED:
        raise Conflict(
            'The file was processed without a transcript (its job\'s analyses lack "transcript"): '
            "the script cannot be checked; add the file to a job that transcribes"
        )
    else:
        raise Conflict(f"The file is {f.status}: its script can be set before or after processing")
    f.refresh_from_db()
    return f


@transaction.atomic
def record_failure(file_id, message: str) -> None:
    failed = (
        InferenceFile.objects.filter(pk=file_id)
        .exclude(status__in=DONE)
        .update(status=FileStatus.FAILED, error_message=message[:2000], processed_at=timezone.now())
    )
    f = InferenceFile.objects.filter(pk=file_id).first() if failed else None
    if f is not None:
        announce_file(f.pk, WebhookEvent.INFERENCE_FILE_FAILED)
        # Partial scores and peaks are of no use; the uploaded original stays.
        for name in (SCORES_NAME, PEAKS_NAME):
            storage.delete(storage.join(file_prefix(f), name))


def expire_unused_uploads() -> int:
    """Files whose upload URL expired unused fail with that reason, so their jobs can settle."""
    unused = InferenceFile.objects.filter(
        status=FileStatus.PENDING, uploaded_at__isnull=True, created_at__lt=jobs.unused_upload_cutoff()
    )
    count = 0
    for file_id in list(unused.values_list("id", flat=True)):
        fail_and_settle(file_id, "never uploaded: its upload URL expired")
        count += 1
    return count


jobs.register_sweeper("expired_inference_uploads", expire_unused_uploads)


def settle(job_id, error: str = "") -> None:
    """Set the job's status from its files once none is waiting or running."""
    job = InferenceJob.objects.get(pk=job_id)
    if job.status == JobStatus.CANCELLED:
        return
    counts = job.files.aggregate(
        busy=Count("id", filter=Q(status__in=[FileStatus.QUEUED, FileStatus.PROCESSING])),
        done=Count("id", filter=Q(status=FileStatus.COMPLETED)),
        failed=Count("id", filter=Q(status=FileStatus.FAILED)),
    )
    if counts["busy"]:
        return
    if counts["done"] == 0 and counts["failed"] == 0:
        return  # nothing confirmed yet
    status = JobStatus.COMPLETED if counts["done"] else JobStatus.FAILED
    message = error or (
        "" if counts["done"] else f"All {counts['failed']} file(s) failed; see each file's error"
    )
    now = timezone.now()
    with transaction.atomic():
        # A job already settled this way stays as it is: settling twice announces nothing twice.
        if (
            InferenceJob.objects.filter(pk=job_id)
            .exclude(status__in=[JobStatus.CANCELLED, status])
            .update(status=status, completed_at=now, error_message=message)
        ):
            announce_job(job_id, status, now)


def announce_file(file_id, event: str) -> None:
    """The team's webhooks hear that a file is done (relayweb/webhooks.py)."""
    f = InferenceFile.objects.select_related("job").get(pk=file_id)
    data = {
        "inference_job_id": str(f.job_id), "file_id": str(f.pk), "original_filename": f.original_filename,
        "status": f.status, "detection_count": f.detection_count, "error_message": f.error_message,
    }  # fmt: skip
    webhooks.emit(f.job.team_id, event, f"{event}:{f.pk}:{f.attempts}", data)


def announce_job(job_id, status: str, at) -> None:
    job = with_counts(InferenceJob.objects.filter(pk=job_id)).get()
    event = (
        WebhookEvent.INFERENCE_JOB_COMPLETED
        if status == JobStatus.COMPLETED
        else WebhookEvent.INFERENCE_JOB_FAILED
    )
    data = {
        "inference_job_id": str(job.pk), "status": job.status, "total_files": job.total_files,
        "processed_files": job.processed_files, "failed_files": job.failed_files,
        "total_detections": job.total_detections, "error_message": job.error_message,
    }  # fmt: skip
    # A job settles again after more files arrive: each settling is its own event.
    webhooks.emit(job.team_id, event, f"{event}:{job.pk}:{at.isoformat()}", data)


def cancel(job: InferenceJob) -> InferenceJob:
    if job.status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED):
        raise Conflict(f"The job is already {job.status}")
    with transaction.atomic():
        InferenceJob.objects.filter(pk=job.pk).update(
            cancel_requested=True, status=JobStatus.CANCELLED, completed_at=timezone.now()
        )
        job.files.exclude(status__in=DONE).update(
            status=FileStatus.FAILED, error_message=CANCELLED_MESSAGE, processed_at=timezone.now()
        )
    job.refresh_from_db()
    return job


def is_cancelled(job_id) -> bool:
    return InferenceJob.objects.filter(pk=job_id, cancel_requested=True).exists()


def with_counts(jobs):
    return jobs.annotate(
        total_files=Count("files", distinct=True),
        processed_files=Count("files", filter=Q(files__status__in=DONE), distinct=True),
        failed_files=Count("files", filter=Q(files__status=FileStatus.FAILED), distinct=True),
        total_detections=Sum("files__detection_count"),
    )


def delete_job(job: InferenceJob) -> None:
    prefix = job_prefix(job.id)
    job.delete()
    transaction.on_commit(lambda: storage.delete_tree(prefix))
