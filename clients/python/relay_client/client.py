"""`Relay`: every endpoint of the contract (../shared/api-contract.md), grouped as the API is.

    from relay_client import Relay
    relay = Relay()  # RELAY_BASE_URL, RELAY_API_KEY
    dataset = relay.datasets.create("voices", ["glitch", "clipping"])
    audio = relay.audio.upload(dataset["id"], "take1.wav")
    relay.audio.wait_ready(dataset["id"], audio["id"])

Answers are the API's JSON objects as dicts, shaped as relay_client.types describes them.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from relay_client import types as t
from relay_client.http import Transport
from relay_client.multipart import FilePart, MultipartBody, Progress, content_type_of
from relay_client.waiting import wait_until

AUDIO_DONE = {"ready", "failed"}
JOB_DONE = {"completed", "failed", "cancelled"}
FILE_BUSY = {"queued", "processing"}


class Relay:
    """A Relay server. `base_url` and `api_key` default to RELAY_BASE_URL and RELAY_API_KEY."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, **transport: Any) -> None:
        self.http = Transport(
            base_url or os.environ.get("RELAY_BASE_URL", ""),
            api_key or os.environ.get("RELAY_API_KEY"),
            **transport,
        )
        self.datasets = Datasets(self.http)
        self.audio = Audio(self.http)
        self.annotation_sets = AnnotationSets(self.http)
        self.annotations = Annotations(self.http)
        self.training_jobs = TrainingJobs(self.http)
        self.models = Models(self.http)
        self.inference = Inference(self.http)
        self.webhooks = Webhooks(self.http)
        self.classifications = Classifications(self.http)

    def health(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.http.request("GET", "health", authenticated=False))


class Group:
    def __init__(self, http: Transport) -> None:
        self.http = http


class Datasets(Group):
    def list(self) -> Iterator[t.Dataset]:
        return cast(Iterator[t.Dataset], self.http.pages("datasets"))

    def get(self, dataset_id: str) -> t.Dataset:
        return cast(t.Dataset, self.http.request("GET", f"datasets/{dataset_id}"))

    def create(
        self, name: str, artifact_types: Sequence[str | dict[str, str]], description: str = ""
    ) -> t.Dataset:
        """`artifact_types`: names, or `{name, description?, color?}` objects."""
        kinds = [{"name": k} if isinstance(k, str) else dict(k) for k in artifact_types]
        body = {"name": name, "description": description, "artifact_types": kinds}
        return cast(t.Dataset, self.http.request("POST", "datasets", json=body))

    def update(self, dataset_id: str, **changes: Any) -> t.Dataset:
        return cast(t.Dataset, self.http.request("PATCH", f"datasets/{dataset_id}", json=changes))

    def delete(self, dataset_id: str) -> None:
        self.http.request("DELETE", f"datasets/{dataset_id}")


