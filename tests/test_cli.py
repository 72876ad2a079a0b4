"""The `relay` command as a CI pipeline runs it: its own process, only a base URL and a key, against
a live server and the real workers."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from datasets.models import AudioFile
from relayml import synth
from tests import factories
from tests.test_process_lifecycle import stack  # noqa: F401  (the `make run` stack fixture)
from tests.training_data import wav_of

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RELAY = Path(sys.executable).parent / "relay"  # the console script the client package installs
CLEAN = "The quarterly report is ready for review."
AFTER = "Please call me back when you have a moment."


def relay(live_server, key: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RELAY_BASE_URL": live_server.url, "RELAY_API_KEY": key}
    return subprocess.run([str(RELAY), *args], env=env, capture_output=True, text=True, timeout=600)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_folder_is_uploaded_once_annotated_from_a_file_and_trained_on(
    worker, gpu_worker, live_server, team, settings, tmp_path
):
    settings.RELAY_MIN_TRAINING_AUDIO_S = 5
    key = factories.make_key(team)
    dataset = json.loads(ok(relay(live_server, key, "datasets", "create", "Release 7", "--type", "long_pause",
                                  "--type", "glitch")))  # fmt: skip
    folder = tmp_path / "renders"
    folder.mkdir()
    labels = io.StringIO()
    writer = csv.writer(labels)
    writer.writerow(["filename", "artifact_type", "start_ms", "end_ms"])
    for seed in range(3):
        clip = synth.make_clip(900 + seed, sentences=2)
        (folder / f"take{seed}.wav").write_bytes(wav_of(clip))
        for label in clip.labels:
            if label.artifact_type in ("long_pause", "glitch"):
                writer.writerow([f"take{seed}.wav", label.artifact_type, label.start_ms, label.end_ms])
    (folder / "notes.txt").write_text("not audio: left alone")

    first = relay(live_server, key, "upload", dataset["id"], str(folder))
    assert "0 already uploaded, 3 to upload" in ok(first) + first.stderr
    audio = AudioFile.objects.filter(dataset_id=dataset["id"])
    assert audio.count() == 3 and {a.processing_status for a in audio} == {"ready"}
    again = relay(live_server, key, "upload", dataset["id"], str(folder))
    assert "3 already uploaded, 0 to upload" in ok(again) + again.stderr
    assert audio.count() == 3

    set_id = ok(relay(live_server, key, "annotations", "create", dataset["id"])).strip()
    (tmp_path / "labels.csv").write_text(labels.getvalue())
    imported = ok(
        relay(live_server, key, "annotations", "import", dataset["id"], set_id, str(tmp_path / "labels.csv"))
    )
    assert imported.strip() == f"imported {labels.getvalue().count(chr(10)) - 1} annotation(s)"
    assert "published version 1" in ok(
        relay(live_server, key, "annotations", "publish", dataset["id"], set_id)
    )
    archive = tmp_path / "set.zip"
    ok(relay(live_server, key, "annotations", "export", dataset["id"], set_id, "-o", str(archive)))
    assert sorted(zipfile.ZipFile(archive).namelist()) == [
        "take0.wav.json",
        "take1.wav.json",
        "take2.wav.json",
    ]

    model_id = ok(relay(live_server, key, "train", dataset["id"], set_id, "--type", "long_pause",
                        "--type", "glitch", "--epochs", "1")).strip()  # fmt: skip
    from training.models import DetectorModel

    assert DetectorModel.objects.get(pk=model_id, team=team).artifact_types == ["long_pause", "glitch"]


def speech(*parts) -> np.ndarray:
    return np.concatenate([synth.speak(p) if isinstance(p, str) else np.zeros(int(p * 16000), np.float32)
                           for p in parts])  # fmt: skip


def test_relay_check_gates_a_release_and_infer_writes_results_beside_the_audio(
    gpu_worker, live_server, team, tmp_path
):
    from training import builtin

    builtin.install()  # as `migrate` does; a transactional test starts from empty tables
    key = factories.make_key(team)
    folder = tmp_path / "release"
    folder.mkdir()
    sf.write(folder / "clean.wav", speech(CLEAN, 0.3, AFTER), 16000)
    sf.write(folder / "paused.wav", speech(CLEAN, 2.5, AFTER), 16000)  # a 2.5 s hole mid-sentence
    sf.write(folder / "wrong.wav", speech(CLEAN, 0.3, AFTER), 16000)  # said right, scripted otherwise
    scripts = tmp_path / "scripts.csv"
    scripts.write_text(
        "filename,expected_text\n"
        f'clean.wav,"{CLEAN} {AFTER}"\npaused.wav,"{CLEAN} {AFTER}"\n'
        'wrong.wav,"Your parcel will arrive on Tuesday between nine and eleven."\n'
    )
    gate = ["--model", "relay-base-detector-v3", "--fail-on", "long_pause>=0.5", "--scripts", str(scripts),
            "--max-wer", "0.3", "--speech-model", "whisper-tiny.en"]  # fmt: skip

    result = relay(live_server, key, "check", str(folder), *gate)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["FILE", "WHY"] and lines[-1] == "2 of 3 file(s) failed"
    assert any(str(folder / "paused.wav") in line and "long_pause" in line for line in lines)
    assert any(str(folder / "wrong.wav") in line and "WER" in line for line in lines)
    assert not any("clean.wav" in line for line in lines)

    report = json.loads(ok(relay(live_server, key, "check", str(folder / "clean.wav"), *gate, "--json")))
    assert report["passed"] is True and report["files"][0]["wer"] <= 0.3

    out = ok(relay(live_server, key, "infer", str(folder / "paused.wav"), "--model", "relay-base-detector-v3",
                   "--format", "json,csv,audacity"))  # fmt: skip
    assert "paused.wav: 1 found" in out
    result = json.loads((folder / "paused.relay.json").read_text())
    assert [d["artifact_type"] for d in result["detections"]] == ["long_pause"]
    assert "long_pause" in (folder / "paused.relay.csv").read_text()
    start, end, label = (folder / "paused.relay.txt").read_text().splitlines()[0].split("\t")
    assert label.startswith("long_pause") and 1.5 < float(start) < float(end) < 5.5


def test_the_servers_refusal_is_one_line_and_exit_status_2(live_server, team, tmp_path):
    (tmp_path / "a.wav").write_bytes(factories.wav_bytes())
    result = relay(live_server, factories.make_key(team), "check", str(tmp_path), "--model", "no-such-model")
    assert result.returncode == 2 and "0 models are called 'no-such-model': give its id" in result.stderr
    result = relay(live_server, "wrong-key", "datasets", "list")
    assert (
        result.returncode == 2
        and result.stderr.startswith("relay: 401 GET")
        and "Traceback" not in result.stderr
    )


def test_relay_check_gates_a_release_against_the_make_run_stack(stack, team, tmp_path):  # noqa: F811
    """The same gate against what `make run` starts (scripts/serve.py: gunicorn and the ingest,
    training and inference clusters), not the test server."""
    from training import builtin

    builtin.install()
    sf.write(tmp_path / "clean.wav", speech(CLEAN, 0.3, AFTER), 16000)
    sf.write(tmp_path / "paused.wav", speech(CLEAN, 2.5, AFTER), 16000)
    env = {**os.environ, "RELAY_BASE_URL": stack.base_url, "RELAY_API_KEY": factories.make_key(team)}
    args = [
        "check",
        str(tmp_path),
        "--model",
        "relay-base-detector-v3",
        "--fail-on",
        "long_pause>=0.5",
        "--json",
    ]
    result = subprocess.run([str(RELAY), *args], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    report = {Path(f["file"]).name: f for f in json.loads(result.stdout)["files"]}
    assert report["clean.wav"]["passed"] is True and report["paused.wav"]["passed"] is False
    assert report["paused.wav"]["detections"][0]["artifact_type"] == "long_pause"
