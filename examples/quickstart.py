"""Relay's quickstart, as a client of the public API: only `requests`, a base URL and a key.

    RELAY_BASE_URL=http://127.0.0.1:8000 RELAY_API_KEY=rly_... python examples/quickstart.py [audio ...]

Creates the dataset of Relay's docs (seed 002), uploads audio through upload-url → upload →
confirm, polls until it is ready, annotates it, and publishes the annotation set. With no audio
given it speaks a short take with espeak-ng and sox, with a 1.2 s pause it then labels.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

BASE_URL = os.environ.get("RELAY_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
API_KEY = os.environ.get("RELAY_API_KEY") or sys.exit(
    "Set RELAY_API_KEY (create one with: python manage.py create_api_key --team NAME)"
)
HEADERS = {"X-API-Key": API_KEY}


def check(response: requests.Response) -> dict:
    if response.status_code >= 400:
        sys.exit(f"{response.request.method} {response.url} → {response.status_code}: {response.text}")
    return response.json() if response.content else {}


def make_take(folder: Path) -> tuple[Path, int, int]:
    """Two sentences with a 1.2 s pause between them; returns (file, pause start, pause end) in ms."""
    first, second, take = folder / "a.wav", folder / "b.wav", folder / "take.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(first), "Thanks for calling Relay."], check=True)
    subprocess.run(["espeak-ng", "-v", "en-gb", "-w", str(second), "How can I help you today?"], check=True)
    subprocess.run(["sox", str(first), str(take), "pad", "0", "1.2"], check=True)
    subprocess.run(["sox", str(take), str(second), str(folder / "full.wav")], check=True)
    seconds = float(
        subprocess.run(["soxi", "-D", str(first)], capture_output=True, text=True, check=True).stdout
    )
    return folder / "full.wav", round(seconds * 1000) + 100, round((seconds + 1.2) * 1000) - 100


def create_dataset() -> dict:
    return check(
        requests.post(
            f"{BASE_URL}/api/v1/datasets",
            headers=HEADERS,
            json={
                "name": "TTS Quality Detection",
                "description": "Detect quality issues in TTS output",
                "artifact_types": [
                    {
                        "name": "glitch",
                        "description": "Audio pop, click, or distortion",
                        "color": "#FF4444",
                    },
                    {
                        "name": "long_pause",
                        "description": "Unnatural silence > 500ms",
                        "color": "#4444FF",
                    },
                    {
                        "name": "hallucination",
                        "description": "Extra words or sounds not in input",
                        "color": "#44FF44",
                    },
                ],
            },
        )
    )


def upload(dataset_id: str, path: Path) -> str:
    ticket = check(
        requests.post(
            f"{BASE_URL}/api/v1/datasets/{dataset_id}/audio/upload-url",
            headers=HEADERS,
            json={
                "filename": path.name,
                "content_type": "audio/wav",
                "file_size": path.stat().st_size,
            },
        )
    )
    with open(path, "rb") as f:
        stored = requests.post(ticket["upload_url"], data=ticket["fields"], files={"file": f})
    if stored.status_code not in (200, 201, 204):
        sys.exit(f"upload failed: {stored.status_code} {stored.text}")
    confirmed = check(
        requests.post(
            f"{BASE_URL}/api/v1/datasets/{dataset_id}/audio/confirm",
            headers=HEADERS,
            json={"audio_id": ticket["audio_id"]},
        )
    )
    return confirmed["audio_id"]


def wait_until_ready(dataset_id: str, audio_id: str, timeout: float = 300) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        audio = check(
            requests.get(f"{BASE_URL}/api/v1/datasets/{dataset_id}/audio/{audio_id}", headers=HEADERS)
        )
        if audio["processing_status"] in ("ready", "failed"):
            return audio
        time.sleep(1)
    sys.exit(f"audio {audio_id} was not processed within {timeout} s")


def main(paths: list[str]) -> None:
    dataset = create_dataset()
    print(f"dataset {dataset['id']}: {[t['name'] for t in dataset['artifact_types']]}")
    with tempfile.TemporaryDirectory() as tmp:
        if paths:
            labels = {p: None for p in paths}
        else:
            take, start, end = make_take(Path(tmp))
            labels = {str(take): (start, end)}
        audio_ids = {}
        for path, pause in labels.items():
            audio_id = upload(dataset["id"], Path(path))
            audio = wait_until_ready(dataset["id"], audio_id)
            status, duration = audio["processing_status"], audio["duration_ms"]
            print(f"{Path(path).name}: {status} {duration} ms {audio['error_message']}")
            audio_ids[audio_id] = pause if audio["processing_status"] == "ready" else None
    sets = f"{BASE_URL}/api/v1/datasets/{dataset['id']}/annotation-sets"
    annotation_set = check(requests.post(sets, headers=HEADERS))
    items = [
        {
            "audio_file_id": audio_id,
            "artifact_type": "long_pause",
            "start_ms": pause[0],
            "end_ms": pause[1],
        }
        for audio_id, pause in audio_ids.items()
        if pause
    ]
    if items:
        created = check(
            requests.post(
                f"{sets}/{annotation_set['id']}/annotations/bulk",
                headers=HEADERS,
                json={"annotations": items},
            )
        )
        print(f"annotated: {created['created']} annotation(s)")
    published = check(requests.post(f"{sets}/{annotation_set['id']}/publish", headers=HEADERS))
    print(f"annotation set v{published['version']} {published['status']}: {published['annotations_by_type']}")


if __name__ == "__main__":
    main(sys.argv[1:])
