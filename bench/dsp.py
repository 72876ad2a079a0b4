"""The hand-tuned DSP scripts teams write before they have a detector: the baseline to beat.

- long_pause: runs of frames quieter than -45 dBFS lasting over 500 ms;
- dropout: 5 ms frames below -80 dBFS (digital silence, not room tone) for 20 ms or more;
- clipping: 20 ms frames where 15 %+ of the samples sit within 5 % of the frame's peak (flat tops);
- glitch: bursts of high-frequency energy (second difference) far above the surrounding 50 ms.
"""

from __future__ import annotations

import numpy as np

from relayml.events import Event, merge, runs

SR = 16_000


def detect(audio: np.ndarray) -> list[Event]:
    found = long_pauses(audio) + dropouts(audio) + clipping(audio) + glitches(audio)
    return sorted(found, key=lambda e: e.start_ms)


def to_events(
    name: str, spans: list[tuple[int, int]], min_ms: float = 0, merge_ms: float = 100
) -> list[Event]:
    ms = [(s * 1000 / SR, e * 1000 / SR, 1.0) for s, e in spans]
    return [Event(name, int(s), int(e)) for s, e, _ in merge(ms, merge_ms) if e - s >= min_ms]


def long_pauses(audio: np.ndarray) -> list[Event]:
    hop = SR // 100
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    db = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-9)
    spans = [(s * hop, e * hop) for s, e in runs(db < -45)]
    return to_events("long_pause", spans, min_ms=500, merge_ms=0)


def frame_view(audio: np.ndarray, hop: int) -> np.ndarray:
    return audio[: len(audio) // hop * hop].reshape(-1, hop)


def dropouts(audio: np.ndarray) -> list[Event]:
    hop = SR // 200  # 5 ms
    rms = np.sqrt((frame_view(audio, hop) ** 2).mean(axis=1))
    spans = [(s * hop, e * hop) for s, e in runs(rms < 1e-4)]  # below -80 dBFS: digital silence
    return to_events("dropout", spans, min_ms=20, merge_ms=10)


def clipping(audio: np.ndarray) -> list[Event]:
    hop = SR // 50  # 20 ms
    frames = np.abs(frame_view(audio, hop))
    peak = frames.max(axis=1, keepdims=True)
    plateau = (frames >= 0.95 * peak).mean(axis=1)  # share of samples at the frame's ceiling
    flat = (plateau >= 0.15) & (peak[:, 0] > 0.1)
    return to_events("clipping", [(s * hop, e * hop) for s, e in runs(flat)], min_ms=0, merge_ms=100)


def moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    return np.convolve(x, np.ones(n) / n, mode="same")


def glitches(audio: np.ndarray) -> list[Event]:
    energy = moving_mean(np.abs(np.diff(audio, n=2, prepend=0, append=0)), 16)  # 1 ms
    context = moving_mean(energy, 800) + 1e-4  # 50 ms around
    spans = runs((energy > 0.15) & (energy > 6 * context))
    return to_events("glitch", spans, min_ms=0, merge_ms=50)
