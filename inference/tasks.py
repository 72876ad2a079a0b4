"""The inference task: job id in, one call into relayml.infer (detector and speech), results saved by
services."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from datasets.tasks import decode_limits
from inference import services
from inference.models import VERDICT, FileStatus, InferenceFile, InferenceJob
from relayweb import jobs, storage
from training.builtin import model_file
from training.models import DetectorModel

if TYPE_CHECKING:
    from relayml.model import Detector
    from relayml.speech import Recogniser

log = logging.getLogger(__name__)
CANCEL_CHECK_EVERY_S = 2.0


def run_job(job_id: str) -> str:
    """Process every queued file of the job, including files confirmed while it runs.

    A job gets one task per confirmed file, and the first to run usually processes them all: the
    others end here, before torch is imported (a second and a half per task otherwise)."""
    job = InferenceJob.objects.filter(pk=job_id).first()
    if job is None or job.cancel_requested:
        return "nothing to do"
    files = services.claim_queued(job_id)
    if not files:
        services.settle(job_id)
        return "nothing queued"
    from relayml.infer import InferenceCancelled
    from relayml.model import Detector
    from relayml.train import pick_device

    held = [f.id for f in files]  # what the heartbeat speaks for; the batch in hand
    with jobs.heartbeat(services.INFERENCE, lambda: held):
        model = None
        if services.ARTIFACTS in services.analyses(job):
            model = DetectorModel.objects.filter(pk=job.model_id).first()
            if model is None:
                for f in files:
                    services.record_failure(f.id, "The model was deleted before this file was processed")
                services.settle(job_id)
                return "model deleted"
        import torch

        torch.set_num_threads(settings.RELAY_INFERENCE_THREADS or max(1, os.cpu_count() or 1))
        device = pick_device()
        detector = Detector.load(model_file(model), device) if model is not None else None
        InferenceJob.objects.filter(pk=job_id).update(device=device)
        processed = 0
        try:
            while files:
                held[:] = [f.id for f in files]
                processed += process(job, detector, files, device)
                files = services.claim_queued(job_id)
        except InferenceCancelled:
            return "cancelled"
    services.settle(job_id)
    return f"{processed} file(s) processed"


def recogniser_for(job: InferenceJob, device: str) -> Callable[[], Recogniser]:
    from relayml.speech import DEFAULT_MODEL, Recogniser

    name = job.config.get("speech_model") or DEFAULT_MODEL
    return lambda: Recogniser(name, Path(settings.RELAY_DATA_DIR) / "speech-models", device)


def process(job: InferenceJob, detector: Detector | None, files: list[InferenceFile], device: str) -> int:
    from relayml.infer import analyse_files

    by_id = {str(f.id): f for f in files}
    last_check = [time.monotonic()]

    def should_stop() -> bool:
        if time.monotonic() - last_check[0] < CANCEL_CHECK_EVERY_S:
            return False
        last_check[0] = time.monotonic()
        return services.is_cancelled(job.id)

    frame_ms = detector.geometry["frame_ms"] if detector is not None else 10.0
    with contextlib.ExitStack() as stack:
        # The batch's audio on this machine, and a folder for each file's scores and peaks.
        originals = stack.enter_context(storage.local_copies([f.s3_key for f in files]))
        boxes = {str(f.id): stack.enter_context(storage.output_dir(services.file_prefix(f))) for f in files}
        audio = {str(f.id): str(path) for f, path in zip(files, originals, strict=True)}
        items = [(str(f.id), audio[str(f.id)], boxes[str(f.id)].path, services.hears(job, f)) for f in files]
        results = analyse_files(
            detector,
            recogniser_for(job, device),
            items,
            device,
            should_stop=should_stop,
            limits=decode_limits(),
            scripts={str(f.id): f.expected_text for f in files if services.hears(job, f)},
        )
        for result in results:
            if result.error:
                services.fail_and_settle(result.key, result.error)
                continue
            f = by_id[result.key]
            verdict = None
            if VERDICT in services.analyses(job):
                try:
                    verdict = judge(audio[result.key], result.transcript, job.config.get("verdict_model_id"))
                except Exception as exc:  # a file too short to judge keeps its other results
                    verdict = {"error": jobs.reason(exc)}
            boxes[result.key].publish()  # stored before the result says they exist
            services.record_result(
                f, job, result.duration_ms, result.frames, frame_ms, result.transcript, verdict,
                result.primed_words,
            )  # fmt: skip
    return len(files)


def judge(path: str, transcript, model_id: str | None = None) -> dict:
    """The verdict analysis of the audio at `path`: the file's, and each heard utterance's
    (relayml.verdict), by the built-in verdict model or the team's classifier `model_id`."""
    from relayml.verdict import classify_path

    utterances = transcript.utterance_dicts() if transcript is not None else None
    return classify_path(verdict_model(model_id), path, decode_limits(), utterances)


