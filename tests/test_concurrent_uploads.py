"""The embedded default under concurrency: 120 files uploaded at once through both upload flows
while the workers ingest and other clients read lists. No 5xx, and every file ends `ready`."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from datasets.models import AudioFile
from relayweb.models import Role
from tests import factories
from tests.conftest import start_cluster, stop, wait_for

pytestmark = [pytest.mark.worker]

UPLOAD_URL_FILES = 60
MULTIPART_CALLS, FILES_PER_CALL = 30, 2
UPLOAD_THREADS, READER_THREADS = 16, 4
AUDIO = factories.silence_wav(0.3)


class Client:
    """An API client over real HTTP that records every status it gets."""

    def __init__(self, base_url: str, key: str):
        self.base_url, self.headers = base_url, {"X-API-Key": key}
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def call(self, method: str, url: str, authenticated: bool = True, **kwargs) -> requests.Response:
        headers = self.headers if authenticated else {}
        target = url if url.startswith("http") else self.base_url + url
        response = requests.request(method, target, headers=headers, timeout=60, **kwargs)
        with self.lock:
            self.statuses[response.status_code] += 1
        return response


def through_upload_url(client: Client, dataset_id: str, index: int) -> None:
    name = f"url-{index}.wav"
    ticket = client.call(
        "POST",
        f"/api/v1/datasets/{dataset_id}/audio/upload-url",
        json={"filename": name, "content_type": "audio/wav", "file_size": len(AUDIO)},
    ).json()
    client.call(
        "POST",
        ticket["upload_url"],
        authenticated=False,
        data=ticket["fields"],
        files={"file": (name, AUDIO)},
    )
    client.call("POST", f"/api/v1/datasets/{dataset_id}/audio/confirm", json={"audio_id": ticket["audio_id"]})


def through_multipart(client: Client, dataset_id: str, index: int) -> None:
    files = [("file", (f"multi-{index}-{n}.wav", AUDIO)) for n in range(FILES_PER_CALL)]
    client.call("POST", f"/api/v1/datasets/{dataset_id}/audio", files=files)


def read_lists_until(done: threading.Event, client: Client, dataset_id: str) -> None:
    while not done.is_set():
        client.call("GET", "/api/v1/datasets")
        client.call("GET", f"/api/v1/datasets/{dataset_id}/audio", params={"page_size": 100})


@pytest.fixture
def two_ingest_workers(transactional_db, settings, media_root):
    process = start_cluster(settings, media_root, RELAY_INGEST_WORKERS="2")
    yield process
    stop(process)


def test_120_files_uploaded_at_once_through_both_flows_all_end_ready_without_a_server_error(
    live_server, two_ingest_workers, team
):
    dataset = factories.make_dataset(team)
    client = Client(live_server.url, factories.make_key(team, Role.ANNOTATOR))
    uploads = [(through_upload_url, i) for i in range(UPLOAD_URL_FILES)]
    uploads += [(through_multipart, i) for i in range(MULTIPART_CALLS)]
    done = threading.Event()
    with ThreadPoolExecutor(READER_THREADS) as readers, ThreadPoolExecutor(UPLOAD_THREADS) as uploaders:
        reading = [
            readers.submit(read_lists_until, done, client, str(dataset.id)) for _ in range(READER_THREADS)
        ]
        for future in [uploaders.submit(flow, client, str(dataset.id), i) for flow, i in uploads]:
            future.result()
        done.set()
        for future in reading:
            future.result()

    assert not [status for status in client.statuses if status >= 500], client.statuses
    assert set(client.statuses) <= {200, 201, 202, 204}, client.statuses
    expected = UPLOAD_URL_FILES + MULTIPART_CALLS * FILES_PER_CALL
    audio = AudioFile.objects.filter(dataset=dataset)
    wait_for(lambda: audio.filter(processing_status__in=["ready", "failed"]).count() == expected, timeout=150)
    assert dict(Counter(audio.values_list("processing_status", flat=True))) == {"ready": expected}
