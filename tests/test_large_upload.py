"""A large upload streams to disk: the server never holds the file in memory."""

from __future__ import annotations

import http.client
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

from datasets.models import AudioFile
from relayweb.models import Role

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 300 * 1024 * 1024


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"{field} missing from /proc/self/status")


def reset_peak_rss() -> None:
    # Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS (Linux 4.0+).
    Path("/proc/self/clear_refs").write_text("5")


def stream_multipart(url: str, fields: dict, filename: str, size: int) -> int:
    """POST fields + a `size`-byte file with a Content-Length, sending it 1 MB at a time."""
    boundary = uuid.uuid4().hex
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    tail = f"\r\n--{boundary}--\r\n"
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
    conn.putrequest("POST", f"{parsed.path}?{parsed.query}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(head) + size + len(tail)))
    conn.endheaders()
    conn.send(head.encode())
    chunk = b"\0" * (1024 * 1024)
    for _ in range(size // len(chunk)):
        conn.send(chunk)
    conn.send(tail.encode())
    status = conn.getresponse().status
    conn.close()
    return status


def test_a_300_mb_upload_streams_to_disk_without_growing_memory(live_server, client_for, team, media_root):
    from tests import factories

    dataset = factories.make_dataset(team)
    api = client_for(Role.ANNOTATOR)
    body = {"filename": "long.wav", "content_type": "audio/wav", "file_size": SIZE}
    ticket = api.post(f"/api/v1/datasets/{dataset.id}/audio/upload-url", body, format="json").json()
    url = live_server.url + urlparse(ticket["upload_url"]).path + "?" + urlparse(ticket["upload_url"]).query
    reset_peak_rss()
    before = rss_mb("VmRSS")
    assert stream_multipart(url, ticket["fields"], "long.wav", SIZE) == 204
    growth = rss_mb("VmHWM") - before
    assert growth < 64, f"peak memory grew by {growth:.0f} MB while receiving {SIZE >> 20} MB"
    audio = AudioFile.objects.get(pk=ticket["audio_id"])
    assert audio.size_bytes == SIZE
    assert (media_root / audio.original_path).stat().st_size == SIZE
