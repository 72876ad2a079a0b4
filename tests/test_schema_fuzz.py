"""Schema fuzzing: schemathesis drives every operation of /api/v1/schema against the live server.

Any 5xx, any status code the schema does not list, any response whose content type or body
disagrees with the schema fails the test. Data is seeded first (a dataset with a ready audio file,
a draft set with an annotation, a trained model, an inference job with a processed file), and most
cases use those ids in their paths so they reach real code, not only 404s.

Bounded and reproducible: a fixed seed, a fixed number of examples per operation and generation
mode, no shrinking (a failure is reported as found, with the request that caused it). Operations
run in schema order but for publish/cancel and then every DELETE last (see `ordered`), so the
seeded objects live until then. Every operation
is fuzzed: the binary downloads (audio content, exports, model files) are checked for status and
content type; their bodies have no JSON schema to check.
"""

from __future__ import annotations

import contextlib

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from datasets import annotations as set_service
from inference import classifications
from inference import services as inference_services
from inference import tasks as inference_tasks
from relayweb import webhooks
from relayweb.models import Role
from tests import factories
from tests.training_data import trained_model

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]

SEED = 20261123
# Examples per operation: with the seeded ids (valid, then invalid data) and with generated ids.
EXAMPLES = {"seeded": 12, "negative": 12, "generated": 3}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_REPORTED = 5


@pytest.fixture
def seeded(team, settings, media_root) -> dict[str, str]:
    """Real objects of every kind, by path parameter name ('job_id' differs by path, see ids_for)."""
    model = trained_model(team, settings)
    dataset = factories.make_dataset(team, "Fuzzed")
    audio = factories.ingested(dataset, "speech.wav")
    draft = set_service.create_set(dataset)
    glitch = dataset.artifact_types.get(name="glitch")
    (annotation,) = set_service.create_annotations(
        draft, [{"audio_file": audio, "artifact_type": glitch, "start_ms": 100, "end_ms": 200}]
    )
    config = {"threshold": 0.5, "merge_window_ms": 200, "min_duration_ms": 50}
    job = inference_services.create_job(team, model, config)
    upload = SimpleUploadedFile("take.wav", factories.wav_bytes(seed=3), "audio/wav")
    processed = inference_services.upload_and_queue(job, upload)
    inference_tasks.run_job(str(job.id))
    settings.RELAY_WEBHOOK_ALLOW_PRIVATE = True  # no DNS here: a receiver on this machine
    hook, _ = webhooks.subscribe(team, "http://127.0.0.1:9/hook", ["audio.ready"])
    webhooks.emit(team.pk, "audio.ready", "audio.ready:fuzz", {"audio_id": str(audio.id)})
    verdict = classifications.create(team, SimpleUploadedFile("voice.wav", factories.wav_bytes(seed=4)))
    return {
        "dataset_id": str(dataset.id),
        "audio_id": str(audio.id),
        "set_id": str(draft.id),
        "annotation_id": str(annotation.id),
        "model_id": str(model.id),
        "training_job_id": str(model.training_job_id),
        "inference_job_id": str(job.id),
        "file_id": str(processed.id),
        "webhook_id": str(hook.id),
        "delivery_id": str(hook.deliveries.get().id),
        "identifier": str(verdict.id),
        "input_name": "take.wav",
    }


def ids_for(operation, parameters, seeded: dict[str, str]) -> dict[str, str]:
    """The seeded ids for those of `parameters` (path or query) that name an object."""
    job = "training_job_id" if operation.path.startswith("/api/v1/training-jobs") else "inference_job_id"
    ids = {**seeded, "job_id": seeded[job], "audio_file_id": seeded["audio_id"]}
    return {p.name: ids[p.name] for p in parameters if p.name in ids}


def ordered(schema) -> list:
    """Reads and edits first, then what ends a state (publish, cancel), then deletes, deepest first,
    so that each seeded object outlives the operations on the objects it holds."""

    def stage(op) -> tuple:
        if op.method.upper() == "DELETE":
            return (2, -op.path.count("/"))
        return (int(op.path.endswith(("/publish", "/cancel"))), 0)

    return sorted((result.ok() for result in schema.get_all_operations()), key=stage)


def kinds(text: str) -> list[str]:
    """'ST108 Response violates schema: "x" is a required property' for each failure in a report."""
    lines = [line.strip() for line in text.splitlines()]
    found = []
    for index, line in enumerate(lines):
        if line.startswith("- "):
            detail = next((other for other in lines[index + 1 :] if other), "")
            found.append(f"{line[2:]}: {detail[:160]}")
    return found or [text.splitlines()[0][:160]]


def summary(failures: list[tuple[str, str]]) -> str:
    """Each distinct (operation, failure) once with how often it happened, then a few full reports."""
    counts: dict[str, int] = {}
    for label, text in failures:
        for kind in kinds(text):
            counts[f"{label}: {kind}"] = counts.get(f"{label}: {kind}", 0) + 1
    distinct = "\n".join(f"{n:4d} × {key}" for key, n in sorted(counts.items()))
    examples = "\n\n".join(f"{label}: {text[:3000]}" for label, text in failures[:MAX_REPORTED])
    return f"{len(failures)} failing case(s):\n{distinct}\n\nThe first reports in full:\n\n{examples}"


def fuzz(operation, strategy, examples: int, call, failures: list) -> None:
    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=strategy)
    def run(case):
        try:
            call(case)
        except (Failure, FailureGroup) as exc:
            failures.append((operation.label, str(exc)))

    # Negative mode with the path fixed: an operation with no query or body has nothing left to make
    # invalid (Unsatisfiable). Its invalid ids are covered by the generated-ids run.
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()


def test_every_operation_survives_schema_fuzzing_without_5xx_or_schema_violations(live_server, team, seeded):
    headers = {"X-API-Key": factories.make_key(team, Role.ADMIN)}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema?format=json", headers=headers)

    statuses: dict[str, set[int]] = {}

    def call(case):
        response = case.call(base_url=live_server.url, headers=headers, timeout=30)
        statuses.setdefault(case.operation.label, set()).add(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=headers)

    failures: list[tuple[str, str]] = []
    operations = ordered(schema)
    assert len(operations) > 40
    for operation in operations:
        ids = ids_for(operation, operation.path_parameters, seeded)
        query = ids_for(operation, operation.query, seeded)
        positive = schemathesis.GenerationMode.POSITIVE
        negative = schemathesis.GenerationMode.NEGATIVE
        runs = [
            (operation.as_strategy(positive, path_parameters=ids, query=query), EXAMPLES["seeded"]),
            (operation.as_strategy(negative, path_parameters=ids), EXAMPLES["negative"]),
            (operation.as_strategy(positive), EXAMPLES["generated"]),
        ]
        for strategy, examples in runs:
            fuzz(operation, strategy, examples, call, failures)
    assert not failures, summary(failures)
    # The seeded ids took most operations past their 404s into real code (a guard against a run
    # that only ever met errors, e.g. a key the server refused).
    succeeded = [label for label, codes in statuses.items() if any(200 <= code < 300 for code in codes)]
    assert len(succeeded) >= 0.7 * len(operations), sorted(set(statuses) - set(succeeded))
