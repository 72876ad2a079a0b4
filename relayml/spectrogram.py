"""Spectrogram images for the browser, drawn from the cached log-mel features (no audio decoding).

The workspace shows the spectrogram of what is on screen only, so a 2-hour file costs what its visible
window costs: frames [start, end) of the memory-mapped features, max-pooled into `columns` columns and
scaled to 0–255 with a range fixed per file (so colours do not jump while scrolling).
"""

from __future__ import annotations

import numpy as np

# Dynamic range shown: the file's loudest bands at the top, 80 dB below them at the bottom.
DYNAMIC_RANGE_DB = 80.0
LOG_TO_DB = 10.0 / np.log(10.0)  # features are natural-log power


def file_ceiling(features: np.ndarray, samples: int = 4000) -> float:
    """A robust maximum of the whole file's log power, from an evenly strided sample of frames."""
    step = max(1, len(features) // samples)
    return float(np.percentile(np.asarray(features[::step], dtype=np.float32), 99.5))


def window(features: np.ndarray, start: int, end: int, columns: int, ceiling: float) -> np.ndarray:
    """uint8 (columns, bands) image of frames [start, end); louder is larger."""
    start, end = max(0, start), min(len(features), end)
    if end <= start:
        return np.zeros((0, features.shape[1]), dtype=np.uint8)
    frames = np.asarray(features[start:end], dtype=np.float32)
    columns = max(1, min(columns, len(frames)))
    edges = np.linspace(0, len(frames), columns + 1).astype(int)
    pooled = np.maximum.reduceat(frames, edges[:-1], axis=0)
    db_below = (ceiling - pooled) * LOG_TO_DB
    scaled = 255.0 * (1.0 - np.clip(db_below / DYNAMIC_RANGE_DB, 0.0, 1.0))
    return scaled.astype(np.uint8)
