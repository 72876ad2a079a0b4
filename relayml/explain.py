"""Why a detector scored a span as it did: occlusion over the time-frequency cells of its input.

Occlusion (Zeiler & Fergus, 2014) is the established, model-agnostic attribution: hide one patch of
the input, run the model again, and see how much the score falls. Here the input is the window of
features around the span (the span and CONTEXT_MS either side, as the model saw it in inference), the
score the mean probability of the artifact type over the span's frames, and a patch PATCH_BANDS mel
bands × PATCH_FRAMES frames. A hidden patch's mel cells take the window's quietest level in each band,
and the waveform-detail numbers of its frames (the peak, jump and flat-top measures the log-mels cannot
show) their window median: what an unremarkable stretch of this same audio looks like.

The mask marks the cells whose hiding took at least MASK_SHARE of the largest fall (and at least
MIN_DROP), returned as seed 003's column-major run-length encoding: the mask read column by column
(all bands of frame 0, then frame 1, …), as alternating run lengths that start with a run of zeros.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import numpy as np
import torch

from relayml.decode import Limits, probe
from relayml.features import LogMelStream
from relayml.ingest import iter_canonical
from relayml.model import Detector
from relayml.spectrogram import file_ceiling, window

CONTEXT_MS = 1000
MAX_SPAN_MS = 30_000
PATCH_BANDS = 8
PATCH_FRAMES = 5
MASK_SHARE = 0.5
MIN_DROP = 0.02
BATCH = 64


@dataclass
class Explanation:
    artifact_type: str
    score: float  # the span's mean probability, nothing hidden
    first_frame: int  # of the window, in the file
    frame_ms: float
    importance: np.ndarray  # (n_mels, frames): fall in score when the cell's patch is hidden
    mask: np.ndarray  # (n_mels, frames) bool
    image: np.ndarray  # (frames, n_mels) uint8: the window's spectrogram, for drawing
    mel_hz: list[float]
    # A verdict's: every class's probability (the explained one, the most likely, first).
    predictions: list[dict] | None = None
    model_type: str = "audioEventDetection"
    patch: tuple[int, int] = (PATCH_BANDS, PATCH_FRAMES)

    def to_dict(self) -> dict:
        """The contract's explanation (seed 003's shape, with our audio fields)."""
        height, width = self.mask.shape
        predictions = self.predictions or [{"label": self.artifact_type, "score": round(self.score, 4)}]
        return {
            "modelType": self.model_type,
            "result": {"classPredictions": predictions},
            "explanation": {
                "maskRLE": rle_column_major(self.mask),
                "dimensions": {"height": height, "width": width},
                "frame_ms": self.frame_ms,
                "start_ms": round(self.first_frame * self.frame_ms),
                "mel_hz": [round(hz, 1) for hz in self.mel_hz],
                "method": f"occlusion of {self.patch[0]} bands × {self.patch[1]} frames",
                # The window's log-mel image to draw the mask over: uint8, frame-major, low bands first.
                "spectrogram": base64.b64encode(np.ascontiguousarray(self.image).tobytes()).decode(),
            },
        }


def rle_column_major(mask: np.ndarray) -> list[int]:
    """Run lengths of the mask read in Fortran order, starting with a (possibly empty) run of zeros."""
    flat = np.asarray(mask, dtype=bool).flatten(order="F")
    if flat.size == 0:
        return []
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    return [0, *runs] if flat[0] else runs


def decode_rle(runs: list[int], height: int, width: int) -> np.ndarray:
    """The inverse of rle_column_major (tests and clients)."""
    values = np.zeros(height * width, dtype=bool)
    position, on = 0, False
    for run in runs:
        values[position : position + run] = on
        position, on = position + run, not on
    return values.reshape((height, width), order="F")


def mel_centres(n_mels: int, f_min: float, f_max: float) -> list[float]:
    """Centre frequency of each mel band (the HTK scale torchaudio's MelSpectrogram uses)."""

    def to_mel(hz: float) -> float:
        return 2595.0 * math.log10(1.0 + hz / 700.0)

    points = np.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2)[1:-1]
    return [700.0 * (10 ** (m / 2595.0) - 1.0) for m in points]


