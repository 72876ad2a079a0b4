"""Inference in the ML package alone: streaming scores equal whole-file scores, batching across files,
bounded buffers, stored scores re-thresholded, a corrupt file failing alone."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
import torch

from relayml import synth
from relayml.detect import score_features
from relayml.events import Event, postprocess
from relayml.features import DEFAULT_FEATURES, log_mel
from relayml.infer import BatchedModel, FileScorer, infer_files
from relayml.model import Detector
from relayml.scores import SCORE_LEVELS, detections_from_scores, load_scores
from relayml.train import TrainConfig, train

TYPES = ["glitch", "long_pause", "clipping", "dropout"]


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> Detector:
    files = synth.train_files(tmp_path_factory.mktemp("clips"), count=3, seed_base=900)
    config = TrainConfig(artifact_types=TYPES, epochs=1, batch_size=8)
    return Detector.load(train(files, config, tmp_path_factory.mktemp("model")).model_path)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """~25 s of speech: several scoring windows (4 s each) and a partial last one."""
    clip = synth.make_clip(321, sentences=7)
    path = tmp_path_factory.mktemp("long") / "long.wav"
    sf.write(path, clip.audio, synth.SAMPLE_RATE, subtype="PCM_16")
    return path, clip


def run(detector, entries, tmp_path, **kwargs):
    items = [(key, str(path), tmp_path / str(key)) for key, path in entries]
    return {r.key: r for r in infer_files(detector, items, **kwargs)}


def test_streamed_scores_equal_scoring_the_whole_file_at_once(detector, long_clip, tmp_path):
    path, clip = long_clip
    (result,) = run(detector, [("a", path)], tmp_path).values()
    audio, _ = sf.read(path, dtype="float32")
    whole = score_features(detector, log_mel(audio))
    stored = np.asarray(load_scores(result.scores_path, len(TYPES)), dtype=np.float32) / SCORE_LEVELS
    assert stored.shape == whole.shape and result.frames == len(whole)
    assert np.abs(stored - whole).max() <= 0.5 / SCORE_LEVELS + 1e-3  # only the uint8 rounding differs
    assert result.duration_ms == clip.duration_ms


def test_windows_from_several_files_share_batches_without_mixing_them_up(detector, long_clip, tmp_path):
    path, _ = long_clip
    short = tmp_path / "short.wav"
    sf.write(short, synth.make_clip(5, sentences=2).audio, synth.SAMPLE_RATE, subtype="PCM_16")
    alone = run(detector, [("long", path)], tmp_path / "alone", batch_windows=64)["long"]
    together = run(
        detector, [("s1", short), ("long", path), ("s2", short)], tmp_path / "mixed", batch_windows=3
    )
    assert set(together) == {"s1", "long", "s2"}
    a = np.asarray(load_scores(alone.scores_path, len(TYPES)))
    b = np.asarray(load_scores(together["long"].scores_path, len(TYPES)))
    assert np.array_equal(a, b)
    assert np.array_equal(
        np.asarray(load_scores(together["s1"].scores_path, 4)),
        np.asarray(load_scores(together["s2"].scores_path, 4)),
    )


def test_a_corrupt_file_fails_alone(detector, long_clip, tmp_path):
    path, _ = long_clip
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    results = run(detector, [("junk", junk), ("good", path), ("empty", empty)], tmp_path)
    assert results["good"].error is None and results["good"].frames > 0
    assert results["junk"].error and results["empty"].error
    assert "empty" in results["empty"].error


def test_the_feature_buffer_stays_within_one_window_however_long_the_file(detector):
    batcher = BatchedModel(detector, batch_windows=4)
    scorer = FileScorer(batcher, io.BytesIO())
    limit = batcher.span + 2 * batcher.context
    block = np.zeros((300, DEFAULT_FEATURES.width), dtype=np.float32)
    for _ in range(200):  # 10 minutes of features, 3 s at a time
        scorer.push(block)
        assert len(scorer.buffer) < limit + len(block)
    scorer.finish()
    batcher.run()
    assert scorer.done and scorer.frames_out == 200 * 300
    assert len(scorer.out.getvalue()) == 200 * 300 * len(TYPES)


def seed_merge_scores() -> np.ndarray:
    """Glitch scores of 0.9 over 1000–1100, 1150–1250 and 1280–1380 ms (10 ms frames), else 0.1."""
    scores = np.full((300, 1), 0.1, dtype=np.float32)
    for start, end in [(100, 110), (115, 125), (128, 138)]:
        scores[start:end] = 0.9
    return scores


def test_the_seeds_merge_example_gives_one_glitch_from_1000_to_1380():
    scores = seed_merge_scores()
    (merged,) = postprocess(scores, ["glitch"], 10.0, 0.5, merge_window_ms=200, min_duration_ms=50)
    assert (merged.artifact_type, merged.start_ms, merged.end_ms) == ("glitch", 1000, 1380)
    apart = postprocess(scores, ["glitch"], 10.0, 0.5, merge_window_ms=0, min_duration_ms=50)
    assert [(e.start_ms, e.end_ms) for e in apart] == [(1000, 1100), (1150, 1250), (1280, 1380)]
    assert postprocess(scores, ["glitch"], 10.0, 0.5, merge_window_ms=0, min_duration_ms=101) == []
    assert postprocess(scores, ["glitch"], 10.0, 0.95, merge_window_ms=200) == []


def test_stored_scores_are_rethresholded_like_the_float_scores():
    scores = seed_merge_scores()
    scores[115:125] = 0.6  # the middle piece is less certain
    stored = np.rint(scores * SCORE_LEVELS).astype(np.uint8)
    merged = detections_from_scores(stored, ["glitch"], 10.0, threshold=0.5, merge_window_ms=200)
    assert merged == [Event("glitch", 1000, 1380, pytest.approx(0.9, abs=1 / SCORE_LEVELS))]
    strict = detections_from_scores(stored, ["glitch"], 10.0, threshold=0.7, merge_window_ms=200)
    assert [(e.start_ms, e.end_ms) for e in strict] == [(1000, 1380)]
    strict_apart = detections_from_scores(stored, ["glitch"], 10.0, threshold=0.7, merge_window_ms=100)
    assert [(e.start_ms, e.end_ms) for e in strict_apart] == [(1000, 1100), (1280, 1380)]


def test_a_model_trained_on_log_mels_alone_still_scores_with_its_own_features(detector, long_clip, tmp_path):
    """Models from before waveform-detail features (version 1) keep working after the change."""
    from relayml.features import FeatureParams
    from relayml.model import CRNN, ModelSpec

    torch.manual_seed(0)
    v1 = FeatureParams()
    old = Detector(
        model=CRNN(ModelSpec(n_mels=v1.n_mels, n_types=1)).eval(),
        artifact_types=["glitch"],
        mean=torch.zeros(v1.width),
        std=torch.ones(v1.width),
        feature_params=v1.to_dict(),
        geometry=detector.geometry,
    )
    path, clip = long_clip
    (result,) = run(old, [("a", path)], tmp_path).values()
    assert result.error is None and result.frames == len(log_mel(sf.read(path, dtype="float32")[0], v1))
    stored = np.asarray(load_scores(result.scores_path, 1), dtype=np.float32) / SCORE_LEVELS
    whole = score_features(old, log_mel(sf.read(path, dtype="float32")[0], v1))
    assert np.abs(stored - whole).max() <= 0.5 / SCORE_LEVELS + 1e-3
