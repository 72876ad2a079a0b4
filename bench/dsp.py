"""The hand-tuned DSP scripts teams write before they have a detector: the baseline to beat.

- long_pause: runs of frames quieter than -45 dBFS lasting over 500 ms;
- dropout: runs of exact digital zeros longer than 20 ms;
- clipping: runs of samples within 0.1 % of the clip's peak that stay flat for 5+ samples;
- glitch: sample-to-sample jumps far above the clip's typical derivative.
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


def dropouts(audio: np.ndarray) -> list[Event]:
    return to_events("dropout", runs(audio == 0.0), min_ms=20, merge_ms=10)


def clipping(audio: np.ndarray) -> list[Event]:
    peak = np.abs(audio).max()
    near = np.abs(audio) >= peak * 0.999
    spans = [(s, e) for s, e in runs(near) if e - s >= 5]
    return to_events("clipping", spans, min_ms=0, merge_ms=150)


def glitches(audio: np.ndarray) -> list[Event]:
    diff = np.abs(np.diff(audio))
    limit = max(8 * np.percentile(diff, 99.9), 0.2)
    spans = [(s, e + 1) for s, e in runs(diff > limit)]
    return to_events("glitch", spans, min_ms=0, merge_ms=50)
