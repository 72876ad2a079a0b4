"""Relay's "Interpreting inference results" guide (seed 000), run against our API unchanged.

    RELAY_BASE_URL=http://127.0.0.1:8000 RELAY_API_KEY=rly_... python examples/inference_results.py [audio]

Uses RELAY_MODEL_ID, or the newest model of the key's team (`manage.py relay_demo` trains one). With no
audio given it speaks three short takes with espeak-ng and sox (one with a long pause). Then it runs the
guide's snippets as written: the thresholds loop (one job per threshold), filtering by type and
confidence, sorting, durations, critical-artifact flags, quality scores, Audacity labels, JSON export,
edge cases, overlaps and detection statistics.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

BASE_URL = os.environ.get("RELAY_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
API_KEY = os.environ.get("RELAY_API_KEY") or sys.exit("Set RELAY_API_KEY")
HEADERS = {"X-API-Key": API_KEY}


def check(response: requests.Response) -> dict:
    if response.status_code >= 400:
        sys.exit(f"{response.request.method} {response.url} → {response.status_code}: {response.text}")
    return response.json() if response.content else {}


def make_takes(folder: Path) -> list[Path]:
    lines = [("en-us", "Thanks for calling Relay.", 0.0), ("en-gb", "Your order has shipped.", 1.5),
             ("en-us+f3", "Is there anything else I can help with?", 0.0)]  # fmt: skip
    takes = []
    for i, (voice, text, pause) in enumerate(lines):
        speech, take = folder / f"s{i}.wav", folder / f"take{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(speech), text], check=True)
        subprocess.run(["sox", str(speech), str(take), "pad", "0.3", str(pause or 0.3)], check=True)
        takes.append(take)
    return takes


def pick_model() -> str:
    if os.environ.get("RELAY_MODEL_ID"):
        return os.environ["RELAY_MODEL_ID"]
    models = check(requests.get(f"{BASE_URL}/api/v1/models", headers=HEADERS))["items"]
    if not models:
        sys.exit("No model yet: train one (python manage.py relay_demo trains a demo model)")
    return models[0]["id"]


def upload(job_id: str, path: Path) -> None:
    """upload-url → POST the bytes with the returned fields → confirm (Relay's three steps)."""
    ticket = check(
        requests.post(
            f"{BASE_URL}/api/v1/inference-jobs/{job_id}/files/upload-url",
            headers=HEADERS,
            json={"filename": path.name, "file_size_bytes": path.stat().st_size, "content_type": "audio/wav"},
        )
    )
    with open(path, "rb") as f:
        sent = requests.post(ticket["upload_url"], data=ticket["upload_fields"], files={"file": f})
    if sent.status_code not in (200, 201, 204):
        sys.exit(f"upload failed: {sent.status_code} {sent.text}")
    check(
        requests.post(
            f"{BASE_URL}/api/v1/inference-jobs/{job_id}/files/confirm",
            headers=HEADERS,
            json={"file_id": ticket["file_id"]},
        )
    )


def wait(job_id: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = check(requests.get(f"{BASE_URL}/api/v1/inference-jobs/{job_id}", headers=HEADERS))
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
        time.sleep(1)
    sys.exit(f"job {job_id} did not finish in {timeout} s")


def main() -> None:
    model_id = pick_model()
    with tempfile.TemporaryDirectory() as tmp:
        audio = [Path(a) for a in sys.argv[1:]] or make_takes(Path(tmp))

        # --- Threshold tuning: test different thresholds on the same audio (the guide's loop) ---
        thresholds = [0.3, 0.5, 0.7, 0.9]
        jobs = {}
        for threshold in thresholds:
            response = requests.post(
                f"{BASE_URL}/api/v1/inference-jobs",
                headers={"X-API-Key": API_KEY},
                json={"model_id": model_id, "config": {"threshold": threshold}},
            )
            # Upload audio and get results...
            job_id = check(response)["id"]
            for path in audio:
                upload(job_id, path)
            jobs[threshold] = wait(job_id)
            detections = [d for f in jobs[threshold]["files"] for d in f["detections"]]
            print(f"Threshold {threshold}: {len(detections)} detections")
        job_id = jobs[0.5]["id"]
        guide(job_id)


def guide(job_id: str) -> None:  # noqa: C901 - the guide's snippets, one after another, as written
    # --- Filtering by type ---
    response = requests.get(f"{BASE_URL}/api/v1/inference-jobs/{job_id}", headers={"X-API-Key": API_KEY})
    job = response.json()

    for file in job["files"]:
        # Get only glitch detections
        glitches = [d for d in file["detections"] if d["artifact_type"] == "glitch"]

        # Get only high-confidence detections
        confident = [d for d in file["detections"] if d["confidence"] >= 0.8]

        print(f"{file['original_filename']}:")
        print(f"  Glitches: {len(glitches)}")
        print(f"  High-confidence: {len(confident)}")

    file = max(job["files"], key=lambda f: f["detection_count"])

    # --- Sorting detections ---
    detections_by_time = sorted(file["detections"], key=lambda d: d["start_ms"])
    detections_by_confidence = sorted(file["detections"], key=lambda d: d["confidence"], reverse=True)
    print(f"First detection: {detections_by_time[:1]}; most confident: {detections_by_confidence[:1]}")

    # --- Calculating duration ---
    def detection_duration_ms(detection):
        return detection["end_ms"] - detection["start_ms"]

    total_artifact_ms = sum(detection_duration_ms(d) for d in file["detections"])
    print(f"Total artifact time: {total_artifact_ms / 1000:.2f} seconds")

    # --- Flag problematic audio ---
    def has_critical_artifacts(detections, artifact_types, min_confidence=0.7):
        """Check if audio has critical artifacts above threshold."""
        for detection in detections:
            if detection["artifact_type"] in artifact_types and detection["confidence"] >= min_confidence:
                return True
        return False

    if has_critical_artifacts(file["detections"], ["glitch", "hallucination"], 0.8):
        print("Audio needs review before publishing")

    # --- Generate quality score ---
    def audio_quality_score(detections, duration_ms):
        """Calculate quality score (0-100) based on artifact density."""
        if not detections:
            return 100
        artifact_time = sum((d["end_ms"] - d["start_ms"]) * d["confidence"] for d in detections)
        artifact_ratio = artifact_time / duration_ms
        score = max(0, 100 * (1 - artifact_ratio * 10))
        return round(score)

    score = audio_quality_score(file["detections"], file["duration_ms"])
    print(f"Quality score: {score}/100")

    # --- Create audio markers (Audacity labels) ---
    def to_audacity_labels(detections):
        """Convert detections to Audacity label format."""
        labels = []
        for d in detections:
            start_sec = d["start_ms"] / 1000
            end_sec = d["end_ms"] / 1000
            label = f"{d['artifact_type']} ({d['confidence']:.0%})"
            labels.append(f"{start_sec:.3f}\t{end_sec:.3f}\t{label}")
        return "\n".join(labels)

    out = Path(tempfile.mkdtemp(prefix="relay-results-"))
    with open(out / "labels.txt", "w") as f:
        f.write(to_audacity_labels(file["detections"]))

    # --- JSON export ---
    def export_results(job):
        """Export results to JSON format."""
        results = []
        for file in job["files"]:
            results.append(
                {
                    "filename": file["original_filename"],
                    "duration_ms": file["duration_ms"],
                    "detection_count": file["detection_count"],
                    "detections": file["detections"],
                }
            )
        return results

    with open(out / "inference_results.json", "w") as f:
        json.dump(export_results(job), f, indent=2)
    print(f"Wrote {out / 'labels.txt'} and {out / 'inference_results.json'}")

    # --- Handling edge cases ---
    for file in job["files"]:
        if file["status"] == "failed":
            print(f"Failed: {file['original_filename']} - {file['error_message']}")
            continue
        if file["status"] != "completed":
            print(f"Still processing: {file['original_filename']}")
            continue
        if not file["detections"]:
            print(f"{file['original_filename']}: Clean audio, no artifacts detected")

    def find_overlapping(detections):
        """Find detections that overlap in time."""
        overlaps = []
        sorted_dets = sorted(detections, key=lambda d: d["start_ms"])
        for i, d1 in enumerate(sorted_dets):
            for d2 in sorted_dets[i + 1 :]:
                if d2["start_ms"] < d1["end_ms"]:
                    overlaps.append((d1, d2))
                else:
                    break
        return overlaps

    print(f"Overlapping detections: {sum(len(find_overlapping(f['detections'])) for f in job['files'])}")

    # --- Track detection rates ---
    def calculate_detection_stats(job):
        """Calculate aggregate detection statistics."""
        total_files = len(job["files"])
        total_detections = sum(f["detection_count"] for f in job["files"])
        files_with_artifacts = sum(1 for f in job["files"] if f["detection_count"] > 0)
        by_type = {}
        for file in job["files"]:
            for d in file["detections"]:
                t = d["artifact_type"]
                by_type[t] = by_type.get(t, 0) + 1
        return {
            "total_files": total_files,
            "total_detections": total_detections,
            "files_with_artifacts": files_with_artifacts,
            "artifact_rate": files_with_artifacts / total_files if total_files else 0,
            "detections_per_file": total_detections / total_files if total_files else 0,
            "by_type": by_type,
        }

    stats = calculate_detection_stats(job)
    print(f"Artifact rate: {stats['artifact_rate']:.1%}")
    print(f"Detections per file: {stats['detections_per_file']:.1f}")
    print(f"Stats: {json.dumps(stats)}")

    # --- Monitor over time ---
    logger = logging.getLogger("relay_monitoring")
    for file in job["files"]:
        logger.info(
            "inference_result",
            extra={
                "file": file["original_filename"],
                "detection_count": file["detection_count"],
                "model_id": job["model_id"],
                "timestamp": datetime.now().isoformat(),
            },
        )


if __name__ == "__main__":
    main()
