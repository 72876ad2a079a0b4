"""A file's speech results in seed 001's shape (`GET .../files/{file_id}/results`).

One entry per utterance and task: `asr` (the words heard), `diarization` (the speaker), `language`
(posteriors, highest first) and, once verdicts exist, `deepfake` (`spoofed` / `bonafide`). Times are
seconds and posteriors are strings, as the seed writes them; `finalLabel` is always the dominant
class. `code` / `message` say where the file is (2 is the seed's "Processing Complete").
"""

from __future__ import annotations

from inference.models import FileStatus, InferenceFile, InferenceJob

CODES = {
    FileStatus.PENDING: (0, "Waiting for upload"),
    FileStatus.QUEUED: (0, "Queued"),
    FileStatus.PROCESSING: (1, "Processing"),
    FileStatus.COMPLETED: (2, "Processing Complete"),
    FileStatus.FAILED: (-1, "Processing Failed"),
}


def seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"


def entry(index: int, utterance: dict, task: str, prediction: list[dict], final: str) -> dict:
    return {
        "id": str(index),
        "startTime": seconds(utterance["start_ms"]),
        "endTime": seconds(utterance["end_ms"]),
        "task": task,
        "prediction": prediction,
        "finalLabel": final,
        "level": "utterance",
        "embedding": None,
    }


def label(name: str, posterior: float | None = None) -> dict:
    return {
        "label": name,
        "posterior": None if posterior is None else str(posterior),
        "dominantInSegments": [],
    }


def utterance_results(index: int, u: dict) -> list[dict]:
    probs = sorted((u.get("language_probs") or {}).items(), key=lambda kv: -kv[1])
    out = [
        entry(index, u, "asr", [label(u["text"])], u["text"]),
        entry(index, u, "diarization", [label(u["speaker"])], u["speaker"]),
        entry(index, u, "language", [label(code, p) for code, p in probs], u["language"]),
    ]
    verdict = u.get("verdict")
    if verdict:  # {"spoofed": p, "bonafide": p} once the verdict analysis exists
        ranked = sorted(verdict.items(), key=lambda kv: -kv[1])
        out.append(entry(index, u, "deepfake", [label(k, p) for k, p in ranked], ranked[0][0]))
    return out


def results_view(f: InferenceFile, job: InferenceJob) -> dict:
    code, message = CODES[FileStatus(f.status)]
    if f.status == FileStatus.FAILED and f.error_message:
        message = f"{message}: {f.error_message}"
    elif f.status == FileStatus.COMPLETED and f.transcript is None:
        message = f"{message} (the job's analyses did not include a transcript)"
    results = [r for i, u in enumerate(f.utterances or []) for r in utterance_results(i, u)]
    return {"pid": str(f.id), "cid": str(job.team_id), "code": code, "message": message, "results": results}
