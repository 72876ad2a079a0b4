"""The S3-compatible server the suite starts for itself: moto's standalone server, one per run.

Every test that asks for the `s3` fixture (tests/conftest.py), and under `make test-scaled` every
test, keeps its files in a fresh bucket of its own there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from relayweb.processes import free_port

# moto accepts any credentials; set for this process and the workers it starts.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "relay-test", "AWS_SECRET_ACCESS_KEY": "relay-test-secret"}


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port(8150, 8199)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"moto_server exited with {server.returncode}")
        try:
            requests.get(endpoint, timeout=1)
            return server, endpoint
        except requests.ConnectionError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("moto_server did not start within 30 s")


def new_bucket(endpoint: str) -> str:
    import boto3

    name = f"relay-{uuid.uuid4().hex[:16]}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **lowercase(CREDENTIALS))
    client.create_bucket(Bucket=name)
    return name


def lowercase(credentials: dict) -> dict:
    return {key.lower(): value for key, value in credentials.items()}


def use_credentials() -> None:
    os.environ.update(CREDENTIALS)