def run_finished(task) -> None:
    """django-q2 hook: a task that crashed or timed out fails the files it was holding, with why."""
    if task.success or not task.args:
        return
    job_id, why = task.args[0], jobs.task_reason(task)
    for f in InferenceFile.objects.filter(job_id=job_id, status=FileStatus.PROCESSING):
        services.record_failure(f.id, f"Inference stopped: {why}")
    services.settle(job_id, error=f"Inference stopped: {why}")


@functools.lru_cache(maxsize=8)
def verdict_model(model_id: str | None = None):
    """A verdict model, each once per worker process: the built-in one (refused if its weights are
    not the card's, relayml.verdict_build.load_builtin), or a team's human / artificial classifier
    (whose weights never change once trained: a model id always names the same file)."""
    from relayml.verdict import VerdictModel
    from relayml.verdict_build import load_builtin

    model = DetectorModel.objects.filter(pk=model_id).first() if model_id else None
    if model_id and model is None:
        raise ValueError("the verdict model was deleted")
    if model is None or model.is_builtin:
        return load_builtin(Path(settings.RELAY_BUILTIN_MODELS_DIR))
    loaded = VerdictModel.load(model_file(model))
    if not loaded.gives_verdicts:
        raise ValueError(f"{model.name} does not classify human / artificial")
    return loaded


def classify(classification_id: str) -> str:
    """A clip classification: claim it, judge the file, save the verdict through the service."""
    from inference import classifications
    from inference.models import Classification
    from relayml.verdict import classify_path

    attempt = jobs.claim(classifications.CLASSIFICATION, classification_id)
    if attempt is None:
        return "nothing to do"
    c = Classification.objects.get(pk=classification_id)
    try:
        with (
            jobs.heartbeat(classifications.CLASSIFICATION, [classification_id]),
            storage.local_copy(c.original_path) as path,
        ):
            model_id = str(c.verdict_model_id) if c.verdict_model_id else None
            result = classify_path(verdict_model(model_id), str(path), decode_limits())
    except Exception as exc:
        log.info("classification %s errored", classification_id, exc_info=True)
        classifications.record_failure(classification_id, jobs.reason(exc))
        return "errored"
    classifications.record_result(classification_id, attempt, result)
    return "done"


def classify_finished(task) -> None:
    """django-q2 hook: a task killed for its timeout (or crashed) leaves its row errored, with why."""
    if task.success or not task.args:
        return
    from inference import classifications

    classifications.record_failure(task.args[0], f"stopped: {jobs.task_reason(task)}")


def explain(explanation_id: str) -> str:
    """An explanation of a detection or a verdict: claim it, run relayml.explain (or
    relayml.explain_verdict) on the file, save the result."""
    from inference import explanations
    from inference.models import Explanation

    attempt = jobs.claim(explanations.EXPLANATION, explanation_id)
    if attempt is None:
        return "nothing to do"
    e = Explanation.objects.select_related("file__job").get(pk=explanation_id)
    try:
        with (
            jobs.heartbeat(explanations.EXPLANATION, [explanation_id]),
            storage.local_copy(e.file.s3_key) as path,
        ):
            found = explain_span(e, str(path))
    except Exception as exc:  # a file that no longer decodes, a span past its end: the reason is kept
        log.info("explanation %s failed", explanation_id, exc_info=True)
        explanations.record_failure(explanation_id, jobs.reason(exc))
        return "failed"
    explanations.record_result(explanation_id, attempt, found.to_dict())
    return "done"


def explain_span(e, path: str):
    from inference.explanations import VERDICT_TARGET

    job = e.file.job
    if e.artifact_type == VERDICT_TARGET:
        from relayml.explain_verdict import explain_verdict

        model = verdict_model(job.config.get("verdict_model_id"))
        return explain_verdict(model, path, e.start_ms, e.end_ms, decode_limits())
    from relayml.explain import explain_detection
    from relayml.model import Detector

    model = DetectorModel.objects.filter(pk=job.model_id).first()
    if model is None:
        raise ValueError("the model was deleted")
    detector = Detector.load(model_file(model))
    return explain_detection(detector, path, e.artifact_type, e.start_ms, e.end_ms, decode_limits())


def explain_finished(task) -> None:
    """django-q2 hook: a task killed for its timeout (or crashed) leaves its explanation failed."""
    if task.success or not task.args:
        return
    from inference import explanations

    explanations.record_failure(task.args[0], f"stopped: {jobs.task_reason(task)}")
