"""Stored frame scores and what is computed from them, without torch: the web process re-thresholds
results (API, file page slider, exports) from these files and must stay light (no torch import)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from relayml.events import Event, postprocess

SCORE_LEVELS = 255
SCORES_NAME = "scores.u8"
PEAKS_NAME = "peaks.npy"


def quantise(probs: np.ndarray) -> np.ndarray:
    return np.rint(probs * SCORE_LEVELS).astype(np.uint8)


def load_scores(path: Path, n_types: int) -> np.ndarray:
    """The stored (frames, n_types) uint8 scores, memory-mapped."""
    size = os.path.getsize(path)
    if size == 0:
        return np.zeros((0, n_types), dtype=np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(size // n_types, n_types))


def detections_from_scores(
    scores: np.ndarray,
    types: list[str],
    frame_ms: float,
    threshold: float = 0.5,
    merge_window_ms: float = 200,
    min_duration_ms: float = 50,
    duration_ms: int | None = None,
    floors: dict[str, dict[str, float]] | None = None,
) -> list[Event]:
    """The contract's post-processing over stored uint8 scores (threshold → merge → min duration).

    Works type by type on the memory-mapped columns, so a 3-hour file costs a few MB."""
    events: list[Event] = []
    for k, name in enumerate(types):
        column = np.asarray(scores[:, k], dtype=np.float32) / SCORE_LEVELS
        events += postprocess(
            column[:, None], [name], frame_ms, threshold, merge_window_ms, min_duration_ms, duration_ms,
            floors,
        )  # fmt: skip
    return sorted(events, key=lambda e: (e.start_ms, e.artifact_type))