class Audio(Group):
    def list(self, dataset_id: str, status: str | None = None) -> Iterator[t.AudioFile]:
        params = {"status": status} if status else {}
        return cast(Iterator[t.AudioFile], self.http.pages(f"datasets/{dataset_id}/audio", params))

    def get(self, dataset_id: str, audio_id: str) -> t.AudioFile:
        return cast(t.AudioFile, self.http.request("GET", f"datasets/{dataset_id}/audio/{audio_id}"))

    def delete(self, dataset_id: str, audio_id: str) -> None:
        self.http.request("DELETE", f"datasets/{dataset_id}/audio/{audio_id}")

    def set_script(self, dataset_id: str, audio_id: str, expected_text: str) -> t.AudioFile:
        path = f"datasets/{dataset_id}/audio/{audio_id}"
        return cast(t.AudioFile, self.http.request("PATCH", path, json={"expected_text": expected_text}))

    def upload(
        self,
        dataset_id: str,
        path: str | os.PathLike[str],
        *,
        expected_text: str | None = None,
        progress: Progress | None = None,
    ) -> t.AudioFile:
        """Upload one file through a signed URL (straight to the bucket with S3 storage), then confirm
        it; the file is then processed by the ingest workers (see `wait_ready`)."""
        file = Path(path)
        body = {
            "filename": file.name,
            "content_type": content_type_of(file),
            "file_size": file.stat().st_size,
        }
        ticket = signed_upload(self.http, f"datasets/{dataset_id}/audio", body, expected_text, file, progress)
        return self.get(dataset_id, ticket["audio_id"])

    def upload_many(
        self, dataset_id: str, paths: Iterable[str | os.PathLike[str]], *, progress: Progress | None = None
    ) -> builtins.list[t.AudioFile]:
        """Ours: several files in one multipart request, uploaded and confirmed at once."""
        parts = [FilePart("file", Path(p)) for p in paths]
        form = MultipartBody([], parts, progress)
        answer = self.http.request(
            "POST", f"datasets/{dataset_id}/audio", data=form, headers={"Content-Type": form.content_type}
        )
        return cast(builtins.list[t.AudioFile], answer["items"])

    def wait_ready(self, dataset_id: str, audio_id: str, timeout: float | None = 600) -> t.AudioFile:
        """Until processing ends: `ready`, or `failed` with an `error_message`."""
        audio = wait_until(
            lambda: dict(self.get(dataset_id, audio_id)),
            lambda a: a["processing_status"] in AUDIO_DONE,
            timeout=timeout,
            what=f"audio {audio_id}",
        )
        return cast(t.AudioFile, audio)

    def peaks(self, dataset_id: str, audio_id: str) -> dict[str, Any]:
        """The precomputed waveform peaks the dashboard draws."""
        path = f"datasets/{dataset_id}/audio/{audio_id}/peaks"
        return cast(dict[str, Any], self.http.request("GET", path))

    def content(self, dataset_id: str, audio_id: str, destination: str | os.PathLike[str]) -> Path:
        """The original bytes, streamed to `destination`."""
        response = self.http.request("GET", f"datasets/{dataset_id}/audio/{audio_id}/content", raw=True)
        return save(response, Path(destination))


class AnnotationSets(Group):
    def base(self, dataset_id: str) -> str:
        return f"datasets/{dataset_id}/annotation-sets"

    def list(self, dataset_id: str) -> Iterator[t.AnnotationSet]:
        return cast(Iterator[t.AnnotationSet], self.http.pages(self.base(dataset_id)))

    def get(self, dataset_id: str, set_id: str) -> t.AnnotationSet:
        return cast(t.AnnotationSet, self.http.request("GET", f"{self.base(dataset_id)}/{set_id}"))

    def create(self, dataset_id: str, copy_from: str | None = None) -> t.AnnotationSet:
        body = {"copy_from": copy_from} if copy_from else None
        return cast(t.AnnotationSet, self.http.request("POST", self.base(dataset_id), json=body))

    def publish(self, dataset_id: str, set_id: str) -> t.AnnotationSet:
        path = f"{self.base(dataset_id)}/{set_id}/publish"
        return cast(t.AnnotationSet, self.http.request("POST", path, idempotent=True))

    def delete(self, dataset_id: str, set_id: str) -> None:
        self.http.request("DELETE", f"{self.base(dataset_id)}/{set_id}")

    def export(
        self, dataset_id: str, set_id: str, fmt: str = "json", audio_file_id: str | None = None
    ) -> bytes:
        """The set's annotations as a document (`json`, `csv`, `audacity`, ...: the server's formats)."""
        params = {"format": fmt, **({"audio_file_id": audio_file_id} if audio_file_id else {})}
        path = f"{self.base(dataset_id)}/{set_id}/export"
        return cast(bytes, self.http.request("GET", path, params=params, raw=True).content)

    def import_file(
        self,
        dataset_id: str,
        set_id: str,
        path: str | os.PathLike[str],
        *,
        fmt: str | None = None,
        audio_file_id: str | None = None,
        replace: bool = False,
    ) -> dict[str, Any]:
        """All or nothing into a draft set; `replace` first removes the annotations of the files the
        document covers. The format is detected from the document unless `fmt` names it."""
        fields = [("mode", "replace" if replace else "append")]
        fields += [("format", fmt)] if fmt else []
        fields += [("audio_file_id", audio_file_id)] if audio_file_id else []
        form = MultipartBody(fields, [FilePart("file", Path(path))])
        return cast(
            dict[str, Any],
            self.http.request(
                "POST",
                f"{self.base(dataset_id)}/{set_id}/import",
                data=form,
                headers={"Content-Type": form.content_type},
            ),
        )


