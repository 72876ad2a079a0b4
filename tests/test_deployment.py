"""docs/deployment.md's production shape on one machine: scripts/serve.py's web server and three
clusters against PostgreSQL (or the suite's database), Redis as the broker and an S3-compatible
bucket, used the way a team uses it — the Python client, uploads straight to the bucket."""

from __future__ import annotations

import re

import pytest
import redis
import requests

from relayweb import storage
from tests import factories
from tests.conftest import wait_for
from tests.test_process_lifecycle import serving
from training import builtin

pytestmark = [pytest.mark.worker]

# The suite's own broker database when it runs on Redis (make test-scaled), else one of its own.
SPARE_REDIS = "redis://127.0.0.1:6379/14"


@pytest.fixture
def production(transactional_db, settings, media_root, tmp_path, s3):
    broker = settings.RELAY_BROKER_URL or SPARE_REDIS
    redis.Redis.from_url(broker).flushdb()
    with serving(settings, media_root, tmp_path / "serve.log", RELAY_BROKER_URL=broker) as running:
        yield running


def metric(text: str, name: str, **labels) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{{{wanted}}} is not in /metrics"
    return float(match.group(1))


def test_the_production_stack_ingests_and_infers_through_redis_and_the_bucket(
    production, team, tmp_path, media_root
):
    from relay_client import Relay

    model, _verdict = builtin.install()  # the base detector, then the verdict model
    relay = Relay(production.base_url, factories.make_key(team))
    clip = tmp_path / "take1.wav"
    clip.write_bytes(factories.wav_bytes(seed=5))

    dataset = relay.datasets.create("Voices", artifact_types=[{"name": "glitch"}])
    uploaded = relay.audio.upload(dataset["id"], clip)
    ready = relay.audio.wait_ready(dataset["id"], uploaded["id"], timeout=120)
    assert ready["processing_status"] == "ready", ready["error_message"]

    job = relay.inference.create(str(model.id))
    relay.inference.upload(job["id"], clip, input_name="release-7/take-1".replace("/", ":"))
    done = relay.inference.wait(job["id"], timeout=180)
    assert done["status"] == "completed"
    assert relay.inference.job_results(job["id"])["results"]["release-7:take-1"]["status"] == "SUCCESSFUL"
    [f] = relay.inference.files(job["id"])
    assert f["status"] == "completed" and f["duration_ms"] == ready["duration_ms"]

    # Every byte went to the bucket; nothing landed on the web server's disk.
    stored = storage.names(f"datasets/{dataset['id']}/audio/{uploaded['id']}")
    assert stored == ["canonical.wav", "features.json", "features.npy", "original", "peaks.npy"]
    assert not any(p.is_file() for p in media_root.rglob("*"))

    health = relay.health()
    assert health["queue"]["broker"] == "redis" and health["storage"]["status"] == "ok"
    alive = sorted(w["queue"] for w in health["workers"] if w["alive"])
    assert alive == ["inference", "ingest", "training"]

    text = requests.get(f"{production.base_url}/metrics", timeout=10).text
    assert metric(text, "relay_jobs", kind="inference", status="completed") == 1
    assert metric(text, "relay_jobs", kind="ingest", status="ready") == 1
    assert metric(text, "relay_workers", queue="inference", state="alive") == 1
    assert metric(text, "relay_queue_tasks", queue="inference", state="queued") == 0
    assert metric(text, "relay_task_duration_seconds_count", queue="inference") >= 1


def test_metrics_ask_for_the_token_when_one_is_set(client, settings, team):
    settings.RELAY_METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    answer = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/plain")
    assert 'relay_jobs{kind="ingest",status="ready"} 0.0' in answer.content.decode()


def test_health_lists_each_workers_last_heartbeat(transactional_db, client, settings, media_root):
    from tests.conftest import start_cluster, stop

    cluster = start_cluster(settings, media_root, cluster="training")
    try:
        seen = wait_for(lambda: [w for w in client.get("/api/v1/health").json()["workers"] if w["alive"]])
    finally:
        stop(cluster)
    assert [w["queue"] for w in seen] == ["training"] and seen[0]["last_heartbeat_s"] < 10
    # A cluster that stops cleanly takes its row with it.
    assert client.get("/api/v1/health").json()["workers"] == []
