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


def test_quickstart_runs_end_to_end_against_a_live_server(worker, live_server, team):
    key = factories.make_key(team)
    env = {**os.environ, "RELAY_BASE_URL": live_server.url, "RELAY_API_KEY": key}
    result = subprocess.run(
        [sys.executable, "examples/quickstart.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "annotation set v1 published: {'long_pause': 1}" in result.stdout
    audio = AudioFile.objects.get(dataset__team=team)
    assert audio.processing_status == "ready" and audio.duration_ms > 2500
    published = AnnotationSet.objects.get(dataset__team=team)
    pause = published.annotations.get()
    assert pause.artifact_type.name == "long_pause" and pause.end_ms - pause.start_ms == 1000
