"""Fixtures shared by the suite: teams, keys, API clients, uploaded and ingested audio, a worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import sync_playwright
from rest_framework.test import APIClient

from datasets import services, tasks
from relayweb.models import Role
from tests import factories, moto

ROOT = Path(__file__).resolve().parent.parent


# `make test-scaled`: production's shape, every file in a bucket (tests/moto.py) and the Redis broker.
ALL_IN_S3 = os.environ.get("RELAY_TEST_S3") == "true"


@pytest.fixture(autouse=True)
def media_root(request, settings, tmp_path):
    """Each test gets its own media folder (and, when the run is all in S3, its own bucket), so files
    never leak between tests."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    if ALL_IN_S3:
        request.getfixturevalue("s3")
    return settings.MEDIA_ROOT


@pytest.fixture(scope="session")
def s3_server():
    server, endpoint = moto.start_server()
    moto.use_credentials()
    yield endpoint
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def s3(settings, s3_server) -> str:
    """This test's files live in a fresh bucket on the suite's S3-compatible server."""
    settings.RELAY_STORAGE_URL = f"s3://{moto.new_bucket(s3_server)}"
    settings.RELAY_S3_ENDPOINT_URL = s3_server
    return settings.RELAY_STORAGE_URL


@pytest.fixture(autouse=True)
def empty_broker(settings):
    """With the Redis broker, no test sees messages an earlier test left in its queues."""
    if settings.RELAY_BROKER_URL:
        import redis

        redis.Redis.from_url(settings.RELAY_BROKER_URL).flushdb()


def storage_env(settings) -> dict:
    """What a worker or server the test starts needs to share the test's storage."""
    return {
        "RELAY_STORAGE_URL": settings.RELAY_STORAGE_URL,
        "RELAY_S3_ENDPOINT_URL": settings.RELAY_S3_ENDPOINT_URL,
    }


@pytest.fixture
def team(db):
    return factories.make_team("acme")


@pytest.fixture
def other_team(db):
    return factories.make_team("globex")


def api_client(key: str | None) -> APIClient:
    client = APIClient()
    if key:
        client.credentials(HTTP_X_API_KEY=key)
    return client


@pytest.fixture
def client_for(team):
    """client_for("viewer") → an APIClient whose key has that role in `team`."""

    def build(role: str = Role.ADMIN, for_team=None) -> APIClient:
        return api_client(factories.make_key(for_team or team, role))

    return build


@pytest.fixture
def api(client_for):
    return client_for(Role.ADMIN)


@pytest.fixture
def dataset(team):
    return factories.make_dataset(team)


def upload(dataset, name: str, data: bytes):
    return services.upload_and_queue(dataset, SimpleUploadedFile(name, data, "audio/wav"))


@pytest.fixture
def ready_audio(dataset, django_capture_on_commit_callbacks):
    """A real speech WAV uploaded to `dataset` and ingested by the task function itself."""
    audio = upload(dataset, "speech.wav", factories.wav_bytes())
    assert tasks.ingest_audio(str(audio.id)) == "ready"
    audio.refresh_from_db()
    return audio


def database_url_for_subprocess() -> str:
    from django.db import connection

    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user, host, port = settings_dict["USER"], settings_dict["HOST"], settings_dict["PORT"] or 5432
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


def start_cluster(settings, media_root, cluster: str | None = None, **extra_env) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "RELAY_DATA_DIR": str(Path(settings.RELAY_DATA_DIR)),
        "RELAY_MEDIA_ROOT": str(media_root),
        "RELAY_INGEST_WORKERS": "1",
        **storage_env(settings),
        **extra_env,
    }
    if cluster:
        env["Q_CLUSTER_NAME"] = cluster
    # Its own session, so a test can kill the cluster and all its workers at once.
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill(process: subprocess.Popen) -> None:
    """SIGKILL a cluster and every worker it forked (its process group): no hook, no goodbye."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture
def worker(transactional_db, settings, media_root):
    """A real `manage.py qcluster` (the ingest cluster) on the test database."""
    process = start_cluster(settings, media_root)
    yield process
    stop(process)


@pytest.fixture
def gpu_worker(transactional_db, settings, media_root):
    """The training and inference clusters (`Q_CLUSTER_NAME=training`, `inference`), as a GPU
    machine runs them: one worker each, a fresh process per task."""
    processes = [
        start_cluster(settings, media_root, cluster=queue)
        for queue in (settings.RELAY_TRAINING_QUEUE, settings.RELAY_INFERENCE_QUEUE)
    ]
    yield processes
    for process in processes:
        stop(process)


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


CHROMIUM = "/usr/bin/chromium"
PASSWORD = "pw-relay-123"  # factories.make_user's default


@pytest.fixture(scope="module")
def browser():
    # Allow async-unsafe ORM calls from tests that drive the sync Playwright API.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
