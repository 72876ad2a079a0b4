"""Limits a careless or hostile file cannot pass, checked before and while decoding (no database)."""

from __future__ import annotations

import io
import struct
import subprocess

import numpy as np
import pytest
import soundfile as sf

from relayml import synth
from relayml.decode import AudioDecodeError, Limits, iter_blocks, probe
from relayml.ingest import normalize


def wav_header(rate: int, channels: int, data_bytes: int, bits: int = 16) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, bits)
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt " + struct.pack("<I", 16) + fmt
        + b"data" + struct.pack("<I", data_bytes)
    )  # fmt: skip


def flac_of_silence(seconds: int) -> bytes:
    """Digital silence as FLAC written to a pipe (so its header declares no length)."""
    pcm = np.zeros(16000 * seconds, dtype=np.int16).tobytes()
    command = ["ffmpeg", "-v", "error", "-f", "s16le", "-ar", "16000", "-ac", "1", "-i", "pipe:0"]
    return subprocess.run(
        [*command, "-f", "flac", "pipe:1"], input=pcm, capture_output=True, check=True
    ).stdout


def write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_a_tiny_wav_declaring_two_gigahertz_is_refused_from_its_header(tmp_path):
    path = write(tmp_path, "evil.wav", wav_header(2**31 - 1, 1, 2000) + bytes(2000))
    with pytest.raises(
        AudioDecodeError, match=r"sample rate of 2147483647 Hz; supported rates are 1000–384000 Hz"
    ):
        probe(path)


def test_a_wav_declaring_too_many_channels_is_refused(tmp_path):
    path = write(tmp_path, "wide.wav", wav_header(16000, 64, 64 * 2 * 100) + bytes(64 * 2 * 100))
    with pytest.raises(AudioDecodeError, match="declares 64 channels; at most 32 are supported"):
        probe(path)


def test_a_file_longer_than_the_limit_is_refused_before_decoding(tmp_path):
    seconds = 3
    audio = np.zeros(16000 * seconds, dtype=np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, audio, 16000, format="WAV", subtype="PCM_16")
    path = write(tmp_path, "long.wav", buffer.getvalue())
    with pytest.raises(AudioDecodeError, match=r"^the file is 3.0 s long; the limit is 2.0 s$"):
        normalize(path, tmp_path / "out", Limits(max_duration_s=2))
    assert not (tmp_path / "out" / "canonical.wav").exists()


def test_a_stream_without_a_length_is_stopped_once_it_decodes_past_the_limit(tmp_path):
    # A FLAC written to a pipe declares no length: only decoding can tell how long it is.
    flac = flac_of_silence(5)
    assert len(flac) < 20_000  # five seconds of silence compress to almost nothing
    path = write(tmp_path, "silence.flac", flac)
    info = probe(path, Limits(max_duration_s=2))
    with pytest.raises(
        AudioDecodeError, match=r"^the file is longer than the limit of 2.0 s \(found while decoding it\)$"
    ):
        for _ in iter_blocks(path, info):
            pass


def test_files_within_the_limits_decode_as_before(tmp_path):
    audio = np.zeros(16000, dtype=np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, audio, 16000, format="WAV", subtype="PCM_16")
    result = normalize(
        write(tmp_path, "ok.wav", buffer.getvalue()), tmp_path / "out", Limits(max_duration_s=2)
    )
    assert result.duration_ms == 1000


def test_a_tiny_file_that_decodes_to_an_hour_of_silence_is_refused_while_decoding(tmp_path):
    flac = flac_of_silence(600)  # a few KB that would become 19 MB of stored audio and 8 MB of features
    path = write(tmp_path, "bomb.flac", flac)
    with pytest.raises(AudioDecodeError, match=r"over 100× the \d+ KB uploaded \(mostly digital silence"):
        normalize(path, tmp_path / "out")
    assert not (tmp_path / "out" / "canonical.wav").exists()


def test_ordinary_lossy_files_are_far_inside_the_expansion_limit(tmp_path):
    speech = synth.make_clip(3, sentences=2)
    path = synth.write_clip(speech, tmp_path / "speech", "mp3")
    assert normalize(path, tmp_path / "out").duration_ms > 1000
