"""Small builders for test data: real rows, real files, no mocks."""

from __future__ import annotations

import io
import subprocess
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf
from django.contrib.auth import get_user_model

from datasets import services
from datasets.models import Dataset
from relayml import synth
from relayweb.models import ApiKey, Membership, Role, Team

TYPES = [
    {"name": "glitch", "description": "click or pop", "color": "#FF4444"},
    {"name": "long_pause", "description": "silence > 500 ms"},
    {"name": "clipping"},
    {"name": "dropout"},
]


def make_team(name: str = "acme") -> Team:
    return Team.objects.create(name=name)


def make_user(team: Team, username: str, role: str = Role.OWNER, password: str = "pw-relay-123"):
    user = get_user_model().objects.create_user(username=username, password=password)
    Membership.objects.create(team=team, user=user, role=role)
    return user


def make_key(team: Team, role: str = Role.ADMIN) -> str:
    return ApiKey.issue(team, role, name=f"{role} key")[1]


def make_dataset(team: Team, name: str = "TTS Quality", types=None) -> Dataset:
    return services.create_dataset(team, name, "", [dict(t) for t in (types or TYPES)])


@cache
def speech_clip(seed: int = 1, sentences: int = 2) -> synth.Clip:
    return synth.make_clip(seed, sentences=sentences)


def wav_bytes(seed: int = 1, sentences: int = 2, rate: int = 16000) -> bytes:
    clip = speech_clip(seed, sentences)
    audio = clip.audio
    if rate != synth.SAMPLE_RATE:
        import torch
        import torchaudio.functional as AF

        audio = AF.resample(torch.from_numpy(audio), synth.SAMPLE_RATE, rate).numpy()
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


FFMPEG_ARGS = {
    "mp3": ["-c:a", "libmp3lame", "-f", "mp3"],
    "flac": ["-c:a", "flac", "-f", "flac"],
    "ogg": ["-c:a", "libvorbis", "-f", "ogg"],
    "m4a": ["-c:a", "aac", "-f", "ipod"],
    "webm": ["-c:a", "libopus", "-ar", "48000", "-f", "webm"],
    "aac": ["-c:a", "aac", "-f", "adts"],
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
}


def encode(fmt: str, seed: int = 1, stereo: bool = True, rate: int = 44100) -> bytes:
    """Real speech encoded by ffmpeg to a file (as a user's tool would), stereo at `rate`."""
    import tempfile

    args = ["-ac", "2" if stereo else "1"]
    if fmt != "webm":
        args += ["-ar", str(rate)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"out.{fmt}"
        command = [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "wav",
            "-i",
            "pipe:0",
            *args,
            *FFMPEG_ARGS[fmt],
            str(out),
        ]
        subprocess.run(command, input=wav_bytes(seed), capture_output=True, check=True)
        return out.read_bytes()


def silence_wav(seconds: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(int(16000 * seconds), dtype=np.float32), 16000, format="WAV")
    return buffer.getvalue()


def ingested(dataset: Dataset, name: str, seed: int = 1):
    """A speech WAV uploaded to `dataset` and taken through the ingest task in this process."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from datasets import tasks

    audio = services.upload_and_queue(dataset, SimpleUploadedFile(name, wav_bytes(seed), "audio/wav"))
    assert tasks.ingest_audio(str(audio.id)) == "ready"
    audio.refresh_from_db()
    return audio
