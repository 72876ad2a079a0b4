"""A job's results keyed by input name, in seed 003's shape (`../shared/api-contract.md`, Job
results by input name): available while the job runs, each input with its status, engine and timing.

Input names are the client's `input_name` where one was given (unique within the job), else the
uploaded file names: a second `take.wav` is `take.wav (2)` (in upload order, and a name a client
chose is refused when a file already has it, so a name never moves to another file)."""

from __future__ import annotations

from inference.models import Explanation, FileStatus, InferenceFile, InferenceJob, JobStatus, WorkState

STATUS = {
    FileStatus.PENDING: "FETCHING_DATA",
    FileStatus.QUEUED: "FETCHING_DATA",
    FileStatus.PROCESSING: "PROCESSING",
    FileStatus.COMPLETED: "SUCCESSFUL",
    FileStatus.FAILED: "FAILED",
}
FINISHED = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}


def input_names(files: list[InferenceFile]) -> list[str]:
    """Each file's input name, in upload order: the client's `input_name`, else the file name (a
    second `take.wav` is `take.wav (2)`, never a name a client chose)."""
    chosen = {f.input_name for f in files if f.input_name}
    seen: dict[str, int] = {}
    names = []
    for f in files:
        if f.input_name:
            names.append(f.input_name)
            continue
        base = f.original_filename
        n = seen.get(base, 0) + 1
        while (name := base if n == 1 else f"{base} ({n})") in chosen:
            n += 1
        seen[base] = n
        names.append(name)
    return names


def iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def input_document(job: InferenceJob, f: InferenceFile) -> dict:
    moments = [m for m in (f.created_at, f.uploaded_at, f.started_at, f.heartbeat_at, f.processed_at) if m]
    elapsed = None
    if f.started_at and f.processed_at:
        elapsed = max(0, round((f.processed_at - f.started_at).total_seconds() * 1000))
    doc: dict = {
        "status": STATUS[FileStatus(f.status)],
        "engine": {
            "host": f.worker or None, "device": job.device or None,
            "model": {"id": str(job.model_id) if job.model_id else None, "name": job.model_name or None},
            "speech_model": job.config.get("speech_model") if f.transcript is not None else None,
        },
        "startTime": iso(f.started_at),
        "updateTime": iso(max(moments)) if moments else None,
        "endTime": iso(f.processed_at),
        "elapsedTime": elapsed,
        "fileId": str(f.pk),
    }  # fmt: skip
    if f.status == FileStatus.COMPLETED:
        doc["detections"] = f.detections
        if f.transcript is not None:
            doc["transcript"] = {**f.transcript, "words": f.words}
        if f.verdict is not None:
            doc["verdict"] = f.verdict
    elif f.status == FileStatus.FAILED:
        doc["error"] = f.error_message
    return doc


def job_document(job: InferenceJob) -> dict:
    files = list(job.files.order_by("created_at", "id"))
    results, failures = {}, {}
    for name, f in zip(input_names(files), files, strict=True):
        (failures if f.status == FileStatus.FAILED else results)[name] = input_document(job, f)
    return {
        "jobIdentifier": str(job.pk),
        "total": len(files),
        "completed": sum(f.status == FileStatus.COMPLETED for f in files),
        "failed": len(failures),
        "finished": job.status in FINISHED and not any(f.status in (FileStatus.QUEUED, FileStatus.PROCESSING)
                                                       for f in files),
        "submittedByKey": job.submitted_by_key or None,
        # Whether any of its detections has been explained (`…/files/{id}/explain`).
        "explained": Explanation.objects.filter(file__job=job, status=WorkState.DONE).exists(),
        "results": results,
        "failures": failures,
    }  # fmt: skip


def one_input(job: InferenceJob, name: str) -> dict | None:
    files = list(job.files.order_by("created_at", "id"))
    for candidate, f in zip(input_names(files), files, strict=True):
        if candidate == name:
            return {candidate: input_document(job, f)}
    return None
