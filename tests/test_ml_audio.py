"""The ML package alone (no Django): decoding, resampling, features, peaks, synthetic speech."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF

from relayml import synth
from relayml.decode import AudioDecodeError
from relayml.features import (
    DEFAULT_FEATURES,
    DETAIL_FEATURES,
    FeatureParams,
    LogMelStream,
    PeakStream,
    frame_count,
    log_mel,
)
from relayml.ingest import (
    FEATURES_NAME,
    current_features,
    embed,
    load_features,
    load_peaks,
    normalize,
    process,
)
from relayml.resample import StreamResampler
from tests import factories


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac", "ogg", "m4a", "webm", "aac"])
def test_every_supported_format_decodes_to_16k_mono_of_the_right_length(tmp_path, fmt):
    # Stored without an extension: the type is decided by decoding alone.
    source = write(tmp_path, "upload", factories.encode(fmt))
    result = normalize(source, tmp_path / "out")
    expected_ms = factories.speech_clip().duration_ms
    assert result.format == ("m4a" if fmt == "m4a" else fmt)
    assert result.channels == 2
    assert result.sample_rate == (48000 if fmt == "webm" else 44100)
    # Lossy codecs add a few ms of encoder delay and padding.
    assert abs(result.duration_ms - expected_ms) < 80
    assert len(result.sha256) == 64
    frames = embed(tmp_path / "out")
    assert frames == frame_count(result.num_samples)
    assert load_features(tmp_path / "out").shape == (frames, DEFAULT_FEATURES.width)


def test_decoded_speech_matches_the_source_samples(tmp_path):
    clip = factories.speech_clip()
    source = write(tmp_path, "a", factories.wav_bytes())
    normalize(source, tmp_path / "out")
    import soundfile as sf

    canonical, rate = sf.read(tmp_path / "out" / "canonical.wav", dtype="float32")
    assert rate == 16000
    assert len(canonical) == len(clip.audio)
    assert np.max(np.abs(canonical - clip.audio)) < 2e-4  # PCM_16 rounding, twice


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty", b"", "file is empty"),
        ("text", b"this is a text file, not audio\n" * 20, "not an audio file"),
        ("random", bytes(range(256)) * 64, "not an audio file"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(tmp_path, name, data, message):
    with pytest.raises(AudioDecodeError, match=message):
        normalize(write(tmp_path, name, data), tmp_path / "out")


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("wav", "truncated WAV stream"),
        ("flac", "truncated or corrupt FLAC"),
        ("ogg", "truncated OGG"),
        ("mp3", "truncated MP3"),
        ("m4a", "truncated or corrupt M4A"),
        ("aac", "truncated or corrupt AAC"),
        ("webm", "truncated or corrupt WEBM"),
    ],
)
def test_truncated_files_are_reported_as_truncated(tmp_path, fmt, message):
    data = factories.encode(fmt)
    with pytest.raises(AudioDecodeError, match=message):
        normalize(write(tmp_path, "cut", data[: len(data) // 2]), tmp_path / "out")


@pytest.mark.parametrize(("orig", "block"), [(44100, 4410), (48000, 12345), (22050, 999), (8000, 777)])
def test_block_resampling_equals_resampling_the_whole_signal(orig, block):
    rng = np.random.default_rng(0)
    signal = rng.standard_normal(orig * 2).astype(np.float32) * 0.1
    whole = AF.resample(torch.from_numpy(signal), orig, 16000).numpy()
    stream = StreamResampler(orig, 16000)
    parts = [stream.push(signal[i : i + block]) for i in range(0, len(signal), block)]
    joined = np.concatenate([*parts, stream.flush()])
    assert len(joined) == len(whole)
    assert np.max(np.abs(joined - whole)) < 1e-5


def test_streamed_features_equal_features_of_the_whole_signal():
    audio = factories.speech_clip().audio
    whole = log_mel(audio)
    stream = LogMelStream()
    parts = [stream.push(audio[i : i + 7777]) for i in range(0, len(audio), 7777)]
    streamed = np.concatenate([*parts, stream.flush()])
    assert streamed.shape == whole.shape == (frame_count(len(audio)), 64 + DETAIL_FEATURES)
    assert np.allclose(streamed.astype(np.float32), whole.astype(np.float32), atol=0.02)


def test_waveform_detail_shows_held_samples_flat_tops_and_a_splice_the_log_mel_frame_smears():
    rng = np.random.default_rng(3)
    audio = (0.1 * np.sin(np.arange(16_000) * 2 * np.pi * 220 / 16_000)).astype(np.float32)
    audio += 0.002 * rng.standard_normal(len(audio)).astype(np.float32)
    audio[4_000:4_480] = 0.0  # 30 ms of digital silence
    audio[8_000:9_600] = np.clip(audio[8_000:9_600] * 8, -0.5, 0.5)  # hard clipping for 100 ms
    audio[12_018:] *= -1  # a splice at a crest: the wave jumps from +0.1 to -0.1
    detail = log_mel(audio).astype(np.float32)[:, 64:]
    frame = lambda sample: (sample - 120) // 160  # noqa: E731 - the frame whose middle hop holds it
    peak, jump, _kink, flat_tops, held = detail.T
    assert held[frame(4_200)] == 1.0 and held[frame(2_000)] < 0.05
    assert flat_tops[frame(8_800)] > 0.3 and flat_tops[frame(6_000)] < 0.2
    assert peak[frame(8_800)] == pytest.approx(np.log10(0.5 + 1e-5), abs=0.01)
    assert jump[frame(12_018)] > jump[frame(11_000)] + 0.8  # six times the largest step elsewhere


def test_older_feature_versions_are_the_first_columns_of_the_newer_ones():
    audio = factories.speech_clip().audio
    newest = log_mel(audio)
    assert newest.shape[1] == 64 + DETAIL_FEATURES
    assert np.array_equal(newest[:, :64], log_mel(audio, FeatureParams()))


def test_a_model_on_older_features_reads_them_from_the_cache_without_rewriting_it(tmp_path):
    path = tmp_path / "take.wav"
    sf.write(path, factories.speech_clip().audio, 16_000, subtype="PCM_16")
    out = tmp_path / "ingested"
    process(path, out)
    older = current_features(out / FEATURES_NAME, FeatureParams())  # a version 1 model's log-mels
    assert older.shape[1] == 64
    assert np.array_equal(older, np.load(out / FEATURES_NAME)[:, :64])
    assert json.loads((out / "features.json").read_text())["params"] == DEFAULT_FEATURES.to_dict()


def test_features_another_than_relays_own_are_computed_for_the_model_and_never_cached(tmp_path):
    path = tmp_path / "take.wav"
    sf.write(path, factories.speech_clip().audio, 16_000, subtype="PCM_16")
    out = tmp_path / "ingested"
    process(path, out, params=FeatureParams())
    finer = replace(FeatureParams(), n_mels=32)  # not a prefix of what the cache holds
    assert current_features(out / FEATURES_NAME, finer).shape[1] == 32
    assert json.loads((out / "features.json").read_text())["params"] == FeatureParams().to_dict()


def test_features_cached_before_a_feature_change_are_recomputed_once(tmp_path):
    path = tmp_path / "take.wav"
    sf.write(path, factories.speech_clip().audio, 16_000, subtype="PCM_16")
    out = tmp_path / "ingested"
    process(path, out, params=FeatureParams())  # the log-mels alone, as before version 2
    assert np.load(out / FEATURES_NAME).shape[1] == 64
    assert current_features(out / FEATURES_NAME).shape[1] == 64 + DETAIL_FEATURES
    assert np.load(out / FEATURES_NAME).shape[1] == 64 + DETAIL_FEATURES
    assert json.loads((out / "features.json").read_text())["params"] == DEFAULT_FEATURES.to_dict()


def test_peaks_hold_min_and_max_of_each_10ms():
    signal = np.zeros(16000, dtype=np.float32)
    signal[1605] = 0.5  # in the 11th window (1600..1759)
    signal[3300] = -1.0
    stream = PeakStream()
    pairs = np.concatenate([stream.push(signal[:5000]), stream.push(signal[5000:]), stream.flush()])
    assert pairs.shape == (100, 2)
    assert tuple(pairs[10]) == (0, 64)
    assert tuple(pairs[20]) == (-127, 0)
    assert np.count_nonzero(pairs) == 2


def test_peaks_are_written_by_normalize(tmp_path):
    normalize(write(tmp_path, "a", factories.wav_bytes()), tmp_path / "out")
    peaks = load_peaks(tmp_path / "out")
    assert len(peaks) == -(-len(factories.speech_clip().audio) // 160)
    assert peaks[:, 1].max() > 20  # speech is loud somewhere


def test_synthetic_clip_labels_mark_exactly_what_was_injected():
    clip = synth.make_clip(7, sentences=3)
    kinds = {label.artifact_type for label in clip.labels}
    assert kinds == set(synth.ARTIFACT_TYPES)
    for label in clip.labels:
        start, end = synth.ms_to_sample(label.start_ms), synth.ms_to_sample(label.end_ms)
        segment = clip.audio[start:end]
        if label.artifact_type == "dropout":
            assert np.count_nonzero(segment[2:-2]) == 0
        elif label.artifact_type == "long_pause":
            assert label.end_ms - label.start_ms >= 690
            assert np.max(np.abs(segment)) < 0.01
        elif label.artifact_type == "clipping":
            level = np.max(np.abs(segment))
            assert np.mean(np.isclose(np.abs(segment), level, atol=1e-6)) > 0.2  # flat tops
        elif label.artifact_type == "glitch":
            assert np.max(np.abs(segment)) > 0.3


def test_synthetic_clips_differ_by_seed_and_repeat_for_the_same_seed():
    a, b, again = synth.make_clip(3, 2), synth.make_clip(4, 2), synth.make_clip(3, 2)
    assert a.voice != b.voice
    assert np.array_equal(a.audio, again.audio)
    assert [vars(x) for x in a.labels] == [vars(x) for x in again.labels]


def test_a_flac_streamed_through_a_pipe_decodes_in_full(tmp_path):
    import subprocess

    # Written to a pipe, the encoder cannot go back to fill in the stream's length and seek table.
    command = ["ffmpeg", "-v", "error", "-f", "wav", "-i", "pipe:0", "-f", "flac", "pipe:1"]
    data = subprocess.run(command, input=factories.wav_bytes(), capture_output=True, check=True).stdout
    result = normalize(write(tmp_path, "piped", data), tmp_path / "out")
    assert result.format == "flac"
    assert result.duration_ms == factories.speech_clip().duration_ms