def window_features(
    detector: Detector, path: str, first: int, last: int, limits: Limits | None
) -> np.ndarray:
    """Frames [first, last) of the file's features, as inference computes them (decoding stops once
    the window is complete)."""
    stream, parts, have = LogMelStream(detector.features), [], 0
    for block in iter_canonical(path, probe(path, limits)):
        parts.append(stream.push(np.clip(block, -1.0, 1.0)))
        have += len(parts[-1])
        if have >= last:
            break
    else:
        parts.append(stream.flush())
    features = np.concatenate(parts) if parts else np.zeros((0, detector.features.width), np.float16)
    return np.asarray(features[first:last], dtype=np.float32)


def explain_detection(
    detector: Detector,
    path: str,
    artifact_type: str,
    start_ms: int,
    end_ms: int,
    limits: Limits | None = None,
) -> Explanation:
    if artifact_type not in detector.artifact_types:
        raise ValueError(f"the model does not detect {artifact_type!r}")
    if not 0 <= start_ms < end_ms or end_ms - start_ms > MAX_SPAN_MS:
        raise ValueError(f"the span must be 1 ms to {MAX_SPAN_MS // 1000} s long")
    frame_ms, n_mels = detector.features.frame_ms, detector.features.n_mels
    first = max(0, int((start_ms - CONTEXT_MS) / frame_ms))
    last = int(math.ceil((end_ms + CONTEXT_MS) / frame_ms))
    raw = window_features(detector, path, first, last, limits)
    span = slice(
        int(start_ms / frame_ms) - first,
        max(int(start_ms / frame_ms) - first + 1, int(end_ms / frame_ms) - first),
    )
    if len(raw) <= span.start:
        raise ValueError("the span lies beyond the end of the audio")
    kind = detector.artifact_types.index(artifact_type)
    x = detector.normalise(torch.from_numpy(raw)).float()
    fill = torch.cat([x[:, :n_mels].min(dim=0).values, x[:, n_mels:].median(dim=0).values])
    patches = [(b, t) for b in range(0, n_mels, PATCH_BANDS) for t in range(0, len(x), PATCH_FRAMES)]
    with torch.inference_mode():
        base = span_score(detector, x.unsqueeze(0), kind, span)[0]
        falls = []
        for start in range(0, len(patches), BATCH):
            batch = x.repeat(len(patches[start : start + BATCH]), 1, 1)
            for row, (b, t) in enumerate(patches[start : start + BATCH]):
                batch[row, t : t + PATCH_FRAMES, b : b + PATCH_BANDS] = fill[b : b + PATCH_BANDS]
                batch[row, t : t + PATCH_FRAMES, n_mels:] = fill[n_mels:]
            falls.extend((base - span_score(detector, batch, kind, span)).tolist())
    importance = importance_map(patches, falls, (n_mels, len(x)), (PATCH_BANDS, PATCH_FRAMES))
    mask = mask_of(importance)
    mels = raw[:, :n_mels]
    image = window(mels, 0, len(mels), len(mels), file_ceiling(mels))
    params = detector.features
    return Explanation(
        artifact_type,
        float(base),
        first,
        frame_ms,
        importance,
        mask,
        image,
        mel_centres(n_mels, params.f_min, params.f_max),
    )


def importance_map(patches, falls, shape: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """(bands, frames): each cell the fall in score when its patch was hidden (rises count as 0)."""
    importance = np.zeros(shape, dtype=np.float32)
    for (b, t), fall in zip(patches, falls, strict=True):
        importance[b : b + size[0], t : t + size[1]] = max(0.0, fall)
    return importance


def mask_of(importance: np.ndarray) -> np.ndarray:
    top = float(importance.max()) if importance.size else 0.0
    if top < MIN_DROP:
        return np.zeros_like(importance, bool)
    return importance >= max(MASK_SHARE * top, MIN_DROP)


def span_score(detector: Detector, batch: torch.Tensor, kind: int, span: slice) -> torch.Tensor:
    """Mean probability of one type over the span's frames, per batch row."""
    device = next(detector.model.parameters()).device
    return torch.sigmoid(detector.model(batch.to(device))[:, span, kind]).mean(dim=1).cpu()
