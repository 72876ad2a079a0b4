"""The quickstart client, unchanged but for base URL and key, against a live server and worker."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from datasets.models import AnnotationSet, AudioFile
from tests import factories
from tests.conftest import ROOT

pytestmark = [pytest.mark.worker]


def run_example(script: str, live_server, team) -> subprocess.CompletedProcess:
    """An example as a user runs it: only a base URL and a key, in its own process."""
    env = {**os.environ, "RELAY_BASE_URL": live_server.url, "RELAY_API_KEY": factories.make_key(team)}
    result = subprocess.run(
        [sys.executable, script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_quickstart_runs_end_to_end_against_a_live_server(worker, live_server, team):
    result = run_example("examples/quickstart.py", live_server, team)
    assert "annotation set v1 published: {'long_pause': 1}" in result.stdout
    audio = AudioFile.objects.get(dataset__team=team)
    assert audio.processing_status == "ready" and audio.duration_ms > 2500
    published = AnnotationSet.objects.get(dataset__team=team)
    pause = published.annotations.get()
    assert pause.artifact_type.name == "long_pause" and pause.end_ms - pause.start_ms == 1000


@pytest.mark.django_db(transaction=True)
def test_the_inference_guides_snippets_run_against_a_live_server(gpu_worker, live_server, team, settings):
    from inference.models import InferenceJob
    from tests.training_data import trained_model

    model = trained_model(team, settings)
    result = run_example("examples/inference_results.py", live_server, team)
    for threshold in ("0.3", "0.5", "0.7", "0.9"):
        assert f"Threshold {threshold}: " in result.stdout
    assert "Quality score: " in result.stdout and "Artifact rate: " in result.stdout
    jobs = InferenceJob.objects.filter(team=team, model_id=model.id)
    assert jobs.count() == 4 and all(j.status == "completed" and j.files.count() == 3 for j in jobs)
    # Stricter thresholds detect less artifact time (counts need not fall: pieces merge differently).
    flagged = {
        j.config["threshold"]: sum(d["end_ms"] - d["start_ms"] for f in j.files.all() for d in f.detections)
        for j in jobs
    }
    assert flagged[0.3] >= flagged[0.5] >= flagged[0.7] >= flagged[0.9]
