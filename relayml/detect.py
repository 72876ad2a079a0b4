"""Using a trained detector on features: frame scores, then the contract's post-processing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from relayml.events import Event, event_metrics, postprocess
from relayml.ingest import current_features
from relayml.model import Detector
from relayml.train import TrainFile, add_psds, predict_scores


def stored_features(detector: Detector, path: str | Path) -> np.ndarray:
    """A file's cached features (ingest's FEATURES_NAME) as `detector` was trained on them."""
    return current_features(Path(path), detector.features)


def score_features(detector: Detector, features: np.ndarray, device: str = "cpu") -> np.ndarray:
    """(T, features) → (T, K) probabilities, one column per artifact type."""
    x = (np.asarray(features, dtype=np.float32) - detector.mean.cpu().numpy()) / detector.std.cpu().numpy()
    return predict_scores(detector.model, x, detector.geometry, device)


def detect(
    detector: Detector,
    features: np.ndarray,
    threshold: float | dict[str, float] | None = None,
    merge_window_ms: float = 200,
    min_duration_ms: float = 50,
    duration_ms: int | None = None,
) -> list[Event]:
    """Detections for one file; `threshold=None` uses each type's suggested threshold."""
    with torch.no_grad():
        scores = score_features(detector, features)
    return detections(detector, scores, threshold, merge_window_ms, min_duration_ms, duration_ms)


def detections(
    detector: Detector,
    scores: np.ndarray,
    threshold: float | dict[str, float] | None = None,
    merge_window_ms: float = 200,
    min_duration_ms: float = 50,
    duration_ms: int | None = None,
) -> list[Event]:
    """A file's frame scores → its detections, with the detector's thresholds and floors."""
    cut = detector.thresholds if threshold is None else threshold
    return postprocess(
        scores,
        detector.artifact_types,
        detector.geometry["frame_ms"],
        cut,
        merge_window_ms,
        min_duration_ms,
        duration_ms,
        detector.floors,
    )


def evaluate(detector: Detector, files: list[TrainFile], threshold: float | None = 0.5) -> dict:
    """Event metrics with the contract's collars at `threshold` (None: each type's suggested one),
    and the PSDS of the scores, on files the detector was not trained on (benchmarks, model cards)."""
    pairs, scores = [], []
    for f in files:
        with torch.no_grad():
            p = score_features(detector, stored_features(detector, f.features_path))
        pairs.append((f.events, detections(detector, p, threshold, duration_ms=f.duration_ms)))
        scores.append(p)
    metrics = event_metrics(pairs, detector.artifact_types)
    add_psds(metrics, files, scores, detector.artifact_types, detector.geometry["min_target_ms"])
    return metrics
