"""Training in the ML package alone: a tiny real model on real generated speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from relayml import synth
from relayml.detect import detect
from relayml.features import DEFAULT_FEATURES
from relayml.model import Detector
from relayml.train import TrainConfig, TrainFile, TrainingCancelled, split_files, train

TYPES = ["glitch", "long_pause", "clipping", "dropout"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[TrainFile]:
    return synth.train_files(tmp_path_factory.mktemp("clips"))


def tiny(**changes) -> TrainConfig:
    return TrainConfig(**{"artifact_types": TYPES, "epochs": 2, "batch_size": 8, **changes})


def test_files_are_split_by_file_and_both_sides_get_some(files):
    train_part, val_part = split_files(files, 0.2, seed=0)
    assert len(val_part) == 1 and len(train_part) == 4
    assert not {f.key for f in train_part} & {f.key for f in val_part}
    assert split_files(files, 0.2, seed=0) == (train_part, val_part)


def voiced(voices: dict[str, int]) -> list[TrainFile]:
    """Files named by voice, `n` of each (no features: only the split reads them)."""
    return [TrainFile(f"{voice}-{i}", "", [], 1000, voice) for voice, n in voices.items() for i in range(n)]


def test_files_that_name_their_voice_are_split_by_whole_voices():
    files = voiced(
        {"espeak:en-us": 10, "espeak:en-gb": 10, "flite:awb": 10, "flite:slt": 10, "human:june": 10}
    )
    for seed in range(20):
        train_part, val_part = split_files(files, 0.2, seed)
        heard = {f.group for f in train_part}
        assert val_part and not heard & {f.group for f in val_part}
        assert {g.split(":")[0] for g in heard} == {"espeak", "flite", "human"}  # every engine still trains
        assert 5 <= len(val_part) <= 15
    assert split_files(files, 0.2, seed=3) == split_files(files, 0.2, seed=3)


def test_a_family_of_one_voice_is_never_held_out():
    files = voiced({"festival:kal": 40, "flite:awb": 5, "flite:slt": 5})
    train_part, val_part = split_files(files, 0.2, seed=0)
    assert {f.group for f in val_part} in ({"flite:awb"}, {"flite:slt"})
    assert len(train_part) == 45


def test_files_are_split_by_file_when_no_voice_can_be_held_out():
    train_part, val_part = split_files(voiced({"festival:kal": 6, "flite:awb": 4}), 0.2, seed=0)
    assert len(val_part) == 2 and len(train_part) == 8


def test_files_are_split_by_file_when_any_voice_is_unknown():
    files = voiced({"flite:awb": 5, "flite:slt": 5}) + [TrainFile("upload", "", [], 1000)]
    train_part, val_part = split_files(files, 0.2, seed=0)
    assert len(val_part) == 2 and len({f.group for f in val_part} | {f.group for f in train_part}) == 3


def test_a_trained_model_is_self_describing_and_loads_weights_only(files, tmp_path):
    epochs = []
    result = train(files, tiny(), tmp_path, on_epoch=lambda report, progress: epochs.append(progress))
    assert epochs == [0.5, 1.0]
    assert [h["epoch"] for h in result.history] == [1, 2] and result.device == "cpu"
    payload = torch.load(result.model_path, weights_only=True)
    assert payload["format"] == "relay-detector" and payload["artifact_types"] == TYPES
    assert payload["feature_params"]["hop_length"] == 160 and payload["geometry"]["chunk_frames"] == 50
    assert set(payload["thresholds"]) == set(TYPES)
    assert not (Path(tmp_path) / "checkpoint.pt").exists()
    detector = Detector.load(result.model_path)
    found = detect(detector, np.load(files[0].features_path), threshold=0.5, duration_ms=files[0].duration_ms)
    assert all(e.artifact_type in TYPES and 0 <= e.start_ms < e.end_ms <= files[0].duration_ms for e in found)
    assert result.metrics["overall"]["support"] == sum(
        len(f.events) for f in files if f.key in result.validation_files
    )
    # Calibrated: 0.5 now gives each type the F1 its best raw threshold gave (same ranking, shifted).
    for name, m in result.metrics["per_type"].items():
        calibration = result.metrics["calibration"][name]
        assert m["f1_at_0_5"] == calibration["f1_at_raw_best"], (name, calibration)
    # A handful of validation events cannot vouch for a type: every one is flagged, with why.
    assert all(m["support"] < 20 and m["trusted"] is False for m in result.metrics["per_type"].values())
    assert len(result.metrics["warnings"]) == len(TYPES)
    assert "validation event(s); at least 20 are needed" in result.metrics["warnings"][0]
    # PSDS beside F1 for every type the validation file has, within its range; its criteria recorded.
    assert all(0 <= m["psds"] <= 1 for m in result.metrics["per_type"].values() if m["support"])
    assert 0 <= result.metrics["overall"]["psds"] <= 1
    assert result.metrics["psds_criteria"]["max_efpr"] == 100


def test_the_same_seed_trains_the_same_model(files, tmp_path):
    first = train(files, tiny(epochs=1), tmp_path / "a")
    second = train(files, tiny(epochs=1), tmp_path / "b")
    assert first.history[0]["train_loss"] == second.history[0]["train_loss"]


def test_a_stop_request_cancels_training(files, tmp_path):
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(TrainingCancelled):
        train(files, tiny(epochs=5), tmp_path, should_stop=should_stop)
    assert not (tmp_path / "model.pt").exists()


def test_calibration_moves_each_types_best_threshold_to_one_half(files, tmp_path):
    from relayml.train import Trainer

    trainer = Trainer(files, tiny(), tmp_path)
    trainer.model.eval()
    x = torch.randn(2, 400, DEFAULT_FEATURES.width)
    with torch.no_grad():
        before = torch.sigmoid(trainer.model(x))
    # Thresholds inside each type's score range, so each side of every threshold has frames.
    best = {
        name: float(before[..., k].quantile(q)) + 1e-4  # no frame exactly on it
        for k, (name, q) in enumerate(zip(TYPES, [0.2, 0.4, 0.6, 0.8], strict=True))
    }
    best["clipping"] = 0.5
    calibration = trainer.calibrate(best)
    with torch.no_grad():
        after = torch.sigmoid(trainer.model(x))
    for k, name in enumerate(TYPES):
        # Detected at 0.5 now exactly where the raw score passed the type's best threshold.
        assert torch.equal(after[..., k] >= 0.5, before[..., k] >= best[name]), name
        assert 0 < int((before[..., k] >= best[name]).sum()) < before[..., k].numel() or name == "clipping"
        assert calibration[name]["raw_best_threshold"] == best[name]
    assert calibration["clipping"]["logit_shift"] == 0


def test_validation_keeps_a_types_floor_only_when_it_gains(files, tmp_path, monkeypatch):
    """Long pauses whose scores dip in the middle come out split; a merge floor that joins them is
    kept for long_pause, and no floor for a type whose events already come out whole."""
    from relayml import train as train_module
    from relayml.train import Trainer

    monkeypatch.setattr(train_module, "MIN_TRUSTED_EVENTS", 1)
    trainer = Trainer(files, tiny(validation_split=0.4), tmp_path)
    scores = []
    for f, (_, y) in zip(trainer.val_files, trainer.val_arrays, strict=True):
        p = np.zeros(y.shape, dtype=np.float32)
        for e in f.events:
            k = TYPES.index(e.artifact_type)
            start, end = e.start_ms // 10, e.end_ms // 10
            p[start:end, k] = 0.9
            if e.artifact_type == "long_pause":
                middle = (start + end) // 2
                p[middle - 15 : middle + 15, k] = 0.1  # 300 ms below the threshold
        scores.append(p)
    assert any(e.artifact_type == "long_pause" for f in trainer.val_files for e in f.events)
    floors = trainer.choose_floors(scores)
    assert floors["long_pause"]["merge_window_ms"] >= 400
    assert set(floors) == {"long_pause"}
    assert trainer.evaluate(scores, 0.5, floors)["per_type"]["long_pause"]["f1"] == 1.0