class Annotations(Group):
    def base(self, dataset_id: str, set_id: str) -> str:
        return f"datasets/{dataset_id}/annotation-sets/{set_id}/annotations"

    def list(self, dataset_id: str, set_id: str, audio_file_id: str | None = None) -> Iterator[t.Annotation]:
        params = {"audio_file_id": audio_file_id} if audio_file_id else {}
        return cast(Iterator[t.Annotation], self.http.pages(self.base(dataset_id, set_id), params))

    def create(self, dataset_id: str, set_id: str, **annotation: Any) -> t.Annotation:
        """`audio_file_id, artifact_type, start_ms, end_ms`, optionally `confidence`, `extra_data`."""
        return cast(t.Annotation, self.http.request("POST", self.base(dataset_id, set_id), json=annotation))

    def bulk(self, dataset_id: str, set_id: str, annotations: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """All or nothing: one invalid item rejects the batch (a ValidationFailed naming its index)."""
        path = f"{self.base(dataset_id, set_id)}/bulk"
        return cast(dict[str, Any], self.http.request("POST", path, json={"annotations": list(annotations)}))

    def update(
        self, dataset_id: str, set_id: str, annotation_id: str, version: int, **changes: Any
    ) -> t.Annotation:
        """`version` is the one you read: if someone changed it since, this is a Conflict."""
        path = f"{self.base(dataset_id, set_id)}/{annotation_id}"
        return cast(t.Annotation, self.http.request("PATCH", path, json={**changes, "version": version}))

    def delete(self, dataset_id: str, set_id: str, annotation_id: str) -> None:
        self.http.request("DELETE", f"{self.base(dataset_id, set_id)}/{annotation_id}")


class TrainingJobs(Group):
    def create(self, dataset_id: str, annotation_set_id: str, **config: Any) -> t.TrainingJob:
        """`config` as the contract's: `artifact_types` (required), `epochs`, `learning_rate`, ...,
        and ours, `base_model_id` to fine-tune a model."""
        body = {"dataset_id": dataset_id, "annotation_set_id": annotation_set_id, "config": config}
        return cast(t.TrainingJob, self.http.request("POST", "training-jobs", json=body))

    def list(self) -> Iterator[t.TrainingJob]:
        return cast(Iterator[t.TrainingJob], self.http.pages("training-jobs"))

    def get(self, job_id: str) -> t.TrainingJob:
        return cast(t.TrainingJob, self.http.request("GET", f"training-jobs/{job_id}"))

    def cancel(self, job_id: str) -> t.TrainingJob:
        return cast(
            t.TrainingJob, self.http.request("POST", f"training-jobs/{job_id}/cancel", idempotent=True)
        )

    def wait(self, job_id: str, timeout: float | None = 6 * 3600, on_poll: Any = None) -> t.TrainingJob:
        """Until `completed`, `failed` or `cancelled`; `on_poll(job)` sees each answer (progress)."""
        job = wait_until(
            lambda: dict(self.get(job_id)),
            lambda j: j["status"] in JOB_DONE,
            timeout=timeout,
            on_poll=on_poll,
            what=f"training job {job_id}",
        )
        return cast(t.TrainingJob, job)


class Models(Group):
    def list(self) -> Iterator[t.Model]:
        return cast(Iterator[t.Model], self.http.pages("models"))

    def get(self, model_id: str) -> t.Model:
        return cast(t.Model, self.http.request("GET", f"models/{model_id}"))

    def update(self, model_id: str, **changes: Any) -> t.Model:
        return cast(t.Model, self.http.request("PATCH", f"models/{model_id}", json=changes))

    def delete(self, model_id: str) -> None:
        self.http.request("DELETE", f"models/{model_id}")

    def download(self, model_id: str, destination: str | os.PathLike[str]) -> Path:
        return save(self.http.request("GET", f"models/{model_id}/download", raw=True), Path(destination))


class Inference(Group):
    def create(self, model_id: str | None = None, **config: Any) -> t.InferenceJob:
        """`config`: `threshold`, `merge_window_ms`, `min_duration_ms`, `analyses`, `speech_model`."""
        body = {"model_id": model_id, "config": config}
        return cast(t.InferenceJob, self.http.request("POST", "inference-jobs", json=body))

    def list(self) -> Iterator[t.InferenceJob]:
        return cast(Iterator[t.InferenceJob], self.http.pages("inference-jobs"))

    def get(self, job_id: str) -> t.InferenceJob:
        return cast(t.InferenceJob, self.http.request("GET", f"inference-jobs/{job_id}"))

    def cancel(self, job_id: str) -> t.InferenceJob:
        path = f"inference-jobs/{job_id}/cancel"
        return cast(t.InferenceJob, self.http.request("POST", path, idempotent=True))

    def files(self, job_id: str) -> Iterator[t.InferenceFile]:
        return cast(Iterator[t.InferenceFile], self.http.pages(f"inference-jobs/{job_id}/files"))

    def file(self, job_id: str, file_id: str) -> t.InferenceFile:
        return cast(t.InferenceFile, self.http.request("GET", f"inference-jobs/{job_id}/files/{file_id}"))

    def set_script(self, job_id: str, file_id: str, expected_text: str) -> t.InferenceFile:
        """Before processing it is used when the file is heard; after, the file is re-checked at once."""
        path = f"inference-jobs/{job_id}/files/{file_id}"
        return cast(t.InferenceFile, self.http.request("PATCH", path, json={"expected_text": expected_text}))

    def upload(
        self,
        job_id: str,
        path: str | os.PathLike[str],
        *,
        expected_text: str | None = None,
        input_name: str | None = None,
        progress: Progress | None = None,
    ) -> t.InferenceFile:
        """One file through a signed URL, then confirmed: it is queued for the inference workers.
        `input_name` names it in `job_results` (seed 003's results by input name), else its file name."""
        file = Path(path)
        body: dict[str, Any] = {
            "filename": file.name,
            "file_size_bytes": file.stat().st_size,
            "content_type": content_type_of(file),
        }
        if input_name is not None:
            body["input_name"] = input_name
        ticket = signed_upload(
            self.http, f"inference-jobs/{job_id}/files", body, expected_text, file, progress
        )
        return cast(t.InferenceFile, ticket["confirmed"])

    def upload_many(
        self,
        job_id: str,
        paths: Iterable[str | os.PathLike[str]],
        *,
        expected_texts: Sequence[str] | None = None,
        progress: Progress | None = None,
    ) -> builtins.list[t.InferenceFile]:
        """Ours: several files in one multipart request; `expected_texts` in the same order."""
        parts = [FilePart("file", Path(p)) for p in paths]
        fields = [("expected_text", text) for text in expected_texts or []]
        form = MultipartBody(fields, parts, progress)
        answer = self.http.request(
            "POST", f"inference-jobs/{job_id}/files", data=form, headers={"Content-Type": form.content_type}
        )
        return cast(builtins.list[t.InferenceFile], answer["items"])

    def wait(self, job_id: str, timeout: float | None = 3600, on_poll: Any = None) -> t.InferenceJob:
        """Until the job is settled and none of its confirmed files is still queued or processing."""

        def done(job: dict[str, Any]) -> bool:
            return job["status"] in JOB_DONE and not any(
                f["status"] in FILE_BUSY for f in job.get("files", [])
            )

        job = wait_until(
            lambda: dict(self.get(job_id)),
            done,
            timeout=timeout,
            on_poll=on_poll,
            what=f"inference job {job_id}",
        )
        return cast(t.InferenceJob, job)

    def job_results(self, job_id: str) -> dict[str, Any]:
        """Seed 003's view: every input by name with status, engine and timing (partial while running)."""
        return cast(dict[str, Any], self.http.request("GET", f"inference-jobs/{job_id}/results"))

    def input_result(self, job_id: str, input_name: str) -> dict[str, Any]:
        path = f"inference-jobs/{job_id}/results/{quote(input_name, safe='')}"
        return cast(dict[str, Any], self.http.request("GET", path))

    def results(self, job_id: str, file_id: str) -> dict[str, Any]:
        """Seed 001's per-utterance view of one file (asr, language, diarization)."""
        path = f"inference-jobs/{job_id}/files/{file_id}/results"
        return cast(dict[str, Any], self.http.request("GET", path))

    def export(self, job_id: str, fmt: str = "json", file_id: str | None = None, **settings: Any) -> bytes:
        """Detections as `json`, `csv` or `audacity` labels, per file or per job (a zip for Audacity);
        `settings` re-apply threshold / merge_window_ms / min_duration_ms without re-running."""
        params = {"format": fmt, **({"file_id": file_id} if file_id else {}), **settings}
        response = self.http.request("GET", f"inference-jobs/{job_id}/export", params=params, raw=True)
        return cast(bytes, response.content)

    def review(self, job_id: str, file_id: str, **settings: Any) -> dict[str, Any]:
        """Send a file and its detections to its model's dataset as a draft set to review."""
        path = f"inference-jobs/{job_id}/files/{file_id}/review"
        return cast(dict[str, Any], self.http.request("POST", path, json=settings))


class Classifications(Group):
    """Synthetic or human, one file at a time (seed 004's shape)."""

    def create(
        self,
        path: str | os.PathLike[str],
        *,
        name: str = "",
        ref_id: str = "",
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        form = MultipartBody([("name", name), ("ref_id", ref_id)], [FilePart("file", Path(path))], progress)
        answer = self.http.request(
            "POST", "classifications", data=form, headers={"Content-Type": form.content_type}
        )
        return cast(dict[str, Any], answer)

    def get(self, identifier: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.http.request("GET", f"classifications/{identifier}"))

    def many(self, identifiers: Sequence[str]) -> builtins.list[dict[str, Any]]:
        """Up to 100 at once, in the order asked (unknown identifiers are left out)."""
        answer = self.http.request("GET", "classifications", params={"identifiers[]": list(identifiers)})
        return cast(builtins.list[dict[str, Any]], answer)

    def override(self, identifier: str, classification: str | None, reason: str) -> dict[str, Any]:
        """`classification` human / artificial, or None to lift an override; kept as history."""
        body = {"force_classification": classification, "reason": reason}
        return cast(dict[str, Any], self.http.request("PATCH", f"classifications/{identifier}", json=body))

    def wait(self, identifier: str, timeout: float | None = 600) -> dict[str, Any]:
        return wait_until(
            lambda: self.get(identifier),
            lambda c: c["status"] != "new",
            timeout=timeout,
            what=f"classification {identifier}",
        )


class Webhooks(Group):
    """The team's webhooks (docs/webhooks.md); the admin role."""

    def list(self) -> Iterator[dict[str, Any]]:
        return self.http.pages("webhooks")

    def create(self, url: str, events: Sequence[str], description: str = "") -> dict[str, Any]:
        """The answer carries `secret`, shown this once: keep it to verify `Relay-Signature`."""
        body = {"url": url, "events": list(events), "description": description}
        return cast(dict[str, Any], self.http.request("POST", "webhooks", json=body))

    def get(self, webhook_id: str) -> dict[str, Any]:
        return cast(dict[str, Any], self.http.request("GET", f"webhooks/{webhook_id}"))

    def update(self, webhook_id: str, **changes: Any) -> dict[str, Any]:
        return cast(dict[str, Any], self.http.request("PATCH", f"webhooks/{webhook_id}", json=changes))

    def delete(self, webhook_id: str) -> None:
        self.http.request("DELETE", f"webhooks/{webhook_id}")

    def deliveries(self, webhook_id: str) -> Iterator[dict[str, Any]]:
        return self.http.pages(f"webhooks/{webhook_id}/deliveries")

    def redeliver(self, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        path = f"webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"
        return cast(dict[str, Any], self.http.request("POST", path, idempotent=True))


def signed_upload(
    http: Transport,
    base: str,
    body: dict[str, Any],
    expected_text: str | None,
    file: Path,
    progress: Progress | None,
) -> dict[str, Any]:
    """Both upload flows of the contract: upload-url → the file to the signed URL → confirm. The
    ticket, with the confirm's answer as `confirmed`. (A dataset's ticket names `fields` and
    `audio_id`, an inference job's `upload_fields` and `file_id`.)"""
    if expected_text is not None:
        body = {**body, "expected_text": expected_text}
    ticket = dict(http.request("POST", f"{base}/upload-url", json=body))
    fields: dict[str, str] = ticket.get("fields") or ticket.get("upload_fields") or {}
    post_to_signed_url(http, ticket["upload_url"], fields, file, progress)
    key = "audio_id" if "audio_id" in ticket else "file_id"
    ticket["confirmed"] = http.request("POST", f"{base}/confirm", json={key: ticket[key]}, idempotent=True)
    return ticket


def post_to_signed_url(
    http: Transport, url: str, fields: dict[str, str], file: Path, progress: Progress | None
) -> None:
    """The upload itself: every opaque field, then the file (S3's presigned POST or ours)."""
    form = MultipartBody(list(fields.items()), [FilePart("file", file)], progress)
    http.request(
        "POST",
        url,
        data=form,
        headers={"Content-Type": form.content_type},
        idempotent=True,
        authenticated=False,
    )


def save(response: Any, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "wb") as out:
        for chunk in response.iter_content(1 << 20):
            out.write(chunk)
    return destination
